//! Access flows as configured: what each covers, who asks, who approves
//! and with which settings.

use crate::auth::{Admin, Caller};
use crate::definitions::{self, Change, Kind};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use sesame_proto::{AccessFlowView, ErrorCode};

/// Access flows, as configured.
#[utoipa::path(get, path = "/api/v1/access-flows", responses((status = 200, body = Vec<AccessFlowView>)))]
pub async fn list(State(st): State<AppState>, _c: Caller) -> Result<Json<Vec<AccessFlowView>>, ApiError> {
    Ok(Json(super::views::flows(&st.policy().flows)))
}

/// One access flow.
#[utoipa::path(get, path = "/api/v1/access-flows/{name}", params(("name" = String, Path)), responses((status = 200, body = AccessFlowView)))]
pub async fn show(State(st): State<AppState>, _c: Caller, ApiPath(name): ApiPath<String>) -> Result<Json<AccessFlowView>, ApiError> {
    super::views::flows(&st.policy().flows)
        .into_iter()
        .find(|v| v.name == name)
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("there is no access flow `{name}`: see `sesame flows list`")))
}

/// Create an access flow (admins): the configuration file's
/// `[[access_flows]]` declaration as JSON. It must load with everything
/// else (declared integrations, bundles, approvers), or nothing is stored.
#[utoipa::path(post, path = "/api/v1/access-flows", request_body = Object, responses((status = 200, body = AccessFlowView)))]
pub async fn create(State(st): State<AppState>, Admin(admin): Admin, ApiJson(body): ApiJson<serde_json::Value>) -> Result<Json<AccessFlowView>, ApiError> {
    let name = body.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_owned();
    definitions::change(&st, &admin, Kind::Flow, Change::Create, &name, Some(body)).await?;
    show(State(st), Caller(admin), ApiPath(name)).await
}

/// Replace an access flow made through the API (admins).
#[utoipa::path(put, path = "/api/v1/access-flows/{name}", params(("name" = String, Path)), request_body = Object, responses((status = 200, body = AccessFlowView)))]
pub async fn update(State(st): State<AppState>, Admin(admin): Admin, ApiPath(name): ApiPath<String>, ApiJson(body): ApiJson<serde_json::Value>) -> Result<Json<AccessFlowView>, ApiError> {
    definitions::change(&st, &admin, Kind::Flow, Change::Update, &name, Some(body)).await?;
    show(State(st), Caller(admin), ApiPath(name)).await
}

/// Delete an access flow made through the API (admins). Requests it
/// decided keep their course.
#[utoipa::path(delete, path = "/api/v1/access-flows/{name}", params(("name" = String, Path)), responses((status = 200, body = Object)))]
pub async fn delete(State(st): State<AppState>, Admin(admin): Admin, ApiPath(name): ApiPath<String>) -> Result<Json<serde_json::Value>, ApiError> {
    definitions::change(&st, &admin, Kind::Flow, Change::Delete, &name, None).await?;
    Ok(Json(serde_json::json!({ "deleted": name })))
}
