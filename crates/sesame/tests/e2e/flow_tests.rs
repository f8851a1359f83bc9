//! Access flows beyond who and what, through the CLI: timeframes, requestors
//! and ALL_OF approver policies, approver reasons, pending expiry,
//! escalation, and Review Access.

use crate::harness::{s, Harness, Opts};
use chrono::{Duration, Timelike, Utc};
use serde_json::Value;
use sesame_core::resource_id::join;

/// A server whose extra self-serve flow `name` lets the outsider ask for
/// `read_write` on local-pg, approved by the lead, with `extra` lines; its
/// inventory synced. Answers the harness and the `orders` table's id.
async fn outsiders_flow(name: &str, extra: &str) -> (Harness, String) {
    let flows = format!(
        "\n[[access_flows]]\nname = \"{name}\"\nkind = \"self_serve\"\nintegration = \"local-pg\"\n\
         requesters = {{ users = [\"outsider@example.com\"] }}\napprovers = {{ users = [\"lead@example.com\"] }}\n\
         permissions = [\"read_write\"]\nmax_duration = \"1h\"\n{extra}\n"
    );
    let h = Harness::start("CREATE TABLE public.orders (id int);", Opts { extra_flows: flows, ..Default::default() }).await;
    h.sync(&h.token("admin@example.com"));
    let orders = join(&[&h.db, "public", "orders"]);
    (h, orders)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_outside_its_timeframe_refuses_with_the_next_window() {
    // A window that opens two hours from now (on any day) and lasts an hour,
    // so now is outside it whatever the time of the run.
    #[expect(clippy::disallowed_methods, reason = "the test stands outside the system and reads the clock the server reads")]
    let now = Utc::now();
    let opens = (now + Duration::hours(2)).with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap();
    let closes = opens + Duration::hours(1);
    let hhmm = |t: chrono::DateTime<Utc>| t.format("%H:%M").to_string();
    let flows = format!(
        r#"
[[access_flows]]
name = "later-today"
kind = "automatic"
integration = "local-pg"
requesters = {{ users = ["outsider@example.com"] }}
permissions = ["read_only"]
max_duration = "1h"
timeframe = {{ days_of_week = [], start_time = "{}", end_time = "{}", time_zone = "UTC" }}

[[access_flows]]
name = "all-day"
kind = "automatic"
integration = "local-pg"
requesters = {{ users = ["outsider@example.com"] }}
permissions = ["read_write"]
max_duration = "1h"
timeframe = {{ days_of_week = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"], start_time = "00:00", end_time = "00:00", time_zone = "Europe/London" }}
"#,
        hhmm(opens),
        hhmm(closes)
    );
    let h = Harness::start("CREATE TABLE public.orders (id int);", Opts { extra_flows: flows, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let outsider = h.token("outsider@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);
    let rfc = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for extra in [&["--dry-run"][..], &[]] {
        let mut args = vec!["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", &orders, "--permission", "read_only", "--duration", "30m"];
        args.extend_from_slice(extra);
        let err = h.cli_err(&outsider, &args, "outside_timeframe");
        assert!(err.contains("access flow `later-today` takes requests every day"), "{err}");
        assert!(err.contains(&format!("ask again between {} and {}", rfc(opens), rfc(closes))), "{err}");
    }
    assert!(h.cli(&admin, &["requests", "list", "--scope", "all"]).as_array().unwrap().is_empty(), "a refusal writes nothing");
    // Within its window a flow decides as usual.
    let args = ["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", &orders, "--permission", "read_write", "--duration", "30m", "--dry-run"];
    let v = h.cli(&outsider, &args);
    assert_eq!((s(&v, "status").as_str(), s(&v, "flow").as_str()), ("Granting", "all-day"), "{v}");
    h.finish().await;
}

/// The seed's `requestors` and `approver_policy` spelled in Sesame's file:
/// ALL_OF two approver groups, each approval counted once, the grant made
/// only after both; the grantee then writes where the permission allows.
#[tokio::test(flavor = "multi_thread")]
async fn all_of_needs_one_approval_from_each_group_before_the_grant() {
    let flows = r#"
[[access_flows]]
name = "two-keys"
trigger = "SELF_SERVE"
integration = "local-pg"
settings = { require_approver_reason = true, justification_required = false, labels = ["pci"] }
requestors = { logical_operator = "AND", conditions = [ { type = "user", match_operator = "starts_with", values = ["outsider@"] } ] }
approver_policy = { approval_mode = "ALL_OF", approver_groups = [
  { approvers = [ { type = "user", values = ["lead@example.com"] } ] },
  { logical_operator = "OR", approvers = [ { type = "group", values = ["nobody"] }, { type = "user", match_operator = "is", values = ["dev@example.com"] } ] },
] }
permissions = ["read_write"]
grant_duration_in_min = 60
"#;
    let h = Harness::start("CREATE TABLE public.orders (id int);", Opts { extra_flows: flows.into(), ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let outsider = h.token("outsider@example.com");
    let lead = h.token("lead@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    // The flow reads back as configured, in the seed's words.
    let f = h.cli(&outsider, &["flows", "show", "two-keys"]);
    assert_eq!((s(&f[0], "trigger").as_str(), s(&f[0], "approval_mode").as_str(), f[0]["labels"].clone()), ("SELF_SERVE", "ALL_OF", serde_json::json!(["pci"])), "{f}");
    assert_eq!(f[0]["approver_groups"].as_array().unwrap().len(), 2, "{f}");
    assert_eq!(s(&f[0], "requestors"), "user starts_with outsider@", "{f}");
    assert!(h.cli(&outsider, &["flows", "list"]).as_array().unwrap().iter().any(|x| x["name"] == "auto-read"));
    h.cli_err(&outsider, &["flows", "show", "nope"], "not_found");
    let orders = join(&[&h.db, "public", "orders"]);
    let r = h.request(&outsider, "table", &orders, "read_write", "30m", &[]);
    assert_eq!((s(&r, "status").as_str(), s(&r, "flow").as_str()), ("Pending", "two-keys"), "{r}");
    assert_eq!(r["approval_parts"].as_array().unwrap().len(), 2, "{r}");
    let id = s(&r, "id");
    h.cli_err(&outsider, &["requests", "approve", &id], "self_approval");
    // The flow asks approvers for a reason; a refusal records nothing.
    let err = h.cli_err(&lead, &["requests", "approve", &id], "reason_required");
    assert!(err.contains("--reason"), "{err}");
    h.cli_err(&lead, &["requests", "approve", &id, "--reason", "  "], "reason_required");
    let r = h.cli(&lead, &["requests", "approve", &id, "--reason", "first key"]);
    assert_eq!(s(&r, "status"), "Pending", "one group of two: {r}");
    h.cli_err(&lead, &["requests", "approve", &id], "invalid_state");
    assert!(!h.role_exists(&s(&r, "username")).await, "nothing is granted before the second key");
    h.cli(&dev, &["requests", "approve", &id, "--reason", "second key"]);
    h.wait_until("the grant to become Active", std::time::Duration::from_secs(10), || async {
        s(&h.cli(&outsider, &["requests", "show", &id]), "status") == "Active"
    })
    .await;
    let creds = h.cli(&outsider, &["access", "use", &id]);
    let mut conn = h.login(&s(&creds, "username"), &s(&creds, "secret")).await.unwrap();
    sqlx::query("INSERT INTO public.orders VALUES (1)").execute(&mut conn).await.expect("read_write may INSERT");
    drop(conn);
    assert_eq!(s(&h.cli(&outsider, &["requests", "revoke", &id, "--wait"]), "status"), "Revoked");
    h.finish().await;
}

/// Review Access: who had what, when, why and who approved, filtered, as
/// JSON and as CSV a spreadsheet cannot run.
#[tokio::test(flavor = "multi_thread")]
async fn review_access_reports_who_had_what_when_why_and_who_approved() {
    let h = Harness::start("CREATE TABLE public.orders (id int); CREATE TABLE public.payroll (id int);", Opts::default()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    let lead = h.token("lead@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);
    let payroll = join(&[&h.db, "public", "payroll"]);
    let read = h.cli(&dev, &["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", &orders, "--permission", "read_only", "--duration", "1h", "--justification", "=HYPERLINK(\"http://evil\")", "--wait"]);
    h.cli(&dev, &["requests", "revoke", &s(&read, "id"), "--wait"]);
    let write = h.request(&dev, "table", &payroll, "read_write", "1h", &[]);
    h.cli(&lead, &["requests", "approve", &s(&write, "id"), "--reason", "payroll incident"]);
    h.wait_until("the write grant", std::time::Duration::from_secs(10), || async { s(&h.cli(&dev, &["requests", "show", &s(&write, "id")]), "status") == "Active" }).await;
    // Never granted: not in the report.
    let pending = h.request(&dev, "table", &orders, "admin", "1h", &[]);

    h.cli_err(&dev, &["reports", "access"], "forbidden");
    let rows = h.cli(&admin, &["reports", "access", "--format", "json"]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((s(&rows[0], "request_id"), s(&rows[0], "permission"), s(&rows[0], "status")), (s(&read, "id"), "read_only".into(), "Revoked".into()));
    assert!(rows[0]["approved_by"].as_array().unwrap().is_empty() && rows[0]["ended_at"].is_string(), "{}", rows[0]);
    assert_eq!(rows[1]["approved_by"], serde_json::json!(["lead@example.com"]));
    assert_eq!((s(&rows[1], "approval_reason").as_str(), s(&rows[1], "flow").as_str()), ("payroll incident", "approved-write"));
    assert!(rows[1]["ended_at"].is_null(), "still held: {}", rows[1]);
    assert!(rows.iter().all(|r| s(r, "request_id") != s(&pending, "id")));
    // Filters: by resource, by person, and by time.
    let by_resource = h.cli(&admin, &["reports", "access", "--resource", &payroll, "--format", "json"]);
    assert_eq!(by_resource.as_array().unwrap().len(), 1);
    assert!(h.cli(&admin, &["reports", "access", "--user", "lead@example.com", "--format", "json"]).as_array().unwrap().is_empty());
    let later = h.cli(&admin, &["reports", "access", "--since", "2999-01-01", "--format", "json"]);
    assert_eq!(later.as_array().unwrap().iter().map(|r| s(r, "request_id")).collect::<Vec<_>>(), [s(&write, "id")], "only what is still held lasts into the future");
    assert!(h.cli(&admin, &["reports", "access", "--until", "2000-01-01", "--format", "json"]).as_array().unwrap().is_empty());
    h.cli_err(&admin, &["reports", "access", "--since", "last tuesday"], "bad_request");
    // CSV: a header, one line per grant, and a formula kept as text.
    let (code, csv, err) = h.cli_raw(&admin, &["reports", "access", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("user,integration,resource_type,resources,permission,granted_at"), "{csv}");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].contains("\"'=HYPERLINK(\"\"http://evil\"\")\""), "the formula is text: {}", lines[1]);
    h.finish().await;
}

/// A pending request nobody answers within the flow's `pending_expiry`
/// ends Expired, through the durable job queue; an answer after that is
/// refused and nothing reaches the target.
#[tokio::test(flavor = "multi_thread")]
async fn an_unanswered_request_expires() {
    let (h, orders) = outsiders_flow("short-wait", r#"pending_expiry = "2s""#).await;
    let admin = h.token("admin@example.com");
    let outsider = h.token("outsider@example.com");
    let lead = h.token("lead@example.com");
    let r = h.request(&outsider, "table", &orders, "read_write", "30m", &[]);
    assert_eq!(s(&r, "status"), "Pending");
    let id = s(&r, "id");
    h.wait_until("the request to expire", std::time::Duration::from_secs(15), || async { s(&h.cli(&outsider, &["requests", "show", &id]), "status") == "Expired" }).await;
    let shown = h.cli(&outsider, &["requests", "show", &id]);
    assert!(s(&shown, "last_error").contains("nobody approved it in time"), "{shown}");
    h.cli_err(&lead, &["requests", "approve", &id], "invalid_state");
    assert!(!h.role_exists(&s(&r, "username")).await);
    let audit = h.cli(&admin, &["audit", "--request", &id]);
    let actions: Vec<String> = audit.as_array().unwrap().iter().map(|e| s(e, "action")).collect();
    assert_eq!(actions, ["request.create", "request.pending_expired"]);
    h.finish().await;
}

/// Escalation through the durable job queue: unanswered for the tier's
/// interval, the next tier's approvers may approve too (and are told so in
/// the request's approvers); one of them approves and the grant is made.
#[tokio::test(flavor = "multi_thread")]
async fn an_unanswered_request_escalates_to_the_next_tier() {
    let tiers = r#"escalation = [
  { after = "2s", approvers = [ { type = "user", values = ["dev@example.com"] } ] },
  { after = "1h", approvers = [ { type = "user", values = ["admin@example.com"] } ] },
]"#;
    let (h, orders) = outsiders_flow("escalating", tiers).await;
    let admin = h.token("admin@example.com");
    let outsider = h.token("outsider@example.com");
    let dev = h.token("dev@example.com");
    let r = h.request(&outsider, "table", &orders, "read_write", "30m", &[]);
    let id = s(&r, "id");
    assert_eq!(r["approvers"], serde_json::json!(["lead@example.com"]));
    h.cli_err(&dev, &["requests", "approve", &id], "not_found");
    h.wait_until("tier 1 to be reached", std::time::Duration::from_secs(15), || async {
        h.cli(&outsider, &["requests", "show", &id])["approvers"] == serde_json::json!(["dev@example.com", "lead@example.com"])
    })
    .await;
    let r = h.cli(&dev, &["requests", "approve", &id, "--reason", "escalated to me"]);
    assert_eq!(s(&r, "decided_by"), "dev@example.com");
    h.wait_until("the grant", std::time::Duration::from_secs(10), || async { s(&h.cli(&outsider, &["requests", "show", &id]), "status") == "Active" }).await;
    let shown = h.cli(&outsider, &["requests", "show", &id]);
    assert!(!shown["approvers"].as_array().unwrap().iter().any(|a| a == "admin@example.com"), "tier 2 was never reached: {shown}");
    let audit = h.cli(&admin, &["audit", "--request", &id]);
    let escalations: Vec<&Value> = audit.as_array().unwrap().iter().filter(|e| e["action"] == "request.escalate").collect();
    assert_eq!(escalations.len(), 1, "{audit}");
    assert_eq!(escalations[0]["detail"]["added_approvers"], serde_json::json!(["dev@example.com"]));
    h.cli(&outsider, &["requests", "revoke", &id, "--wait"]);
    h.finish().await;
}

/// A server with tables `orders` and `payroll` and an automatic flow `name`
/// for the outsider covering the seed's `access_targets` `targets`; synced.
/// Answers the harness, the admin's and the outsider's tokens, and the two
/// tables' ids.
async fn outsiders_targets(name: &str, targets: &str) -> (Harness, String, String, String, String) {
    let flows = format!(
        "\n[[access_flows]]\nname = \"{name}\"\ntrigger = \"AUTOMATIC\"\ngrant_duration_in_min = 60\n\
         requesters = {{ users = [\"outsider@example.com\"] }}\naccess_targets = {targets}\n"
    );
    let h = Harness::start("CREATE TABLE public.orders (id int); CREATE TABLE public.payroll (id int);", Opts { extra_flows: flows, ..Default::default() }).await;
    let (admin, outsider) = (h.token("admin@example.com"), h.token("outsider@example.com"));
    h.sync(&admin);
    let (orders, payroll) = (join(&[&h.db, "public", "orders"]), join(&[&h.db, "public", "payroll"]));
    (h, admin, outsider, orders, payroll)
}

/// The seed's `access_targets`: an integration target whose resources_scopes
/// include one table by name; a request for another table is refused, naming
/// the flow and what it leaves out.
#[tokio::test(flavor = "multi_thread")]
async fn an_access_target_covers_only_the_resources_in_its_scopes() {
    let targets = r#"[ { integration = { integration_name = "local-pg", resource_type = "table", permissions = ["read_only"], resources_scopes = [
  { scope_mode = "include_resources", type = "NAME", values = ["orders"] },
] } } ]"#;
    let (h, _admin, outsider, orders, payroll) = outsiders_targets("orders-only", targets).await;
    let r = h.request(&outsider, "table", &orders, "read_only", "30m", &["--wait"]);
    assert_eq!((s(&r, "status").as_str(), s(&r, "flow").as_str()), ("Active", "orders-only"), "{r}");
    let creds = h.cli(&outsider, &["access", "use", &s(&r, "id")]);
    let mut conn = h.login(&s(&creds, "username"), &s(&creds, "secret")).await.unwrap();
    sqlx::query("SELECT * FROM public.orders").execute(&mut conn).await.expect("the table in scope is readable");
    assert!(sqlx::query("SELECT * FROM public.payroll").execute(&mut conn).await.is_err(), "the other table is not");
    drop(conn);
    for resources in [payroll.clone(), format!("{orders},{payroll}")] {
        let err = h.cli_err(&outsider, &["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", &resources, "--permission", "read_only", "--duration", "30m"], "no_matching_flow");
        assert!(err.contains(&format!("the closest, `orders-only`, does not cover `{payroll}`")), "{err}");
    }
    h.cli(&outsider, &["requests", "revoke", &s(&r, "id"), "--wait"]);
    h.finish().await;
}

/// An access_scope target: the flow covers what a named scope (made through
/// the API) selects, permission included; before the scope exists, and
/// outside it, the request is refused naming the flow and its scope.
#[tokio::test(flavor = "multi_thread")]
async fn an_access_scope_target_covers_what_the_scope_selects() {
    let (h, admin, outsider, orders, payroll) = outsiders_targets("by-scope", r#"[ { access_scope = { name = "orders-read" } } ]"#).await;
    let ask = |resources: &str, permission: &str| {
        vec!["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", resources, "--permission", permission, "--duration", "30m", "--wait"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let args = ask(&orders, "read_only");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = h.cli_err(&outsider, &args, "no_matching_flow");
    assert!(err.contains("`by-scope`, covers what access scope `orders-read` selects"), "no such scope yet: {err}");
    h.cli(&admin, &["scopes", "create", "orders-read", "--query", "resource_type = \"postgresql-table\" and resource_name = \"orders\" and permission = \"read_only\""]);
    let r = h.cli(&outsider, &args);
    assert_eq!((s(&r, "status").as_str(), s(&r, "flow").as_str()), ("Active", "by-scope"), "{r}");
    for (resources, permission) in [(payroll.as_str(), "read_only"), (orders.as_str(), "read_write")] {
        let other = ask(resources, permission);
        let other: Vec<&str> = other.iter().map(String::as_str).collect();
        h.cli_err(&outsider, &other, "no_matching_flow");
    }
    h.cli(&outsider, &["requests", "revoke", &s(&r, "id"), "--wait"]);
    // A request may name the scope itself: one grant per integration, type
    // and permission of what it selects, decided by the flow for the scope.
    let dry = h.cli(&outsider, &["requests", "create", "--scope", "orders-read", "--duration", "30m", "--dry-run"]);
    assert_eq!(dry["grants"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!((s(&dry["grants"][0], "permission").as_str(), dry["grants"][0]["resources"].clone()), ("read_only", serde_json::json!([orders])), "{dry}");
    let b = h.cli(&outsider, &["requests", "create", "--scope", "orders-read", "--duration", "30m", "--wait"]);
    assert_eq!((s(&b, "status").as_str(), s(&b["requests"][0], "flow").as_str()), ("Active", "by-scope"), "{b}");
    let creds = h.cli(&outsider, &["access", "use", &s(&b["requests"][0], "id")]);
    let mut conn = h.login(&s(&b["requests"][0], "username"), &s(&creds, "secret")).await.expect("the scope's grant logs in");
    assert!(sqlx::query("SELECT * FROM public.orders").fetch_all(&mut conn).await.is_ok());
    assert!(sqlx::query("SELECT * FROM public.payroll").fetch_all(&mut conn).await.is_err(), "only what the scope selects");
    drop(conn);
    h.cli(&outsider, &["requests", "revoke", &s(&b, "id"), "--wait"]);
    h.wait_until("the scope request to be revoked", std::time::Duration::from_secs(10), || async { s(&h.cli(&outsider, &["requests", "show", &s(&b, "id")]), "status") == "Revoked" }).await;
    h.cli_err(&outsider, &["requests", "create", "--scope", "nope", "--duration", "30m"], "not_found");
    h.finish().await;
}

/// The seed's `request_for`: a manager asks for a direct report, who gets
/// the login and its credentials (the manager does not); asking for
/// someone who is not a report is refused, naming why; with approval, the
/// grantee cannot approve their own access either.
#[tokio::test(flavor = "multi_thread")]
async fn a_manager_asks_for_a_direct_report_who_gets_the_access() {
    let flows = r#"
[[users]]
email = "report@example.com"
manager = "lead@example.com"

[[access_flows]]
name = "for-my-reports"
trigger = "AUTOMATIC"
integration = "local-pg"
requestors = { conditions = [ { type = "group", values = ["leads"] } ] }
request_for = { request_scopes = ["direct_reports"] }
permissions = ["read_write"]
grant_duration_in_min = 60
settings = { justification_required = false }

[[access_flows]]
name = "others-with-approval"
trigger = "SELF_SERVE"
integration = "local-pg"
requestors = { conditions = [ { type = "user", values = ["dev@example.com"] } ] }
request_for = { request_scopes = ["others"] }
approver_policy = { approval_mode = "ANY_OF", approver_groups = [ { approvers = [ { type = "user", values = ["report@example.com", "lead@example.com"] } ] } ] }
resource_types = ["schema"]
grant_duration_in_min = 60
"#;
    let h = Harness::start("CREATE TABLE public.orders (id int);", Opts { extra_flows: flows.into(), ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let lead = h.token("lead@example.com");
    let report = h.token("report@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);
    let ask = |tok: &str, who: &str| h.cli_raw(tok, &["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", &orders, "--permission", "read_write", "--duration", "30m", "--for", who, "--wait"]);
    let (code, _, err) = ask(&lead, "outsider@example.com");
    assert!(code != 0 && err.contains("no_matching_flow") && err.contains("does not let you ask for `outsider@example.com`"), "{err}");
    let (code, _, err) = ask(&lead, "nobody@example.com");
    assert!(code != 0 && err.contains("not_found") && err.contains("nobody named"), "{err}");
    // Credentials with the request go to its grantee only: asked for by
    // someone else, refused before anything is made.
    let body = serde_json::json!({"integration": "local-pg", "resource_type": "table", "resources": [orders], "permission": "read_write", "duration": "30m", "grantee": "report@example.com"});
    let resp = reqwest::Client::new().post(format!("{}/api/v1/requests?credentials=true", h.url)).bearer_auth(&lead).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::BAD_REQUEST);
    let e: Value = resp.json().await.unwrap();
    assert!(e["code"] == "bad_request" && e["message"].as_str().unwrap().contains("sesame access use"), "{e}");
    assert!(h.cli(&lead, &["requests", "list"]).as_array().unwrap().is_empty(), "nothing was made");
    let (code, out, err) = ask(&lead, "report@example.com");
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((s(&r, "status").as_str(), s(&r, "requester").as_str(), s(&r, "grantee").as_str()), ("Active", "lead@example.com", "report@example.com"), "{r}");
    let id = s(&r, "id");
    assert!(s(&r, "username").contains("report"), "the login is named for the grantee: {r}");
    h.cli_err(&lead, &["access", "use", &id], "forbidden");
    assert_eq!(h.cli(&report, &["access", "list"]).as_array().unwrap().len(), 1, "it is the report's access");
    assert!(h.cli(&lead, &["access", "list"]).as_array().unwrap().is_empty(), "not the manager's");
    let creds = h.cli(&report, &["access", "use", &id]);
    let mut conn = h.login(&s(&r, "username"), &s(&creds, "secret")).await.expect("the grantee logs in");
    sqlx::query("INSERT INTO public.orders VALUES (1)").execute(&mut conn).await.unwrap();
    drop(conn);
    // The grantee may end it too.
    assert_eq!(s(&h.cli(&report, &["requests", "revoke", &id, "--wait"]), "status"), "Revoked");
    assert!(h.login(&s(&r, "username"), &s(&creds, "secret")).await.is_err());
    // With approval: the grantee is never among the approvers.
    let schema = join(&[&h.db, "public"]);
    let p = h.cli(&dev, &["requests", "create", "--integration", "local-pg", "--resource-type", "schema", "--resources", &schema, "--permission", "read_only", "--duration", "30m", "--justification", "for report", "--for", "report@example.com"]);
    assert_eq!(p["approvers"], serde_json::json!(["lead@example.com"]), "{p}");
    h.cli_err(&report, &["requests", "approve", &s(&p, "id")], "self_approval");
    h.cli(&lead, &["requests", "approve", &s(&p, "id")]);
    h.finish().await;
}

/// Access flows and bundles made through the CLI (admins), in the
/// configuration file's own TOML: they load with the file's or are refused
/// with why (nothing stored), decide requests at once, change and go.
#[tokio::test(flavor = "multi_thread")]
async fn admins_manage_flows_and_bundles_through_the_api() {
    let h = Harness::start("CREATE TABLE public.orders (id int); CREATE TABLE public.payroll (id int);", Opts::default()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let file = |name: &str, text: &str| {
        let p = h.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let bundle = file("bundle.toml", "[[bundles]]\nname = \"orders-only\"\naccess_targets = [ { integration = { integration_name = \"local-pg\", resource_type = \"table\", permissions = [\"read_only\"], resources_scopes = [ { scope_mode = \"include_resources\", type = \"NAME\", values = [\"orders\"] } ] } } ]\n");
    let flow = |who: &str| format!("[[access_flows]]\nname = \"orders-bundle\"\ntrigger = \"AUTOMATIC\"\naccess_targets = [ {{ bundle = {{ name = \"orders-only\" }} }} ]\nrequestors = {{ conditions = [ {{ type = \"user\", values = [\"{who}\"] }} ] }}\ngrant_duration_in_min = 30\nsettings = {{ justification_required = false }}\n");
    let flow_file = file("flow.toml", &flow("dev@example.com"));
    // Admins only, before the body is read.
    h.cli_err(&dev, &["bundles", "create", "--data", "{\"nonsense\": true}"], "forbidden");
    // A flow naming a bundle that does not exist yet does not load.
    let err = h.cli_err(&admin, &["flows", "create", "--file", &flow_file], "bad_request");
    assert!(err.contains("orders-only") && err.contains("not declared"), "{err}");
    let b = h.cli(&admin, &["bundles", "create", "--file", &bundle]);
    assert_eq!(s(&b[0], "name"), "orders-only", "{b}");
    let f = h.cli(&admin, &["flows", "create", "--file", &flow_file]);
    assert_eq!(s(&f[0], "trigger"), "AUTOMATIC", "{f}");
    h.cli_err(&admin, &["flows", "create", "--file", &flow_file], "already_exists");
    let err = h.cli_err(&admin, &["flows", "delete", "auto-read"], "forbidden");
    assert!(err.contains("configuration file"), "{err}");
    let err = h.cli_err(&admin, &["flows", "create", "--data", "{\"name\": \"x\", \"trigger\": \"AUTOMATIC\", \"integration\": \"nope\", \"requesters\": {}, \"grant_duration_in_min\": 5}"], "bad_request");
    assert!(err.contains("`nope` is not declared"), "{err}");
    // It decides at once.
    let r = h.cli(&dev, &["requests", "create", "--bundle", "orders-only", "--duration", "10m", "--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    h.cli(&dev, &["requests", "revoke", &s(&r, "id"), "--wait"]);
    // A bundle a flow names cannot go; changed, the flow no longer lets dev ask.
    let err = h.cli_err(&admin, &["bundles", "delete", "orders-only"], "bad_request");
    assert!(err.contains("not declared"), "{err}");
    h.cli(&admin, &["flows", "update", "orders-bundle", "--file", &file("flow2.toml", &flow("outsider@example.com"))]);
    h.cli_err(&dev, &["requests", "create", "--bundle", "orders-only", "--duration", "10m"], "no_matching_flow");
    h.cli(&admin, &["flows", "delete", "orders-bundle"]);
    h.cli(&admin, &["bundles", "delete", "orders-only"]);
    h.cli_err(&dev, &["bundles", "show", "orders-only"], "not_found");
    let audit = h.cli(&admin, &["audit"]).to_string();
    for a in ["bundle.create", "flow.create", "flow.update", "flow.delete", "bundle.delete"] {
        assert!(audit.contains(a), "{a} audited");
    }
    h.finish().await;
}

/// The seed's `requester_cannot_approve_self = false`: on that flow only,
/// a requester who is among its approvers approves their own request; on
/// every other flow they never do.
#[tokio::test(flavor = "multi_thread")]
async fn self_approval_only_where_a_flow_opts_in() {
    let flows = r#"
[[access_flows]]
name = "self-ok"
trigger = "SELF_SERVE"
integration = "local-pg"
requesters = { users = ["outsider@example.com"] }
approvers = { users = ["outsider@example.com", "lead@example.com"] }
permissions = ["read_write"]
grant_duration_in_min = 60
settings = { requester_cannot_approve_self = false, justification_required = false }
"#;
    let h = Harness::start("CREATE TABLE public.orders (id int);", Opts { extra_flows: flows.into(), ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let outsider = h.token("outsider@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);
    let r = h.request(&outsider, "table", &orders, "read_write", "30m", &[]);
    assert!(r["approvers"].as_array().unwrap().iter().any(|a| a == "outsider@example.com"), "{r}");
    h.cli(&outsider, &["requests", "approve", &s(&r, "id")]);
    h.wait_until("the self-approved grant", std::time::Duration::from_secs(10), || async { s(&h.cli(&outsider, &["requests", "show", &s(&r, "id")]), "status") == "Active" }).await;
    h.cli(&outsider, &["requests", "revoke", &s(&r, "id"), "--wait"]);
    // Elsewhere never (loop_tests::self_serve_flow_needs_another_approver).
    h.finish().await;
}
