//! Custom integrations: the seed's contract over exec and webhook, with a
//! handler that really keeps state, so effects are checked, not just calls.

use sesame_testkit::params::Refine;
use sesame_integrations::registry::Registry;
use sesame_core::Timestamp;
use sesame_integrations::custom::CustomConfig;
use sesame_integrations::Integration;
use sesame_proto::ActionParams;
use serde_json::{json, Value};
use std::path::PathBuf;

pub fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/custom")
}

fn exec_config(handler: &str, state: &std::path::Path, timeout: u64) -> CustomConfig {
    serde_json::from_value(json!({
        "name": "app",
        "transport": {"kind": "exec", "command": ["node", examples().join("lambda-exec.mjs").display().to_string(), examples().join(handler).display().to_string()]},
        "resource_types": ["app"],
        "custom_parameters": {"state_file": state.display().to_string(), "param1": "one", "param2": "two"},
        "timeout_secs": timeout,
    }))
    .unwrap()
}

fn state(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|_| "{}".into())).unwrap()
}

pub fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sesame-{name}-{}-{}", std::process::id(), crate::targets::tag()))
}

fn params(grant: &str, resource: &str, perm: &str) -> ActionParams {
    sesame_testkit::params::grant("o'brien+ops@example.com", "app", resource, perm).grant_id(grant)
}

/// The conformance sequence for a custom integration whose handler keeps
/// its grants in `state_file`.
pub async fn suite(i: &dyn Integration, state_file: &std::path::Path) {
    let until = Timestamp(4_102_444_800_000);
    assert!(i.get_status().await.unwrap().healthy);
    let d = i.list_resources().await.unwrap();
    assert_eq!(d.resources.len(), 3);
    assert!(d.resources.iter().any(|r| r.id == "we\"ird; DROP ünï" && r.resource_type == "app"));
    assert_eq!(i.descriptor().permissions("app").iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["reader", "admin"]);
    let tags = i.list_resources_tags().await.unwrap();
    assert_eq!(tags["alpha"]["owner"], "owner@example.com");

    let p = params("g1", "alpha", "reader");
    i.grant_access(&p, until).await.unwrap();
    i.grant_access(&p, until).await.expect("grant again is a no-op");
    let s = state(state_file);
    assert_eq!(s["grants"]["g1"]["resources"], json!(["alpha"]));
    assert_eq!(s["grants"]["g1"]["username"], "o'brien+ops@example.com");
    let c1 = i.create_credentials(&p).await.unwrap();
    assert_eq!(state(state_file)["grants"]["g1"]["secret"], c1.secret.as_str(), "the shown secret is the handler's");
    let c2 = i.reset_credentials(&p).await.unwrap();
    assert_ne!(c1.secret, c2.secret);
    assert_eq!(state(state_file)["grants"]["g1"]["secret"], c2.secret.as_str(), "the old secret is gone");
    // Hostile resource names travel as data, untouched.
    let hostile = params("g2", "we\"ird; DROP ünï", "admin");
    i.grant_access(&hostile, until).await.unwrap();
    assert_eq!(state(state_file)["grants"]["g2"]["resources"], json!(["we\"ird; DROP ünï"]));
    i.revoke_access(&hostile).await.unwrap();
    i.revoke_access(&p).await.unwrap();
    i.revoke_access(&p).await.expect("revoke again succeeds");
    assert_eq!(state(state_file)["grants"], json!({}));
    assert!(i.create_credentials(&p).await.is_err(), "no credentials once revoked");
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_over_exec() {
    let file = temp("state");
    let i = Registry::new().custom(exec_config("stateful-handler.mjs", &file, 30)).await.unwrap();
    suite(&i, &file).await;
    let _ = std::fs::remove_file(file);
}

/// Sesame's example handler shows the shapes the seed's contract allows:
/// status `active` from its default branch, resources of the asked type,
/// create-credentials answered with a status and no secret (a second case
/// for the same event is never reached), reset-credentials with a secret.
#[tokio::test(flavor = "multi_thread")]
async fn the_example_handler_shows_the_contracts_reply_shapes() {
    let file = temp("example");
    let i = Registry::new().custom(exec_config("example-handler.mjs", &file, 30)).await.unwrap();
    assert!(i.get_status().await.unwrap().healthy, "default branch answers status active");
    let d = i.list_resources().await.unwrap();
    assert_eq!(d.resources.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["flag-checkout", "flag-search", "flag-beta-ui"]);
    assert!(d.resources.iter().all(|r| r.resource_type == "app" && !r.metadata.is_empty()));
    assert_eq!(i.descriptor().permissions("app").iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["toggle", "view"]);
    let p = params("g1", "flag-search", "view");
    i.grant_access(&p, Timestamp(4_102_444_800_000)).await.unwrap();
    let c = i.create_credentials(&p).await.unwrap();
    assert_eq!((c.username.as_str(), c.secret.as_str()), ("o'brien+ops@example.com", ""), "the first create-credentials case wins: no secret");
    assert_eq!(i.reset_credentials(&p).await.unwrap().secret.len(), 32, "reset-credentials answers a fresh secret");
    i.revoke_access(&p).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_handlers_that_hang_or_babble_fail_clearly() {
    let dir = temp("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let hang = dir.join("hang.mjs");
    std::fs::write(&hang, "export const handler = async () => { await new Promise(r => setTimeout(r, 60000)); return {status: 'ok'}; };").unwrap();
    let babble = dir.join("babble.mjs");
    std::fs::write(&babble, "export const handler = async () => { process.stdout.write('hello, not json'); return undefined; };").unwrap();
    let wrong = dir.join("wrong.mjs");
    std::fs::write(&wrong, "export const handler = async () => ({ granted: true });").unwrap();
    let mk = |h: &std::path::Path, timeout: u64| {
        let mut c = exec_config("example-handler.mjs", &dir.join("s"), timeout);
        c.transport = serde_json::from_value(json!({"kind": "exec", "command": ["node", examples().join("lambda-exec.mjs").display().to_string(), h.display().to_string()]})).unwrap();
        async move { Registry::new().custom(c).await.unwrap() }
    };
    let p = params("g", "alpha", "reader");
    let started = std::time::Instant::now();
    let e = mk(&hang, 2).await.grant_access(&p, Timestamp(0)).await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the timeout was not enforced");
    assert!(e.is_retryable() && e.to_string().contains("did not answer within"), "{e}");
    let e = mk(&babble, 10).await.grant_access(&p, Timestamp(0)).await.unwrap_err();
    assert!(!e.is_retryable() && e.to_string().contains("not JSON"), "{e}");
    let e = mk(&wrong, 10).await.revoke_access(&p).await.unwrap_err();
    assert!(e.to_string().contains("malformed reply to revoke-access"), "{e}");
    let mut c = exec_config("example-handler.mjs", &dir.join("s"), 5);
    c.transport = serde_json::from_value(json!({"kind": "exec", "command": ["/nonexistent/handler"]})).unwrap();
    let e = Registry::new().custom(c).await.unwrap().get_status().await.unwrap_err();
    assert!(e.to_string().contains("cannot run `/nonexistent/handler`"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The events whose reply carries no data, each answered with every plain
/// shape handlers use in the wild.
pub async fn plain_replies_work(i: &dyn Integration, shape: &str) {
    let p = params("g1", "alpha", "reader");
    assert!(i.get_status().await.unwrap().healthy, "get-status answered {shape:?}");
    assert!(i.list_resources_tags().await.unwrap().is_empty(), "list-resources-tags answered {shape:?}");
    i.grant_access(&p, Timestamp(4_102_444_800_000)).await.unwrap_or_else(|e| panic!("grant-access answered {shape:?}: {e}"));
    let c = i.create_credentials(&p).await.unwrap_or_else(|e| panic!("create-credentials answered {shape:?}: {e}"));
    assert_eq!((c.username.as_str(), c.secret.as_str()), ("o'brien+ops@example.com", ""), "no secret: the username only");
    i.reset_credentials(&p).await.unwrap_or_else(|e| panic!("reset-credentials answered {shape:?}: {e}"));
    i.delete_credentials(&p).await.unwrap_or_else(|e| panic!("delete-credentials answered {shape:?}: {e}"));
    i.revoke_access(&p).await.unwrap_or_else(|e| panic!("revoke-access answered {shape:?}: {e}"));
}

/// Raw replies as handlers send them; the last ones are not plain success.
pub const PLAIN_SHAPES: [&str; 5] = ["ok", "OK\n", "\"ok\"", "{\"status\":\"ok\"}", ""];

#[tokio::test(flavor = "multi_thread")]
async fn exec_handlers_may_answer_plainly() {
    for shape in PLAIN_SHAPES {
        let mut c = exec_config("stateful-handler.mjs", &temp("plain"), 10);
        let script = format!("cat >/dev/null; printf '%s' '{}'", shape.replace('\'', ""));
        c.transport = serde_json::from_value(json!({"kind": "exec", "command": ["sh", "-c", script]})).unwrap();
        plain_replies_work(&Registry::new().custom(c).await.unwrap(), shape).await;
    }
    let mut c = exec_config("stateful-handler.mjs", &temp("plain"), 10);
    c.transport = serde_json::from_value(json!({"kind": "exec", "command": ["sh", "-c", "cat >/dev/null; printf 'done!'"]})).unwrap();
    let e = Registry::new().custom(c).await.unwrap().revoke_access(&params("g", "alpha", "reader")).await.unwrap_err();
    assert!(e.to_string().contains("not JSON") && e.to_string().contains("done!"), "{e}");
}
