//! An integration served by a connector: every call becomes a task.

use super::Hub;
use async_trait::async_trait;
use sesame_connector::codec;
use sesame_core::Timestamp;
use sesame_integrations::settings::IntegrationSettings;
use sesame_integrations::{Discovery, Integration, IntegrationError, StatusReport};
use sesame_proto::connector::{IntegrationInfo, Op};
use sesame_proto::{ActionParams, Credentials, PermissionInfo};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub struct Remote {
    pub name: String,
    pub connector: String,
    pub hub: Arc<Hub>,
    pub timeout: Duration,
}

impl Remote {
    fn info(&self) -> Option<IntegrationInfo> {
        self.hub.info(&self.name, &self.connector)
    }

    async fn call(&self, op: Op, params: ActionParams, valid_until: Option<Timestamp>) -> Result<serde_json::Value, IntegrationError> {
        self.hub.dispatch(&self.connector, &self.name, op, params, valid_until, self.timeout).await
    }

    fn unit(v: Result<serde_json::Value, IntegrationError>) -> Result<(), IntegrationError> {
        v.map(|_| ())
    }
}

#[async_trait]
impl Integration for Remote {
    fn kind(&self) -> &'static str {
        "remote"
    }

    fn resource_types(&self) -> Vec<String> {
        self.info().map(|i| i.resource_types).unwrap_or_default()
    }

    fn permissions(&self, resource_type: &str) -> Vec<PermissionInfo> {
        self.info().and_then(|i| i.permissions.get(resource_type).cloned()).unwrap_or_default()
    }

    fn max_username_len(&self) -> usize {
        self.info().map(|i| i.max_username_len).unwrap_or(32)
    }

    fn user_prefix(&self) -> String {
        self.info().map(|i| i.user_prefix).unwrap_or_else(|| "sesame_".into())
    }

    fn uses_requester_identity(&self) -> bool {
        self.info().is_some_and(|i| i.uses_requester_identity)
    }

    fn named_resource_limit(&self) -> Option<usize> {
        self.info().and_then(|i| i.named_resource_limit)
    }

    fn settings(&self) -> IntegrationSettings {
        self.info().and_then(|i| serde_json::from_value(i.settings).ok()).unwrap_or_default()
    }

    fn child(&self, name: &str) -> Option<Arc<dyn Integration>> {
        let full = format!("{}/{name}", self.name);
        self.hub.info(&full, &self.connector)?;
        Some(Arc::new(Remote { name: full, connector: self.connector.clone(), hub: self.hub.clone(), timeout: self.timeout }))
    }

    async fn get_status(&self) -> Result<StatusReport, IntegrationError> {
        codec::decode_status(self.call(Op::GetStatus, ActionParams::default(), None).await?)
    }

    async fn list_resources(&self) -> Result<Discovery, IntegrationError> {
        let d = codec::decode_discovery(self.call(Op::ListResources, ActionParams::default(), None).await?)?;
        self.hub.learn(&self.connector, d.children.iter().filter_map(|c| c.info.clone()).collect());
        Ok(d)
    }

    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
        codec::decode_tags(self.call(Op::ListResourcesTags, ActionParams::default(), None).await?)
    }

    async fn grant_access(&self, p: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError> {
        Self::unit(self.call(Op::GrantAccess, p.clone(), Some(valid_until)).await)
    }

    async fn revoke_access(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        Self::unit(self.call(Op::RevokeAccess, p.clone(), None).await)
    }

    async fn create_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        codec::decode_credentials(self.call(Op::CreateCredentials, p.clone(), None).await?)
    }

    async fn reset_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        codec::decode_credentials(self.call(Op::ResetCredentials, p.clone(), None).await?)
    }

    async fn delete_credentials(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        Self::unit(self.call(Op::DeleteCredentials, p.clone(), None).await)
    }

    async fn disable_user(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        Self::unit(self.call(Op::DisableUser, p.clone(), None).await)
    }

    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError> {
        Self::unit(self.call(Op::DeleteUser, ActionParams { username: username.to_owned(), ..Default::default() }, None).await)
    }

    async fn list_managed_users(&self) -> Result<Vec<String>, IntegrationError> {
        codec::decode_users(self.call(Op::ListManagedUsers, ActionParams::default(), None).await?)
    }
    async fn put_boundary(&self, principal_type: &str, name: &str, boundary_arn: &str) -> Result<(), IntegrationError> {
        self.call(Op::PutBoundary, codec::boundary_params(principal_type, name, boundary_arn), None).await.map(|_| ())
    }
    async fn lift_boundary(&self, principal_type: &str, name: &str) -> Result<(), IntegrationError> {
        self.call(Op::LiftBoundary, codec::boundary_params(principal_type, name, ""), None).await.map(|_| ())
    }
    async fn list_boundaries(&self) -> Result<Vec<sesame_proto::Restriction>, IntegrationError> {
        codec::decode_restrictions(self.call(Op::ListBoundaries, ActionParams::default(), None).await?)
    }
}
