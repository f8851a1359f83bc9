use super::views;
use crate::auth::Caller;
use crate::error::{ApiError, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use sesame_proto::{AuditView, ErrorCode};
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Entries after this sequence number.
    pub after: Option<i64>,
    pub request_id: Option<String>,
    pub limit: Option<i64>,
}

/// The audit log, oldest first. Admins see everything; others the entries
/// of a request they can see.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), responses((status = 200, body = Vec<AuditView>)))]
pub async fn list(State(st): State<AppState>, Caller(who): Caller, ApiQuery(q): ApiQuery<AuditQuery>) -> Result<Json<Vec<AuditView>>, ApiError> {
    if !who.admin {
        let Some(id) = &q.request_id else {
            return Err(ApiError::new(ErrorCode::Forbidden, "only admins read the whole audit log: pass request_id of one of your requests"));
        };
        crate::requests::visible(&st, &who, id).await?;
    }
    let rows = st.store.list_audit(q.after.unwrap_or(0), q.request_id.as_deref(), q.limit.unwrap_or(1000).clamp(1, 10_000)).await?;
    Ok(Json(rows.iter().map(views::audit).collect()))
}
