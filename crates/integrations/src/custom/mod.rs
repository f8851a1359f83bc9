//! Custom integrations: the seed's event contract (`{event_type, params}`)
//! over a transport — a local executable, an HTTP webhook, or (in
//! `sesame-aws`) an AWS Lambda function. Same payloads, same replies.

pub mod exec;
pub mod reply;
pub mod webhook;

use sesame_proto::connector::IntegrationKind;
use crate::secret::SecretRef;
use crate::settings::IntegrationSettings;
use crate::{Descriptor, Discovery, Integration, IntegrationError, StatusReport, UsernameRule};
use async_trait::async_trait;
use serde::Deserialize;
use sesame_core::Timestamp;
use sesame_proto::{ActionParams, Credentials, EventType, IntegrationEvent};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Carries one event to the handler and brings back its JSON reply.
#[async_trait]
pub trait Transport: Send + Sync {
    async fn call(&self, event: &IntegrationEvent) -> Result<serde_json::Value, IntegrationError>;
    /// Checks made before first use (e.g. the Lambda's tag).
    async fn check(&self) -> Result<(), IntegrationError> {
        Ok(())
    }
}

fn default_timeout_secs() -> u64 {
    30
}

fn default_username() -> UsernameMode {
    UsernameMode::Email
}

/// What `params.username` carries to the handler.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsernameMode {
    /// The requester's e-mail: the handler's application knows people.
    Email,
    /// A per-grant login name, as the database integrations make.
    Generated,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields, tag = "kind")]
pub enum TransportConfig {
    /// A local executable: the event on stdin, the reply on stdout.
    Exec { command: Vec<String> },
    /// HTTP POST of the event, signed with HMAC-SHA256.
    Webhook {
        url: String,
        /// The shared HMAC key.
        secret: SecretRef,
        #[serde(default = "default_retries")]
        retries: u32,
    },
    /// AWS Lambda (`Invoke`, RequestResponse), served by `sesame-aws`.
    Lambda {
        region: String,
        function_name: String,
        /// Endpoint override (tests: moto).
        endpoint_url: Option<String>,
    },
}

fn default_retries() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomConfig {
    pub name: String,
    pub transport: TransportConfig,
    /// Resource types the handler serves; list-resources is asked for each.
    pub resource_types: Vec<String>,
    /// Sent to the handler in every event as `params.custom_parameters`.
    #[serde(default)]
    pub custom_parameters: BTreeMap<String, String>,
    #[serde(default = "default_username")]
    pub username: UsernameMode,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub settings: IntegrationSettings,
}

impl CustomConfig {
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        if self.resource_types.is_empty() {
            return Err("`resource_types` is empty: name the resource types the handler serves".into());
        }
        if self.timeout_secs == 0 || self.timeout_secs > 900 {
            return Err(format!("`timeout_secs` {} must be between 1 and 900", self.timeout_secs).into());
        }
        if let TransportConfig::Exec { command } = &self.transport {
            if command.is_empty() {
                return Err("`transport.command` is empty: give the executable and its arguments".into());
            }
        }
        self.settings.validate()
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// The longest one event may take: every attempt's timeout and the
    /// pauses between webhook retries.
    pub fn longest_call(&self) -> Duration {
        match &self.transport {
            TransportConfig::Webhook { retries, .. } => {
                let pauses: u64 = (1..=u64::from(*retries)).map(|a| 200 * a).sum();
                self.timeout() * (retries + 1) + Duration::from_millis(pauses)
            }
            _ => self.timeout(),
        }
    }
}

pub struct Custom {
    cfg: CustomConfig,
    transport: Box<dyn Transport>,
    /// Permissions per resource type are learnt from list-resources.
    descriptor: RwLock<Arc<Descriptor>>,
}

impl Custom {
    pub fn new(cfg: CustomConfig, transport: Box<dyn Transport>) -> Result<Custom, IntegrationError> {
        cfg.validate()?;
        let descriptor = Descriptor::new(
            IntegrationKind::Custom,
            &cfg.resource_types,
            |_| vec![],
            UsernameRule { prefix: "sesame_".into(), max_len: 128, requester_identity: cfg.username == UsernameMode::Email },
            cfg.settings.clone(),
        );
        Ok(Custom { cfg, transport, descriptor: RwLock::new(Arc::new(descriptor)) })
    }

    pub fn config(&self) -> &CustomConfig {
        &self.cfg
    }

    async fn send(&self, event_type: EventType, p: &ActionParams) -> Result<serde_json::Value, IntegrationError> {
        let mut params = p.clone();
        params.custom_parameters = self.cfg.custom_parameters.clone();
        let event = IntegrationEvent { event_type, params };
        self.transport.call(&event).await
    }

    async fn send_ok(&self, event_type: EventType, p: &ActionParams) -> Result<serde_json::Value, IntegrationError> {
        let v = self.send(event_type, p).await?;
        reply::expect_ok(event_type, &v)?;
        Ok(v)
    }

    fn for_type(resource_type: &str) -> ActionParams {
        ActionParams { resource_type: resource_type.to_owned(), ..Default::default() }
    }
}

#[async_trait]
impl Integration for Custom {
    fn descriptor(&self) -> Arc<Descriptor> {
        self.descriptor.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn get_status(&self) -> Result<StatusReport, IntegrationError> {
        self.transport.check().await?;
        let v = self.send(EventType::GetStatus, &Self::for_type(&self.cfg.resource_types[0])).await?;
        reply::status(&v)
    }

    async fn list_resources(&self) -> Result<Discovery, IntegrationError> {
        let mut d = Discovery::default();
        for t in &self.cfg.resource_types {
            let v = self.send(EventType::ListResources, &Self::for_type(t)).await?;
            let (resources, permissions) = reply::resources(&v, t)?;
            d.resources.extend(resources);
            d.permissions.insert(t.clone(), permissions);
        }
        let mut learnt = (*self.descriptor()).clone();
        for t in &mut learnt.resource_types {
            t.permissions = d.permissions.get(&t.name).cloned().unwrap_or_default();
        }
        *self.descriptor.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(learnt);
        Ok(d)
    }

    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
        let v = self.send(EventType::ListResourcesTags, &Self::for_type(&self.cfg.resource_types[0])).await?;
        Ok(reply::tags(&v))
    }

    async fn grant_access(&self, p: &ActionParams, _valid_until: Timestamp) -> Result<(), IntegrationError> {
        self.send_ok(EventType::GrantAccess, p).await.map(|_| ())
    }

    async fn revoke_access(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.send_ok(EventType::RevokeAccess, p).await.map(|_| ())
    }

    async fn create_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        let v = self.send_ok(EventType::CreateCredentials, p).await?;
        Ok(reply::credentials(&v, &p.username))
    }

    async fn reset_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        let v = self.send_ok(EventType::ResetCredentials, p).await?;
        Ok(reply::credentials(&v, &p.username))
    }

    async fn delete_credentials(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.send_ok(EventType::DeleteCredentials, p).await.map(|_| ())
    }

    /// The contract has no "disable": revocation is revoke-access, and the
    /// later cleanup is delete-credentials.
    async fn disable_user(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.revoke_access(p).await
    }

    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError> {
        let p = ActionParams { username: username.to_owned(), ..Default::default() };
        self.send_ok(EventType::DeleteCredentials, &p).await.map(|_| ())
    }

    /// The contract cannot list users, so the reconciler has nothing to compare.
    async fn list_managed_users(&self) -> Result<Vec<String>, IntegrationError> {
        Ok(vec![])
    }
}
