//! MFA step-up: enrol a TOTP factor (its secret shown once), verify a code
//! (which also moves on the caller's requests waiting in PendingMFA), and an
//! admin's reset for a lost device.

use crate::auth::{Admin, Caller};
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::mfa;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use sesame_proto::{MfaCode, MfaEnrolment, MfaReset, MfaStepUp};

/// Enrol a TOTP factor for the caller. The secret is shown once; the first
/// good code (`/api/v1/mfa/verify`) confirms it. An enrolment no code has
/// confirmed yet is replaced; a confirmed one is refused (`already_exists`).
#[utoipa::path(post, path = "/api/v1/mfa/enroll", responses((status = 200, body = MfaEnrolment)))]
pub async fn enroll(State(st): State<AppState>, Caller(who): Caller) -> Result<Json<MfaEnrolment>, ApiError> {
    let e = mfa::enroll(&st, &who).await?;
    Ok(Json(MfaEnrolment {
        otpauth_uri: e.uri,
        secret: e.secret_base32,
        next: "add it to your authenticator app, then confirm with `sesame mfa verify CODE`".into(),
    }))
}

/// Step up with a code from the caller's authenticator. Codes are
/// single-use; after five wrong ones verification waits five minutes.
#[utoipa::path(post, path = "/api/v1/mfa/verify", request_body = MfaCode, responses((status = 200, body = MfaStepUp)))]
pub async fn verify(State(st): State<AppState>, Caller(who): Caller, ApiJson(b): ApiJson<MfaCode>) -> Result<Json<MfaStepUp>, ApiError> {
    let s = mfa::verify(&st, &who, &b.code).await?;
    Ok(Json(MfaStepUp { stepped_up_at: rfc3339(s.at), valid_until: rfc3339(s.at.plus(mfa::STEP_UP_VALID)), requests: s.moved_on }))
}

/// Remove a person's factor (admins), e.g. after a lost device; they enrol
/// again.
#[utoipa::path(delete, path = "/api/v1/mfa/users/{email}", params(("email" = String, Path)), responses((status = 200, body = MfaReset)))]
pub async fn reset(State(st): State<AppState>, Admin(admin): Admin, ApiPath(email): ApiPath<String>) -> Result<Json<MfaReset>, ApiError> {
    mfa::reset(&st, &admin, &email).await?;
    Ok(Json(MfaReset { user: email }))
}
