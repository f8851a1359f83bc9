//! Access scopes: named AQL queries over the inventory. Anyone signed in
//! reads them and sees what they select; admins create, change and delete
//! them, each change audited with the query it set.

use crate::auth::{Admin, Caller};
use crate::clock::{self, rfc3339};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::json;
use sesame_core::{AuditAction, AuditDraft, Outcome};
use sesame_proto::{AccessScopeQuery, AccessScopeView, ErrorCode, NewAccessScope, ScopeUnitsView};
use sesame_store::ScopeRow;

fn view(r: ScopeRow) -> AccessScopeView {
    AccessScopeView { name: r.name, query: r.query, created_by: r.created_by, created_at: rfc3339(r.created_at), updated_at: rfc3339(r.updated_at) }
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("there is no access scope `{name}`: see `sesame scopes list`"))
}

use crate::scopes::{check_name, parse_query as parse};

async fn load(st: &AppState, name: &str) -> Result<ScopeRow, ApiError> {
    st.store.scope(name).await?.ok_or_else(|| not_found(name))
}

/// Access scopes, by name.
#[utoipa::path(get, path = "/api/v1/access-scopes", responses((status = 200, body = Vec<AccessScopeView>)))]
pub async fn list(State(st): State<AppState>, _c: Caller) -> Result<Json<Vec<AccessScopeView>>, ApiError> {
    Ok(Json(st.store.scopes().await?.into_iter().map(view).collect()))
}

/// One access scope.
#[utoipa::path(get, path = "/api/v1/access-scopes/{name}", params(("name" = String, Path)), responses((status = 200, body = AccessScopeView)))]
pub async fn show(State(st): State<AppState>, _c: Caller, ApiPath(name): ApiPath<String>) -> Result<Json<AccessScopeView>, ApiError> {
    Ok(Json(view(load(&st, &name).await?)))
}

/// Create an access scope (admins). The query must parse: an error names
/// the line and column. It is kept as written.
#[utoipa::path(post, path = "/api/v1/access-scopes", request_body = NewAccessScope, responses((status = 200, body = AccessScopeView)))]
pub async fn create(State(st): State<AppState>, Admin(admin): Admin, ApiJson(b): ApiJson<NewAccessScope>) -> Result<Json<AccessScopeView>, ApiError> {
    check_name(&b.name)?;
    parse(&b.query)?;
    let now = clock::now();
    let row = ScopeRow { name: b.name.clone(), query: b.query.clone(), created_by: admin.email.clone(), created_at: now, updated_at: now };
    let audit = AuditDraft::new(&admin.email, AuditAction::ScopeCreate, None, Outcome::Ok, json!({"scope": b.name, "query": b.query}));
    if !st.store.create_scope(&row, audit).await? {
        return Err(ApiError::new(ErrorCode::AlreadyExists, format!("an access scope named `{}` exists: change it with `sesame scopes update`, or choose another name", b.name)));
    }
    Ok(Json(view(row)))
}

/// Change an access scope's query (admins).
#[utoipa::path(put, path = "/api/v1/access-scopes/{name}", params(("name" = String, Path)), request_body = AccessScopeQuery, responses((status = 200, body = AccessScopeView)))]
pub async fn update(State(st): State<AppState>, Admin(admin): Admin, ApiPath(name): ApiPath<String>, ApiJson(b): ApiJson<AccessScopeQuery>) -> Result<Json<AccessScopeView>, ApiError> {
    parse(&b.query)?;
    let before = load(&st, &name).await?;
    let audit = AuditDraft::new(&admin.email, AuditAction::ScopeUpdate, None, Outcome::Ok, json!({"scope": name, "query": b.query, "previous_query": before.query}));
    if !st.store.update_scope(&name, &b.query, audit, clock::now()).await? {
        return Err(not_found(&name));
    }
    Ok(Json(view(load(&st, &name).await?)))
}

/// Delete an access scope (admins); answers with what was deleted.
#[utoipa::path(delete, path = "/api/v1/access-scopes/{name}", params(("name" = String, Path)), responses((status = 200, body = AccessScopeView)))]
pub async fn delete(State(st): State<AppState>, Admin(admin): Admin, ApiPath(name): ApiPath<String>) -> Result<Json<AccessScopeView>, ApiError> {
    let before = load(&st, &name).await?;
    let audit = AuditDraft::new(&admin.email, AuditAction::ScopeDelete, None, Outcome::Ok, json!({"scope": name, "query": before.query}));
    if !st.store.delete_scope(&name, audit, clock::now()).await? {
        return Err(not_found(&name));
    }
    Ok(Json(view(before)))
}

/// What an access scope selects from the inventory now: one unit per
/// resource and permission.
#[utoipa::path(get, path = "/api/v1/access-scopes/{name}/units", params(("name" = String, Path)), responses((status = 200, body = ScopeUnitsView)))]
pub async fn units(State(st): State<AppState>, _c: Caller, ApiPath(name): ApiPath<String>) -> Result<Json<ScopeUnitsView>, ApiError> {
    let row = load(&st, &name).await?;
    let q = parse(&row.query)?;
    Ok(Json(ScopeUnitsView { units: crate::scopes::units(&st, &q).await?, scope: row.name, query: row.query }))
}

/// What a query would select, without saving it.
#[utoipa::path(post, path = "/api/v1/access-scopes/preview", request_body = AccessScopeQuery, responses((status = 200, body = ScopeUnitsView)))]
pub async fn preview(State(st): State<AppState>, _c: Caller, ApiJson(b): ApiJson<AccessScopeQuery>) -> Result<Json<ScopeUnitsView>, ApiError> {
    let q = parse(&b.query)?;
    Ok(Json(ScopeUnitsView { units: crate::scopes::units(&st, &q).await?, scope: String::new(), query: b.query }))
}
