//! One `Integration` for integrations reached through tasks: every call
//! becomes an `Op` that a [`Backend`] runs on a connector
//! ([`super::remote::Remote`]); the answer comes back as a typed `Reply`.
//! What the integration offers comes from its [`IntegrationInfo`].
//! Integrations that run in this process are called directly.

use sesame_proto::connector::IntegrationKind;
use async_trait::async_trait;
use sesame_integrations::wire;
use sesame_core::Timestamp;
use sesame_integrations::settings::IntegrationSettings;
use sesame_integrations::{Child, Discovery, Integration, IntegrationError, StatusReport};
use sesame_proto::connector::{IntegrationInfo, Op, Reply};
use sesame_proto::{ActionParams, Credentials, PermissionInfo};
use std::collections::BTreeMap;
use std::sync::Arc;

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    fn kind(&self) -> IntegrationKind;
    fn info(&self) -> Option<IntegrationInfo>;
    async fn call(&self, op: Op, params: ActionParams, valid_until: Option<Timestamp>) -> Result<Reply, IntegrationError>;
    /// The sub-integration `name` (without the parent's prefix).
    fn child(&self, name: &str) -> Option<Arc<dyn Integration>>;
    /// Sub-integrations a discovery reported.
    fn learn(&self, _children: &[Child]) {}
}

pub struct Proxy<B>(pub B);

impl<B: Backend> Proxy<B> {
    /// An operation whose answer is only "done".
    async fn run(&self, op: Op, params: ActionParams, valid_until: Option<Timestamp>) -> Result<(), IntegrationError> {
        wire::expect_done(op, self.0.call(op, params, valid_until).await?)
    }
}

#[async_trait]
impl<B: Backend> Integration for Proxy<B> {
    fn kind(&self) -> IntegrationKind {
        self.0.kind()
    }
    fn resource_types(&self) -> Vec<String> {
        self.0.info().map(|i| i.resource_types).unwrap_or_default()
    }
    fn permissions(&self, resource_type: &str) -> Vec<PermissionInfo> {
        self.0.info().and_then(|i| i.permissions.get(resource_type).cloned()).unwrap_or_default()
    }
    fn max_username_len(&self) -> usize {
        self.0.info().map(|i| i.max_username_len).unwrap_or(32)
    }
    fn user_prefix(&self) -> String {
        self.0.info().map(|i| i.user_prefix).unwrap_or_else(|| "sesame_".into())
    }
    fn uses_requester_identity(&self) -> bool {
        self.0.info().is_some_and(|i| i.uses_requester_identity)
    }
    fn named_resource_limit(&self) -> Option<usize> {
        self.0.info().and_then(|i| i.named_resource_limit)
    }
    fn settings(&self) -> IntegrationSettings {
        self.0.info().and_then(|i| serde_json::from_value(i.settings).ok()).unwrap_or_default()
    }
    fn child(&self, name: &str) -> Option<Arc<dyn Integration>> {
        self.0.child(name)
    }
    async fn get_status(&self) -> Result<StatusReport, IntegrationError> {
        wire::expect_status(self.0.call(Op::GetStatus, ActionParams::default(), None).await?)
    }
    async fn list_resources(&self) -> Result<Discovery, IntegrationError> {
        let d = wire::expect_discovery(self.0.call(Op::ListResources, ActionParams::default(), None).await?)?;
        self.0.learn(&d.children);
        Ok(d)
    }
    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
        wire::expect_tags(self.0.call(Op::ListResourcesTags, ActionParams::default(), None).await?)
    }
    async fn grant_access(&self, p: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError> {
        self.run(Op::GrantAccess, p.clone(), Some(valid_until)).await
    }
    async fn revoke_access(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.run(Op::RevokeAccess, p.clone(), None).await
    }
    async fn create_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        wire::expect_credentials(Op::CreateCredentials, self.0.call(Op::CreateCredentials, p.clone(), None).await?)
    }
    async fn reset_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        wire::expect_credentials(Op::ResetCredentials, self.0.call(Op::ResetCredentials, p.clone(), None).await?)
    }
    async fn delete_credentials(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.run(Op::DeleteCredentials, p.clone(), None).await
    }
    async fn disable_user(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.run(Op::DisableUser, p.clone(), None).await
    }
    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError> {
        self.run(Op::DeleteUser, ActionParams { username: username.to_owned(), ..Default::default() }, None).await
    }
    async fn list_managed_users(&self) -> Result<Vec<String>, IntegrationError> {
        wire::expect_users(self.0.call(Op::ListManagedUsers, ActionParams::default(), None).await?)
    }
    async fn preflight(&self, p: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError> {
        self.run(Op::Preflight, p.clone(), Some(valid_until)).await
    }
    async fn boundary_of(&self, principal_type: &str, name: &str) -> Result<(String, Option<String>), IntegrationError> {
        wire::expect_boundary(self.0.call(Op::GetBoundary, wire::boundary_params(principal_type, name, ""), None).await?)
    }
    async fn set_boundary(&self, principal_type: &str, name: &str, boundary_arn: Option<&str>) -> Result<(), IntegrationError> {
        self.run(Op::SetBoundary, wire::boundary_params(principal_type, name, boundary_arn.unwrap_or_default()), None).await
    }
}
