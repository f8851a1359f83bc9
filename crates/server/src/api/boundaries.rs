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
use sesame_core::{AuditAction, AuditDraft, Outcome};

fn integration(st: &AppState, name: &str) -> Result<std::sync::Arc<dyn sesame_integrations::Integration>, ApiError> {
    st.integration(name).ok_or_else(|| ApiError::new(ErrorCode::UnknownIntegration, format!("integration `{name}` does not exist: see `sesame inventory integrations`")))
}

fn failed(e: IntegrationError) -> ApiError {
    match e {
        // The principal, the boundary or the integration type does not fit: refused as asked.
        IntegrationError::Invalid(m) => ApiError::new(ErrorCode::UnknownResource, m),
        other => ApiError::new(ErrorCode::IntegrationError, other.to_string()),
    }
}

async fn audited(st: &AppState, who: &str, action: AuditAction, detail: serde_json::Value, r: Result<(), IntegrationError>) -> Result<(), ApiError> {
    let outcome = if r.is_ok() { Outcome::Ok } else { Outcome::Error };
    let mut detail = detail;
    if let Err(e) = &r {
        detail["error"] = json!(e.to_string());
    }
    st.store.append_audit(AuditDraft::new(who, action, None, outcome, detail), clock::now()).await?;
    r.map_err(failed)
}

fn view(b: &sesame_store::BoundaryRow) -> Restriction {
    Restriction {
        principal_type: b.principal_type.clone(),
        name: b.name.clone(),
        arn: b.arn.clone(),
        boundary_arn: b.boundary_arn.clone(),
        previous_boundary_arn: b.previous_arn.clone(),
    }
}

async fn restrictions(st: &AppState, name: &str) -> Result<Json<Vec<Restriction>>, ApiError> {
    Ok(Json(st.store.boundaries(name).await?.iter().map(view).collect()))
}

/// Principals Sesame restricted with a permission boundary (from Sesame's store).
#[utoipa::path(get, path = "/api/v1/integrations/{name}/boundaries", params(("name" = String, Path)), responses((status = 200, body = Vec<Restriction>)))]
pub async fn list(State(st): State<AppState>, _admin: Admin, ApiPath(name): ApiPath<String>) -> Result<Json<Vec<Restriction>>, ApiError> {
    integration(&st, &name)?;
    restrictions(&st, &name).await
}

/// Put a permission boundary on an over-privileged standing role or user.
/// The boundary it had is recorded in Sesame's store first (the first time
/// only), so lifting restores exactly that.
#[utoipa::path(post, path = "/api/v1/integrations/{name}/boundaries", params(("name" = String, Path)), request_body = RestrictRequest, responses((status = 200, body = Vec<Restriction>)))]
pub async fn put(State(st): State<AppState>, Admin(admin): Admin, ApiPath(name): ApiPath<String>, ApiJson(b): ApiJson<RestrictRequest>) -> Result<Json<Vec<Restriction>>, ApiError> {
    let integ = integration(&st, &name)?;
    let detail = json!({"integration": name, "principal_type": b.principal_type, "name": b.name, "boundary_arn": b.boundary_arn});
    let (arn, current) = match integ.boundary_of(&b.principal_type, &b.name).await {
        Ok(x) => x,
        Err(e) => {
            // Audited as a failed put, and refused with its stable code.
            audited(&st, &admin.email, AuditAction::BoundaryPut, detail, Err(e)).await?;
            return restrictions(&st, &name).await;
        }
    };
    let earlier = st.store.boundary(&name, &b.principal_type, &b.name).await?;
    let previous = match &earlier {
        Some(row) => row.previous_arn.clone(),
        None => current,
    };
    let row = sesame_store::BoundaryRow {
        integration: name.clone(),
        principal_type: b.principal_type.clone(),
        name: b.name.clone(),
        arn,
        boundary_arn: b.boundary_arn.clone(),
        previous_arn: previous.clone(),
        put_by: admin.email.clone(),
        put_at: clock::now(),
    };
    st.store.record_boundary(&row).await?;
    let r = integ.set_boundary(&b.principal_type, &b.name, Some(&b.boundary_arn)).await;
    if r.is_err() && earlier.is_none() {
        st.store.forget_boundary(&name, &b.principal_type, &b.name, None, clock::now()).await?;
    }
    let mut detail = detail;
    detail["previous_boundary_arn"] = json!(previous);
    audited(&st, &admin.email, AuditAction::BoundaryPut, detail, r).await?;
    restrictions(&st, &name).await
}

/// Lift a boundary Sesame put; the boundary recorded before it comes back.
#[utoipa::path(post, path = "/api/v1/integrations/{name}/boundaries/lift", params(("name" = String, Path)), request_body = LiftRequest, responses((status = 200, body = Vec<Restriction>)))]
pub async fn lift(State(st): State<AppState>, Admin(admin): Admin, ApiPath(name): ApiPath<String>, ApiJson(b): ApiJson<LiftRequest>) -> Result<Json<Vec<Restriction>>, ApiError> {
    let integ = integration(&st, &name)?;
    let detail = json!({"integration": name, "principal_type": b.principal_type, "name": b.name});
    let Some(row) = st.store.boundary(&name, &b.principal_type, &b.name).await? else {
        let e = IntegrationError::Invalid(format!("Sesame did not restrict `{}`: there is nothing to lift", b.name));
        audited(&st, &admin.email, AuditAction::BoundaryLift, detail, Err(e)).await?;
        return restrictions(&st, &name).await;
    };
    let r = integ.set_boundary(&b.principal_type, &b.name, row.previous_arn.as_deref()).await;
    let mut detail = detail;
    detail["restored_boundary_arn"] = json!(row.previous_arn);
    if r.is_ok() {
        let audit = AuditDraft::new(&admin.email, AuditAction::BoundaryLift, None, Outcome::Ok, detail);
        st.store.forget_boundary(&name, &b.principal_type, &b.name, Some(audit), clock::now()).await?;
        return restrictions(&st, &name).await;
    }
    audited(&st, &admin.email, AuditAction::BoundaryLift, detail, r).await?;
    restrictions(&st, &name).await
}
