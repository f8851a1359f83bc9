//! Credentials of an active grant: made and shown once to its grantee
//! (a second reveal is refused; reset makes new ones), with the
//! integration's custom access details. The API and the portal both call here.

use crate::clock;
use crate::error::ApiError;
use crate::requests as svc;
use crate::state::AppState;
use crate::worker::params_for;
use serde_json::json;
use sesame_core::{AuditAction, AuditDraft, Outcome, RequestStatus, User};
use sesame_proto::{CredentialsView, ErrorCode};
use sesame_store::RequestRow;

async fn own_active(st: &AppState, who: &User, id: &str) -> Result<RequestRow, ApiError> {
    let r = svc::visible(st, who, id).await?;
    if !r.grantee.eq_ignore_ascii_case(&who.email) {
        return Err(ApiError::new(ErrorCode::Forbidden, "only the grantee can use this access"));
    }
    if r.status != RequestStatus::Active {
        return Err(ApiError::new(ErrorCode::InvalidState, format!("request `{id}` is {} and has no usable access", r.status)));
    }
    Ok(r)
}

pub fn view(st: &AppState, r: &RequestRow, c: sesame_proto::Credentials) -> CredentialsView {
    let access_details = st.integration(&r.integration).and_then(|i| i.descriptor().settings.custom_access_details.clone());
    CredentialsView { request_id: r.id.clone(), credentials: c, access_details }
}

/// Make the credentials of `id` and show them, once. The mark that they
/// were shown is taken first (one caller wins); the target makes them while
/// their audit entry is written, and they are shown only once that entry is
/// on the disk.
pub async fn reveal(st: &AppState, who: &User, id: &str) -> Result<CredentialsView, ApiError> {
    let r = own_active(st, who, id).await?;
    let integ = st.integration(&r.integration).ok_or_else(|| ApiError::new(ErrorCode::UnknownIntegration, "the integration is gone"))?;
    if !st.store.mark_credentials_shown(id, clock::now()).await? {
        return Err(ApiError::new(
            ErrorCode::CredentialsAlreadyShown,
            format!("the credentials of `{id}` were already shown once: run `sesame access reset-credentials {id}` for new ones"),
        ));
    }
    let audit = AuditDraft::new(&who.email, AuditAction::CredentialsCreate, Some(id), Outcome::Ok, json!({"username": r.username}));
    let params = params_for(&r);
    let (made, audited) = tokio::join!(integ.create_credentials(&params), st.store.append_audit(audit, clock::now()));
    let creds = match (made, audited) {
        (Ok(c), Ok(())) => c,
        (Err(e), _) => {
            st.store.clear_credentials_shown(id, r.credentials_created_at).await?;
            // The details are for admins (audit log); the requester reads the stable message.
            let audit = AuditDraft::new(&who.email, AuditAction::CredentialsFailed, Some(id), Outcome::Error, json!({"error": e.to_string()}));
            st.store.append_audit(audit, clock::now()).await?;
            return Err(ApiError::new(
                ErrorCode::IntegrationError,
                format!("creating credentials failed: {}; try `sesame access use {id}` again", e.user_message()),
            ));
        }
        // Made but not audited: never shown (they work for nobody who
        // knows them); the next try makes new ones.
        (Ok(_), Err(e)) => {
            let _ = st.store.clear_credentials_shown(id, r.credentials_created_at).await;
            return Err(e.into());
        }
    };
    Ok(view(st, &r, creds))
}

/// New credentials for `id`; the old ones stop working.
pub async fn reset(st: &AppState, who: &User, id: &str) -> Result<CredentialsView, ApiError> {
    let r = own_active(st, who, id).await?;
    let integ = st.integration(&r.integration).ok_or_else(|| ApiError::new(ErrorCode::UnknownIntegration, "the integration is gone"))?;
    let creds = integ.reset_credentials(&params_for(&r)).await?;
    let audit = AuditDraft::new(&who.email, AuditAction::CredentialsReset, Some(id), Outcome::Ok, json!({"username": r.username}));
    st.store.credentials_made(id, true, audit, clock::now()).await?;
    Ok(view(st, &r, creds))
}
