//! Integrations deleted while grants were live on them (`sesame apply
//! --prune --revoke-active`): they retire — served to revoke those grants,
//! refused for anything new — and each pass of the reconciler revokes what
//! is still live on them (retried until it succeeds) and deletes each once
//! nothing is.

use crate::clock;
use crate::definitions;
use crate::error::ApiError;
use crate::state::AppState;
use serde_json::json;
use sesame_core::{AuditAction, AuditDraft, Outcome, RequestStatus, User};
use sesame_store::Declared;

/// Requests that hold or may still get access through an integration (or
/// one of its discovered sub-integrations).
pub async fn live_on(st: &AppState, integration: &str) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    let child = format!("{integration}/");
    for status in RequestStatus::ALL.into_iter().filter(|s| !s.is_final()) {
        let filter = sesame_store::RequestFilter { status: Some(status), limit: Some(100_000), ..Default::default() };
        for r in st.store.list_requests(&filter).await? {
            if r.integration == integration || r.integration.starts_with(&child) {
                ids.push(r.id);
            }
        }
    }
    Ok(ids)
}

/// Integrations deleted with live grants: revoke what is live on them
/// (retried every pass until it succeeds), and delete each once nothing is
/// live. Returns the integrations deleted.
pub async fn end_retired(st: &AppState) -> Vec<String> {
    let system = User { email: sesame_core::lifecycle::SYSTEM.into(), admin: true, ..Default::default() };
    let mut deleted = Vec::new();
    for name in st.policy().retiring.clone() {
        let live = match live_on(st, &name).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(integration = %name, error = %e.message, "cannot read what is live on a retiring integration; next pass retries");
                continue;
            }
        };
        if live.is_empty() {
            let gone = [(
                Declared::DeleteRetired { kind: "integration".into(), name: name.clone() },
                AuditDraft::new(sesame_core::lifecycle::SYSTEM, AuditAction::IntegrationDelete, None, Outcome::Ok, json!({ "name": name, "why": "its grants are revoked" })),
            )];
            match st.store.apply_declared(&gone, clock::now()).await {
                Ok(true) => deleted.push(name),
                Ok(false) => {}
                Err(e) => tracing::warn!(integration = %name, error = %e, "cannot delete a retired integration; next pass retries"),
            }
            continue;
        }
        for id in live {
            let why = format!("integration `{name}` is being deleted (apply --revoke-active)");
            if let Err(e) = crate::requests::revoke(st, &system, &id, Some(why)).await {
                tracing::info!(request = %id, error = %e.message, "a grant on a retiring integration is not revoked yet; next pass retries");
            }
        }
    }
    if !deleted.is_empty() {
        if let Err(e) = definitions::refresh(st).await {
            tracing::warn!(error = %e, "cannot read what was made through the API; retrying");
        }
    }
    deleted
}

