//! MFA step-up and extensions, through the CLI on the real PostgreSQL:
//! a requester's step-up (PendingMFA → TOTP → Active), an approver's
//! (an approval without it does not count), and an extension whose new
//! deadline reaches the target's own backstop.

use crate::harness::{s, Harness, Opts};
use serde_json::Value;
use sesame_core::resource_id::join;
use std::time::Duration;
use totp_rs::TOTP;

async fn with_flow(flow: &str) -> (Harness, String) {
    let h = Harness::start("CREATE TABLE public.orders (id int);", Opts { extra_flows: flow.into(), ..Default::default() }).await;
    h.sync(&h.token("admin@example.com"));
    let orders = join(&[&h.db, "public", "orders"]);
    (h, orders)
}

/// Enrol `token`'s owner; answers their authenticator (read from the
/// otpauth:// URI, as an app scanning the QR code would).
fn enrol(h: &Harness, token: &str) -> TOTP {
    let e = h.cli(token, &["mfa", "enroll"]);
    let uri = s(&e, "otpauth_uri");
    assert!(uri.starts_with("otpauth://totp/Sesame:") && uri.contains("issuer=Sesame"), "{e}");
    let app = TOTP::from_url(&uri).unwrap();
    assert_eq!(app.get_secret_base32(), s(&e, "secret"), "the URI and the typed-in secret are one secret");
    app
}

fn code(app: &TOTP) -> String {
    app.generate_current().unwrap()
}

fn wrong(app: &TOTP) -> String {
    let c = code(app);
    // A six-digit code that is not the current one.
    format!("{:06}", (c.parse::<u32>().unwrap() + 500_000) % 1_000_000)
}

async fn wait_status(h: &Harness, token: &str, id: &str, status: &str) -> Value {
    h.wait_until(&format!("request {id} to become {status}"), Duration::from_secs(15), || async {
        s(&h.cli(token, &["requests", "show", id]), "status") == status
    })
    .await;
    h.cli(token, &["requests", "show", id])
}

/// An automatic flow for the outsider that waits for their step-up.
pub(crate) const STEP_UP_FIRST: &str = r#"
[[access_flows]]
name = "step-up-first"
trigger = "AUTOMATIC"
integration = "local-pg"
requesters = { users = ["outsider@example.com"] }
permissions = ["read_write"]
grant_duration_in_min = 60
settings = { justification_required = false, requester_mfa = true }
"#;

/// `requester_mfa`: nothing is granted until the requester steps up; the
/// step-up moves the request on, and the grantee then logs in.
#[tokio::test(flavor = "multi_thread")]
async fn a_requester_steps_up_before_the_grant() {
    let flow = STEP_UP_FIRST;
    let (h, orders) = with_flow(flow).await;
    let outsider = h.token("outsider@example.com");
    let dry = h.cli(&outsider, &["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", &orders, "--permission", "read_write", "--duration", "30m", "--dry-run"]);
    assert_eq!(s(&dry, "status"), "PendingMFA", "the dry run says what comes first: {dry}");
    let r = h.request(&outsider, "table", &orders, "read_write", "30m", &[]);
    let id = s(&r, "id");
    assert_eq!((s(&r, "status").as_str(), r["deadline"].clone()), ("PendingMFA", Value::Null), "no deadline before the step-up: {r}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!h.role_exists(&s(&r, "username")).await, "nothing reaches the target before the step-up");
    // Not enrolled: the step-up says how.
    let err = h.cli_err(&outsider, &["mfa", "verify", "123456"], "mfa_not_enrolled");
    assert!(err.contains("sesame mfa enroll"), "{err}");
    let app = enrol(&h, &outsider);
    h.cli_err(&outsider, &["mfa", "verify", &wrong(&app)], "invalid_mfa_code");
    assert_eq!(s(&h.cli(&outsider, &["requests", "show", &id]), "status"), "PendingMFA", "a wrong code moves nothing");
    let c = code(&app);
    let up = h.cli(&outsider, &["mfa", "verify", &c]);
    assert_eq!(up["requests"], serde_json::json!([id]), "{up}");
    h.cli_err(&outsider, &["mfa", "verify", &c], "invalid_mfa_code");
    let r = wait_status(&h, &outsider, &id, "Active").await;
    assert!(r["deadline"].is_string(), "{r}");
    let creds = h.cli(&outsider, &["access", "use", &id]);
    let mut conn = h.login(&s(&r, "username"), &s(&creds, "secret")).await.expect("the grantee logs in after the step-up");
    sqlx::query("INSERT INTO public.orders VALUES (1)").execute(&mut conn).await.unwrap();
    // Audited: the enrolment, the wrong code, the step-up.
    let audit = h.cli(&h.token("admin@example.com"), &["audit"]);
    let actions: Vec<&str> = audit.as_array().unwrap().iter().filter(|e| e["actor"] == "outsider@example.com").map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["mfa.enroll", "mfa.verify", "request.step_up"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let log = std::fs::read_to_string(h.dir.join("server.log")).unwrap();
    let secret = app.get_secret_base32();
    assert!(!log.contains(&secret), "the MFA secret never reaches the log");
    h.cli(&outsider, &["requests", "revoke", &id, "--wait"]);
    h.finish().await;
}

/// `require_mfa`: an approval without the approver's step-up does not
/// count (nothing recorded, nothing granted); with a code it does.
#[tokio::test(flavor = "multi_thread")]
async fn an_approval_counts_only_after_the_approvers_step_up() {
    let flow = r#"
[[access_flows]]
name = "two-factor-approval"
trigger = "SELF_SERVE"
integration = "local-pg"
requesters = { users = ["outsider@example.com"] }
approvers = { users = ["lead@example.com"] }
permissions = ["read_write"]
grant_duration_in_min = 60
settings = { require_mfa = true }
"#;
    let (h, orders) = with_flow(flow).await;
    let outsider = h.token("outsider@example.com");
    let lead = h.token("lead@example.com");
    let r = h.request(&outsider, "table", &orders, "read_write", "30m", &[]);
    let id = s(&r, "id");
    assert_eq!(s(&r, "status"), "Pending");
    let err = h.cli_err(&lead, &["requests", "approve", &id], "mfa_required");
    assert!(err.contains("--mfa-code") && err.contains("sesame mfa enroll"), "{err}");
    let app = enrol(&h, &lead);
    h.cli_err(&lead, &["requests", "approve", &id], "mfa_required");
    h.cli_err(&lead, &["requests", "approve", &id, "--mfa-code", &wrong(&app)], "invalid_mfa_code");
    let r = h.cli(&outsider, &["requests", "show", &id]);
    assert_eq!((s(&r, "status").as_str(), r["approvals"].clone()), ("Pending", serde_json::json!([])), "no approval was recorded: {r}");
    assert!(!h.role_exists(&s(&r, "username")).await);
    // The requester's own step-up does not approve anything.
    h.cli_err(&outsider, &["requests", "approve", &id, "--mfa-code", "000000"], "self_approval");
    h.cli(&lead, &["requests", "approve", &id, "--mfa-code", &code(&app)]);
    let r = wait_status(&h, &outsider, &id, "Active").await;
    assert_eq!(s(&r, "decided_by"), "lead@example.com");
    h.cli(&outsider, &["requests", "revoke", &id, "--wait"]);
    // A reset (lost device) makes the approver enrol again.
    let admin = h.token("admin@example.com");
    h.cli_err(&lead, &["mfa", "reset", "lead@example.com"], "forbidden");
    h.cli(&admin, &["mfa", "reset", "lead@example.com"]);
    h.cli_err(&lead, &["mfa", "verify", &code(&app)], "mfa_not_enrolled");
    h.finish().await;
}

/// An extension within the flow's limits moves the deadline, and the
/// login's own `VALID UNTIL` with it; beyond them it is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_extension_moves_the_deadline_on_the_target_too() {
    let flow = r#"
[[access_flows]]
name = "extendable"
trigger = "AUTOMATIC"
integration = "local-pg"
requesters = { users = ["outsider@example.com"] }
permissions = ["read_write"]
grant_duration_in_min = 60
settings = { justification_required = false, max_extensions = 1, extension_duration_in_min = 30 }
"#;
    let (h, orders) = with_flow(flow).await;
    let outsider = h.token("outsider@example.com");
    let dev = h.token("dev@example.com");
    let r = h.request(&outsider, "table", &orders, "read_write", "20m", &["--wait"]);
    let (id, user) = (s(&r, "id"), s(&r, "username"));
    let deadline = |v: &Value| chrono::DateTime::parse_from_rfc3339(&s(v, "deadline")).unwrap().timestamp_millis();
    let valid_until = || async {
        let ms: f64 = sqlx::query_scalar("SELECT (extract(epoch from rolvaliduntil) * 1000)::float8 FROM pg_roles WHERE rolname = $1").bind(&user).fetch_one(&h.pg).await.unwrap();
        ms as i64
    };
    let before = deadline(&r);
    assert!((valid_until().await - before).abs() < 1_000, "the login ends at the deadline");
    h.cli_err(&outsider, &["requests", "extend", &id, "--duration", "45m"], "extension_not_allowed");
    h.cli_err(&dev, &["requests", "extend", &id, "--duration", "10m"], "not_found");
    let r = h.cli(&outsider, &["requests", "extend", &id, "--duration", "15m", "--reason", "the migration runs long"]);
    assert_eq!((r["extensions"].as_i64(), deadline(&r) - before), (Some(1), 15 * 60 * 1000), "{r}");
    h.wait_until("the login's VALID UNTIL to move with the deadline", Duration::from_secs(10), || async {
        (valid_until().await - deadline(&r)).abs() < 1_000
    })
    .await;
    let err = h.cli_err(&outsider, &["requests", "extend", &id, "--duration", "5m"], "extension_not_allowed");
    assert!(err.contains("extended 1 times"), "{err}");
    let audit = h.cli(&h.token("admin@example.com"), &["audit", "--request", &id]);
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"request.extend") && actions.contains(&"extend.done"), "{actions:?}");
    h.cli(&outsider, &["requests", "revoke", &id, "--wait"]);
    let creds_gone = h.cli(&outsider, &["requests", "show", &id]);
    assert_eq!(s(&creds_gone, "status"), "Revoked");
    h.cli_err(&outsider, &["requests", "extend", &id, "--duration", "5m"], "invalid_state");
    h.finish().await;
}

/// On a self-serve flow an extension is approved again, by the flow's
/// approvers (never the one who asked): it waits, shows in their
/// to-approve list, and the approval moves the deadline; a rejection
/// leaves it where it was.
#[tokio::test(flavor = "multi_thread")]
async fn a_self_serve_extension_waits_for_an_approver() {
    let flow = r#"
[[access_flows]]
name = "approved-twice"
trigger = "SELF_SERVE"
integration = "local-pg"
requesters = { users = ["outsider@example.com"] }
approvers = { users = ["lead@example.com"] }
permissions = ["read_write"]
grant_duration_in_min = 60
settings = { max_extensions = 2, extension_duration_in_min = 30 }
"#;
    let (h, orders) = with_flow(flow).await;
    let outsider = h.token("outsider@example.com");
    let lead = h.token("lead@example.com");
    let r = h.request(&outsider, "table", &orders, "read_write", "20m", &[]);
    let id = s(&r, "id");
    h.cli(&lead, &["requests", "approve", &id]);
    let r = wait_status(&h, &outsider, &id, "Active").await;
    let deadline = |v: &Value| chrono::DateTime::parse_from_rfc3339(&s(v, "deadline")).unwrap().timestamp_millis();
    let before = deadline(&r);
    let asked = h.cli(&outsider, &["requests", "extend", &id, "--duration", "10m", "--reason", "more"]);
    assert_eq!((deadline(&asked), asked["extensions"].as_i64()), (before, Some(0)), "nothing moves before the approval: {asked}");
    assert_eq!(s(&asked["extension_asked"], "by"), "outsider@example.com", "{asked}");
    h.cli_err(&outsider, &["requests", "extend", &id, "--duration", "5m"], "invalid_state");
    h.cli_err(&outsider, &["requests", "approve", &id], "self_approval");
    let waiting = h.cli(&lead, &["requests", "list", "--scope", "to-approve"]);
    assert!(waiting.as_array().unwrap().iter().any(|x| x["id"] == id.as_str()), "the approver sees it waiting: {waiting}");
    // Rejected: the deadline stays.
    let r = h.cli(&lead, &["requests", "reject", &id, "--reason", "no"]);
    assert_eq!((deadline(&r), r["extension_asked"].clone(), s(&r, "status").as_str()), (before, Value::Null, "Active"), "{r}");
    // Asked again and approved: the deadline moves, on the target too.
    h.cli(&outsider, &["requests", "extend", &id, "--duration", "10m"]);
    let r = h.cli(&lead, &["requests", "approve", &id]);
    assert_eq!((deadline(&r) - before, r["extensions"].as_i64()), (10 * 60 * 1000, Some(1)), "{r}");
    let audit = h.cli(&h.token("admin@example.com"), &["audit", "--request", &id]).to_string();
    assert!(audit.contains("request.extend.ask") && audit.contains("request.extend.reject") && audit.contains("request.extend\""), "{audit}");
    h.cli(&outsider, &["requests", "revoke", &id, "--wait"]);
    h.finish().await;
}
