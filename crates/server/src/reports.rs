//! Review Access: every grant that reached its target — who had what,
//! when, why, and who approved it — filtered by person, integration,
//! resource and time. The API and the portal both read it here.

use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::state::AppState;
use sesame_core::Timestamp;
use sesame_proto::{AccessReportRow, ErrorCode};

/// What to keep; times are RFC 3339 or a date (`2026-11-30`).
#[derive(Debug, Clone, Default)]
pub struct AccessFilter {
    pub user: Option<String>,
    pub integration: Option<String>,
    pub resource: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

fn time(what: &str, v: &str) -> Result<Timestamp, ApiError> {
    let parsed = chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp_millis())
        .or_else(|_| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis()));
    parsed.map(Timestamp).map_err(|_| ApiError::new(ErrorCode::BadRequest, format!("`{what}` `{v}` is not a time: write RFC 3339 (2026-11-30T09:00:00Z) or a date (2026-11-30)")))
}

/// The grants kept by `q`, oldest first.
pub async fn access(st: &AppState, q: &AccessFilter) -> Result<Vec<AccessReportRow>, ApiError> {
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
    Ok(rows)
}
