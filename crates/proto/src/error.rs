//! Stable, greppable error codes. The HTTP mapping lives in the server.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every refusal the API can give. The `snake_case` names are the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    NotFound,
    BadRequest,
    UnknownIntegration,
    UnknownResourceType,
    UnknownResource,
    UnknownPermission,
    DurationTooLong,
    InvalidDuration,
    TooManyResources,
    JustificationRequired,
    NoMatchingFlow,
    NoApprover,
    SelfApproval,
    NotAnApprover,
    InvalidState,
    CredentialsAlreadyShown,
    IntegrationError,
    Internal,
    /// The integration says the grant cannot be made as asked (e.g. it does
    /// not fit IAM's policy quotas); the message names what would make it fit.
    CannotGrant,
    /// Too many failed sign-ins from this address or with this token.
    TooManyRequests,
    /// The server is at its concurrency limit or the request took too long.
    Overloaded,
    /// The request body is larger than this endpoint takes.
    PayloadTooLarge,
    /// An AQL query that does not parse; the message names the line, the
    /// column and what to write.
    InvalidQuery,
    /// Something of that name exists already.
    AlreadyExists,
    /// The access flow takes requests only within its timeframe; the
    /// message names the next window.
    OutsideTimeframe,
    /// The access flow asks approvers for a reason.
    ReasonRequired,
    /// The access flow asks for an MFA step-up first: the message says how.
    MfaRequired,
    /// The caller has no confirmed MFA factor: enrol with `sesame mfa enroll`.
    MfaNotEnrolled,
    /// The code is wrong, expired or used already.
    InvalidMfaCode,
    /// Too many wrong codes: wait, as the message says.
    MfaLocked,
    /// The access flow does not allow this extension (none left, or too long).
    ExtensionNotAllowed,
    /// Sign-in through an identity provider is not configured (`[oidc]`).
    SignInNotConfigured,
    /// The identity provider cannot be reached now.
    SignInUnavailable,
    /// The identity provider's answer was refused (the message says which
    /// check failed), or the sign-in was unknown, used or expired.
    SignInRefused,
    /// Client side: the server could not be reached.
    Unreachable,
    /// Client side: `--wait` saw the request end without access.
    RequestEnded,
    /// Client side: `audit verify` found the hash chain broken; the message
    /// names the first entry that does not verify.
    ChainBroken,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownIntegration => "unknown_integration",
            ErrorCode::UnknownResourceType => "unknown_resource_type",
            ErrorCode::UnknownResource => "unknown_resource",
            ErrorCode::UnknownPermission => "unknown_permission",
            ErrorCode::DurationTooLong => "duration_too_long",
            ErrorCode::InvalidDuration => "invalid_duration",
            ErrorCode::TooManyResources => "too_many_resources",
            ErrorCode::JustificationRequired => "justification_required",
            ErrorCode::NoMatchingFlow => "no_matching_flow",
            ErrorCode::NoApprover => "no_approver",
            ErrorCode::SelfApproval => "self_approval",
            ErrorCode::NotAnApprover => "not_an_approver",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::CredentialsAlreadyShown => "credentials_already_shown",
            ErrorCode::IntegrationError => "integration_error",
            ErrorCode::Internal => "internal",
            ErrorCode::CannotGrant => "cannot_grant",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::OutsideTimeframe => "outside_timeframe",
            ErrorCode::ReasonRequired => "reason_required",
            ErrorCode::MfaRequired => "mfa_required",
            ErrorCode::MfaNotEnrolled => "mfa_not_enrolled",
            ErrorCode::InvalidMfaCode => "invalid_mfa_code",
            ErrorCode::MfaLocked => "mfa_locked",
            ErrorCode::ExtensionNotAllowed => "extension_not_allowed",
            ErrorCode::SignInNotConfigured => "sign_in_not_configured",
            ErrorCode::SignInUnavailable => "sign_in_unavailable",
            ErrorCode::SignInRefused => "sign_in_refused",
            ErrorCode::Unreachable => "unreachable",
            ErrorCode::RequestEnded => "request_ended",
            ErrorCode::ChainBroken => "chain_broken",
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// What went wrong and what to do next.
    pub message: String,
}
