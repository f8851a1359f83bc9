//! The connector endpoints. A connector authenticates with a token issued
//! for it (`sesame token issue --connector ID`).

use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use sesame_proto::connector::{ConnectorView, Poll, Register, RegisterReply, TaskResult, Tasks};
use sesame_proto::ErrorCode;
use std::time::Duration;

/// The connector a token belongs to.
pub struct ConnectorCaller(pub String);

impl FromRequestParts<AppState> for ConnectorCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let who = crate::auth::principal(parts, st).await?;
        let id = who
            .strip_prefix(crate::auth::CONNECTOR_TOKEN_PREFIX)
            .ok_or_else(|| ApiError::new(ErrorCode::Forbidden, "this is a user's token, not a connector's"))?;
        Ok(ConnectorCaller(id.to_owned()))
    }
}

fn same(caller: &ConnectorCaller, id: &str) -> Result<(), ApiError> {
    if caller.0 != id {
        return Err(ApiError::new(ErrorCode::Forbidden, format!("this token belongs to connector `{}`, not `{id}`", caller.0)));
    }
    Ok(())
}

fn hub_error(e: crate::gateway::hub::HubError) -> ApiError {
    ApiError::new(ErrorCode::InvalidState, e.to_string())
}

pub async fn register(State(st): State<AppState>, c: ConnectorCaller, ApiJson(r): ApiJson<Register>) -> Result<Json<RegisterReply>, ApiError> {
    same(&c, &r.connector_id)?;
    let (id, version) = (r.connector_id.clone(), r.version.clone());
    let reply = st.hub.register(r).map_err(hub_error)?;
    tracing::info!(connector = %id, version = %version, accepted = ?reply.accepted, refused = reply.refused.len(), "connector registered");
    // What it serves may be new: discover it now.
    for name in &reply.accepted {
        let (st, name) = (st.clone(), name.clone());
        tokio::spawn(async move {
            let _ = crate::discovery::sync_one(&st, &name).await;
        });
    }
    Ok(Json(reply))
}

pub async fn poll(State(st): State<AppState>, c: ConnectorCaller, ApiJson(p): ApiJson<Poll>) -> Result<Json<Tasks>, ApiError> {
    same(&c, &p.connector_id)?;
    let tasks = st.hub.poll(&p.connector_id, &p.instance_id, Duration::from_millis(p.wait_ms)).await.map_err(hub_error)?;
    Ok(Json(Tasks { tasks }))
}

pub async fn result(State(st): State<AppState>, c: ConnectorCaller, ApiJson(r): ApiJson<TaskResult>) -> Result<Json<serde_json::Value>, ApiError> {
    same(&c, &r.connector_id)?;
    if !st.hub.complete(&r.connector_id, &r.instance_id, &r.task_id, r.outcome) {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!("task `{}` is not held by instance `{}`: it was answered, abandoned, or handed to another instance", r.task_id, r.instance_id),
        ));
    }
    Ok(Json(serde_json::json!({"ok": true})))
}

/// Connectors and their instances (any signed-in user).
pub async fn list(State(st): State<AppState>, _c: crate::auth::Caller) -> Json<Vec<ConnectorView>> {
    Json(st.hub.views())
}
