//! The reconciler: anything on a target that no grant explains is revoked.

use crate::clock;
use crate::state::AppState;
use sesame_core::lifecycle::SYSTEM;
use sesame_core::{AuditAction, AuditDraft, Outcome};
use serde_json::json;
use std::collections::BTreeSet;

/// One pass over every integration. Returns the logins it removed.
pub async fn reconcile_once(st: &AppState) -> Vec<String> {
    let mut removed = Vec::new();
    // Configured integrations and the sub-integrations discovery found; one
    // that hangs is cut off after `worker.sync_timeout`, the others go on.
    for name in st.integration_names() {
        let limit = st.settings.worker.sync_timeout;
        match tokio::time::timeout(limit, reconcile_integration(st, &name)).await {
            Ok(mut r) => removed.append(&mut r),
            Err(_) => tracing::error!(integration = %name, "reconcile did not finish within {limit:?} (`worker.sync_timeout`); next pass retries"),
        }
    }
    removed
}

async fn reconcile_integration(st: &AppState, name: &str) -> Vec<String> {
    let mut removed = Vec::new();
    {
        let Some(integ) = st.integration(name) else { return removed };
        // Target first, store second: a login created after the store read
        // belongs to a grant that was recorded (Granting) before it existed.
        let on_target = match integ.list_managed_users().await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(integration = %name, error = %e, "reconciler cannot list logins");
                return removed;
            }
        };
        let explained: BTreeSet<String> = match st.store.usernames_holding_access(name).await {
            Ok(u) => u.into_iter().collect(),
            Err(e) => {
                tracing::error!(error = %e, "reconciler cannot read the store");
                return removed;
            }
        };
        for user in sesame_core::lifecycle::unexplained(&on_target, &explained) {
            let params = sesame_proto::ActionParams { username: user.clone(), ..Default::default() };
            let res = integ.revoke_access(&params).await;
            let (outcome, detail) = match &res {
                Ok(()) => (Outcome::Ok, json!({"integration": name, "username": user})),
                Err(e) => (Outcome::Error, json!({"integration": name, "username": user, "error": e.to_string()})),
            };
            tracing::warn!(integration = %name, username = %user, outcome = outcome.as_str(), "reconciler found a login no grant explains");
            if let Err(e) = st.store.append_audit(AuditDraft::new(SYSTEM, AuditAction::ReconcileRevoke, None, outcome, detail), clock::now()).await {
                tracing::error!(error = %e, "cannot audit a reconciler action");
            }
            if res.is_ok() {
                removed.push(user.clone());
            }
        }
    }
    removed
}

pub async fn run(st: AppState) {
    loop {
        reconcile_once(&st).await;
        crate::rotation::rotate_once(&st).await;
        tokio::time::sleep(st.settings.worker.reconcile_interval).await;
    }
}
