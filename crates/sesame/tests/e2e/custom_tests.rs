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

[[access_flows]]
name = "{name}-auto"
kind = "automatic"
integration = "{name}"
requesters = {{ groups = ["developers"] }}
max_duration = "1h"
"#,
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
    let r = h.cli(&dev, &["requests", "create", "--integration", "broken", "--resource-type", "app", "--resources", "x", "--permission", "reader", "--duration", "10m", "--wait"]);
    assert_eq!(s(&r, "status"), "Failed", "{r}");
    let audit = h.cli(&admin, &["audit", "--request", &s(&r, "id")]).to_string();
    assert!(audit.contains("grant.failed") && audit.contains("malformed reply to grant-access"), "{audit}");
    assert!(!audit.contains("revoke."), "a grant that never succeeded is not revoked: {audit}");
    tokio::time::sleep(Duration::from_millis(10)).await;
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}
