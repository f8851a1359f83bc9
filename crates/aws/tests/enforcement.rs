//! The aws-account integration against moto with IAM enforcement on: the
//! grantee's own access key reads the granted bucket and nothing else, and
//! after revoke it reads nothing. Its own test binary: moto's free-request
//! counter is per process, and the admin's key goes into this process's env.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sesame_aws::account::{AwsAccount, AwsAccountConfig};
use sesame_core::Timestamp;
use sesame_integrations::Integration;
use sesame_proto::ActionParams;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn venv() -> PathBuf {
    std::env::var("SESAME_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/sesame-moto-venv"))
}

async fn s3_as(url: &str, id: &str, secret: &str) -> aws_sdk_s3::Client {
    let creds = aws_credential_types::Credentials::new(id, secret, None, None, "test");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .force_path_style(true)
        .credentials_provider(creds)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn readable(c: &aws_sdk_s3::Client, bucket: &str) -> bool {
    c.get_object().bucket(bucket).key("hello.txt").send().await.is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_grantee_reads_the_granted_bucket_only_and_nothing_after_revoke() {
    let bin = venv().join("bin/moto_server");
    assert!(bin.exists(), "{} is missing: run scripts/test (it installs moto)", bin.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut moto = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = Command::new(venv().join("bin/python"))
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/moto_setup.py"))
        .args([&url, "enforced-admin", "granted-bucket", "other-bucket"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let admin: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The integration's own credentials, by reference (the only test in this binary).
    std::env::set_var("SESAME_TEST_AWS_KEY_ID", admin["id"].as_str().unwrap());
    std::env::set_var("SESAME_TEST_AWS_SECRET", admin["secret"].as_str().unwrap());
    let cfg: AwsAccountConfig = serde_json::from_value(json!({
        "name": "acct", "region": "us-east-1", "endpoint_url": url,
        "access_key_id": {"env": "SESAME_TEST_AWS_KEY_ID"}, "secret_access_key": {"env": "SESAME_TEST_AWS_SECRET"},
    }))
    .unwrap();
    let acct = AwsAccount::new(cfg).unwrap();
    assert!(acct.get_status().await.unwrap().healthy);
    let d = acct.list_resources().await.unwrap();
    let names: Vec<&str> = d.resources.iter().map(|r| r.id.as_str()).collect();
    assert!(names.contains(&"granted-bucket") && names.contains(&"other-bucket"), "{names:?}");

    let p = ActionParams {
        grant_id: "req_aws1".into(),
        username: "sesame_dev_req_aws1".into(),
        resource_type: "s3_bucket".into(),
        resources: vec!["granted-bucket".into()],
        permission: "read_only".into(),
        custom_parameters: Default::default(),
    };
    let deadline = Timestamp(4_102_444_800_000);
    acct.grant_access(&p, deadline).await.unwrap();
    acct.grant_access(&p, deadline).await.expect("grant again is a no-op");
    assert_eq!(acct.list_managed_users().await.unwrap(), vec!["sesame_dev_req_aws1".to_string()]);
    let creds = acct.create_credentials(&p).await.unwrap();
    let grantee = s3_as(&url, &creds.username, &creds.secret).await;
    assert!(readable(&grantee, "granted-bucket").await, "the grantee reads the granted bucket");
    assert!(!readable(&grantee, "other-bucket").await, "but not another");
    assert!(grantee.put_object().bucket("granted-bucket").key("x").body(b"x".to_vec().into()).send().await.is_err(), "read_only cannot write");

    // The guardrail: 101 buckets by name are refused before anything is created.
    let many = ActionParams { resources: (0..101).map(|i| format!("b{i}")).collect(), username: "sesame_many".into(), ..p.clone() };
    let e = acct.grant_access(&many, deadline).await.unwrap_err();
    assert!(e.to_string().contains("101 AWS resources are selected by name; the limit is 100"), "{e}");
    assert!(!acct.list_managed_users().await.unwrap().contains(&"sesame_many".to_string()));

    acct.revoke_access(&p).await.unwrap();
    acct.revoke_access(&p).await.expect("revoke again succeeds");
    assert!(!readable(&grantee, "granted-bucket").await, "revoked: the key reads nothing");
    assert!(acct.list_managed_users().await.unwrap().is_empty(), "revoke leaves no user behind");
    let _ = moto.kill();
    let _ = moto.wait();
}
