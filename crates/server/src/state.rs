//! What every handler and loop shares.

use crate::config::Settings;
use crate::connectors::Hub;
use sesame_integrations::Integration;
use sesame_store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{broadcast, Notify};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub integrations: Arc<BTreeMap<String, Arc<dyn Integration>>>,
    /// Wakes the worker when a job is due now.
    pub wake_worker: Arc<Notify>,
    /// Ids of requests whose status changed, for `wait`.
    pub changes: broadcast::Sender<String>,
    /// The connector gateway.
    pub hub: Arc<Hub>,
}

impl AppState {
    pub fn integration(&self, name: &str) -> Option<&Arc<dyn Integration>> {
        self.integrations.get(name)
    }

    pub fn changed(&self, request_id: &str) {
        let _ = self.changes.send(request_id.to_owned());
    }
}
