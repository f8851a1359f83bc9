//! Reading handler replies. A reply that does not fit the contract is a
//! clear error naming the event and what was wrong — never a silent success.

use crate::{Cause, IntegrationError, StatusReport};
use serde_json::Value;
use sesame_proto::{Credentials, EventType, PermissionInfo, ResourceInfo};
use std::collections::BTreeMap;

fn name(e: EventType) -> String {
    serde_json::to_value(e).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        format!("{}…", &s[..s.char_indices().nth(300).map(|(i, _)| i).unwrap_or(s.len())])
    } else {
        s
    }
}

/// A reply body as a JSON value. Handlers in the wild answer events that
/// carry no data with a bare `ok` or nothing at all: those become the JSON
/// string `"ok"` and `null`. Anything else that is not JSON is refused with
/// the parse error.
pub fn body(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(e) => {
            let text = String::from_utf8_lossy(bytes);
            let t = text.trim();
            if t.is_empty() {
                Ok(Value::Null)
            } else if t.eq_ignore_ascii_case("ok") {
                Ok(Value::String("ok".into()))
            } else {
                Err(e)
            }
        }
    }
}

/// A plain success: an empty reply, `ok` (bare or as a JSON string).
fn plain_ok(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().eq_ignore_ascii_case("ok"),
        _ => false,
    }
}

/// `{"status": "ok"}` or a plain success; `{"status": "error", "message": ...}`
/// is the handler saying no (retried: the handler may succeed later);
/// anything else is malformed.
pub fn expect_ok(e: EventType, v: &Value) -> Result<(), IntegrationError> {
    if plain_ok(v) {
        return Ok(());
    }
    match v.get("status").and_then(Value::as_str) {
        Some("ok") => Ok(()),
        Some(other) => {
            let msg = v.get("message").and_then(Value::as_str).unwrap_or("no message");
            Err(IntegrationError::Unavailable(Cause::Handler(format!("the handler answered {} with status `{other}`: {msg}", name(e)))))
        }
        None => Err(IntegrationError::Invalid(format!(
            "malformed reply to {}: expected {{\"status\": \"ok\"}}, got {}",
            name(e),
            short(v)
        ))),
    }
}

pub fn status(v: &Value) -> Result<StatusReport, IntegrationError> {
    if plain_ok(v) {
        return Ok(StatusReport { healthy: true, message: "the handler answers ok".into() });
    }
    match v.get("status").and_then(Value::as_str) {
        Some(s @ ("active" | "ok")) => Ok(StatusReport { healthy: true, message: format!("the handler reports `{s}`") }),
        Some(other) => Ok(StatusReport {
            healthy: false,
            message: format!("the handler reports `{other}`: {}", v.get("message").and_then(Value::as_str).unwrap_or("no message")),
        }),
        None => Err(IntegrationError::Invalid(format!("malformed reply to get-status: {}", short(v)))),
    }
}

pub fn resources(v: &Value, resource_type: &str) -> Result<(Vec<ResourceInfo>, Vec<PermissionInfo>), IntegrationError> {
    let bad = |what: &str| IntegrationError::Invalid(format!("malformed reply to list-resources: {what}: {}", short(v)));
    let list = v.get("resources").and_then(Value::as_array).ok_or_else(|| bad("no `resources` array"))?;
    let mut out = Vec::new();
    for r in list {
        let mut info: ResourceInfo = serde_json::from_value(r.clone()).map_err(|e| bad(&format!("a resource does not fit {{id, name, type, metadata}} ({e})")))?;
        if info.resource_type.is_empty() {
            info.resource_type = resource_type.to_owned();
        }
        out.push(info);
    }
    let perms = v.get("permissions").and_then(Value::as_array).ok_or_else(|| bad("no `permissions` array"))?;
    let perms = perms
        .iter()
        .map(|p| serde_json::from_value::<PermissionInfo>(p.clone()).map_err(|e| bad(&format!("a permission does not fit {{id, name}} ({e})"))))
        // A handler names resources one by one: it cannot claim to grant by tag.
        .map(|p| p.map(|p| PermissionInfo { selectable: false, ..p }))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((out, perms))
}

/// `{"tags": {"resource id": {"key": "value"}}}`; other replies mean no tags.
pub fn tags(v: &Value) -> BTreeMap<String, BTreeMap<String, String>> {
    v.get("tags").and_then(|t| serde_json::from_value(t.clone()).ok()).unwrap_or_default()
}

pub fn credentials(v: &Value, username: &str) -> Credentials {
    let secret = v.get("secret").and_then(Value::as_str).unwrap_or_default().to_owned();
    Credentials { username: username.to_owned(), secret, details: BTreeMap::new(), connect_command: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contract_replies() {
        assert!(expect_ok(EventType::GrantAccess, &json!({"status": "ok"})).is_ok());
        let e = expect_ok(EventType::GrantAccess, &json!({"status": "error", "message": "quota"})).unwrap_err();
        assert!(e.is_retryable() && e.to_string().contains("grant-access") && e.to_string().contains("quota"));
        let e = expect_ok(EventType::RevokeAccess, &json!([1, 2])).unwrap_err();
        assert!(!e.is_retryable() && e.to_string().contains("malformed reply to revoke-access"));
        assert!(status(&json!({"status": "active"})).unwrap().healthy);
        let (r, p) = resources(&json!({"resources": [{"id": "a", "name": "A", "type": "app", "metadata": {"k": "v"}}], "permissions": [{"id": "reader", "name": "Reader"}]}), "app").unwrap();
        assert_eq!((r[0].id.as_str(), p[0].id.as_str()), ("a", "reader"));
        assert!(resources(&json!({"resources": "nope"}), "app").is_err());
        assert_eq!(credentials(&json!({"status": "ok"}), "u").secret, "");
    }

    #[test]
    fn plain_replies_mean_success_for_events_without_data() {
        for raw in ["ok", "OK\n", "\"ok\"", "", "  \n", "{\"status\":\"ok\"}", "null"] {
            let v = body(raw.as_bytes()).unwrap();
            for e in [EventType::GrantAccess, EventType::RevokeAccess, EventType::CreateCredentials, EventType::ResetCredentials, EventType::DeleteCredentials] {
                assert!(expect_ok(e, &v).is_ok(), "{raw:?} for {e:?}");
            }
            assert!(status(&v).unwrap().healthy, "{raw:?}");
            assert!(tags(&v).is_empty());
            assert_eq!(credentials(&v, "ann@example.com").secret, "", "no secret: username and access details only");
        }
        // Everything else keeps its clear error.
        assert!(body(b"okay then").unwrap_err().to_string().contains("expected"));
        assert!(body(b"error").is_err());
        assert!(expect_ok(EventType::GrantAccess, &json!("no")).is_err());
        assert!(resources(&body(b"ok").unwrap(), "app").is_err(), "list-resources carries data: ok is not enough");
    }
}
