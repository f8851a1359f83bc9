use super::views;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiJson};
use crate::requests as svc;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sesame_proto::{CreateRequest, ErrorCode, Reason, RequestView};
use sesame_store::RequestFilter;
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Wait this long (e.g. `30s`) for a granted request to become Active.
    pub wait: Option<String>,
}

pub(super) fn wait_of(q: &WaitQuery) -> Result<Option<Duration>, ApiError> {
    q.wait.as_deref().map(svc::parse_duration).transpose().map(|d| d.map(|d| d.min(Duration::from_secs(300))))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateQuery {
    /// Wait this long (e.g. `30s`) for a granted request to become Active.
    pub wait: Option<String>,
    /// Make the credentials with the grant and show them, once, in the
    /// answer (as `sesame access use` would), when the request is granted
    /// at once and becomes Active within `wait` (30 s unless given). For
    /// the requester's own access only.
    pub credentials: Option<bool>,
}

/// Ask for access.
#[utoipa::path(post, path = "/api/v1/requests", request_body = CreateRequest, params(CreateQuery),
    responses((status = 201, body = RequestView, headers(("Server-Timing" = String,
        description = "With credentials made with the grant: where the server's time went, in ms — `store` (the insert's commit and the commit that records the grant), `target` (the integration's grant)"))),
        (status = 422, body = sesame_proto::ErrorBody)))]
pub async fn create(
    State(st): State<AppState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<CreateQuery>,
    ApiJson(body): ApiJson<CreateRequest>,
) -> Result<(StatusCode, axum::http::HeaderMap, Json<RequestView>), ApiError> {
    tracing::debug!(caller = %who.email, "asked");
    let show = q.credentials.unwrap_or(false);
    let wait = wait_of(&WaitQuery { wait: q.wait })?.or(show.then_some(Duration::from_secs(30)));
    let body = svc::normalize(body)?;
    // Listening before the grant starts, so its change is never missed and
    // the row just stored need not be read again.
    let changes = wait.map(|_| st.changes.subscribe());
    let svc::Created { row: mut r, handover, stored } = svc::create_showing(&st, &who, &body, show).await?;
    let mut headers = axum::http::HeaderMap::new();
    let Some(w) = wait else { return Ok((StatusCode::CREATED, headers, Json(views::request(&r)))) };
    let until = tokio::time::Instant::now() + w;
    // Handed over once the request is Active (dropped otherwise): then the
    // row is the one stored, with its new status, and is not read again.
    let handed = match handover {
        Some(rx) => tokio::time::timeout_at(until, rx).await.ok().and_then(Result::ok),
        None => None,
    };
    if let Some(h) = &handed {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let timing = format!("store;dur={:.3}, target;dur={:.3}", ms(stored + h.rest), ms(h.target));
        if let Ok(v) = axum::http::HeaderValue::from_str(&timing) {
            headers.insert("server-timing", v);
        }
    }
    let credentials = handed.map(|h| h.credentials);
    tracing::debug!(request = %r.id, handed = credentials.is_some(), "answering");
    match (&credentials, changes) {
        (Some(_), _) => r.status = sesame_core::RequestStatus::Active,
        (None, Some(changes)) => r = svc::wait_settled_from(&st, r, changes, until.saturating_duration_since(tokio::time::Instant::now())).await?,
        (None, None) => {}
    }
    let mut view = views::request(&r);
    view.credentials = credentials.map(|c| crate::credentials::view(&st, &r, c));
    Ok((StatusCode::CREATED, headers, Json(view)))
}

/// Check a request without submitting it: the same validation, guardrails and
/// decision, nothing written.
#[utoipa::path(post, path = "/api/v1/requests/dry-run", request_body = CreateRequest,
    responses((status = 200, body = sesame_proto::DryRunView), (status = 422, body = sesame_proto::ErrorBody)))]
pub async fn dry_run(State(st): State<AppState>, Caller(who): Caller, ApiJson(body): ApiJson<CreateRequest>) -> Result<Json<sesame_proto::DryRunView>, ApiError> {
    let body = svc::normalize(body)?;
    let p = svc::plan(&st, &who, &body, crate::clock::now()).await?;
    // A flow with requester MFA waits for the requester's step-up first.
    let mfa_first = st.policy().flows.iter().any(|f| f.name == p.flow && f.requester_mfa);
    let status = if mfa_first { sesame_core::RequestStatus::PendingMfa } else { p.status };
    Ok(Json(sesame_proto::DryRunView { status: status.to_string(), flow: p.flow, approvers: p.approvers, duration_secs: p.duration.as_secs() }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `mine` (default), `to-approve`, or `all` (admins).
    #[param(pattern = "^(mine|to-approve|all)$")]
    pub scope: Option<String>,
    /// Only requests with this status.
    #[param(pattern = "^(Pending|PendingMFA|Granting|Active|Revoking|Revoked|Rejected|Failed|Expired)$")]
    pub status: Option<String>,
}

/// List requests.
#[utoipa::path(get, path = "/api/v1/requests", params(ListQuery), responses((status = 200, body = Vec<RequestView>)))]
pub async fn list(State(st): State<AppState>, Caller(who): Caller, ApiQuery(q): ApiQuery<ListQuery>) -> Result<Json<Vec<RequestView>>, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(|s| s.parse().map_err(|e: sesame_core::status::UnknownStatus| ApiError::new(ErrorCode::BadRequest, e.to_string())))
        .transpose()?;
    let scope = q.scope.as_deref().unwrap_or("mine");
    let mut filter = RequestFilter { status, ..Default::default() };
    match scope {
        "mine" => filter.requester = Some(who.email.clone()),
        "all" => {
            if !(who.admin || who.auditor) {
                return Err(ApiError::new(ErrorCode::Forbidden, "only admins and auditors can list all requests: use scope=mine or scope=to-approve"));
            }
        }
        // Pending requests, and Active ones whose extension waits.
        "to-approve" => filter.approver = Some(who.email.clone()),
        other => return Err(ApiError::new(ErrorCode::BadRequest, format!("unknown scope `{other}`: use mine, to-approve or all"))),
    }
    let rows = if scope == "to-approve" && filter.status.is_none() {
        // Read by status, so older waiting requests are never crowded out.
        let mut rows = st.store.list_requests(&RequestFilter { status: Some(sesame_core::RequestStatus::Pending), ..filter.clone() }).await?;
        rows.extend(st.store.list_requests(&RequestFilter { status: Some(sesame_core::RequestStatus::Active), ..filter }).await?);
        rows
    } else {
        st.store.list_requests(&filter).await?
    };
    let waits = |r: &&sesame_store::RequestRow| r.status == sesame_core::RequestStatus::Pending || (r.status == sesame_core::RequestStatus::Active && r.extension_asked.is_some());
    let rows = rows.iter().filter(|r| scope != "to-approve" || (waits(r) && r.approvers.iter().any(|a| a.eq_ignore_ascii_case(&who.email))));
    Ok(Json(rows.map(views::request).collect()))
}

/// One request.
#[utoipa::path(get, path = "/api/v1/requests/{id}", params(("id" = String, Path)), responses((status = 200, body = RequestView)))]
pub async fn show(State(st): State<AppState>, Caller(who): Caller, ApiPath(id): ApiPath<String>, ApiQuery(q): ApiQuery<WaitQuery>) -> Result<Json<RequestView>, ApiError> {
    let mut r = svc::visible(&st, &who, &id).await?;
    if let Some(w) = wait_of(&q)? {
        r = svc::wait_settled(&st, &r.id, w).await?;
    }
    Ok(Json(views::request(&r)))
}

/// Approve a pending request (never your own).
#[utoipa::path(post, path = "/api/v1/requests/{id}/approve", params(("id" = String, Path)), request_body = Reason, responses((status = 200, body = RequestView)))]
pub async fn approve(State(st): State<AppState>, Caller(who): Caller, ApiPath(id): ApiPath<String>, body: axum::body::Bytes) -> Result<Json<RequestView>, ApiError> {
    let b = body_of(&body)?;
    Ok(Json(views::request(&svc::decide_pending(&st, &who, &id, true, b.reason, b.mfa_code.as_deref()).await?)))
}

/// Reject a pending request.
#[utoipa::path(post, path = "/api/v1/requests/{id}/reject", params(("id" = String, Path)), request_body = Reason, responses((status = 200, body = RequestView)))]
pub async fn reject(State(st): State<AppState>, Caller(who): Caller, ApiPath(id): ApiPath<String>, body: axum::body::Bytes) -> Result<Json<RequestView>, ApiError> {
    let reason = reason_of(&body)?;
    Ok(Json(views::request(&svc::decide_pending(&st, &who, &id, false, reason, None).await?)))
}

/// Revoke access now (or withdraw a pending request).
#[utoipa::path(post, path = "/api/v1/requests/{id}/revoke", params(("id" = String, Path), WaitQuery), request_body = Reason, responses((status = 200, body = RequestView)))]
pub async fn revoke(State(st): State<AppState>, Caller(who): Caller, ApiPath(id): ApiPath<String>, ApiQuery(q): ApiQuery<WaitQuery>, body: axum::body::Bytes) -> Result<Json<RequestView>, ApiError> {
    let reason = reason_of(&body)?;
    let mut r = svc::revoke(&st, &who, &id, reason).await?;
    if let Some(w) = wait_of(&q)? {
        r = svc::wait_settled(&st, &r.id, w).await?;
    }
    Ok(Json(views::request(&r)))
}

/// An optional `{"reason": ..., "mfa_code": ...}` body.
fn body_of(body: &[u8]) -> Result<Reason, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Reason::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("malformed JSON body: {e}: send {{\"reason\": \"...\"}} or nothing")))
}

fn reason_of(body: &[u8]) -> Result<Option<String>, ApiError> {
    Ok(body_of(body)?.reason)
}

/// Extend Active access within its flow's limits (`max_extensions`,
/// `extension_duration_in_min`): the deadline moves by `duration`.
#[utoipa::path(post, path = "/api/v1/requests/{id}/extend", params(("id" = String, Path)), request_body = sesame_proto::ExtendRequest, responses((status = 200, body = RequestView)))]
pub async fn extend(State(st): State<AppState>, Caller(who): Caller, ApiPath(id): ApiPath<String>, ApiJson(b): ApiJson<sesame_proto::ExtendRequest>) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(views::request(&svc::extend(&st, &who, &id, &b.duration, b.reason).await?)))
}
