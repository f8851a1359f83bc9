//! Discovery: each integration's status and inventory, kept in the store.

use crate::clock;
use crate::state::AppState;
use futures::future::FutureExt;
use sesame_store::{IntegrationStatus, StoredResource};

pub use crate::state::{Running, SyncError};

/// Discover `name` now, or join its discovery if one is running. It runs in
/// a task of its own (a caller going away does not stop it) and within
/// `worker.sync_timeout`.
pub async fn sync_one(st: &AppState, name: &str) -> Result<usize, SyncError> {
    let running = {
        let mut syncs = st.syncs.lock().unwrap_or_else(|p| p.into_inner());
        match syncs.get(name) {
            Some(r) => r.clone(),
            None => {
                let (st2, n) = (st.clone(), name.to_owned());
                let task = tokio::spawn(async move {
                    let limit = st2.settings.worker.sync_timeout;
                    let out = match tokio::time::timeout(limit, discover(&st2, &n)).await {
                        Ok(out) => out,
                        Err(_) => {
                            let msg = format!("discovery did not finish within {limit:?} (`worker.sync_timeout`)");
                            let _ = st2.store.set_integration_status(&n, IntegrationStatus::Error, Some(&msg)).await;
                            Err(SyncError(msg))
                        }
                    };
                    st2.syncs.lock().unwrap_or_else(|p| p.into_inner()).remove(&n);
                    out
                });
                let r: Running = async move { task.await.unwrap_or_else(|e| Err(SyncError(format!("discovery stopped: {e}")))) }.boxed().shared();
                syncs.insert(name.to_owned(), r.clone());
                r
            }
        }
    };
    running.await
}

async fn discover(st: &AppState, name: &str) -> Result<usize, SyncError> {
    let integ = st.integration(name).ok_or_else(|| SyncError(format!("integration `{name}` does not exist")))?;
    let outcome = async {
        let status = integ.get_status().await.map_err(|e| e.to_string())?;
        if !status.healthy {
            return Err(status.message);
        }
        let d = integ.list_resources().await.map_err(|e| e.to_string())?;
        let child_errors = adopt_children(st, name, integ.as_ref(), &d.children).await;
        let tags = integ.list_resources_tags().await.map_err(|e| e.to_string())?;
        let rows: Vec<StoredResource> = d
            .resources
            .into_iter()
            .map(|r| {
                let mut metadata = r.metadata;
                for (k, v) in tags.get(&r.id).into_iter().flatten() {
                    metadata.insert(crate::owners::tag_key(k), v.clone());
                }
                StoredResource { resource_type: r.resource_type, id: r.id, name: r.name, metadata }
            })
            .collect();
        st.store.replace_inventory(name, &rows, clock::now()).await.map_err(|e| e.to_string())?;
        if !child_errors.is_empty() {
            let msg = format!("{} sub-integration(s) not served: {}", child_errors.len(), child_errors.join("; "));
            st.store.set_integration_status(name, IntegrationStatus::Active, Some(&msg)).await.map_err(|e| e.to_string())?;
        }
        Ok(rows.len())
    }
    .await;
    if let Err(msg) = &outcome {
        tracing::warn!(integration = %name, error = %msg, "discovery failed");
        let _ = st.store.set_integration_status(name, IntegrationStatus::Error, Some(msg)).await;
    }
    outcome.map_err(SyncError)
}

/// The short name of a sub-integration reported by `parent`'s discovery:
/// only `parent/NAME` (one level, non-empty) is accepted; another parent's
/// child or a top-level name is refused.
pub fn child_short_name<'a>(parent: &str, child: &'a str) -> Option<&'a str> {
    child.strip_prefix(parent)?.strip_prefix('/').filter(|s| !s.is_empty() && !s.contains('/'))
}

/// Serve the sub-integrations a discovery found; one that cannot be built
/// is shown with its error (which names the tag to fix), and one that is
/// no longer found is no longer served.
async fn adopt_children(st: &AppState, parent: &str, integ: &dyn sesame_integrations::Integration, children: &[sesame_integrations::Child]) -> Vec<String> {
    let mut errors = Vec::new();
    let prefix = format!("{parent}/");
    let mut found = Vec::new();
    for c in children {
        // A sub-integration is always named under its parent: anything else
        // (another parent's child, a top-level name) is refused.
        let Some(short) = child_short_name(parent, &c.name) else {
            tracing::warn!(parent, child = %c.name, "a discovery reported a sub-integration outside its parent; ignored");
            errors.push(format!("sub-integration `{}` is not named under `{parent}/`: ignored", c.name));
            continue;
        };
        match (&c.error, integ.child(short)) {
            (None, Some(child)) => {
                st.children.write().unwrap_or_else(|p| p.into_inner()).insert(c.name.clone(), child);
                found.push(c.name.clone());
            }
            (error, _) => {
                let msg = error.clone().unwrap_or_else(|| "the sub-integration could not be built".into());
                tracing::warn!(integration = %c.name, error = %msg, "sub-integration not served");
                st.children.write().unwrap_or_else(|p| p.into_inner()).remove(&c.name);
                let _ = st.store.set_integration_status(&c.name, IntegrationStatus::Error, Some(&msg)).await;
                errors.push(msg);
            }
        }
    }
    let gone: Vec<String> = {
        let mut map = st.children.write().unwrap_or_else(|p| p.into_inner());
        let gone = map.keys().filter(|k| k.starts_with(&prefix) && !found.contains(k)).cloned().collect::<Vec<_>>();
        for g in &gone {
            map.remove(g);
        }
        gone
    };
    for g in gone {
        let _ = st.store.set_integration_status(&g, IntegrationStatus::Error, Some("the RDS instance is gone or no longer tagged for auto-discovery")).await;
    }
    errors
}

pub async fn run(st: AppState) {
    loop {
        let names: Vec<String> = st.integration_names();
        for n in names {
            let _ = sync_one(&st, &n).await;
        }
        tokio::time::sleep(st.settings.worker.sync_interval).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_parent_reports_only_its_own_children() {
        use super::child_short_name as short;
        assert_eq!(short("acct", "acct/orders-db"), Some("orders-db"));
        assert_eq!(short("acct", "prod/orders-db"), None, "another parent's child");
        assert_eq!(short("acct", "prod-pg"), None, "a top-level integration");
        assert_eq!(short("acct", "acct2/x"), None);
        assert_eq!(short("acct", "acct/"), None);
        assert_eq!(short("acct", "acct/a/b"), None);
    }
}
