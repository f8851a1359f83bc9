//! What the AWS test binaries share: a moto server of their own, fixtures
//! made with boto3, and the AWS CLI to check what a grant left behind.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
    let mut cmd = Command::new(bin);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(n) = free_requests {
        cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
    }
    let m = Moto { child: cmd.spawn().unwrap(), url: format!("http://127.0.0.1:{port}"), port };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    m
}

/// Run `fixtures/moto_setup.py URL ARGS...`; its standard output.
pub fn fixture(url: &str, args: &[&str]) -> String {
    let out = Command::new(venv().join("bin/python"))
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/moto_setup.py"))
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
