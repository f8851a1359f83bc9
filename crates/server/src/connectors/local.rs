//! The in-process connector: integrations that `serve` runs itself go through
//! exactly the task path a remote connector runs (`codec::execute`), minus
//! the network, so both paths run the same code.

use async_trait::async_trait;
use sesame_connector::codec;
use sesame_core::Timestamp;
use sesame_integrations::settings::IntegrationSettings;
use sesame_integrations::{Discovery, Integration, IntegrationError, StatusReport};
use sesame_proto::connector::{Op, Task, TaskOutcome};
use sesame_proto::{ActionParams, Credentials, PermissionInfo};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Local {
    pub name: String,
    pub inner: Arc<dyn Integration>,
}

impl Local {
    async fn call(&self, op: Op, params: ActionParams, valid_until: Option<Timestamp>) -> Result<serde_json::Value, IntegrationError> {
        let task = Task { task_id: String::new(), integration: self.name.clone(), op, params, valid_until_ms: valid_until.map(|t| t.0) };
        match codec::execute(self.inner.as_ref(), &task).await {
            TaskOutcome::Ok { value } => Ok(value),
            TaskOutcome::Failed { kind, message } => Err(codec::error_of(kind, message)),
        }
    }
}

#[async_trait]
impl Integration for Local {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn resource_types(&self) -> Vec<String> {
        self.inner.resource_types()
    }
    fn permissions(&self, resource_type: &str) -> Vec<PermissionInfo> {
        self.inner.permissions(resource_type)
    }
    fn max_username_len(&self) -> usize {
        self.inner.max_username_len()
    }
    fn user_prefix(&self) -> String {
        self.inner.user_prefix()
    }
    fn uses_requester_identity(&self) -> bool {
        self.inner.uses_requester_identity()
    }
    fn settings(&self) -> IntegrationSettings {
        self.inner.settings()
    }
    fn named_resource_limit(&self) -> Option<usize> {
        self.inner.named_resource_limit()
    }
    fn child(&self, name: &str) -> Option<Arc<dyn Integration>> {
        let inner = self.inner.child(name)?;
        Some(Arc::new(Local { name: format!("{}/{name}", self.name), inner }))
    }

    async fn get_status(&self) -> Result<StatusReport, IntegrationError> {
        codec::decode_status(self.call(Op::GetStatus, ActionParams::default(), None).await?)
    }
    async fn list_resources(&self) -> Result<Discovery, IntegrationError> {
        codec::decode_discovery(self.call(Op::ListResources, ActionParams::default(), None).await?)
    }
    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
        codec::decode_tags(self.call(Op::ListResourcesTags, ActionParams::default(), None).await?)
    }
    async fn grant_access(&self, p: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError> {
        self.call(Op::GrantAccess, p.clone(), Some(valid_until)).await.map(|_| ())
    }
    async fn revoke_access(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.call(Op::RevokeAccess, p.clone(), None).await.map(|_| ())
    }
    async fn create_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        codec::decode_credentials(self.call(Op::CreateCredentials, p.clone(), None).await?)
    }
    async fn reset_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        codec::decode_credentials(self.call(Op::ResetCredentials, p.clone(), None).await?)
    }
    async fn delete_credentials(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.call(Op::DeleteCredentials, p.clone(), None).await.map(|_| ())
    }
    async fn disable_user(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.call(Op::DisableUser, p.clone(), None).await.map(|_| ())
    }
    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError> {
        self.call(Op::DeleteUser, ActionParams { username: username.to_owned(), ..Default::default() }, None).await.map(|_| ())
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
