use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use sesame_proto::{ErrorCode, IntegrationView, PermissionsView, ResourceInfo, ResourcesView};
use serde::Deserialize;

fn unknown(st: &AppState, name: &str) -> ApiError {
    let known = st.integration_names();
    ApiError::new(ErrorCode::UnknownIntegration, format!("integration `{name}` does not exist: known integrations are `{}`", known.join("`, `")))
}

async fn view(st: &AppState, name: &str) -> Result<IntegrationView, ApiError> {
    let offer = st.integration(name).ok_or_else(|| unknown(st, name))?.descriptor();
    let state = st.store.integration_state(name).await?;
    let resources = st.store.list_inventory(name, None).await?.len() as i64;
    Ok(IntegrationView {
        name: name.to_owned(),
        kind: offer.kind.as_str().to_owned(),
        status: state.as_ref().map(|s| s.status.as_str()).unwrap_or("Initializing").to_owned(),
        status_message: state.as_ref().and_then(|s| s.message.clone()),
        resource_types: offer.type_names(),
        resources,
        last_sync: state.and_then(|s| s.last_sync).map(rfc3339),
    })
}

/// Integrations and their status.
#[utoipa::path(get, path = "/api/v1/integrations", responses((status = 200, body = Vec<IntegrationView>)))]
pub async fn integrations(State(st): State<AppState>, _c: Caller) -> Result<Json<Vec<IntegrationView>>, ApiError> {
    let mut out = Vec::new();
    for name in st.integration_names() {
        out.push(view(&st, &name).await?);
    }
    Ok(Json(out))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TypeQuery {
    /// Only this resource type (one the integration offers).
    #[param(min_length = 1)]
    pub resource_type: Option<String>,
}

impl TypeQuery {
    /// The type asked for; an empty one is malformed, not "all".
    fn wanted(&self) -> Result<Option<&str>, ApiError> {
        match self.resource_type.as_deref() {
            Some("") => Err(ApiError::new(ErrorCode::BadRequest, "`resource_type` is empty: name a type, or leave the parameter out for all")),
            t => Ok(t),
        }
    }
}

/// Discovered resources of an integration.
#[utoipa::path(get, path = "/api/v1/integrations/{name}/resources", params(("name" = String, Path), TypeQuery), responses((status = 200, body = ResourcesView)))]
pub async fn resources(State(st): State<AppState>, _c: Caller, ApiPath(name): ApiPath<String>, ApiQuery(q): ApiQuery<TypeQuery>) -> Result<Json<ResourcesView>, ApiError> {
    st.integration(&name).ok_or_else(|| unknown(&st, &name))?;
    let rows = st.store.list_inventory(&name, q.wanted()?).await?;
    let resources = rows
        .into_iter()
        .map(|r| ResourceInfo { id: r.id, name: r.name, resource_type: r.resource_type, metadata: r.metadata })
        .collect();
    Ok(Json(ResourcesView { integration: name, resources }))
}

/// Permissions per resource type.
#[utoipa::path(get, path = "/api/v1/integrations/{name}/permissions", params(("name" = String, Path), TypeQuery), responses((status = 200, body = Vec<PermissionsView>)))]
pub async fn permissions(State(st): State<AppState>, _c: Caller, ApiPath(name): ApiPath<String>, ApiQuery(q): ApiQuery<TypeQuery>) -> Result<Json<Vec<PermissionsView>>, ApiError> {
    let offer = st.integration(&name).ok_or_else(|| unknown(&st, &name))?.descriptor();
    if let Some(t) = q.wanted()? {
        if !offer.offers(t) {
            let types = offer.type_names();
            return Err(ApiError::new(ErrorCode::UnknownResourceType, format!("`{name}` has no resource type `{t}`: use one of `{}`", types.join("`, `"))));
        }
    }
    Ok(Json(
        offer
            .resource_types
            .iter()
            .filter(|t| q.resource_type.as_ref().is_none_or(|w| *w == t.name))
            .map(|t| PermissionsView { permissions: t.permissions.clone(), resource_type: t.name.clone() })
            .collect(),
    ))
}

/// Discover the integration's resources now (admins).
#[utoipa::path(post, path = "/api/v1/integrations/{name}/sync", params(("name" = String, Path)), responses((status = 200, body = IntegrationView)))]
pub async fn sync(State(st): State<AppState>, c: Caller, ApiPath(name): ApiPath<String>) -> Result<Json<IntegrationView>, ApiError> {
    c.require_admin()?;
    st.integration(&name).ok_or_else(|| unknown(&st, &name))?;
    crate::discovery::sync_one(&st, &name)
        .await
        .map_err(|m| ApiError::new(ErrorCode::IntegrationError, format!("discovery of `{name}` failed: {m}")))?;
    Ok(Json(view(&st, &name).await?))
}
