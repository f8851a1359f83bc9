//! Prometheus text metrics (admin token required).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use sesame_core::RequestStatus;
use sesame_store::RequestFilter;
use std::fmt::Write;

pub async fn handler(State(st): State<AppState>, c: Caller) -> Result<String, ApiError> {
    c.require_admin()?;
    let mut out = String::new();
    let _ = writeln!(out, "# HELP sesame_requests Requests by status.\n# TYPE sesame_requests gauge");
    for s in [RequestStatus::Pending, RequestStatus::Granting, RequestStatus::Active, RequestStatus::Revoking] {
        let n = st.store.list_requests(&RequestFilter { status: Some(s), limit: Some(i64::MAX), ..Default::default() }).await?.len();
        let _ = writeln!(out, "sesame_requests{{status=\"{s}\"}} {n}");
    }
    let failing = st.store.failing_revocations().await?;
    let _ = writeln!(out, "# HELP sesame_revocations_failing Revocations whose last attempt failed and are being retried.\n# TYPE sesame_revocations_failing gauge");
    let _ = writeln!(out, "sesame_revocations_failing {}", failing.len());
    Ok(out)
}
