//! Sign-in through a real OpenID Provider (npm `oidc-provider`): the
//! browser's authorization-code flow with PKCE, the CLI's device grant,
//! groups that decide roles and flows, key rotation, and every hostile ID
//! token the provider can be made to send refused.

use crate::harness::{Harness, Opts, BIN};
use serde_json::Value;
use sesame_testkit::oidc::{free_port, Browser, Provider};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

/// Sesame on a port known in advance (the provider's redirect names it),
/// signing in at `p`; `eng` may read through an automatic flow, the
/// provider's `sesame-admins` administer Sesame.
pub(crate) async fn start() -> (Harness, Provider) {
    start_with_session("1h").await
}

async fn start_with_session(session: &str) -> (Harness, Provider) {
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/auth/callback");
    let p = Provider::start(&[&callback]);
    let secret = std::env::temp_dir().join(format!("sesame-oidc-secret-{}", sesame_testkit::targets::suffix(8)));
    std::fs::write(&secret, "sesame-test-secret\n").unwrap();
    let extra = format!(
        r#"
[[access_flows]]
name = "eng-read"
kind = "automatic"
integration = "local-pg"
requesters = {{ groups = ["eng"] }}
permissions = ["read_only"]
max_duration = "1h"

[roles]
admins = ["sesame-admins"]

[oidc]
issuer = "{issuer}"
client_id = "sesame"
client_secret = {{ file = "{secret}" }}
scopes = ["openid", "email", "profile", "groups"]
groups_claim = "groups"
redirect_url = "{callback}"
session = "{session}"
"#,
        issuer = p.issuer,
        secret = secret.display()
    );
    let h = Harness::start("CREATE TABLE items (id int); INSERT INTO items VALUES (1);", Opts { extra_flows: extra, listen: Some(format!("127.0.0.1:{port}")), ..Opts::default() }).await;
    (h, p)
}

/// The session cookie a response sets.
fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers().get_all(reqwest::header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find(|c| c.starts_with("sesame_session=")).map(str::to_owned)
}

async fn refusal(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("a refusal is JSON ({e}): {body}")))
}

#[tokio::test]
async fn a_browser_signs_in_and_the_providers_groups_decide() {
    let (h, p) = start().await;
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // Alice signs in; the browser is stopped where the provider sends it back.
    let browser = Browser::new(Some("/auth/callback"));
    let r = browser.code_flow(&format!("{}/auth/login?return_to=/api/v1/whoami", h.url), "alice").await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let callback = r.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("{}/auth/callback?", h.url)) && callback.contains("code=") && callback.contains("state="), "{callback}");
    let r = plain.get(&callback).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()[reqwest::header::LOCATION], "/api/v1/whoami");
    let cookie = session_cookie(&r).expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();

    // The provider's groups: sesame-admins administers Sesame.
    let me: Value = plain.get(format!("{}/api/v1/whoami", h.url)).header("cookie", &session).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["admin"], true, "{me}");
    assert_eq!(me["name"], "Alice Admin");
    assert!(me["groups"].as_array().unwrap().iter().any(|g| g == "eng"), "{me}");

    // The same callback a second time (a replayed code and state) is refused.
    let (status, body) = refusal(plain.get(&callback).send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("sign_in_refused")), "{body}");

    // A cookie alone does not change anything (no cross-site request can):
    // changes need the header a page of Sesame's own sends.
    let ask = serde_json::json!({"integration": "local-pg", "resource_type": "table", "resources": [format!("{}/public/items", h.db)], "permission": "read_only", "duration": "10m"});
    let r = plain.post(format!("{}/api/v1/requests", h.url)).header("cookie", &session).json(&ask).send().await.unwrap();
    let (status, body) = refusal(r).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");

    // Bob (group eng, not in the file) asks through the eng flow: granted.
    let bob = Browser::new(None);
    let r = bob.code_flow(&format!("{}/auth/login", h.url), "bob").await;
    let me: Value = r.json().await.unwrap();
    assert_eq!((me["email"].as_str(), me["admin"].as_bool()), (Some("bob@example.com"), Some(false)), "{me}");
    let r = bob.http.post(format!("{}/api/v1/requests?wait=30s", h.url)).header("x-sesame-csrf", "1").json(&ask).send().await.unwrap();
    let granted: Value = r.json().await.unwrap();
    assert_eq!(granted["status"], "Active", "{granted}");
    assert_eq!(granted["flow"], "eng-read");

    // The provider rotates its signing key: Sesame fetches the new one.
    p.rotate_keys().await;
    let r = Browser::new(None).code_flow(&format!("{}/auth/login", h.url), "bob").await;
    assert_eq!(r.status().as_u16(), 200, "a token signed with the new key is accepted");
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["email"], "bob@example.com");

    // Signing out ends the session.
    let r = plain.post(format!("{}/api/v1/auth/logout", h.url)).header("cookie", &session).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = plain.get(format!("{}/api/v1/whoami", h.url)).header("cookie", &session).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // Each sign-in is audited.
    let admin = h.token("admin@example.com");
    let audit = h.cli(&admin, &["audit"]).to_string();
    assert!(audit.contains("auth.sign_in") && audit.contains("auth.sign_out"), "{audit}");
    h.finish().await;
}

#[tokio::test]
async fn hostile_id_tokens_are_refused() {
    let (h, _p) = start().await;
    // Someone signs in first, so there is an earlier nonce to replay.
    let r = Browser::new(None).code_flow(&format!("{}/auth/login", h.url), "bob").await;
    assert_eq!(r.status().as_u16(), 200);
    for (login, why) in [
        ("tamper-wrong-iss", "issuer"),
        ("tamper-wrong-aud", "audience"),
        ("tamper-expired", "xpired"),
        ("tamper-bad-sig", "ignature"),
        ("tamper-unknown-kid", "key"),
        ("tamper-replayed-nonce", "nonce"),
        ("carol", "not verified"),
        ("tamper-reserved-email", "not a plain address"),
    ] {
        let browser = Browser::new(None);
        let r = browser.code_flow(&format!("{}/auth/login", h.url), login).await;
        let (status, body) = refusal(r).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("sign_in_refused")), "{login}: {body}");
        let message = body["message"].as_str().unwrap().to_ascii_lowercase();
        assert!(message.contains(&why.to_ascii_lowercase()), "{login}: the message names the check: {message}");
        // No session came of it.
        let r = browser.http.get(format!("{}/api/v1/whoami", h.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{login}");
    }
    // A callback nobody started is refused, and so is a provider's error.
    let plain = reqwest::Client::new();
    let (status, body) = refusal(plain.get(format!("{}/auth/callback?code=x&state=made-up", h.url)).send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("sign_in_refused")), "{body}");
    let (status, body) = refusal(plain.get(format!("{}/auth/callback?error=access_denied", h.url)).send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("sign_in_refused")), "{body}");
    // Refusals are audited.
    let admin = h.token("admin@example.com");
    let audit = h.cli(&admin, &["audit"]);
    let refused = audit.as_array().unwrap().iter().filter(|e| e["action"] == "auth.sign_in" && e["outcome"] == "error").count();
    assert!(refused >= 10, "{audit}");
    // Starting sign-ins without end from one address is cut off.
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut limited = None;
    for i in 0..40 {
        let r = no_redirect.get(format!("{}/auth/login", h.url)).send().await.unwrap();
        if r.status().as_u16() == 429 {
            limited = Some((i, refusal(r).await.1));
            break;
        }
        assert_eq!(r.status().as_u16(), 303);
    }
    let (_, body) = limited.expect("sign-in starts are rate limited");
    assert_eq!(body["code"], "too_many_requests", "{body}");
    h.finish().await;
}

/// `sesame login` in a config directory of the test's own; returns the
/// process and the first line it printed (where to go, the code).
fn login(h: &Harness, config_dir: &std::path::Path) -> (std::process::Child, Value) {
    let mut child = Command::new(BIN)
        .args(["login", "--json"])
        .env("SESAME_URL", &h.url)
        .env("SESAME_CONFIG_DIR", config_dir)
        .env_remove("SESAME_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let v: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("`sesame login --json` prints JSON first ({e}): {first}"));
    std::thread::spawn(move || for _ in out.lines() {});
    (child, v)
}

fn cli_as_session(h: &Harness, config_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).arg("--json").env("SESAME_URL", &h.url).env("SESAME_CONFIG_DIR", config_dir).env_remove("SESAME_TOKEN").output().unwrap()
}

#[tokio::test]
async fn the_cli_signs_in_with_the_device_grant_and_out() {
    let (h, _p) = start().await;
    let dir = h.dir.join("config");

    let (mut child, shown) = login(&h, &dir);
    let uri = shown["verification_uri"].as_str().unwrap();
    let code = shown["user_code"].as_str().unwrap();
    let done = Browser::new(None).device_flow(uri, code, "alice").await;
    assert!(done.contains("signed in"), "{done}");
    let status = child.wait().unwrap();
    assert!(status.success(), "sesame login failed");

    // The token is kept for the user alone.
    let file = dir.join("session.json");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let token = kept["token"].as_str().unwrap().to_owned();

    // The CLI uses it when no token is given.
    let out = cli_as_session(&h, &dir, &["whoami"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let me: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((me["email"].as_str(), me["admin"].as_bool()), (Some("alice@example.com"), Some(true)), "{me}");

    // Logout removes it, and the server no longer takes the token.
    let out = cli_as_session(&h, &dir, &["logout"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!file.exists());
    let r = reqwest::Client::new().get(format!("{}/api/v1/whoami", h.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let out = cli_as_session(&h, &dir, &["whoami"]);
    assert!(!out.status.success(), "no session, no token: refused");

    // A device sign-in whose ID token fails its checks leaves no session.
    let (child, shown) = login(&h, &dir);
    Browser::new(None).device_flow(shown["verification_uri"].as_str().unwrap(), shown["user_code"].as_str().unwrap(), "tamper-expired").await;
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sign_in_refused"), "{err}");
    assert!(!file.exists());
    h.finish().await;
}

#[tokio::test]
async fn a_grant_outlives_the_session_it_was_asked_in() {
    let (h, _p) = start_with_session("3s").await;
    let bob = Browser::new(None);
    let me: Value = bob.code_flow(&format!("{}/auth/login", h.url), "bob").await.json().await.unwrap();
    assert_eq!(me["email"], "bob@example.com");
    let ask = serde_json::json!({"integration": "local-pg", "resource_type": "table", "resources": [format!("{}/public/items", h.db)], "permission": "read_only", "duration": "10m"});
    let granted: Value = bob.http.post(format!("{}/api/v1/requests?wait=30s", h.url)).header("x-sesame-csrf", "1").json(&ask).send().await.unwrap().json().await.unwrap();
    assert_eq!(granted["status"], "Active", "{granted}");
    let id = granted["id"].as_str().unwrap().to_owned();
    // The session ends; the reconciler passes (every second here) find bob
    // still known, so his grant runs its full ten minutes.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let r = bob.http.get(format!("{}/api/v1/whoami", h.url)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "the session is over");
    let admin = h.token("admin@example.com");
    let shown = h.cli(&admin, &["requests", "show", &id]);
    assert_eq!(shown["status"], "Active", "{shown}");
    h.finish().await;
}

#[tokio::test]
async fn without_a_provider_sign_in_says_how_to_get_a_token() {
    let h = Harness::start("", Opts::default()).await;
    let r = reqwest::Client::new().get(format!("{}/auth/login", h.url)).send().await.unwrap();
    let (status, body) = refusal(r).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("sign_in_not_configured")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("sesame token issue"), "{body}");
    // The local admin's token still works.
    let me = h.cli(&h.token("admin@example.com"), &["whoami"]);
    assert_eq!(me["admin"], true);
    h.finish().await;
}
