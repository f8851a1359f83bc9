//! Configuration as code over the API: `sesame apply` and `sesame export`.

use crate::auth::Admin;
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use sesame_proto::{ApplyBody, ApplyPlan, Declarations, IntegrationTypeView};

/// Bring the access flows, bundles and access scopes made through the API
/// to match a declaration (admins): creates, updates (with the fields that
/// change) and, with `prune`, deletes, in one transaction — or, with
/// `dry_run`, only the plan. The whole result must load with the
/// configuration file's; the file's own definitions are changed in the file.
#[utoipa::path(post, path = "/api/v1/apply", request_body = ApplyBody, responses((status = 200, body = ApplyPlan)))]
pub async fn apply(State(st): State<AppState>, Admin(admin): Admin, ApiJson(b): ApiJson<ApplyBody>) -> Result<Json<ApplyPlan>, ApiError> {
    Ok(Json(crate::declared::apply(&st, &admin, b).await?))
}

/// What the API made, as one declaration (admins): what `sesame export`
/// writes and `sesame apply` reads back unchanged.
#[utoipa::path(get, path = "/api/v1/declarations", responses((status = 200, body = Declarations)))]
pub async fn export(State(st): State<AppState>, _admin: Admin) -> Result<Json<Declarations>, ApiError> {
    Ok(Json(crate::declared::current(&st).await?))
}

/// Every integration type's configuration as JSON Schema: fields, types,
/// required ones, defaults, descriptions, and which values are secret
/// references (`x-sesame-secret`) — what forms and `apply` are built from.
#[utoipa::path(get, path = "/api/v1/integration-types", responses((status = 200, body = Vec<IntegrationTypeView>)))]
pub async fn integration_types(State(st): State<AppState>, _c: crate::auth::Caller) -> Json<Vec<IntegrationTypeView>> {
    Json(st.integration_types.as_ref().clone())
}
