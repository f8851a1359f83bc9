//! Lambda custom integrations and Secrets Manager against moto (server mode,
//! simple Lambda backend). `scripts/test` installs moto into a venv.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sesame_testkit::params::{grant, Refine};
use sesame_core::Timestamp;
use sesame_integrations::custom::{Custom, CustomConfig};
use sesame_integrations::secret::{AwsSecretRef, SecretRef};
use sesame_integrations::Integration;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::Duration;

fn venv() -> PathBuf {
    std::env::var("SESAME_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/sesame-moto-venv"))
}

struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static ENV: Once = Once::new();

async fn moto() -> Moto {
    ENV.call_once(|| {
        // The SDK's default credential chain reads these; moto accepts any.
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    });
    let bin = venv().join("bin/moto_server");
    assert!(bin.exists(), "{} is missing: run scripts/test (it installs moto), or python3 -m venv {} && {}/bin/pip install 'moto[server]'", bin.display(), venv().display(), venv().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Each server records to its own file (moto appends to ./moto_recording by default).
    let recording = std::env::temp_dir().join(format!("sesame-moto-recording-{port}"));
    let _ = std::fs::remove_file(&recording);
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_RECORDER_FILEPATH", &recording)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let m = Moto { child, url: format!("http://127.0.0.1:{port}") };
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{}/moto-api/", m.url)).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // No Docker here: the simple Lambda backend answers with queued results.
    http.post(format!("{}/moto-api/config", m.url)).json(&json!({"lambda": {"use_docker": false}})).send().await.unwrap();
    m
}

fn fixture(m: &Moto, args: &[&str]) {
    let out = Command::new(venv().join("bin/python"))
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testkit/fixtures/moto_setup.py"))
        .arg(&m.url)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "fixture failed: {}", String::from_utf8_lossy(&out.stderr));
}

async fn queue(m: &Moto, replies: &[&str]) {
    reqwest::Client::new()
        .post(format!("{}/moto-api/static/lambda-simple/response", m.url))
        .json(&json!({"results": replies, "region": "us-east-1", "account_id": "123456789012"}))
        .send()
        .await
        .unwrap();
}

async fn lambda(m: &Moto, function: &str) -> Custom {
    let cfg: CustomConfig = serde_json::from_value(json!({
        "name": "lam",
        "transport": {"kind": "lambda", "region": "us-east-1", "function_name": function, "endpoint_url": m.url},
        "resource_types": ["app"],
        "custom_parameters": {"param1": "one", "param2": "two"},
    }))
    .unwrap();
    registry().custom(cfg).await.unwrap()
}

fn registry() -> sesame_integrations::registry::Registry {
    sesame_integrations::registry::Registry::new().with(sesame_aws::Aws)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_without_the_tag_is_refused() {
    let m = moto().await;
    fixture(&m, &["function", "untagged-fn", "untagged"]);
    let e = lambda(&m, "untagged-fn").await.get_status().await.unwrap_err();
    assert!(e.to_string().contains("does not carry the tag apono-connector-access: \"true\""), "{e}");
    let e = lambda(&m, "no-such-fn").await.get_status().await.unwrap_err();
    assert!(e.to_string().contains("cannot read the Lambda function `no-such-fn`"), "{e}");
}

/// Functions in the wild answer events without data plainly: a bare `ok`,
/// `"ok"`, `{"status": "ok"}` or nothing. Over Lambda too, each means success.
#[tokio::test(flavor = "multi_thread")]
async fn functions_may_answer_plainly() {
    let m = moto().await;
    fixture(&m, &["function", "plain-fn", "tagged"]);
    let i = lambda(&m, "plain-fn").await;
    let p = grant("ann@example.com", "app", "resource1", "reader").grant_id("req_plain");
    for shape in ["ok", "OK", r#""ok""#, r#"{"status": "ok"}"#, ""] {
        queue(&m, &[shape; 7]).await;
        assert!(i.get_status().await.unwrap_or_else(|e| panic!("get-status answered {shape:?}: {e}")).healthy);
        assert!(i.list_resources_tags().await.unwrap().is_empty());
        i.grant_access(&p, Timestamp(4_102_444_800_000)).await.unwrap_or_else(|e| panic!("grant-access answered {shape:?}: {e}"));
        let c = i.create_credentials(&p).await.unwrap_or_else(|e| panic!("create-credentials answered {shape:?}: {e}"));
        assert_eq!((c.username.as_str(), c.secret.as_str()), ("ann@example.com", ""), "no secret: the username only");
        i.reset_credentials(&p).await.unwrap_or_else(|e| panic!("reset-credentials answered {shape:?}: {e}"));
        i.delete_credentials(&p).await.unwrap_or_else(|e| panic!("delete-credentials answered {shape:?}: {e}"));
        i.revoke_access(&p).await.unwrap_or_else(|e| panic!("revoke-access answered {shape:?}: {e}"));
    }
    // Anything else keeps its clear error.
    queue(&m, &["sure thing"]).await;
    let e = i.revoke_access(&p).await.unwrap_err();
    assert!(e.to_string().contains("not JSON") && e.to_string().contains("sure thing"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn invocations_carry_the_seeds_payload_exactly() {
    let m = moto().await;
    fixture(&m, &["function", "handler-fn", "tagged"]);
    let http = reqwest::Client::new();
    http.post(format!("{}/moto-api/recorder/start-recording", m.url)).send().await.unwrap();
    queue(
        &m,
        &[
            r#"{"status": "active"}"#,
            r#"{"resources": [{"id": "resource1", "name": "Resource 1", "type": "app", "metadata": {"key1": "value1"}}], "permissions": [{"id": "reader", "name": "Reader"}]}"#,
            r#"{"status": "ok"}"#,
            r#"{"status": "ok", "secret": "created-credentials-secret"}"#,
            r#"{"status": "ok"}"#,
            "this is not json",
        ],
    )
    .await;
    let i = lambda(&m, "handler-fn").await;
    assert!(i.get_status().await.unwrap().healthy);
    let d = i.list_resources().await.unwrap();
    assert_eq!(d.resources[0].id, "resource1");
    let p = grant("o'brien+ops@example.com", "app", "resource1", "reader").grant_id("req_abc");
    i.grant_access(&p, Timestamp(0)).await.unwrap();
    assert_eq!(i.create_credentials(&p).await.unwrap().secret, "created-credentials-secret");
    i.revoke_access(&p).await.unwrap();
    let e = i.revoke_access(&p).await.unwrap_err();
    assert!(e.to_string().contains("not JSON"), "{e}");
    http.post(format!("{}/moto-api/recorder/stop-recording", m.url)).send().await.unwrap();

    // What moto received: exactly the seed's events.
    let rec = http.get(format!("{}/moto-api/recorder/download-recording", m.url)).send().await.unwrap().text().await.unwrap();
    let mut invokes = Vec::new();
    for line in rec.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line).unwrap();
        if !entry["url"].as_str().unwrap_or_default().contains("/functions/handler-fn/invocations") {
            continue;
        }
        let body = entry["body"].as_str().unwrap_or_default();
        let body = if entry["body_encoded"].as_bool() == Some(true) {
            String::from_utf8(base64_decode(body)).unwrap()
        } else {
            body.to_owned()
        };
        invokes.push(serde_json::from_str::<Value>(&body).unwrap());
    }
    let types: Vec<&str> = invokes.iter().map(|v| v["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["get-status", "list-resources", "grant-access", "create-credentials", "revoke-access", "revoke-access"]);
    assert_eq!(
        invokes[2],
        json!({"event_type": "grant-access", "params": {
            "grant_id": "req_abc", "username": "o'brien+ops@example.com", "resource_type": "app",
            "resources": ["resource1"], "permission": "reader", "custom_parameters": {"param1": "one", "param2": "two"}}})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_come_from_secrets_manager() {
    let m = moto().await;
    fixture(&m, &["secret", "db/sesame", r#"{"username": "sesame", "password": "s3cret-from-sm"}"#]);
    fixture(&m, &["secret", "plain", "just-a-string"]);
    let url = m.url.clone();
    let r = move |id: &str, key: Option<&str>| {
        SecretRef::AwsSecretsManager(AwsSecretRef {
            secret_id: id.into(),
            region: "us-east-1".into(),
            key: key.map(str::to_owned),
            endpoint_url: Some(url.clone()),
            identity: Default::default(),
        })
    };
    let reg = registry();
    let (a, b, c, d) = (
        reg.resolve(&r("db/sesame", Some("password"))).await,
        reg.resolve(&r("plain", None)).await,
        reg.resolve(&r("plain", Some("password"))).await,
        reg.resolve(&r("missing", None)).await,
    );
    assert_eq!(a.unwrap(), "s3cret-from-sm");
    assert_eq!(b.unwrap(), "just-a-string");
    assert!(c.unwrap_err().to_string().contains("is not JSON"));
    assert!(d.unwrap_err().to_string().contains("cannot read secret `missing`"));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s.trim()).unwrap()
}
