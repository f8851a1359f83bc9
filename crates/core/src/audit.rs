//! The audit log's hash chain: each entry carries the hash of the one before.

use std::fmt;
use std::str::FromStr;

/// What an audit entry records. Stored and shown as its dotted name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    RequestCreate,
    RequestApprove,
    RequestApprovePartial,
    RequestReject,
    RequestCancel,
    RequestRevoke,
    RequestExpire,
    GrantDone,
    GrantFailed,
    GrantAbandoned,
    GrantRetry,
    RevokeDone,
    RevokeRetry,
    CleanupDone,
    CleanupRetry,
    CredentialsCreate,
    CredentialsFailed,
    CredentialsReset,
    CredentialsRotate,
    ReconcileRevoke,
    TokenIssue,
    TokenRevoke,
    BoundaryPut,
    BoundaryLift,
    ScopeCreate,
    ScopeUpdate,
    ScopeDelete,
    RequestPendingExpired,
    RequestEscalate,
    RequestStepUp,
    RequestExtend,
    ExtendDone,
    ExtendRetry,
    MfaEnroll,
    MfaVerify,
    MfaReset,
    BundleRollback,
    RequestExtendAsk,
    RequestExtendReject,
    FlowCreate,
    FlowUpdate,
    FlowDelete,
    IntegrationCreate,
    IntegrationUpdate,
    /// Deleted, or (with live grants, `--revoke-active`) retiring until
    /// they are revoked.
    IntegrationDelete,
    ConnectorCreate,
    ConnectorDelete,
    GroupCreate,
    GroupUpdate,
    GroupDelete,
    BundleCreate,
    BundleUpdate,
    BundleDelete,
    /// A person or group created, changed or deleted through SCIM.
    ScimChange,
    /// Someone signed in through the identity provider (or was refused).
    SignIn,
    /// A sign-in session ended (`sesame logout`).
    SignOut,
}

impl AuditAction {
    pub const ALL: [AuditAction; 56] = [
        AuditAction::RequestCreate,
        AuditAction::RequestApprove,
        AuditAction::RequestApprovePartial,
        AuditAction::RequestReject,
        AuditAction::RequestCancel,
        AuditAction::RequestRevoke,
        AuditAction::RequestExpire,
        AuditAction::GrantDone,
        AuditAction::GrantFailed,
        AuditAction::GrantAbandoned,
        AuditAction::GrantRetry,
        AuditAction::RevokeDone,
        AuditAction::RevokeRetry,
        AuditAction::CleanupDone,
        AuditAction::CleanupRetry,
        AuditAction::CredentialsCreate,
        AuditAction::CredentialsFailed,
        AuditAction::CredentialsReset,
        AuditAction::CredentialsRotate,
        AuditAction::ReconcileRevoke,
        AuditAction::TokenIssue,
        AuditAction::TokenRevoke,
        AuditAction::BoundaryPut,
        AuditAction::BoundaryLift,
        AuditAction::ScopeCreate,
        AuditAction::ScopeUpdate,
        AuditAction::ScopeDelete,
        AuditAction::RequestPendingExpired,
        AuditAction::RequestEscalate,
        AuditAction::RequestStepUp,
        AuditAction::RequestExtend,
        AuditAction::ExtendDone,
        AuditAction::ExtendRetry,
        AuditAction::MfaEnroll,
        AuditAction::MfaVerify,
        AuditAction::MfaReset,
        AuditAction::BundleRollback,
        AuditAction::RequestExtendAsk,
        AuditAction::RequestExtendReject,
        AuditAction::FlowCreate,
        AuditAction::FlowUpdate,
        AuditAction::FlowDelete,
        AuditAction::IntegrationCreate,
        AuditAction::IntegrationUpdate,
        AuditAction::IntegrationDelete,
        AuditAction::ConnectorCreate,
        AuditAction::ConnectorDelete,
        AuditAction::GroupCreate,
        AuditAction::GroupUpdate,
        AuditAction::GroupDelete,
        AuditAction::BundleCreate,
        AuditAction::BundleUpdate,
        AuditAction::BundleDelete,
        AuditAction::ScimChange,
        AuditAction::SignIn,
        AuditAction::SignOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::RequestCreate => "request.create",
            AuditAction::RequestApprove => "request.approve",
            AuditAction::RequestApprovePartial => "request.approve.partial",
            AuditAction::RequestReject => "request.reject",
            AuditAction::RequestCancel => "request.cancel",
            AuditAction::RequestRevoke => "request.revoke",
            AuditAction::RequestExpire => "request.expire",
            AuditAction::GrantDone => "grant.done",
            AuditAction::GrantFailed => "grant.failed",
            AuditAction::GrantAbandoned => "grant.abandoned",
            AuditAction::GrantRetry => "grant.retry",
            AuditAction::RevokeDone => "revoke.done",
            AuditAction::RevokeRetry => "revoke.retry",
            AuditAction::CleanupDone => "cleanup.done",
            AuditAction::CleanupRetry => "cleanup.retry",
            AuditAction::CredentialsCreate => "credentials.create",
            AuditAction::CredentialsFailed => "credentials.failed",
            AuditAction::CredentialsReset => "credentials.reset",
            AuditAction::CredentialsRotate => "credentials.rotate",
            AuditAction::ReconcileRevoke => "reconcile.revoke",
            AuditAction::TokenIssue => "token.issue",
            AuditAction::TokenRevoke => "token.revoke",
            AuditAction::BoundaryPut => "boundary.put",
            AuditAction::BoundaryLift => "boundary.lift",
            AuditAction::ScopeCreate => "scope.create",
            AuditAction::ScopeUpdate => "scope.update",
            AuditAction::ScopeDelete => "scope.delete",
            AuditAction::RequestPendingExpired => "request.pending_expired",
            AuditAction::RequestEscalate => "request.escalate",
            AuditAction::RequestStepUp => "request.step_up",
            AuditAction::RequestExtend => "request.extend",
            AuditAction::ExtendDone => "extend.done",
            AuditAction::ExtendRetry => "extend.retry",
            AuditAction::MfaEnroll => "mfa.enroll",
            AuditAction::MfaVerify => "mfa.verify",
            AuditAction::MfaReset => "mfa.reset",
            AuditAction::BundleRollback => "bundle.rollback",
            AuditAction::RequestExtendAsk => "request.extend.ask",
            AuditAction::RequestExtendReject => "request.extend.reject",
            AuditAction::FlowCreate => "flow.create",
            AuditAction::FlowUpdate => "flow.update",
            AuditAction::FlowDelete => "flow.delete",
            AuditAction::IntegrationCreate => "integration.create",
            AuditAction::IntegrationUpdate => "integration.update",
            AuditAction::IntegrationDelete => "integration.delete",
            AuditAction::ConnectorCreate => "connector.create",
            AuditAction::ConnectorDelete => "connector.delete",
            AuditAction::GroupCreate => "group.create",
            AuditAction::GroupUpdate => "group.update",
            AuditAction::GroupDelete => "group.delete",
            AuditAction::BundleCreate => "bundle.create",
            AuditAction::BundleUpdate => "bundle.update",
            AuditAction::BundleDelete => "bundle.delete",
            AuditAction::ScimChange => "scim.change",
            AuditAction::SignIn => "auth.sign_in",
            AuditAction::SignOut => "auth.sign_out",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown audit action `{0}`")]
pub struct UnknownAction(pub String);

impl FromStr for AuditAction {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

/// Whether the recorded step went as intended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Error,
    AutoApproved,
    PendingApproval,
    /// Waiting for the requester's MFA step-up.
    PendingMfa,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::AutoApproved => "auto-approved",
            Outcome::PendingApproval => "pending-approval",
            Outcome::PendingMfa => "pending-mfa",
        }
    }
}

/// An entry to append; seq, time and hashes are filled in by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditDraft {
    pub actor: String,
    pub action: AuditAction,
    pub request_id: Option<String>,
    pub outcome: Outcome,
    pub detail: serde_json::Value,
}

impl AuditDraft {
    pub fn new(actor: &str, action: AuditAction, request_id: Option<&str>, outcome: Outcome, detail: serde_json::Value) -> Self {
        AuditDraft { actor: actor.to_owned(), action, request_id: request_id.map(str::to_owned), outcome, detail }
    }
}

// The chain is a published contract (exports are verified outside Sesame):
// it lives with the wire types.
pub use sesame_proto::audit::{chain_hash, verify_chain, AuditFields, GENESIS};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_parses_back_from_its_name() {
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>().unwrap(), a);
        }
        let names: std::collections::BTreeSet<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), AuditAction::ALL.len(), "names are distinct");
    }

    fn f(seq: i64, action: &str) -> AuditFields {
        AuditFields {
            seq,
            at_ms: 1000 + seq,
            actor: "ann@x.io".into(),
            action: action.into(),
            request_id: Some("r1".into()),
            outcome: "ok".into(),
            detail: "{}".into(),
        }
    }

    #[test]
    fn tampering_breaks_the_chain() {
        let a = f(1, "request.create");
        let ha = chain_hash(GENESIS, &a);
        let mut b = f(2, "request.approve");
        let hb = chain_hash(&ha, &b);
        assert_eq!(verify_chain([(&a, GENESIS, ha.as_str()), (&b, ha.as_str(), hb.as_str())]), Ok(()));
        b.actor = "eve@x.io".into();
        assert_eq!(verify_chain([(&a, GENESIS, ha.as_str()), (&b, ha.as_str(), hb.as_str())]), Err(2));
    }
}
