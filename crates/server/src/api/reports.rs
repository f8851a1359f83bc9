//! Review Access (admins): every grant that reached its target, filtered by
//! person, integration, resource and time.

use crate::auth::Auditor;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use sesame_core::Timestamp;
use sesame_proto::{AccessReportRow, ErrorCode};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessQuery {
    /// Only this person's access (their e-mail).
    pub user: Option<String>,
    pub integration: Option<String>,
    /// Only access that included this resource id.
    pub resource: Option<String>,
    /// Only access held at or after this time (RFC 3339; a date `2026-11-30` is taken too).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Only access granted before this time.
    #[param(format = DateTime)]
    pub until: Option<String>,
}

fn time(what: &str, v: &str) -> Result<Timestamp, ApiError> {
    let parsed = chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp_millis())
        .or_else(|_| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis()));
    parsed.map(Timestamp).map_err(|_| ApiError::new(ErrorCode::BadRequest, format!("`{what}` `{v}` is not a time: write RFC 3339 (2026-11-30T09:00:00Z) or a date (2026-11-30)")))
}

/// Who had what, when, why, and who approved it, oldest grant first.
#[utoipa::path(get, path = "/api/v1/reports/access", params(AccessQuery), responses((status = 200, body = Vec<AccessReportRow>)))]
pub async fn access(State(st): State<AppState>, _auditor: Auditor, ApiQuery(q): ApiQuery<AccessQuery>) -> Result<Json<Vec<AccessReportRow>>, ApiError> {
    let since = q.since.as_deref().map(|v| time("since", v)).transpose()?;
    let until = q.until.as_deref().map(|v| time("until", v)).transpose()?;
    let held = st.store.access_held(q.user.as_deref(), q.integration.as_deref()).await?;
    let rows = held
        .into_iter()
        .filter(|h| q.resource.as_ref().is_none_or(|r| h.request.resources.contains(r)))
        .filter(|h| until.is_none_or(|u| h.granted_at < u))
        .filter(|h| since.is_none_or(|s| h.ended_at.is_none_or(|e| e >= s)))
        .map(|h| {
            let r = h.request;
            // Every approval of a part, and the one that decided.
            let mut approved_by = r.approvals;
            if let Some(d) = r.decided_by.filter(|d| !approved_by.iter().any(|a| a.eq_ignore_ascii_case(d))) {
                approved_by.push(d);
            }
            AccessReportRow {
                request_id: r.id,
                user: r.grantee,
                integration: r.integration,
                resource_type: r.resource_type,
                resources: r.resources,
                permission: r.permission,
                flow: r.flow,
                justification: r.justification,
                approved_by,
                approval_reason: r.decision_reason,
                granted_at: rfc3339(h.granted_at),
                ended_at: h.ended_at.map(rfc3339),
                status: r.status.to_string(),
            }
        })
        .collect();
    Ok(Json(rows))
}
