//! REST API bodies.

use crate::event::{PermissionInfo, ResourceInfo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub integration: String,
    pub resource_type: String,
    pub resources: Vec<String>,
    pub permission: String,
    /// Humane duration: `30m`, `2h`, `1h 30m`.
    pub duration: String,
    pub justification: Option<String>,
    /// Ask for someone else (their e-mail), as the flow's `request_for`
    /// allows: they get the access and its credentials.
    #[serde(default)]
    pub grantee: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub reason: Option<String>,
    /// Approving for a flow with `require_mfa`: the current code from the
    /// approver's authenticator (or step up first with `/api/v1/mfa/verify`).
    #[serde(default)]
    pub mfa_code: Option<String>,
}

/// More time for Active access (`POST /api/v1/requests/{id}/extend`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    /// How much later access ends, e.g. `30m`.
    pub duration: String,
    pub reason: Option<String>,
}

/// A new MFA enrolment, shown once: add it to an authenticator app.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MfaEnrolment {
    /// `otpauth://totp/...`: what the QR code holds.
    pub otpauth_uri: String,
    /// The same secret in base32, to type in by hand.
    pub secret: String,
    /// What to do next.
    pub next: String,
}

/// A factor removed by an admin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MfaReset {
    pub user: String,
}

/// A code from the caller's authenticator.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaCode {
    pub code: String,
}

/// A good code: the step-up and what it moved on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MfaStepUp {
    pub stepped_up_at: String,
    /// Until when it counts for approvals.
    pub valid_until: String,
    /// The caller's requests that were waiting in PendingMFA and went on.
    pub requests: Vec<String>,
}

/// A request and the grant it leads to (one grant per request).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    pub requester: String,
    /// Who gets the access (the requester unless asked for someone else).
    #[serde(default)]
    pub grantee: String,
    pub integration: String,
    pub resource_type: String,
    pub resources: Vec<String>,
    pub permission: String,
    pub duration_secs: i64,
    pub justification: Option<String>,
    /// Pending, PendingMFA, Granting, Active, Revoking, Revoked, Rejected, Failed, Expired.
    pub status: String,
    pub flow: String,
    /// Everybody who may approve some part.
    pub approvers: Vec<String>,
    /// Who must approve what: each part needs one of its approvers (a
    /// resource owner approves only their own resources).
    #[serde(default)]
    pub approval_parts: Vec<ApprovalPartView>,
    /// Who approved so far.
    #[serde(default)]
    pub approvals: Vec<String>,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    /// Login name on the target, fixed when the request is made.
    pub username: String,
    pub created_at: String,
    /// When access ends; set when granting starts, before any side effect.
    pub deadline: Option<String>,
    pub revoked_at: Option<String>,
    /// The last error of the grant or revoke job, while it is being retried.
    pub last_error: Option<String>,
    /// How many times the current job has failed.
    pub job_failures: i64,
    pub credentials_shown: bool,
    /// How many times the access was extended.
    #[serde(default)]
    pub extensions: i64,
    /// One grant of a request for this bundle.
    #[serde(default)]
    pub bundle: Option<String>,
    /// The bundle request (`bnd_...`) this grant belongs to.
    #[serde(default)]
    pub bundle_request: Option<String>,
    /// An extension waiting for approval: until when, asked by whom.
    #[serde(default)]
    pub extension_asked: Option<ExtensionAskedView>,
    /// The credentials, shown this once: only in the answer to a request
    /// made with `credentials=true` and granted within its wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<CredentialsView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExtensionAskedView {
    pub until: String,
    pub by: String,
    pub reason: Option<String>,
    pub approvals: Vec<String>,
}

/// A request for a bundle (`POST /api/v1/bundles/{name}/requests`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleRequestBody {
    /// Humane duration: `30m`, `2h`.
    pub duration: String,
    pub justification: Option<String>,
}

/// One target of a bundle: an integration target, or an access scope.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BundleTargetView {
    pub integration: Option<String>,
    pub resource_type: Option<String>,
    pub permissions: Vec<String>,
    /// `include_resources`/`exclude_resources` scopes, as configured.
    pub resources_scopes: Vec<String>,
    pub access_scope: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BundleView {
    pub name: String,
    pub access_targets: Vec<BundleTargetView>,
}

/// One grant a bundle request makes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BundleGrantView {
    pub integration: String,
    pub resource_type: String,
    pub permission: String,
    pub resources: Vec<String>,
}

/// What a bundle request would become: nothing is written.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BundleDryRunView {
    pub status: String,
    pub flow: String,
    pub approvers: Vec<String>,
    pub duration_secs: u64,
    pub grants: Vec<BundleGrantView>,
}

/// A request for a bundle: its grants, approved, granted and revoked
/// together (a grant that fails rolls the others back).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BundleRequestView {
    /// `bnd_...`: approve, reject or revoke the whole request by it (or by
    /// any of its grants' ids).
    pub id: String,
    pub bundle: String,
    /// The status its grants share, or `Mixed` while they differ.
    pub status: String,
    pub requests: Vec<RequestView>,
}

/// One part of a request's approval.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApprovalPartView {
    pub resources: Vec<String>,
    pub approvers: Vec<String>,
    /// Whether one of its approvers approved.
    pub approved: bool,
}

/// What a request would become (`POST /api/v1/requests/dry-run`): nothing is written.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DryRunView {
    /// `Granting` (automatic) or `Pending` (needs approval).
    pub status: String,
    pub flow: String,
    pub approvers: Vec<String>,
    pub duration_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntegrationView {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub status_message: Option<String>,
    pub resource_types: Vec<String>,
    pub resources: i64,
    pub last_sync: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PermissionsView {
    pub resource_type: String,
    pub permissions: Vec<PermissionInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResourcesView {
    pub integration: String,
    pub resources: Vec<ResourceInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub request_id: Option<String>,
    pub outcome: String,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CredentialsView {
    pub request_id: String,
    #[serde(flatten)]
    pub credentials: crate::event::Credentials,
    /// The integration's custom access details, if any.
    pub access_details: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    pub email: String,
    pub admin: bool,
    /// Reads the audit log and reports.
    #[serde(default)]
    pub auditor: bool,
    #[serde(default)]
    pub name: Option<String>,
    /// The groups Sesame knows the caller by (configuration, SCIM, or the
    /// identity provider at sign-in).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A standing IAM principal Sesame restricted with a permission boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Restriction {
    /// `role` or `user`.
    pub principal_type: String,
    pub name: String,
    pub arn: String,
    /// The boundary Sesame put.
    pub boundary_arn: String,
    /// The boundary it had before (restored on lift), if any.
    pub previous_boundary_arn: Option<String>,
}

/// Put a permission boundary on an over-privileged standing role or user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictRequest {
    /// `role` or `user`.
    pub principal_type: String,
    pub name: String,
    /// The managed policy to use as the boundary.
    pub boundary_arn: String,
}

/// Lift a boundary Sesame put.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftRequest {
    pub principal_type: String,
    pub name: String,
}

/// An access flow as configured, with every target it covers (the seed's
/// `apono_access_flow_v2` fields, read-only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessFlowView {
    pub name: String,
    pub active: bool,
    /// `AUTOMATIC` or `SELF_SERVE`.
    pub trigger: String,
    pub grant_duration_in_min: u64,
    /// Each target: an integration with types, permissions and resource
    /// scopes, an access scope, or a bundle.
    pub access_targets: Vec<String>,
    pub requestors: String,
    /// `self`, `others`, `direct_reports`.
    pub request_for: Vec<String>,
    /// `ANY_OF` / `ALL_OF` and each approver group (empty for AUTOMATIC).
    pub approval_mode: String,
    pub approver_groups: Vec<String>,
    pub timeframe: Option<String>,
    pub pending_expiry_secs: Option<u64>,
    /// How many escalation tiers.
    pub escalation_tiers: usize,
    pub justification_required: bool,
    pub require_approver_reason: bool,
    pub require_mfa: bool,
    pub requester_mfa: bool,
    pub max_extensions: u32,
    pub extension_duration_in_min: u64,
    pub labels: Vec<String>,
}
