//! What the AWS test binaries share: a moto server of their own, fixtures
//! made with boto3, and the AWS CLI to check what a grant left behind.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn venv() -> PathBuf {
    std::env::var("SESAME_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/sesame-moto-venv"))
}

pub struct Moto {
    child: Child,
    pub url: String,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A moto server on a free port; with `free_requests`, IAM enforcement is on
/// after that many unauthenticated requests.
pub async fn moto(free_requests: Option<u32>) -> Moto {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let bin = venv().join("bin/moto_server");
    assert!(bin.exists(), "{} is missing: run scripts/test (it installs moto), or python3 -m venv {v} && {v}/bin/pip install 'moto[server]' awscli parliament", bin.display(), v = venv().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = Command::new(&bin);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(n) = free_requests {
        cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
    }
    let mut m = Moto { child: cmd.spawn().unwrap(), url: format!("http://127.0.0.1:{port}"), port };
    // A fresh venv compiles moto's modules on its first start, which takes
    // long on a busy machine: wait up to a minute, then say so.
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = m.child.try_wait() {
            panic!("moto_server exited ({status}) before it listened on port {port}: run {} -p {port} to see why", bin.display());
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "moto_server did not listen on port {port} within 60 s: is the machine overloaded? run {} -p {port}", bin.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    m
}

/// Run `fixtures/moto_setup.py URL ARGS...`; its standard output.
pub fn fixture(url: &str, args: &[&str]) -> String {
    let out = Command::new(venv().join("bin/python"))
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/moto_setup.py"))
        .arg(url)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "fixture {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn fixture_json(url: &str, args: &[&str]) -> Value {
    serde_json::from_str(fixture(url, args).trim()).unwrap()
}

/// `aws --endpoint-url URL ARGS... --output json` (the AWS CLI from PyPI),
/// with the given credentials.
pub fn aws_cli(url: &str, creds: (&str, &str), args: &[&str]) -> Value {
    let bin = venv().join("bin/aws");
    assert!(bin.exists(), "{} is missing: run scripts/test (it installs awscli)", bin.display());
    let out = Command::new(bin)
        .args(["--endpoint-url", url, "--region", "us-east-1", "--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", creds.0)
        .env("AWS_SECRET_ACCESS_KEY", creds.1)
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "aws {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let s = String::from_utf8(out.stdout).unwrap();
    if s.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&s).unwrap()
}

pub const TESTING: (&str, &str) = ("testing", "testing");

/// Which requests a [`throttling_proxy`] throttles.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Identity Center and the identity store only.
    IdentityCenter,
    /// Every AWS request.
    All,
}

pub struct ThrottlingProxy {
    pub url: String,
    /// When each request in scope arrived.
    pub seen: Arc<Mutex<Vec<Instant>>>,
    pub throttled: Arc<AtomicUsize>,
    /// The operation (`X-Amz-Target`) of each request in scope that reached
    /// moto (not those answered with throttling), in order.
    pub ops: Arc<Mutex<Vec<String>>>,
    /// DescribeAccountAssignmentCreationStatus calls.
    pub polls: Arc<AtomicUsize>,
}

/// A proxy in front of moto that answers every third request in scope with
/// a throttling error in the request's own protocol (JSON `__type`, Query
/// XML `Throttling`, or S3's 503 SlowDown), and makes each new Identity
/// Center assignment look IN_PROGRESS (moto's are SUCCEEDED at once), so
/// its status has to be polled.
pub async fn throttling_proxy(moto_url: String, scope: Scope) -> ThrottlingProxy {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::response::IntoResponse;
    let p = ThrottlingProxy { url: String::new(), seen: Default::default(), throttled: Default::default(), polls: Default::default(), ops: Default::default() };
    let count = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::new();
    let (s, t, pl, op) = (p.seen.clone(), p.throttled.clone(), p.polls.clone(), p.ops.clone());
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (seen, throttled, polls, count, http, moto_url, ops) = (s.clone(), t.clone(), pl.clone(), count.clone(), http.clone(), moto_url.clone(), op.clone());
        async move {
            let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let form = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().starts_with("application/x-www-form-urlencoded");
            let sso = target.starts_with("SWBExternalService.") || target.starts_with("AWSIdentityStore.");
            if sso || scope == Scope::All {
                seen.lock().unwrap().push(Instant::now());
                if count.fetch_add(1, Ordering::SeqCst) % 3 == 2 {
                    throttled.fetch_add(1, Ordering::SeqCst);
                    return if !target.is_empty() {
                        let body = json!({"__type": "ThrottlingException", "message": "Rate exceeded"}).to_string();
                        (StatusCode::BAD_REQUEST, [("content-type", "application/x-amz-json-1.1")], body).into_response()
                    } else if form {
                        let body = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>";
                        (StatusCode::BAD_REQUEST, [("content-type", "text/xml")], body.to_owned()).into_response()
                    } else {
                        let body = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
                        (StatusCode::SERVICE_UNAVAILABLE, [("content-type", "application/xml")], body.to_owned()).into_response()
                    };
                }
            }
            if sso || scope == Scope::All {
                ops.lock().unwrap().push(target.clone());
            }
            let mut req = http.request(reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(), format!("{moto_url}{uri}"));
            for (k, v) in &headers {
                if k != "host" && k != "content-length" {
                    req = req.header(k.as_str(), v.as_bytes());
                }
            }
            let r = req.body(body.to_vec()).send().await.unwrap();
            let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
            let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap_or_default().to_owned()).unwrap_or_default();
            let mut bytes = r.bytes().await.unwrap().to_vec();
            if target == "SWBExternalService.CreateAccountAssignment" {
                let mut v: Value = serde_json::from_slice(&bytes).unwrap();
                v["AccountAssignmentCreationStatus"]["Status"] = json!("IN_PROGRESS");
                bytes = v.to_string().into_bytes();
            }
            if target == "SWBExternalService.DescribeAccountAssignmentCreationStatus" {
                polls.fetch_add(1, Ordering::SeqCst);
            }
            (status, [("content-type", ct)], bytes).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    ThrottlingProxy { url, ..p }
}
