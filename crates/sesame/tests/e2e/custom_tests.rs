//! Custom integrations through the whole server: requests, grants, revocation.

use crate::harness::{s, Harness, Opts};
use std::path::PathBuf;
use std::time::Duration;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/custom")
}

fn integration(name: &str, handler: &str, state: &std::path::Path) -> String {
    format!(
        r#"
[[integrations]]
type = "custom"
name = "{name}"
resource_types = ["app"]
timeout_secs = 10
custom_parameters = {{ state_file = "{state}", param1 = "one", param2 = "two" }}
transport = {{ kind = "exec", command = ["node", "{wrapper}", "{handler}"] }}
{flow}"#,
        flow = crate::harness::automatic_flow(&format!("{name}-auto"), name, &[]),
        state = state.display(),
        wrapper = examples().join("lambda-exec.mjs").display(),
        handler = handler
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_integration_grants_and_revokes_through_the_server() {
    let dir = std::env::temp_dir().join(format!("sesame-custom-{}", crate::harness::rand_suffix(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let garbage = dir.join("garbage.mjs");
    std::fs::write(&garbage, "export const handler = async (e) => e.event_type === 'grant-access' ? 'not an object' : ({status: 'active', resources: [{id: 'x', name: 'X', type: 'app', metadata: {}}], permissions: [{id: 'reader', name: 'Reader'}]});").unwrap();
    let extra = integration("app", &examples().join("stateful-handler.mjs").display().to_string(), &state)
        + &integration("broken", &garbage.display().to_string(), &dir.join("unused.json"));
    let h = Harness::start("", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.cli(&admin, &["inventory", "sync", "app"]);
    h.cli(&admin, &["inventory", "sync", "broken"]);
    let perms = h.cli(&dev, &["inventory", "permissions", "app"]);
    assert_eq!(perms[0]["permissions"][0]["id"], "reader", "{perms}");

    let r = h.cli(&dev, &["requests", "create", "--integration", "app", "--resource-type", "app", "--resources", "alpha", "--permission", "reader", "--duration", "10m", "--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    assert_eq!(s(&r, "username"), "dev@example.com", "custom handlers get the requester's identity");
    let id = s(&r, "id");
    let st: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(st["grants"][&id]["resources"][0], "alpha");
    let creds = h.cli(&dev, &["access", "use", &id]);
    let st: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(st["grants"][&id]["secret"], s(&creds, "secret"));
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &id, "--wait"]), "status"), "Revoked");
    let st: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(st["grants"].get(&id).is_none(), "{st}");

    // A handler that answers garbage: the grant fails, clearly, and is never revoked.
    let (code, out, err) = h.cli_raw(&dev, &["requests", "create", "--integration", "broken", "--resource-type", "app", "--resources", "x", "--permission", "reader", "--duration", "10m", "--wait"]);
    assert_eq!(code, 1, "--wait exits non-zero when the request ends Failed: {err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s(&r, "status"), "Failed", "{r}");
    // The requester reads why, on the request and in the error.
    assert!(s(&r, "last_error").contains("malformed reply to grant-access"), "{r}");
    let e: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(e["code"], "request_ended", "{err}");
    assert!(s(&h.cli(&dev, &["requests", "show", &s(&r, "id")]), "last_error").contains("malformed reply"));
    let audit = h.cli(&admin, &["audit", "--request", &s(&r, "id")]).to_string();
    assert!(audit.contains("grant.failed") && audit.contains("malformed reply to grant-access"), "{audit}");
    assert!(!audit.contains("revoke."), "a grant that never succeeded is not revoked: {audit}");
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn revoke_is_retried_until_the_handler_says_ok() {
    let dir = std::env::temp_dir().join(format!("sesame-flaky-{}", crate::harness::rand_suffix(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let flaky = dir.join("flaky.mjs");
    std::fs::write(
        &flaky,
        format!(
            "import fs from 'node:fs';\nimport {{ handler as inner }} from '{}';\n\
             export const handler = async (e) => {{\n  if (e.event_type === 'revoke-access') {{\n    const f = '{}';\n\
             const n = fs.existsSync(f) ? Number(fs.readFileSync(f, 'utf8')) : 0;\n    fs.writeFileSync(f, String(n + 1));\n\
             if (n < 2) return {{ status: 'error', message: 'backend busy' }};\n  }}\n  return inner(e);\n}};\n",
            examples().join("stateful-handler.mjs").display(),
            dir.join("revokes").display()
        ),
    )
    .unwrap();
    let h = Harness::start("", Opts { extra_flows: integration("flaky", &flaky.display().to_string(), &state), ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.cli(&admin, &["inventory", "sync", "flaky"]);
    let r = h.cli(&dev, &["requests", "create", "--integration", "flaky", "--resource-type", "app", "--resources", "beta", "--permission", "reader", "--duration", "2s", "--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let id = s(&r, "id");
    h.wait_until("the revocation to succeed after the handler's refusals", Duration::from_secs(20), || async {
        s(&h.cli(&dev, &["requests", "show", &id]), "status") == "Revoked"
    })
    .await;
    assert_eq!(std::fs::read_to_string(dir.join("revokes")).unwrap(), "3", "two refusals, then ok");
    let audit = h.cli(&admin, &["audit", "--request", &id]).to_string();
    assert_eq!(audit.matches("\"revoke.retry\"").count(), 2, "{audit}");
    assert!(audit.contains("backend busy"));
    assert_eq!(audit.matches(r#""cause":"handler""#).count(), 2, "a handler's refusal is the handler's: {audit}");
    let st: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(st["grants"].get(&id).is_none());
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 9.3: every grant attempt reaches the handler and then times out, so
/// no result is ever recorded; the deadline comes first. The grant may have
/// reached the target, so the request must end through a revoke-access the
/// handler receives, never by being marked Failed.
#[tokio::test(flavor = "multi_thread")]
async fn a_grant_that_timed_out_is_revoked_when_its_deadline_comes() {
    let dir = std::env::temp_dir().join(format!("sesame-hang-{}", crate::harness::rand_suffix(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let hang = dir.join("hang.mjs");
    std::fs::write(
        &hang,
        format!(
            "import fs from 'node:fs';\nimport {{ handler as inner }} from '{}';\n\
             export const handler = async (e) => {{\n  fs.appendFileSync('{}', e.event_type + '\\n');\n  const r = await inner(e);\n\
             if (e.event_type === 'grant-access') await new Promise((ok) => setTimeout(ok, 4000));\n  return r;\n}};\n",
            examples().join("stateful-handler.mjs").display(),
            dir.join("events").display()
        ),
    )
    .unwrap();
    let extra = integration("hang", &hang.display().to_string(), &state).replace("timeout_secs = 10", "timeout_secs = 1");
    let h = Harness::start("", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.cli(&admin, &["inventory", "sync", "hang"]);
    let r = h.cli(&dev, &["requests", "create", "--integration", "hang", "--resource-type", "app", "--resources", "alpha", "--permission", "reader", "--duration", "3s"]);
    let id = s(&r, "id");
    h.wait_until("the request to end", Duration::from_secs(30), || async {
        let st = s(&h.cli(&dev, &["requests", "show", &id]), "status");
        st == "Revoked" || st == "Failed"
    })
    .await;
    assert_eq!(s(&h.cli(&dev, &["requests", "show", &id]), "status"), "Revoked");
    let events = std::fs::read_to_string(dir.join("events")).unwrap();
    assert!(events.contains("grant-access") && events.contains("revoke-access"), "{events}");
    let st: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(st["grants"].get(&id).is_none(), "the grant the handler recorded outlived its deadline: {st}");
    let audit = h.cli(&admin, &["audit", "--request", &id]).to_string();
    assert!(audit.contains("revoke.done"), "{audit}");
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Two syncs of one integration never run at once: the second joins the first.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_asked_for_during_a_running_one_joins_it() {
    let dir = std::env::temp_dir().join(format!("sesame-join-{}", crate::harness::rand_suffix(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let events = dir.join("events");
    let slow = dir.join("slow.mjs");
    std::fs::write(
        &slow,
        format!(
            "import fs from 'node:fs';\nimport {{ handler as inner }} from '{}';\n\
             export const handler = async (e) => {{\n  fs.appendFileSync('{}', e.event_type + '\\n');\n\
             if (e.event_type === 'list-resources') await new Promise((ok) => setTimeout(ok, 1500));\n  return inner(e);\n}};\n",
            examples().join("stateful-handler.mjs").display(),
            events.display()
        ),
    )
    .unwrap();
    let h = Harness::start("", Opts { extra_flows: integration("slow", &slow.display().to_string(), &dir.join("state.json")), ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    h.cli(&admin, &["inventory", "sync", "slow"]);
    std::fs::write(&events, "").unwrap();
    let spawn = || {
        std::process::Command::new(crate::harness::BIN)
            .args(["inventory", "sync", "slow"])
            .env("SESAME_URL", &h.url)
            .env("SESAME_TOKEN", &admin)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let seen = std::fs::read_to_string(&events).unwrap();
    assert_eq!(seen.lines().filter(|l| *l == "list-resources").count(), 1, "two syncs ran at once: {seen}");
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 9.5: resource owners approve only their own resources. A request
/// spanning two owners' resources waits for both (or an integration owner).
#[tokio::test(flavor = "multi_thread")]
async fn each_resource_owner_approves_only_their_resources() {
    let dir = std::env::temp_dir().join(format!("sesame-owners-{}", crate::harness::rand_suffix(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let tagged = dir.join("tagged.mjs");
    std::fs::write(
        &tagged,
        format!(
            "import {{ handler as inner }} from '{}';\n\
             export const handler = async (e) => e.event_type === 'list-resources-tags'\n  \
             ? {{ tags: {{ alpha: {{ owner: 'own-a@example.com' }}, beta: {{ owner: 'own-b@example.com' }} }} }}\n  : inner(e);\n",
            examples().join("stateful-handler.mjs").display()
        ),
    )
    .unwrap();
    let extra = format!(
        r#"
[[users]]
email = "own-a@example.com"

[[users]]
email = "own-b@example.com"

[[users]]
email = "io@example.com"

[[integrations]]
type = "custom"
name = "owned"
resource_types = ["app"]
timeout_secs = 10
custom_parameters = {{ state_file = "{state}" }}
transport = {{ kind = "exec", command = ["node", "{wrapper}", "{handler}"] }}
[integrations.settings]
integration_owners = {{ users = ["io@example.com"] }}
resource_owner = {{ tag_key = "owner", attribute = "email" }}

[[access_flows]]
name = "owned-approval"
kind = "self_serve"
integration = "owned"
requesters = {{ groups = ["developers"] }}
approvers = {{ groups = ["nobody-in-particular"] }}
max_duration = "1h"

[[bundles]]
name = "owned-apps"
access_targets = [ {{ integration = {{ integration_name = "owned", resource_type = "app", permissions = ["reader"], resources_scopes = [ {{ scope_mode = "include_resources", type = "APONO_ID", values = ["alpha", "beta"] }} ] }} }} ]

[[access_flows]]
name = "owned-bundle"
trigger = "SELF_SERVE"
access_targets = [ {{ bundle = {{ name = "owned-apps" }} }} ]
requestors = {{ conditions = [ {{ type = "group", values = ["developers"] }} ] }}
approver_policy = {{ approver_groups = [ {{ approvers = [ {{ type = "Owner" }} ] }} ] }}
grant_duration_in_min = 10
"#,
        state = dir.join("state.json").display(),
        wrapper = examples().join("lambda-exec.mjs").display(),
        handler = tagged.display()
    );
    let h = Harness::start("", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let (dev, a, b, io) = (h.token("dev@example.com"), h.token("own-a@example.com"), h.token("own-b@example.com"), h.token("io@example.com"));
    h.cli(&admin, &["inventory", "sync", "owned"]);
    let ask = |resources: &str| s(&h.cli(&dev, &["requests", "create", "--integration", "owned", "--resource-type", "app", "--resources", resources, "--permission", "reader", "--duration", "10m"]), "id");

    // alpha (owner A) and beta (owner B): A's approval covers alpha only.
    let id = ask("alpha,beta");
    let r = h.cli(&dev, &["requests", "show", &id]);
    assert_eq!(r["approval_parts"].as_array().unwrap().len(), 2, "{r}");
    let r = h.cli(&a, &["requests", "approve", &id]);
    assert_eq!(s(&r, "status"), "Pending", "one owner cannot approve another's resource: {r}");
    assert_eq!(r["approvals"], serde_json::json!(["own-a@example.com"]));
    h.cli_err(&a, &["requests", "approve", &id], "invalid_state");
    let r = h.cli(&b, &["requests", "approve", &id]);
    assert_ne!(s(&r, "status"), "Pending", "both owners approved: {r}");
    let audit = h.cli(&admin, &["audit", "--request", &id]).to_string();
    assert!(audit.contains("request.approve.partial") && audit.contains("request.approve"), "{audit}");

    // The integration owner may stand in for an owner.
    let id = ask("alpha,beta");
    h.cli(&a, &["requests", "approve", &id]);
    assert_ne!(s(&h.cli(&io, &["requests", "approve", &id]), "status"), "Pending");

    // An owner is no approver of a request for someone else's resource only.
    let id = ask("beta");
    h.cli_err(&a, &["requests", "approve", &id], "not_found");
    assert_ne!(s(&h.cli(&b, &["requests", "approve", &id]), "status"), "Pending");

    // A bundle of both apps, approved by `Owner`: each owner approves their
    // app's part, the integration owner either.
    let group = s(&h.cli(&dev, &["requests", "create", "--bundle", "owned-apps", "--duration", "10m", "--justification", "both apps"]), "id");
    let shown = h.cli(&dev, &["requests", "show", &group]);
    let parts = shown["requests"][0]["approval_parts"].as_array().unwrap().clone();
    assert_eq!(parts.len(), 2, "one part per owned app: {shown}");
    assert!(parts.iter().all(|p| p["approvers"].as_array().unwrap().contains(&serde_json::json!("io@example.com"))), "{shown}");
    let r = h.cli(&a, &["requests", "approve", &group]);
    assert_eq!(s(&r, "status"), "Pending", "A approves alpha only: {r}");
    let r = h.cli(&b, &["requests", "approve", &group]);
    assert_ne!(s(&r, "status"), "Pending", "both owners approved the bundle: {r}");
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A bundle of a PostgreSQL table and a custom app whose handler answers
/// garbage: the app's grant fails, so the table's grant is rolled back —
/// the grantee's login no longer works — and the bundle ends with nothing
/// left anywhere.
#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_whose_grant_fails_rolls_the_others_back() {
    let dir = std::env::temp_dir().join(format!("sesame-bundle-{}", crate::harness::rand_suffix(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.mjs");
    std::fs::write(&garbage, "export const handler = async (e) => e.event_type === 'grant-access' ? 'not an object' : ({status: 'active', resources: [{id: 'x', name: 'X', type: 'app', metadata: {}}], permissions: [{id: 'reader', name: 'Reader'}]});").unwrap();
    let extra = integration("broken", &garbage.display().to_string(), &dir.join("unused.json"))
        + r#"
[[bundles]]
name = "half-broken"
access_targets = [
  { integration = { integration_name = "local-pg", resource_type = "table", permissions = ["read_only"], resources_scopes = [ { scope_mode = "include_resources", type = "NAME", values = ["orders"] } ] } },
  { integration = { integration_name = "broken", resource_type = "app", permissions = ["reader"] } },
]

[[access_flows]]
name = "half-broken-flow"
trigger = "AUTOMATIC"
access_targets = [ { bundle = { name = "half-broken" } } ]
requestors = { conditions = [ { type = "group", values = ["developers"] } ] }
grant_duration_in_min = 60
settings = { justification_required = false }
"#;
    let h = Harness::start("CREATE TABLE public.orders (id int); CREATE TABLE public.payroll (id int);", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    h.cli(&admin, &["inventory", "sync", "broken"]);
    let dry = h.cli(&dev, &["requests", "create", "--bundle", "half-broken", "--duration", "30m", "--dry-run"]);
    let grants: Vec<(String, String)> = dry["grants"].as_array().unwrap().iter().map(|g| (s(g, "integration"), g["resources"].to_string())).collect();
    assert_eq!(grants.len(), 2, "{dry}");
    assert!(grants.iter().any(|(i, rs)| i == "local-pg" && rs.contains("orders") && !rs.contains("payroll")), "the NAME scope picks orders only: {dry}");
    let (_code, out, _err) = h.cli_raw(&dev, &["requests", "create", "--bundle", "half-broken", "--duration", "30m", "--wait"]);
    let b: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let group = s(&b, "id");
    assert!(group.starts_with("bnd_"), "{b}");
    h.wait_until("the bundle to settle with nothing left", Duration::from_secs(20), || async {
        let b = h.cli(&dev, &["requests", "show", &group]);
        b["requests"].as_array().unwrap().iter().all(|r| matches!(r["status"].as_str(), Some("Failed" | "Revoked")))
    })
    .await;
    let b = h.cli(&dev, &["requests", "show", &group]);
    let by_integration = |i: &str| b["requests"].as_array().unwrap().iter().find(|r| r["integration"] == i).unwrap().clone();
    assert_eq!(s(&by_integration("broken"), "status"), "Failed", "{b}");
    let pg = by_integration("local-pg");
    assert_eq!(s(&pg, "status"), "Revoked", "the table's grant is rolled back: {b}");
    assert!(!h.role_exists(&s(&pg, "username")).await, "no login is left on PostgreSQL");
    let audit = h.cli(&admin, &["audit", "--request", &s(&pg, "id")]).to_string();
    assert!(audit.contains("rolled back together") || audit.contains("bundle.rollback"), "{audit}");
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}
