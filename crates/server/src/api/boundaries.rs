//! Permission boundaries on over-privileged standing principals (admins):
//! put, list, lift. Every change is audited, whether it worked or not.

use crate::auth::Admin;
use crate::clock;
use crate::error::{ApiError, ApiPath, ApiJson};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::json;
use sesame_integrations::IntegrationError;
use sesame_proto::{ErrorCode, LiftRequest, Restriction, RestrictRequest};
use sesame_store::AuditDraft;

fn integration(st: &AppState, name: &str) -> Result<std::sync::Arc<dyn sesame_integrations::Integration>, ApiError> {
    st.integration(name).ok_or_else(|| ApiError::new(ErrorCode::UnknownIntegration, format!("integration `{name}` does not exist: see `sesame inventory integrations`")))
}

fn failed(e: IntegrationError) -> ApiError {
    match e {
        IntegrationError::Invalid(m) => ApiError::new(ErrorCode::BadRequest, m),
        other => ApiError::new(ErrorCode::IntegrationError, other.to_string()),
    }
}

async fn audited(st: &AppState, who: &str, action: &str, detail: serde_json::Value, r: Result<(), IntegrationError>) -> Result<(), ApiError> {
    let outcome = if r.is_ok() { "ok".to_owned() } else { "failed".to_owned() };
    let mut detail = detail;
    if let Err(e) = &r {
        detail["error"] = json!(e.to_string());
    }
    st.store.append_audit(AuditDraft::new(who, action, None, &outcome, detail), clock::now()).await?;
    r.map_err(failed)
}

/// Principals Sesame restricted with a permission boundary.
#[utoipa::path(get, path = "/api/v1/integrations/{name}/boundaries", params(("name" = String, Path)), responses((status = 200, body = Vec<Restriction>)))]
pub async fn list(State(st): State<AppState>, _admin: Admin, ApiPath(name): ApiPath<String>) -> Result<Json<Vec<Restriction>>, ApiError> {
    Ok(Json(integration(&st, &name)?.list_boundaries().await.map_err(failed)?))
}

/// Put a permission boundary on an over-privileged standing role or user.
#[utoipa::path(post, path = "/api/v1/integrations/{name}/boundaries", params(("name" = String, Path)), request_body = RestrictRequest, responses((status = 200, body = Vec<Restriction>)))]
pub async fn put(State(st): State<AppState>, Admin(admin): Admin, ApiPath(name): ApiPath<String>, ApiJson(b): ApiJson<RestrictRequest>) -> Result<Json<Vec<Restriction>>, ApiError> {
    let integ = integration(&st, &name)?;
    let r = integ.put_boundary(&b.principal_type, &b.name, &b.boundary_arn).await;
    let detail = json!({"integration": name, "principal_type": b.principal_type, "name": b.name, "boundary_arn": b.boundary_arn});
    audited(&st, &admin.email, "boundary.put", detail, r).await?;
    Ok(Json(integ.list_boundaries().await.map_err(failed)?))
}

/// Lift a boundary Sesame put; the previous one (if any) comes back.
#[utoipa::path(post, path = "/api/v1/integrations/{name}/boundaries/lift", params(("name" = String, Path)), request_body = LiftRequest, responses((status = 200, body = Vec<Restriction>)))]
pub async fn lift(State(st): State<AppState>, Admin(admin): Admin, ApiPath(name): ApiPath<String>, ApiJson(b): ApiJson<LiftRequest>) -> Result<Json<Vec<Restriction>>, ApiError> {
    let integ = integration(&st, &name)?;
    let r = integ.lift_boundary(&b.principal_type, &b.name).await;
    let detail = json!({"integration": name, "principal_type": b.principal_type, "name": b.name});
    audited(&st, &admin.email, "boundary.lift", detail, r).await?;
    Ok(Json(integ.list_boundaries().await.map_err(failed)?))
}
