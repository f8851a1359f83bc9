//! Discovery: each integration's status and inventory, kept in the store.

use crate::clock;
use crate::state::AppState;
use sesame_store::StoredResource;

pub async fn sync_one(st: &AppState, name: &str) -> Result<usize, String> {
    let integ = st.integration(name).ok_or_else(|| format!("integration `{name}` does not exist"))?;
    let outcome = async {
        let status = integ.get_status().await.map_err(|e| e.to_string())?;
        if !status.healthy {
            return Err(status.message);
        }
        let d = integ.list_resources().await.map_err(|e| e.to_string())?;
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
        Ok(rows.len())
    }
    .await;
    if let Err(msg) = &outcome {
        tracing::warn!(integration = %name, error = %msg, "discovery failed");
        let _ = st.store.set_integration_status(name, "Error", Some(msg)).await;
    }
    outcome
}

pub async fn run(st: AppState) {
    loop {
        let names: Vec<String> = st.integrations.keys().cloned().collect();
        for n in names {
            let _ = sync_one(&st, &n).await;
        }
        tokio::time::sleep(st.settings.worker.sync_interval).await;
    }
}
