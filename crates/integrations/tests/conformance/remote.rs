//! The suite through the connector protocol: the control plane's `Proxy`
//! encodes every call as a task, the task and its outcome travel as JSON,
//! and `wire::execute` runs it on the real integration, as `sesame
//! connector` does. (The network between them is the e2e suite's:
//! `connector_tests`.)

use crate::targets::Target;
use async_trait::async_trait;
use sesame_core::Timestamp;
use sesame_integrations::proxy::{Backend, Proxy};
use sesame_integrations::{wire, Child, Descriptor, Integration, IntegrationError};
use sesame_proto::connector::{IntegrationInfo, Op, Reply, Task, TaskOutcome};
use sesame_proto::ActionParams;
use std::sync::Arc;

struct Loopback {
    name: &'static str,
    inner: Box<dyn Integration>,
}

/// Serialize and read back, as the HTTP hop does.
fn hop<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
    serde_json::from_slice(&serde_json::to_vec(v).unwrap()).unwrap()
}

#[expect(clippy::disallowed_methods, reason = "the loop stands in for a connector, which reads its own clock")]
fn now() -> Timestamp {
    Timestamp(i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap())
}

#[async_trait]
impl Backend for Loopback {
    fn descriptor(&self) -> Arc<Descriptor> {
        let info: IntegrationInfo = hop(&self.inner.descriptor().info(self.name));
        Arc::new(Descriptor::from_info(&info))
    }

    async fn call(&self, op: Op, params: ActionParams, valid_until: Option<Timestamp>) -> Result<Reply, IntegrationError> {
        let task = Task {
            task_id: format!("{op:?}"),
            integration: self.name.to_owned(),
            op,
            params,
            valid_until_ms: valid_until.map(|t| t.0),
            expires_at_ms: Some(now().0 + 60_000),
        };
        let outcome = wire::execute(self.inner.as_ref(), &hop(&task), now()).await;
        match hop(&outcome) {
            TaskOutcome::Ok { value } => Ok(value),
            TaskOutcome::Failed { kind, message, cause } => Err(wire::error_of(kind, message, cause)),
        }
    }

    fn child(&self, _name: &str) -> Option<Arc<dyn Integration>> {
        None
    }

    fn learn(&self, _children: &[Child]) {}
}

/// `t` with its integration reached through the connector protocol.
pub fn remote(t: Target) -> Target {
    let (name, inner) = (t.name, t.integration);
    Target { integration: Box::new(Proxy(Loopback { name, inner })), ..t }
}
