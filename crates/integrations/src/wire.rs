//! Integrations over the connector protocol: [`execute`] runs a task on the
//! connector's side; the `expect_*` functions read the typed [`Reply`] on
//! the control plane's side. One module, so both agree. Integrations that
//! run in the control plane's own process are called directly, never
//! through here.

use crate::{Cause, Discovery, Integration, IntegrationError, StatusReport};
use sesame_core::Timestamp;
use sesame_proto::connector::{FailureKind, Op, Reply, Task, TaskOutcome};
use sesame_proto::Credentials;
use std::collections::BTreeMap;

pub fn failure(e: &IntegrationError) -> TaskOutcome {
    let (kind, cause) = match e {
        IntegrationError::Unavailable(c) => (FailureKind::Unavailable, Some(c.clone())),
        IntegrationError::Invalid(_) => (FailureKind::Invalid, None),
        IntegrationError::Misconfigured(_) => (FailureKind::Misconfigured, None),
    };
    TaskOutcome::Failed { kind, message: e.to_string(), cause }
}

pub fn error_of(kind: FailureKind, message: String, cause: Option<Cause>) -> IntegrationError {
    match kind {
        FailureKind::Unavailable => IntegrationError::Unavailable(cause.unwrap_or(Cause::Connector(message))),
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

/// Whether a task may still run at `now`: not after the control plane
/// stopped waiting for it, and never a grant without a deadline or past it.
pub fn admit(t: &Task, now: Timestamp) -> Result<(), IntegrationError> {
    if let Some(exp) = t.expires_at_ms.filter(|e| now.0 > *e) {
        return Err(IntegrationError::Unavailable(Cause::Connector(format!("the control plane stopped waiting for this task {} ms ago; not run", now.0 - exp))));
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
    let deadline = Timestamp(t.valid_until_ms.unwrap_or_default());
    let res: Result<Reply, IntegrationError> = match t.op {
        Op::GetStatus => integ.get_status().await.map(Reply::Status),
        Op::ListResources => integ.list_resources().await.map(Reply::Discovery),
        Op::ListResourcesTags => integ.list_resources_tags().await.map(|tags| Reply::Tags { tags }),
        Op::GrantAccess => integ.grant_access(p, deadline).await.map(|()| Reply::Done),
        Op::RevokeAccess => integ.revoke_access(p).await.map(|()| Reply::Done),
        Op::CreateCredentials => integ.create_credentials(p).await.map(Reply::Credentials),
        Op::ResetCredentials => integ.reset_credentials(p).await.map(Reply::Credentials),
        Op::DeleteCredentials => integ.delete_credentials(p).await.map(|()| Reply::Done),
        Op::DisableUser => integ.disable_user(p).await.map(|()| Reply::Done),
        Op::DeleteUser => integ.delete_user(&p.username).await.map(|()| Reply::Done),
        Op::ListManagedUsers => integ.list_managed_users().await.map(|users| Reply::Users { users }),
        Op::Preflight => integ.preflight(p, deadline).await.map(|()| Reply::Done),
        Op::GetBoundary => integ.boundary_of(&p.resource_type, first(p)).await.map(|(arn, boundary)| Reply::Boundary { arn, boundary }),
        Op::SetBoundary => {
            let arn = Some(p.permission.as_str()).filter(|a| !a.is_empty());
            integ.set_boundary(&p.resource_type, first(p), arn).await.map(|()| Reply::Done)
        }
    };
    match res {
        Ok(value) => TaskOutcome::Ok { value },
        Err(e) => failure(&e),
    }
}

fn unexpected(op: Op, got: &Reply) -> IntegrationError {
    IntegrationError::Invalid(format!("the connector answered {op:?} with {} instead of what it asks for", got.kind()))
}

pub fn expect_done(op: Op, r: Reply) -> Result<(), IntegrationError> {
    match r {
        Reply::Done => Ok(()),
        other => Err(unexpected(op, &other)),
    }
}

pub fn expect_status(r: Reply) -> Result<StatusReport, IntegrationError> {
    match r {
        Reply::Status(s) => Ok(s),
        other => Err(unexpected(Op::GetStatus, &other)),
    }
}

pub fn expect_discovery(r: Reply) -> Result<Discovery, IntegrationError> {
    match r {
        Reply::Discovery(d) => Ok(d),
        other => Err(unexpected(Op::ListResources, &other)),
    }
}

pub fn expect_tags(r: Reply) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
    match r {
        Reply::Tags { tags } => Ok(tags),
        other => Err(unexpected(Op::ListResourcesTags, &other)),
    }
}

pub fn expect_credentials(op: Op, r: Reply) -> Result<Credentials, IntegrationError> {
    match r {
        Reply::Credentials(c) => Ok(c),
        other => Err(unexpected(op, &other)),
    }
}

pub fn expect_users(r: Reply) -> Result<Vec<String>, IntegrationError> {
    match r {
        Reply::Users { users } => Ok(users),
        other => Err(unexpected(Op::ListManagedUsers, &other)),
    }
}

/// A get-boundary answer: the principal's ARN and its current boundary.
pub fn expect_boundary(r: Reply) -> Result<(String, Option<String>), IntegrationError> {
    match r {
        Reply::Boundary { arn, boundary } => Ok((arn, boundary)),
        other => Err(unexpected(Op::GetBoundary, &other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(op: Op, valid_until_ms: Option<i64>, expires_at_ms: Option<i64>) -> Task {
        Task { task_id: "t".into(), integration: "i".into(), op, params: sesame_proto::ActionParams::default(), valid_until_ms, expires_at_ms }
    }

    #[test]
    fn replies_travel_typed() {
        let outcome = TaskOutcome::Ok { value: Reply::Users { users: vec!["sesame_a".into()] } };
        let wire = serde_json::to_value(&outcome).unwrap();
        assert_eq!(wire, serde_json::json!({"outcome": "ok", "value": {"kind": "users", "users": ["sesame_a"]}}));
        let TaskOutcome::Ok { value } = serde_json::from_value(wire).unwrap() else { panic!("an ok outcome") };
        assert_eq!(expect_users(value).unwrap(), ["sesame_a"]);
        let wrong = expect_status(Reply::Done).unwrap_err();
        assert!(matches!(wrong, IntegrationError::Invalid(_)) && wrong.to_string().contains("done instead"), "{wrong}");
    }

    #[test]
    fn a_failure_keeps_its_cause_across_the_wire() {
        let e = IntegrationError::Unavailable(Cause::Target { system: "mysql".into(), code: "1205".into(), message: "lock wait timeout".into() });
        let wire = serde_json::to_value(failure(&e)).unwrap();
        let TaskOutcome::Failed { kind, message, cause } = serde_json::from_value(wire).unwrap() else { panic!("a failed outcome") };
        let back = error_of(kind, message, cause);
        assert!(matches!(&back, IntegrationError::Unavailable(Cause::Target { code, .. }) if code == "1205"), "{back:?}");
        assert_eq!((back.cause(), back.to_string()), ("target", e.to_string()));
        // An older connector sends no cause: the message stays, as the connector's.
        let old: TaskOutcome = serde_json::from_value(serde_json::json!({"outcome": "failed", "kind": "unavailable", "message": "boom"})).unwrap();
        let TaskOutcome::Failed { kind, message, cause } = old else { panic!("a failed outcome") };
        assert_eq!(error_of(kind, message, cause).to_string(), "boom");
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
