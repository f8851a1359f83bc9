//! One `Integration` for integrations reached through tasks: every call
//! becomes an `Op` that a [`Backend`] runs on a connector (the server's
//! `gateway::remote::Remote`, or the conformance suite's loop through the
//! wire form); the answer comes back as a typed `Reply`. What the
//! integration offers is its backend's [`Descriptor`]. Integrations that run
//! in this process are called directly.

use async_trait::async_trait;
use crate::wire;
use sesame_core::Timestamp;
use crate::{Child, Descriptor, Discovery, Integration, IntegrationError, StatusReport};
use sesame_proto::connector::{Op, Reply};
use sesame_proto::{ActionParams, Credentials};
use std::collections::BTreeMap;
use std::sync::Arc;

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// What the connector registered (governed by the control plane), or
    /// an integration that offers nothing until it does.
    fn descriptor(&self) -> Arc<Descriptor>;
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
    fn descriptor(&self) -> Arc<Descriptor> {
        self.0.descriptor()
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
