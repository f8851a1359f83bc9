//! Tasks to integration calls and back: `execute` on the connector side,
//! `decode_*` on the control plane side. One module, so both agree.

use sesame_core::Timestamp;
use sesame_integrations::{Discovery, Integration, IntegrationError, StatusReport};
use sesame_proto::connector::{FailureKind, Op, Task, TaskOutcome};
use sesame_proto::{Credentials, PermissionInfo, ResourceInfo};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn ok(v: Value) -> TaskOutcome {
    TaskOutcome::Ok { value: v }
}

pub fn failure(e: &IntegrationError) -> TaskOutcome {
    let kind = match e {
        IntegrationError::Unavailable(_) => FailureKind::Unavailable,
        IntegrationError::Invalid(_) => FailureKind::Invalid,
        IntegrationError::Misconfigured(_) => FailureKind::Misconfigured,
    };
    TaskOutcome::Failed { kind, message: e.to_string() }
}

pub fn error_of(kind: FailureKind, message: String) -> IntegrationError {
    match kind {
        FailureKind::Unavailable => IntegrationError::Unavailable(message),
        FailureKind::Invalid => IntegrationError::Invalid(message),
        FailureKind::Misconfigured => IntegrationError::Misconfigured(message),
    }
}

fn first(p: &sesame_proto::ActionParams) -> &str {
    p.resources.first().map(String::as_str).unwrap_or_default()
}

/// Params of the boundary ops.
pub fn boundary_params(principal_type: &str, name: &str, boundary_arn: &str) -> sesame_proto::ActionParams {
    sesame_proto::ActionParams {
        resource_type: principal_type.to_owned(),
        resources: vec![name.to_owned()],
        permission: boundary_arn.to_owned(),
        ..Default::default()
    }
}

/// A get-boundary answer: the principal's ARN and its current boundary.
pub fn decode_boundary(v: Value) -> Result<(String, Option<String>), IntegrationError> {
    #[derive(serde::Deserialize)]
    struct B {
        arn: String,
        boundary: Option<String>,
    }
    let b: B = serde_json::from_value(v).map_err(|e| bad("get-boundary", e))?;
    Ok((b.arn, b.boundary))
}

/// Whether a task may still run at `now`: not after the control plane
/// stopped waiting for it, and never a grant without a deadline or past it.
pub fn admit(t: &Task, now: Timestamp) -> Result<(), IntegrationError> {
    if let Some(exp) = t.expires_at_ms.filter(|e| now.0 > *e) {
        return Err(IntegrationError::Unavailable(format!("the control plane stopped waiting for this task {} ms ago; not run", now.0 - exp)));
    }
    if t.op == Op::GrantAccess {
        match t.valid_until_ms {
            None => return Err(IntegrationError::Invalid("a grant without a deadline is refused".into())),
            Some(v) if v <= now.0 => {
                return Err(IntegrationError::Invalid(format!("the grant's deadline passed {} ms ago; nothing was granted", now.0 - v)))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Run one task against the integration it names, if [`admit`] lets it.
pub async fn execute(integ: &dyn Integration, t: &Task, now: Timestamp) -> TaskOutcome {
    if let Err(e) = admit(t, now) {
        return failure(&e);
    }
    let p = &t.params;
    let res: Result<Value, IntegrationError> = match t.op {
        Op::GetStatus => integ.get_status().await.map(|s| json!({"healthy": s.healthy, "message": s.message})),
        Op::ListResources => integ.list_resources().await.map(|d| json!({"resources": d.resources, "permissions": d.permissions, "children": d.children})),
        Op::ListResourcesTags => integ.list_resources_tags().await.map(|t| json!(t)),
        Op::GrantAccess => integ.grant_access(p, Timestamp(t.valid_until_ms.unwrap_or_default())).await.map(|_| Value::Null),
        Op::RevokeAccess => integ.revoke_access(p).await.map(|_| Value::Null),
        Op::CreateCredentials => integ.create_credentials(p).await.map(|c| json!(c)),
        Op::ResetCredentials => integ.reset_credentials(p).await.map(|c| json!(c)),
        Op::DeleteCredentials => integ.delete_credentials(p).await.map(|_| Value::Null),
        Op::DisableUser => integ.disable_user(p).await.map(|_| Value::Null),
        Op::DeleteUser => integ.delete_user(&p.username).await.map(|_| Value::Null),
        Op::ListManagedUsers => integ.list_managed_users().await.map(|u| json!(u)),
        Op::Preflight => integ.preflight(p, Timestamp(t.valid_until_ms.unwrap_or_default())).await.map(|_| Value::Null),
        Op::GetBoundary => integ.boundary_of(&p.resource_type, first(p)).await.map(|(arn, boundary)| json!({"arn": arn, "boundary": boundary})),
        Op::SetBoundary => {
            let arn = Some(p.permission.as_str()).filter(|a| !a.is_empty());
            integ.set_boundary(&p.resource_type, first(p), arn).await.map(|_| Value::Null)
        }
    };
    match res {
        Ok(v) => ok(v),
        Err(e) => failure(&e),
    }
}

fn bad(what: &str, e: impl std::fmt::Display) -> IntegrationError {
    IntegrationError::Invalid(format!("the connector answered {what} with something unexpected: {e}"))
}

pub fn decode_status(v: Value) -> Result<StatusReport, IntegrationError> {
    Ok(StatusReport {
        healthy: v["healthy"].as_bool().ok_or_else(|| bad("get-status", &v))?,
        message: v["message"].as_str().unwrap_or_default().to_owned(),
    })
}

pub fn decode_discovery(v: Value) -> Result<Discovery, IntegrationError> {
    let resources: Vec<ResourceInfo> = serde_json::from_value(v["resources"].clone()).map_err(|e| bad("list-resources", e))?;
    let permissions: BTreeMap<String, Vec<PermissionInfo>> =
        serde_json::from_value(v["permissions"].clone()).map_err(|e| bad("list-resources", e))?;
    let children = match v.get("children") {
        Some(c) if !c.is_null() => serde_json::from_value(c.clone()).map_err(|e| bad("list-resources", e))?,
        _ => vec![],
    };
    Ok(Discovery { resources, permissions, children })
}

pub fn decode_tags(v: Value) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
    serde_json::from_value(v).map_err(|e| bad("list-resources-tags", e))
}

pub fn decode_credentials(v: Value) -> Result<Credentials, IntegrationError> {
    serde_json::from_value(v).map_err(|e| bad("create-credentials", e))
}

pub fn decode_users(v: Value) -> Result<Vec<String>, IntegrationError> {
    serde_json::from_value(v).map_err(|e| bad("list-managed-users", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(op: Op, valid_until_ms: Option<i64>, expires_at_ms: Option<i64>) -> Task {
        Task { task_id: "t".into(), integration: "i".into(), op, params: sesame_proto::ActionParams::default(), valid_until_ms, expires_at_ms }
    }

    #[test]
    fn late_and_deadline_less_tasks_are_refused() {
        let now = Timestamp(10_000);
        assert!(admit(&task(Op::GrantAccess, Some(20_000), Some(11_000)), now).is_ok());
        assert!(admit(&task(Op::GrantAccess, None, None), now).unwrap_err().to_string().contains("without a deadline"));
        assert!(admit(&task(Op::GrantAccess, Some(9_000), None), now).unwrap_err().to_string().contains("deadline passed"));
        let abandoned = admit(&task(Op::RevokeAccess, None, Some(9_999)), now).unwrap_err();
        assert!(abandoned.is_retryable() && abandoned.to_string().contains("stopped waiting"), "{abandoned}");
        assert!(admit(&task(Op::RevokeAccess, None, None), now).is_ok());
    }
}
