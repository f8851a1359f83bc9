use super::views;
use crate::auth::Caller;
use crate::error::{ApiError, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use sesame_proto::{AuditView, ErrorCode};
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries after this sequence number.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    pub request_id: Option<String>,
    /// At most this many entries (default 1000).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
}

/// The audit log, oldest first. Admins see everything; others the entries
/// of a request they can see.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), responses((status = 200, body = Vec<AuditView>)))]
pub async fn list(State(st): State<AppState>, Caller(who): Caller, ApiQuery(q): ApiQuery<AuditQuery>) -> Result<Json<Vec<AuditView>>, ApiError> {
    if !(who.admin || who.auditor) {
        let Some(id) = &q.request_id else {
            return Err(ApiError::new(ErrorCode::Forbidden, "only admins and auditors read the whole audit log: pass request_id of one of your requests"));
        };
        crate::requests::visible(&st, &who, id).await?;
    }
    if q.after.is_some_and(|a| a < 0) || q.limit.is_some_and(|l| !(1..=10_000).contains(&l)) {
        return Err(ApiError::new(ErrorCode::BadRequest, "`after` must be 0 or more and `limit` between 1 and 10000"));
    }
    let rows = st.store.list_audit(q.after.unwrap_or(0), q.request_id.as_deref(), q.limit.unwrap_or(1000)).await?;
    Ok(Json(rows.iter().map(views::audit).collect()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Entries after this sequence number.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// At most this many entries (default 1000).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
}

/// The audit log as stored, oldest first, with each entry's links in the
/// hash chain (admins): what `sesame audit export` writes and `sesame
/// audit verify` checks.
#[utoipa::path(get, path = "/api/v1/audit/export", params(ExportQuery), responses((status = 200, body = Vec<sesame_proto::audit::AuditRecord>)))]
pub async fn export(State(st): State<AppState>, _auditor: crate::auth::Auditor, ApiQuery(q): ApiQuery<ExportQuery>) -> Result<Json<Vec<sesame_proto::audit::AuditRecord>>, ApiError> {
    if q.after.is_some_and(|a| a < 0) || q.limit.is_some_and(|l| !(1..=10_000).contains(&l)) {
        return Err(ApiError::new(ErrorCode::BadRequest, "`after` must be 0 or more and `limit` between 1 and 10000"));
    }
    let rows = st.store.list_audit(q.after.unwrap_or(0), None, q.limit.unwrap_or(1000)).await?;
    Ok(Json(rows.into_iter().map(|r| sesame_proto::audit::AuditRecord { fields: r.fields, prev_hash: r.prev_hash, hash: r.hash }).collect()))
}
