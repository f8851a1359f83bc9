//! Review Access (admins): every grant that reached its target, filtered by
//! person, integration, resource and time.

use crate::auth::Auditor;
use crate::error::{ApiError, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use sesame_proto::AccessReportRow;

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

/// Who had what, when, why, and who approved it, oldest grant first.
#[utoipa::path(get, path = "/api/v1/reports/access", params(AccessQuery), responses((status = 200, body = Vec<AccessReportRow>)))]
pub async fn access(State(st): State<AppState>, _auditor: Auditor, ApiQuery(q): ApiQuery<AccessQuery>) -> Result<Json<Vec<AccessReportRow>>, ApiError> {
    let f = crate::reports::AccessFilter { user: q.user, integration: q.integration, resource: q.resource, since: q.since, until: q.until };
    Ok(Json(crate::reports::access(&st, &f).await?))
}
