//! An integration served by a connector: every call becomes a task on the
//! hub; what it offers is what the connector registered.

use super::proxy::{Backend, Proxy};
use super::Hub;
use async_trait::async_trait;
use sesame_core::Timestamp;
use sesame_integrations::{Child, Integration, IntegrationError};
use sesame_proto::connector::{IntegrationInfo, Op};
use sesame_proto::ActionParams;
use std::sync::Arc;
use std::time::Duration;

pub struct Remote {
    pub name: String,
    pub connector: String,
    pub hub: Arc<Hub>,
    pub timeout: Duration,
}

impl Remote {
    pub fn integration(self) -> Arc<dyn Integration> {
        Arc::new(Proxy(self))
    }
}

#[async_trait]
impl Backend for Remote {
    fn kind(&self) -> &'static str {
        "remote"
    }

    fn info(&self) -> Option<IntegrationInfo> {
        self.hub.info(&self.name, &self.connector)
    }

    async fn call(&self, op: Op, params: ActionParams, valid_until: Option<Timestamp>) -> Result<serde_json::Value, IntegrationError> {
        self.hub.dispatch(&self.connector, &self.name, op, params, valid_until, self.timeout).await
    }

    fn child(&self, name: &str) -> Option<Arc<dyn Integration>> {
        let full = format!("{}/{name}", self.name);
        self.hub.info(&full, &self.connector)?;
        Some(Remote { name: full, connector: self.connector.clone(), hub: self.hub.clone(), timeout: self.timeout }.integration())
    }

    fn learn(&self, children: &[Child]) {
        self.hub.learn(&self.connector, children.iter().filter_map(|c| c.info.clone()).collect());
    }
}
