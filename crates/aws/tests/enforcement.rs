//! The aws-account integration against moto with IAM enforcement on, beyond
//! the S3 contract of the conformance suite (crates/integrations/tests/
//! conformance/aws.rs): a queue, a standing role and a federated per-grant
//! role, each proven with the grantee's own credentials, and nothing after
//! revoke.
//! Its own test binary: moto's free-request counter is per process, and the
//! admin's key goes into this process's env.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sesame_testkit::params::{grant, Refine};
use sesame_integrations::registry::Registry;
use sesame_testkit::moto as common;

use sesame_aws::account::{AwsAccount, AwsAccountConfig};
use sesame_core::Timestamp;
use sesame_integrations::Integration;
use serde_json::{json, Value};

fn conf(url: &str, id: &str, secret: &str, token: Option<&str>) -> aws_config::SdkConfig {
    let creds = aws_credential_types::Credentials::new(id, secret, token.map(str::to_owned), None, "test");
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build()
}

/// Assume `role` as the holder of `c`; the session's (id, secret, token).
async fn assume(c: &aws_config::SdkConfig, role: &str, session: &str, source: Option<&str>) -> Option<(String, String, String)> {
    let out = match aws_sdk_sts::Client::new(c).assume_role().role_arn(role).role_session_name(session).set_source_identity(source.map(str::to_owned)).send().await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("assume {role} as {session}: {}", aws_sdk_sts::error::DisplayErrorContext(&e));
            return None;
        }
    };
    let k = out.credentials()?;
    Some((k.access_key_id().to_owned(), k.secret_access_key().to_owned(), k.session_token().to_owned()))
}

async fn s3_session(url: &str, k: &(String, String, String)) -> aws_sdk_s3::Client {
    let c = conf(url, &k.0, &k.1, Some(&k.2));
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&c).force_path_style(true).build())
}

async fn readable(c: &aws_sdk_s3::Client, bucket: &str) -> bool {
    c.get_object().bucket(bucket).key("hello.txt").send().await.is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn queues_roles_and_federated_roles_are_proven_with_the_grantees_credentials() {
    let moto = common::moto(Some(3)).await;
    let url = moto.url.clone();
    let admin = common::fixture_json(&url, &["enforced-admin", "granted-bucket", "other-bucket"]);
    // The integration's own credentials, by reference (the only test in this binary).
    std::env::set_var("SESAME_TEST_AWS_KEY_ID", admin["id"].as_str().unwrap());
    std::env::set_var("SESAME_TEST_AWS_SECRET", admin["secret"].as_str().unwrap());
    let cfg: AwsAccountConfig = serde_json::from_value(json!({
        "name": "acct", "region": "us-east-1", "endpoint_url": url,
        "access_key_id": {"env": "SESAME_TEST_AWS_KEY_ID"}, "secret_access_key": {"env": "SESAME_TEST_AWS_SECRET"},
    }))
    .unwrap();
    let acct = AwsAccount::build(cfg, &Registry::new()).await.unwrap();
    assert!(acct.get_status().await.unwrap().healthy);
    let d = acct.list_resources().await.unwrap();
    let names: Vec<&str> = d.resources.iter().map(|r| r.id.as_str()).collect();
    assert!(names.contains(&"granted-bucket") && names.contains(&"other-bucket"), "{names:?}");

    let deadline = Timestamp(4_102_444_800_000);

    // SQS (moto checks resource ARNs for SQS): consume the granted queue only.
    let admin_conf = conf(&url, admin["id"].as_str().unwrap(), admin["secret"].as_str().unwrap(), None);
    let sqs_admin = aws_sdk_sqs::Client::new(&admin_conf);
    let mut queues = Vec::new();
    for q in ["granted-q", "other-q"] {
        let u = sqs_admin.create_queue().queue_name(q).send().await.unwrap().queue_url().unwrap().to_owned();
        sqs_admin.send_message().queue_url(&u).message_body("hello").send().await.unwrap();
        queues.push(u);
    }
    let pq = grant("sesame_dev_req_q", "sqs_queue", "arn:aws:sqs:us-east-1:123456789012:granted-q", "consume").grant_id("req_q");
    acct.grant_access(&pq, deadline).await.unwrap();
    let k = acct.create_credentials(&pq).await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&conf(&url, &k.username, &k.secret, None));
    let got = sqs.receive_message().queue_url(&queues[0]).send().await.unwrap();
    assert_eq!(got.messages().len(), 1, "the grantee consumes the granted queue");
    assert!(sqs.receive_message().queue_url(&queues[1]).send().await.is_err(), "but not another queue");
    assert!(sqs.send_message().queue_url(&queues[0]).message_body("x").send().await.is_err(), "consume cannot send");
    acct.revoke_access(&pq).await.unwrap();
    assert!(sqs.receive_message().queue_url(&queues[0]).send().await.is_err(), "revoked: nothing");

    // Issue 11: a grant by tag. The policy holds an ARN pattern and an
    // `aws:ResourceTag/team` condition (tests/account.rs reads it back).
    let s3_admin = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&admin_conf).force_path_style(true).build());
    let team = aws_sdk_s3::types::Tagging::builder().tag_set(aws_sdk_s3::types::Tag::builder().key("team").value("payments").build().unwrap()).build().unwrap();
    s3_admin.put_bucket_tagging().bucket("granted-bucket").tagging(team).send().await.unwrap();
    let pt = grant("sesame_dev_req_t", "s3_bucket", "tag:team=payments", "read_only").grant_id("req_t");
    acct.grant_access(&pt, deadline).await.unwrap();
    let k = acct.create_credentials(&pt).await.unwrap();
    let tagged = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf(&url, &k.username, &k.secret, None)).force_path_style(true).build());
    let (reads_tagged, reads_untagged) = (readable(&tagged, "granted-bucket").await, readable(&tagged, "other-bucket").await);
    assert!(reads_tagged, "the grantee reads the tagged bucket");
    // Said plainly: moto does not evaluate `aws:ResourceTag` on S3 (it
    // ignores the condition and lets the grantee read the untagged bucket
    // too), so the "not the untagged one" half cannot be proven here. AWS
    // evaluates the policy itself — pattern plus condition, read back with
    // the AWS CLI in tests/account.rs and linted by parliament — on buckets
    // with ABAC enabled (README, "Grants by tag").
    if reads_untagged {
        eprintln!("moto ignored the aws:ResourceTag condition: the untagged bucket was readable (AWS would refuse it)");
    }
    acct.revoke_access(&pt).await.unwrap();
    assert!(!readable(&tagged, "granted-bucket").await, "revoked: nothing");

    // A standing role: the grant lets the grantee assume it; revoke stops that.
    let iam_admin = aws_sdk_iam::Client::new(&admin_conf);
    // moto matches trust principals by exact ARN only (an account root does
    // not cover its users there), so this standing role trusts "*" in the account.
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"], "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}}]}).to_string();
    let reader = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other-bucket/*"}]}).to_string();
    let role = iam_admin.create_role().role_name("other-reader").assume_role_policy_document(&trust).send().await.unwrap().role().unwrap().arn().to_owned();
    iam_admin.put_role_policy().role_name("other-reader").policy_name("read").policy_document(&reader).send().await.unwrap();
    let pr = grant("sesame_dev_req_r", "iam_role", &role, "assume").grant_id("req_r");
    acct.grant_access(&pr, deadline).await.unwrap();
    let k = acct.create_credentials(&pr).await.unwrap();
    let me = conf(&url, &k.username, &k.secret, None);
    let session = assume(&me, &role, "dev", None).await.expect("the grantee assumes the granted role");
    assert!(readable(&s3_session(&url, &session).await, "other-bucket").await, "with the role's own permissions");
    acct.revoke_access(&pr).await.unwrap();
    assert!(assume(&me, &role, "dev", None).await.is_none(), "revoked: the role cannot be assumed");

    // Federated people: a per-grant role that the grantee's Identity Center session assumes.
    let sso_trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}).to_string();
    let sso_role = iam_admin
        .create_role()
        .role_name("AWSReservedSSO_Developer_0123456789abcdef")
        .path("/aws-reserved/sso.amazonaws.com/")
        .assume_role_policy_document(&sso_trust)
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_owned();
    let hop = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"], "Resource": "arn:aws:iam::123456789012:role/sesame/*"}]}).to_string();
    iam_admin.put_role_policy().role_name("AWSReservedSSO_Developer_0123456789abcdef").policy_name("hop").policy_document(&hop).send().await.unwrap();
    let fed_cfg: AwsAccountConfig = serde_json::from_value(json!({
        "name": "fed", "region": "us-east-1", "endpoint_url": url, "delivery": "identity_center_role",
        "access_key_id": {"env": "SESAME_TEST_AWS_KEY_ID"}, "secret_access_key": {"env": "SESAME_TEST_AWS_SECRET"},
    }))
    .unwrap();
    let fed = AwsAccount::build(fed_cfg, &Registry::new()).await.unwrap();
    let pf = grant("sesame_alice_req_f", "s3_bucket", "granted-bucket", "read_only").grant_id("req_f").requested_by("alice@example.com");
    fed.grant_access(&pf, deadline).await.unwrap();
    let role_arn = fed.create_credentials(&pf).await.unwrap().username;
    // Alice signs in through Identity Center (simulated: the admin assumes the SSO role as her).
    let alice = assume(&admin_conf, &sso_role, "alice@example.com", None).await.unwrap();
    let alice_conf = conf(&url, &alice.0, &alice.1, Some(&alice.2));
    // moto cannot evaluate the account-root principal with ArnLike/aws:userid
    // conditions that Sesame's trust policy uses (checked in tests/account.rs
    // and by parliament); add alice's exact session ARN, as moto needs, to
    // prove what the role's own policies allow.
    let role_name = role_arn.rsplit('/').next().unwrap();
    let mut trust: Value = serde_json::from_str(&percent_encoding::percent_decode_str(
        iam_admin.get_role().role_name(role_name).send().await.unwrap().role().unwrap().assume_role_policy_document().unwrap(),
    ).decode_utf8_lossy()).unwrap();
    let alice_arn = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Developer_0123456789abcdef/alice@example.com";
    trust["Statement"][0]["Principal"]["AWS"] = json!(["arn:aws:iam::123456789012:root", alice_arn]);
    iam_admin.update_assume_role_policy().role_name(role_name).policy_document(trust.to_string()).send().await.unwrap();
    let grant = assume(&alice_conf, &role_arn, "alice@example.com", Some("alice@example.com")).await.expect("alice assumes her per-grant role");
    let s3 = s3_session(&url, &grant).await;
    assert!(readable(&s3, "granted-bucket").await && !readable(&s3, "other-bucket").await, "exactly the granted bucket");
    fed.revoke_access(&pf).await.unwrap();
    assert!(!readable(&s3, "granted-bucket").await, "revoked: the live session reads nothing");
    assert!(iam_admin.get_role().role_name(role_name).send().await.is_err(), "and the role is gone");
    // (moto's STS hands out sessions even for a deleted role; such a session reads nothing.)
    if let Some(again) = assume(&alice_conf, &role_arn, "alice@example.com", Some("alice@example.com")).await {
        assert!(!readable(&s3_session(&url, &again).await, "granted-bucket").await, "a new session reads nothing");
    }
}
