use super::views;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use sesame_core::RequestStatus;
use sesame_proto::{CredentialsView, RequestView};
use sesame_store::RequestFilter;

/// My active access.
#[utoipa::path(get, path = "/api/v1/access", responses((status = 200, body = Vec<RequestView>)))]
pub async fn list(State(st): State<AppState>, Caller(who): Caller) -> Result<Json<Vec<RequestView>>, ApiError> {
    let f = RequestFilter { grantee: Some(who.email.clone()), status: Some(RequestStatus::Active), ..Default::default() };
    Ok(Json(st.store.list_requests(&f).await?.iter().map(views::request).collect()))
}

/// Credentials for an active grant, shown once.
#[utoipa::path(post, path = "/api/v1/access/{id}/credentials", params(("id" = String, Path)),
    responses((status = 200, body = CredentialsView), (status = 409, body = sesame_proto::ErrorBody)))]
pub async fn use_credentials(State(st): State<AppState>, Caller(who): Caller, ApiPath(id): ApiPath<String>) -> Result<Json<CredentialsView>, ApiError> {
    Ok(Json(crate::credentials::reveal(&st, &who, &id).await?))
}

/// New credentials for an active grant; the old ones stop working.
#[utoipa::path(post, path = "/api/v1/access/{id}/reset-credentials", params(("id" = String, Path)), responses((status = 200, body = CredentialsView)))]
pub async fn reset_credentials(State(st): State<AppState>, Caller(who): Caller, ApiPath(id): ApiPath<String>) -> Result<Json<CredentialsView>, ApiError> {
    Ok(Json(crate::credentials::reset(&st, &who, &id).await?))
}
