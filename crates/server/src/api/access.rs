use super::views;
use crate::auth::Caller;
use crate::clock;
use crate::error::{ApiError, ApiPath};
use crate::requests as svc;
use crate::state::AppState;
use crate::worker::params_for;
use axum::extract::State;
use axum::Json;
use sesame_core::RequestStatus;
use sesame_proto::{CredentialsView, ErrorCode, RequestView};
use sesame_core::{AuditAction, AuditDraft, Outcome};
use sesame_store::{RequestFilter, RequestRow};
use serde_json::json;

/// My active access.
#[utoipa::path(get, path = "/api/v1/access", responses((status = 200, body = Vec<RequestView>)))]
pub async fn list(State(st): State<AppState>, Caller(who): Caller) -> Result<Json<Vec<RequestView>>, ApiError> {
    let f = RequestFilter { grantee: Some(who.email.clone()), status: Some(RequestStatus::Active), ..Default::default() };
    Ok(Json(st.store.list_requests(&f).await?.iter().map(views::request).collect()))
}

async fn own_active(st: &AppState, who: &sesame_core::User, id: &str) -> Result<RequestRow, ApiError> {
    let r = svc::visible(st, who, id).await?;
    if !r.grantee.eq_ignore_ascii_case(&who.email) {
        return Err(ApiError::new(ErrorCode::Forbidden, "only the grantee can use this access"));
    }
    if r.status != RequestStatus::Active {
        return Err(ApiError::new(ErrorCode::InvalidState, format!("request `{id}` is {} and has no usable access", r.status)));
    }
    Ok(r)
}

fn view(st: &AppState, r: &RequestRow, c: sesame_proto::Credentials) -> CredentialsView {
    let access_details = st.integration(&r.integration).and_then(|i| i.descriptor().settings.custom_access_details.clone());
    CredentialsView { request_id: r.id.clone(), credentials: c, access_details }
}

/// Credentials for an active grant, shown once.
#[utoipa::path(post, path = "/api/v1/access/{id}/credentials", params(("id" = String, Path)),
    responses((status = 200, body = CredentialsView), (status = 409, body = sesame_proto::ErrorBody)))]
pub async fn use_credentials(State(st): State<AppState>, Caller(who): Caller, ApiPath(id): ApiPath<String>) -> Result<Json<CredentialsView>, ApiError> {
    let r = own_active(&st, &who, &id).await?;
    let integ = st.integration(&r.integration).ok_or_else(|| ApiError::new(ErrorCode::UnknownIntegration, "the integration is gone"))?;
    let audit = AuditDraft::new(&who.email, AuditAction::CredentialsCreate, Some(&id), Outcome::Ok, json!({"username": r.username}));
    if !st.store.mark_credentials_shown(&id, audit, clock::now()).await? {
        return Err(ApiError::new(
            ErrorCode::CredentialsAlreadyShown,
            format!("the credentials of `{id}` were already shown once: run `sesame access reset-credentials {id}` for new ones"),
        ));
    }
    let creds = match integ.create_credentials(&params_for(&r)).await {
        Ok(c) => c,
        Err(e) => {
            st.store.clear_credentials_shown(&id, r.credentials_created_at).await?;
            // The details are for admins (audit log); the requester reads the stable message.
            let audit = AuditDraft::new(&who.email, AuditAction::CredentialsFailed, Some(&id), Outcome::Error, json!({"error": e.to_string()}));
            st.store.append_audit(audit, clock::now()).await?;
            return Err(ApiError::new(
                ErrorCode::IntegrationError,
                format!("creating credentials failed: {}; try `sesame access use {id}` again", e.user_message()),
            ));
        }
    };
    Ok(Json(view(&st, &r, creds)))
}

/// New credentials for an active grant; the old ones stop working.
#[utoipa::path(post, path = "/api/v1/access/{id}/reset-credentials", params(("id" = String, Path)), responses((status = 200, body = CredentialsView)))]
pub async fn reset_credentials(State(st): State<AppState>, Caller(who): Caller, ApiPath(id): ApiPath<String>) -> Result<Json<CredentialsView>, ApiError> {
    let r = own_active(&st, &who, &id).await?;
    let integ = st.integration(&r.integration).ok_or_else(|| ApiError::new(ErrorCode::UnknownIntegration, "the integration is gone"))?;
    let creds = integ.reset_credentials(&params_for(&r)).await?;
    let audit = AuditDraft::new(&who.email, AuditAction::CredentialsReset, Some(&id), Outcome::Ok, json!({"username": r.username}));
    st.store.credentials_made(&id, true, audit, clock::now()).await?;
    Ok(Json(view(&st, &r, creds)))
}
