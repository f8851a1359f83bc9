//! Bundles: what each grants, and requests for one — approved, granted and
//! revoked together.

use super::views;
use crate::auth::{Admin, Caller};
use crate::bundles as svc;
use crate::definitions::{self, Change, Kind};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sesame_proto::{BundleDryRunView, BundleGrantView, BundleRequestBody, BundleRequestView, BundleView};


/// Bundles, as configured.
#[utoipa::path(get, path = "/api/v1/bundles", responses((status = 200, body = Vec<BundleView>)))]
pub async fn list(State(st): State<AppState>, _c: Caller) -> Result<Json<Vec<BundleView>>, ApiError> {
    Ok(Json(st.policy().bundles.iter().map(views::bundle).collect()))
}

/// One bundle.
#[utoipa::path(get, path = "/api/v1/bundles/{name}", params(("name" = String, Path)), responses((status = 200, body = BundleView)))]
pub async fn show(State(st): State<AppState>, _c: Caller, ApiPath(name): ApiPath<String>) -> Result<Json<BundleView>, ApiError> {
    Ok(Json(views::bundle(&svc::find(&st, &name)?)))
}

/// Ask for a bundle: one request of several grants, decided by the flows
/// that name the bundle, approved together, granted or rolled back
/// together.
#[utoipa::path(post, path = "/api/v1/bundles/{name}/requests", params(("name" = String, Path), super::requests::WaitQuery), request_body = BundleRequestBody,
    responses((status = 201, body = BundleRequestView)))]
pub async fn request(
    State(st): State<AppState>,
    Caller(who): Caller,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<super::requests::WaitQuery>,
    ApiJson(body): ApiJson<BundleRequestBody>,
) -> Result<(StatusCode, Json<BundleRequestView>), ApiError> {
    ask(&st, &who, svc::Asked::Bundle(name), &q, &body).await
}

/// Make a request of several grants and answer with it (once settled, with
/// `wait`).
async fn ask(
    st: &AppState,
    who: &sesame_core::User,
    asked: svc::Asked,
    q: &super::requests::WaitQuery,
    body: &BundleRequestBody,
) -> Result<(StatusCode, Json<BundleRequestView>), ApiError> {
    let wait = super::requests::wait_of(q)?;
    let (group, mut rows) = svc::create(st, who, &asked, body).await?;
    if let Some(w) = wait {
        rows = svc::wait_settled(st, &group, w).await?;
    }
    Ok((StatusCode::CREATED, Json(views::bundle_request(&group, &bundle_of(&rows), &rows))))
}

/// The name a bundle request's grants carry (`access scope NAME` for one
/// made from a scope).
fn bundle_of(rows: &[sesame_store::RequestRow]) -> String {
    rows.first().and_then(|r| r.bundle.as_ref()).map(|(b, _)| b.clone()).unwrap_or_default()
}

/// Ask for what an access scope selects: one request of a grant per
/// integration, type and permission, decided by the flows whose target is
/// the scope, approved, granted and revoked together (a bundle request).
#[utoipa::path(post, path = "/api/v1/access-scopes/{name}/requests", params(("name" = String, Path), super::requests::WaitQuery), request_body = BundleRequestBody,
    responses((status = 201, body = BundleRequestView)))]
pub async fn scope_request(
    State(st): State<AppState>,
    Caller(who): Caller,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<super::requests::WaitQuery>,
    ApiJson(body): ApiJson<BundleRequestBody>,
) -> Result<(StatusCode, Json<BundleRequestView>), ApiError> {
    ask(&st, &who, svc::Asked::Scope(name), &q, &body).await
}

/// Check a request for what an access scope selects, nothing written.
#[utoipa::path(post, path = "/api/v1/access-scopes/{name}/requests/dry-run", params(("name" = String, Path)), request_body = BundleRequestBody,
    responses((status = 200, body = BundleDryRunView)))]
pub async fn scope_dry_run(State(st): State<AppState>, Caller(who): Caller, ApiPath(name): ApiPath<String>, ApiJson(body): ApiJson<BundleRequestBody>) -> Result<Json<BundleDryRunView>, ApiError> {
    dry_run_of(&st, &who, svc::Asked::Scope(name), &body).await
}

/// Check a bundle request without submitting it: the grants it would make,
/// the guardrail across them, the flow's decision.
#[utoipa::path(post, path = "/api/v1/bundles/{name}/requests/dry-run", params(("name" = String, Path)), request_body = BundleRequestBody,
    responses((status = 200, body = BundleDryRunView)))]
pub async fn dry_run(State(st): State<AppState>, Caller(who): Caller, ApiPath(name): ApiPath<String>, ApiJson(body): ApiJson<BundleRequestBody>) -> Result<Json<BundleDryRunView>, ApiError> {
    dry_run_of(&st, &who, svc::Asked::Bundle(name), &body).await
}

/// A dry run of a request of several grants: what each would be.
pub(super) async fn dry_run_of(st: &AppState, who: &sesame_core::User, asked: svc::Asked, body: &BundleRequestBody) -> Result<Json<BundleDryRunView>, ApiError> {
    let p = svc::plan(st, who, &asked, body, crate::clock::now()).await?;
    let mfa_first = st.policy().flows.iter().any(|f| f.name == p.plan.flow && f.requester_mfa);
    let status = if mfa_first { sesame_core::RequestStatus::PendingMfa } else { p.plan.status };
    Ok(Json(BundleDryRunView {
        status: status.to_string(),
        flow: p.plan.flow,
        approvers: p.plan.approvers,
        duration_secs: p.plan.duration.as_secs(),
        grants: p.parts.into_iter().map(|(g, _)| BundleGrantView { integration: g.integration, resource_type: g.resource_type, permission: g.permission, resources: g.resources }).collect(),
    }))
}

/// A bundle request and its grants.
#[utoipa::path(get, path = "/api/v1/bundle-requests/{id}", params(("id" = String, Path), super::requests::WaitQuery), responses((status = 200, body = BundleRequestView)))]
pub async fn show_request(State(st): State<AppState>, Caller(who): Caller, ApiPath(id): ApiPath<String>, ApiQuery(q): ApiQuery<super::requests::WaitQuery>) -> Result<Json<BundleRequestView>, ApiError> {
    let mut rows = svc::group(&st, &who, &id).await?;
    if let Some(w) = super::requests::wait_of(&q)? {
        rows = svc::wait_settled(&st, &id, w).await?;
    }
    Ok(Json(views::bundle_request(&id, &bundle_of(&rows), &rows)))
}

/// Create a bundle (admins): the configuration file's `[[bundles]]`
/// declaration as JSON; it must load with everything else.
#[utoipa::path(post, path = "/api/v1/bundles", request_body = Object, responses((status = 200, body = BundleView)))]
pub async fn create(State(st): State<AppState>, Admin(admin): Admin, ApiJson(body): ApiJson<serde_json::Value>) -> Result<Json<BundleView>, ApiError> {
    let name = body.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_owned();
    definitions::change(&st, &admin, Kind::Bundle, Change::Create, &name, Some(body)).await?;
    Ok(Json(views::bundle(&svc::find(&st, &name)?)))
}

/// Replace a bundle made through the API (admins).
#[utoipa::path(put, path = "/api/v1/bundles/{name}", params(("name" = String, Path)), request_body = Object, responses((status = 200, body = BundleView)))]
pub async fn update(State(st): State<AppState>, Admin(admin): Admin, ApiPath(name): ApiPath<String>, ApiJson(body): ApiJson<serde_json::Value>) -> Result<Json<BundleView>, ApiError> {
    definitions::change(&st, &admin, Kind::Bundle, Change::Update, &name, Some(body)).await?;
    Ok(Json(views::bundle(&svc::find(&st, &name)?)))
}

/// Delete a bundle made through the API (admins); refused while a flow
/// names it.
#[utoipa::path(delete, path = "/api/v1/bundles/{name}", params(("name" = String, Path)), responses((status = 200, body = Object)))]
pub async fn delete(State(st): State<AppState>, Admin(admin): Admin, ApiPath(name): ApiPath<String>) -> Result<Json<serde_json::Value>, ApiError> {
    definitions::change(&st, &admin, Kind::Bundle, Change::Delete, &name, None).await?;
    Ok(Json(serde_json::json!({ "deleted": name })))
}
