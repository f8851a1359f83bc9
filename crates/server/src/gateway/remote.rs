//! An integration served by a connector: every call becomes a task on the
//! hub; what it offers is what the connector registered.

use sesame_proto::connector::IntegrationKind;
use sesame_integrations::proxy::{Backend, Proxy};
use super::Hub;
use async_trait::async_trait;
use sesame_core::Timestamp;
use sesame_integrations::registry::RemoteDecl;
use sesame_integrations::{Child, Descriptor, Integration, IntegrationError};
use sesame_proto::connector::{IntegrationInfo, Op, Reply};
use sesame_proto::ActionParams;
use std::sync::Arc;
use std::time::Duration;

pub struct Remote {
    pub name: String,
    pub connector: String,
    pub hub: Arc<Hub>,
    pub timeout: Duration,
    /// The control plane's own declaration (of the parent, for a
    /// sub-integration): what approvals depend on comes from it.
    pub decl: Arc<RemoteDecl>,
}

/// The seed's guardrail for AWS integrations.
const AWS_NAMED_RESOURCE_LIMIT: usize = 100;

/// What the connector reported, with everything approvals depend on taken
/// from the control plane's declaration instead.
pub fn governed(mut info: IntegrationInfo, decl: &RemoteDecl) -> IntegrationInfo {
    info.settings = serde_json::to_value(&decl.settings).unwrap_or_default();
    if let Some(p) = &decl.user_prefix {
        info.user_prefix = p.clone();
    } else if !sesame_core::username::valid_prefix(&info.user_prefix) {
        info.user_prefix = "sesame_".into();
    }
    let aws = info.kind.is_aws() || info.named_resource_limit.is_some();
    info.named_resource_limit = decl.named_resource_limit.or(aws.then_some(AWS_NAMED_RESOURCE_LIMIT));
    info
}

impl Remote {
    pub fn integration(self) -> Arc<dyn Integration> {
        Arc::new(Proxy(self))
    }
}

#[async_trait]
impl Backend for Remote {
    fn descriptor(&self) -> Arc<Descriptor> {
        let Some(info) = self.hub.info(&self.name, &self.connector) else {
            return Arc::new(Descriptor::unknown(IntegrationKind::Remote));
        };
        let mut d = Descriptor::from_info(&governed(info, &self.decl));
        // People see where it runs; the connector's kind is its own affair.
        d.kind = IntegrationKind::Remote;
        Arc::new(d)
    }

    async fn call(&self, op: Op, params: ActionParams, valid_until: Option<Timestamp>) -> Result<Reply, IntegrationError> {
        self.hub.dispatch(&self.connector, &self.name, op, params, valid_until, self.timeout).await
    }

    fn child(&self, name: &str) -> Option<Arc<dyn Integration>> {
        let full = format!("{}/{name}", self.name);
        self.hub.info(&full, &self.connector)?;
        Some(
            Remote { name: full, connector: self.connector.clone(), hub: self.hub.clone(), timeout: self.timeout, decl: self.decl.clone() }
                .integration(),
        )
    }

    /// Only sub-integrations named under this parent are learnt.
    fn learn(&self, children: &[Child]) {
        let prefix = format!("{}/", self.name);
        self.hub.learn(&self.connector, children.iter().filter(|c| c.name.starts_with(&prefix)).filter_map(|c| c.info.clone()).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_settings_come_from_the_control_plane() {
        let reported: IntegrationInfo = serde_json::from_value(serde_json::json!({
            "name": "prod", "type": "aws-account", "resource_types": [], "permissions": {}, "max_username_len": 64,
            "user_prefix": "postgres", "uses_requester_identity": false, "named_resource_limit": 100000,
            "settings": {"integration_owners": {"users": ["mallory@evil.example"]}},
        }))
        .unwrap();
        let decl: RemoteDecl = toml::from_str("name = 'prod'\nconnector = 'dc-1'\n[settings]\nintegration_owners = { users = ['dba@example.com'] }").unwrap();
        let g = governed(reported.clone(), &decl);
        assert_eq!(g.settings["integration_owners"]["users"], serde_json::json!(["dba@example.com"]));
        assert_eq!(g.named_resource_limit, Some(100), "the connector cannot lift the guardrail");
        let mut bad = reported;
        bad.user_prefix = "Not A Prefix;".into();
        assert_eq!(governed(bad, &decl).user_prefix, "sesame_");
    }
}
