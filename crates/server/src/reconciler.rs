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

/// Access held or awaited by someone the directory no longer has —
/// deactivated or deleted in the identity provider, or removed from the
/// file — is ended: the durable backstop of SCIM's deactivation (a grant
/// still being made then, or a revoke that failed, is caught here). Skipped
/// until the pushed people have been read, so a store hiccup at start never
/// reads as everybody leaving. Returns the requests it ended.
pub async fn end_departed(st: &AppState) -> Vec<String> {
    use sesame_core::RequestStatus as S;
    let people = st.people();
    let mut ended = Vec::new();
    if people.stamp.is_none() {
        return ended;
    }
    let system = sesame_core::User { email: SYSTEM.into(), admin: true, ..Default::default() };
    for status in [S::Active, S::Pending, S::PendingMfa] {
        let filter = sesame_store::RequestFilter { status: Some(status), limit: Some(100_000), ..Default::default() };
        let rows = match st.store.list_requests(&filter).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the requests of people who left; next pass retries");
                return ended;
            }
        };
        let gone = |e: &str| people.directory.user(e).is_none();
        for r in rows.into_iter().filter(|r| gone(&r.grantee) || (status != S::Active && gone(&r.requester))) {
            match crate::requests::revoke(st, &system, &r.id, Some("the person is no longer in the directory (deactivated in the identity provider, deleted, or removed from the file)".into())).await {
                Ok(_) => ended.push(r.id),
                Err(e) => tracing::warn!(request = %r.id, error = %e.message, "cannot end the access of someone who left; next pass retries"),
            }
        }
    }
    ended
}

pub async fn run(st: AppState) {
    loop {
        reconcile_once(&st).await;
        end_departed(&st).await;
        crate::retiring::end_retired(&st).await;
        crate::rotation::rotate_once(&st).await;
        tokio::time::sleep(st.settings.worker.reconcile_interval).await;
    }
}
