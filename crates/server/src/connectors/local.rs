//! The in-process connector: integrations that `serve` runs itself go through
//! exactly the task path a remote connector runs (`codec::execute`), minus
//! the network, so both paths run the same code.

use super::proxy::{Backend, Proxy};
use async_trait::async_trait;
use sesame_connector::codec;
use sesame_core::Timestamp;
use sesame_integrations::{Integration, IntegrationError};
use sesame_proto::connector::{IntegrationInfo, Op, Task, TaskOutcome};
use sesame_proto::ActionParams;
use std::sync::Arc;

pub struct Local {
    pub name: String,
    pub inner: Arc<dyn Integration>,
}

impl Local {
    pub fn integration(name: &str, inner: Arc<dyn Integration>) -> Arc<dyn Integration> {
        Arc::new(Proxy(Local { name: name.to_owned(), inner }))
    }
}

#[async_trait]
impl Backend for Local {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn info(&self) -> Option<IntegrationInfo> {
        Some(sesame_integrations::info_of(&self.name, self.inner.as_ref()))
    }

    async fn call(&self, op: Op, params: ActionParams, valid_until: Option<Timestamp>) -> Result<serde_json::Value, IntegrationError> {
        let task = Task { task_id: String::new(), integration: self.name.clone(), op, params, valid_until_ms: valid_until.map(|t| t.0), expires_at_ms: None };
        match codec::execute(self.inner.as_ref(), &task, crate::clock::now()).await {
            TaskOutcome::Ok { value } => Ok(value),
            TaskOutcome::Failed { kind, message } => Err(codec::error_of(kind, message)),
        }
    }

    fn child(&self, name: &str) -> Option<Arc<dyn Integration>> {
        Some(Local::integration(&format!("{}/{name}", self.name), self.inner.child(name)?))
    }
}
