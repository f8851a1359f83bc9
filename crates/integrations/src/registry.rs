//! Integration declarations as configuration holds them, and the
//! [`Registry`] that builds them: the built-in types plus what the binary
//! plugs in (`Registry::new().with(sesame_aws::Aws)`). Shared by `serve` and
//! `sesame connector`; secrets are resolved where the integration is built.

use sesame_proto::connector::IntegrationKind;
use crate::custom::{Custom, CustomConfig, Transport, TransportConfig};
use crate::secret::{SecretError, SecretRef};
use crate::mysql::{Mysql, MysqlConfig};
use crate::postgres::{Postgres, PostgresConfig};
use crate::redshift::{Redshift, RedshiftConfig};
use crate::settings::IntegrationSettings;
use crate::{Integration, IntegrationError};
use async_trait::async_trait;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// An integration served by a connector process elsewhere: the control plane
/// knows its name and its connector, never its configuration or secrets.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteDecl {
    pub name: String,
    /// The id of the connector that serves it (declared under `[[connectors]]`).
    pub connector: String,
    /// Approval-relevant settings (owners, rotation, cleanup, access
    /// details) come from here, never from what the connector reports.
    #[serde(default)]
    pub settings: IntegrationSettings,
    /// Prefix of the logins the connector makes; when unset, the connector's
    /// (checked like any prefix).
    pub user_prefix: Option<String>,
    /// Most resources one request may name (the seed's guardrail); when
    /// unset, 100 for AWS integrations, none for others.
    pub named_resource_limit: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IntegrationDecl {
    Postgresql(PostgresConfig),
    Mysql(MysqlConfig),
    Redshift(RedshiftConfig),
    /// The seed's custom-integration contract over exec, webhook or Lambda.
    Custom(CustomConfig),
    /// Served by `sesame connector` with this connector id.
    Remote(RemoteDecl),
    /// An AWS account (built by `sesame-aws`; its keys are checked there).
    AwsAccount(serde_json::Map<String, serde_json::Value>),
    /// An AWS organization through IAM Identity Center (built by `sesame-aws`).
    AwsOrganization(serde_json::Map<String, serde_json::Value>),
    /// A Kubernetes cluster on AWS (built by `sesame-aws`).
    Eks(serde_json::Map<String, serde_json::Value>),
}

/// What a binary plugs into the [`Registry`] beyond the built-in types:
/// integration types of its own, the Lambda transport of custom
/// integrations, secret stores. Every method has a default that offers
/// nothing.
#[async_trait]
pub trait Plugin: Send + Sync + 'static {
    /// The integration types it builds (e.g. `aws-account`).
    fn kinds(&self) -> &'static [IntegrationKind] {
        &[]
    }
    /// The configuration schema of each type it builds, by the `type` the
    /// configuration file writes (see [`crate::config_schema`]).
    fn config_schemas(&self) -> Vec<(String, serde_json::Value)> {
        vec![]
    }
    /// Build an integration of one of [`Plugin::kinds`].
    async fn build(&self, kind: IntegrationKind, _config: &serde_json::Value, _registry: &Registry) -> Result<Arc<dyn Integration>, IntegrationError> {
        Err(IntegrationError::Misconfigured(format!("`{kind}` integrations are not built here")))
    }
    /// The transport of a custom integration, if it serves this kind (Lambda).
    async fn transport(&self, _cfg: &TransportConfig, _timeout: Duration) -> Option<Result<Box<dyn Transport>, IntegrationError>> {
        None
    }
    /// The value of a secret reference, if it reads this kind.
    async fn resolve(&self, _secret: &SecretRef, _registry: &Registry) -> Option<Result<String, SecretError>> {
        None
    }
}

/// The integration types this process can build and the secrets it can
/// read: a value the binary makes once and hands to whoever builds.
#[derive(Clone, Default)]
pub struct Registry {
    plugins: Vec<Arc<dyn Plugin>>,
}

impl Registry {
    /// Every integration type's configuration as JSON Schema: the built-in
    /// types', `remote`, then the plugins'.
    pub fn config_schemas(&self) -> Vec<(String, serde_json::Value)> {
        let mut all = crate::config_schema::builtin();
        all.push(("remote".into(), crate::config_schema::schema_of::<RemoteDecl>("remote")));
        for p in &self.plugins {
            all.extend(p.config_schemas());
        }
        all
    }

    /// The built-in types only (PostgreSQL, MySQL, Redshift, custom over exec
    /// and webhook), with `env` and `file` secrets.
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn with(mut self, plugin: impl Plugin) -> Registry {
        self.plugins.push(Arc::new(plugin));
        self
    }

    /// The value of a secret reference, read here (where the integration runs).
    pub async fn resolve(&self, secret: &SecretRef) -> Result<String, SecretError> {
        if let Some(v) = secret.resolve_local() {
            return v;
        }
        for p in &self.plugins {
            if let Some(v) = p.resolve(secret, self).await {
                return v;
            }
        }
        Err(SecretError::from(format!("this build cannot read {} secrets: run the `sesame` binary, which has AWS built in", secret.kind())))
    }

    /// [`Registry::resolve`] of an optional reference, as a configuration error.
    pub async fn resolve_opt(&self, secret: Option<&SecretRef>) -> Result<Option<String>, IntegrationError> {
        match secret {
            Some(s) => self.resolve(s).await.map(Some).map_err(|e| IntegrationError::Misconfigured(e.0)),
            None => Ok(None),
        }
    }

    /// The transport a custom integration's configuration names.
    pub async fn transport(&self, cfg: &CustomConfig) -> Result<Box<dyn Transport>, IntegrationError> {
        let timeout = cfg.timeout();
        match &cfg.transport {
            TransportConfig::Exec { command } => Ok(Box::new(crate::custom::exec::Exec::new(command.clone(), timeout))),
            TransportConfig::Webhook { url, secret, retries } => {
                let key = self.resolve(secret).await.map_err(|e| IntegrationError::Misconfigured(e.0))?;
                Ok(Box::new(crate::custom::webhook::Webhook::new(url.clone(), key.into_bytes(), timeout, *retries)?))
            }
            other => {
                for p in &self.plugins {
                    if let Some(t) = p.transport(other, timeout).await {
                        return t;
                    }
                }
                Err(IntegrationError::Misconfigured("this build has no Lambda transport: run the `sesame` binary, which has AWS built in".into()))
            }
        }
    }

    /// A PostgreSQL integration, its password read here (where the
    /// connector runs).
    pub async fn postgres(&self, cfg: PostgresConfig) -> Result<Postgres, IntegrationError> {
        let password = self.resolve_opt(cfg.password.as_ref()).await?;
        Postgres::new(cfg, password)
    }

    pub async fn mysql(&self, cfg: MysqlConfig) -> Result<Mysql, IntegrationError> {
        let password = self.resolve_opt(cfg.password.as_ref()).await?;
        Mysql::new(cfg, password)
    }

    pub async fn redshift(&self, cfg: RedshiftConfig) -> Result<Redshift, IntegrationError> {
        let password = self.resolve_opt(cfg.password.as_ref()).await?;
        Redshift::new(cfg, password)
    }

    /// A custom integration with the transport its configuration names
    /// (Lambda comes from a plug-in).
    pub async fn custom(&self, cfg: CustomConfig) -> Result<Custom, IntegrationError> {
        cfg.validate()?;
        let transport = self.transport(&cfg).await?;
        Custom::new(cfg, transport)
    }

    /// Build a declared integration, resolving its secrets here.
    pub async fn build(&self, decl: &IntegrationDecl) -> Result<Arc<dyn Integration>, IntegrationError> {
        Ok(match decl {
            IntegrationDecl::Postgresql(c) => Arc::new(self.postgres(c.clone()).await?),
            IntegrationDecl::Mysql(c) => Arc::new(self.mysql(c.clone()).await?),
            IntegrationDecl::Redshift(c) => Arc::new(self.redshift(c.clone()).await?),
            IntegrationDecl::Custom(c) => Arc::new(self.custom(c.clone()).await?),
            IntegrationDecl::Remote(c) => {
                return Err(IntegrationError::Misconfigured(format!("`{}` is served by connector `{}`, not here", c.name, c.connector)))
            }
            IntegrationDecl::AwsAccount(m) | IntegrationDecl::AwsOrganization(m) | IntegrationDecl::Eks(m) => {
                let kind = decl.kind();
                let p = self.plugins.iter().find(|p| p.kinds().contains(&kind)).ok_or_else(|| {
                    IntegrationError::Misconfigured(format!("this build has no `{kind}` integrations: run the `sesame` binary, which has AWS built in"))
                })?;
                p.build(kind, &serde_json::Value::Object(m.clone()), self).await?
            }
        })
    }
}

impl IntegrationDecl {
    pub fn name(&self) -> &str {
        match self {
            IntegrationDecl::Postgresql(c) => &c.name,
            IntegrationDecl::Mysql(c) => &c.name,
            IntegrationDecl::Redshift(c) => &c.name,
            IntegrationDecl::Custom(c) => &c.name,
            IntegrationDecl::Remote(c) => &c.name,
            IntegrationDecl::AwsAccount(m) | IntegrationDecl::AwsOrganization(m) | IntegrationDecl::Eks(m) => m.get("name").and_then(|v| v.as_str()).unwrap_or_default(),
        }
    }

    /// The integration type, as connectors report it.
    pub fn kind(&self) -> IntegrationKind {
        match self {
            IntegrationDecl::Postgresql(_) => IntegrationKind::Postgresql,
            IntegrationDecl::Mysql(_) => IntegrationKind::Mysql,
            IntegrationDecl::Redshift(_) => IntegrationKind::Redshift,
            IntegrationDecl::Custom(_) => IntegrationKind::Custom,
            IntegrationDecl::Remote(_) => IntegrationKind::Remote,
            IntegrationDecl::AwsAccount(_) => IntegrationKind::AwsAccount,
            IntegrationDecl::AwsOrganization(_) => IntegrationKind::AwsOrganization,
            IntegrationDecl::Eks(_) => IntegrationKind::Eks,
        }
    }

    pub fn settings(&self) -> Option<&IntegrationSettings> {
        match self {
            IntegrationDecl::Postgresql(c) => Some(&c.settings),
            IntegrationDecl::Mysql(c) => Some(&c.settings),
            IntegrationDecl::Redshift(c) => Some(&c.settings),
            IntegrationDecl::Custom(c) => Some(&c.settings),
            IntegrationDecl::Remote(c) => Some(&c.settings),
            IntegrationDecl::AwsAccount(_) | IntegrationDecl::AwsOrganization(_) | IntegrationDecl::Eks(_) => None,
        }
    }

    /// Where its logins live: server (host, port) and login prefix, for the
    /// database integrations.
    pub fn login_space(&self) -> Option<(String, u16, &str)> {
        match self {
            IntegrationDecl::Postgresql(c) => Some((c.host.to_lowercase(), c.port, &c.user_prefix)),
            IntegrationDecl::Mysql(c) => Some((c.host.to_lowercase(), c.port, &c.user_prefix)),
            IntegrationDecl::Redshift(c) => Some((c.host.to_lowercase(), c.port, &c.user_prefix)),
            _ => None,
        }
    }

    /// The longest one action may take by this integration's own timeouts,
    /// where it has any (custom integrations).
    pub fn longest_action(&self) -> Option<std::time::Duration> {
        match self {
            IntegrationDecl::Custom(c) => Some(c.longest_call()),
            _ => None,
        }
    }

    /// Checks made when the integration is created or updated.
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        match self {
            IntegrationDecl::Postgresql(c) => c.validate(),
            IntegrationDecl::Mysql(c) => c.validate(),
            IntegrationDecl::Redshift(c) => {
                if !sesame_core::username::valid_prefix(&c.user_prefix) {
                    return Err(format!("`user_prefix` `{}` must match [a-z][a-z0-9_]*", c.user_prefix).into());
                }
                c.settings.validate()
            }
            IntegrationDecl::Custom(c) => c.validate(),
            IntegrationDecl::Remote(c) => {
                if c.connector.trim().is_empty() {
                    return Err("`connector` is empty: name the connector that serves it".into());
                }
                if let Some(p) = c.user_prefix.as_deref().filter(|p| !sesame_core::username::valid_prefix(p)) {
                    return Err(format!("`user_prefix` `{p}` must match [a-z][a-z0-9_]* and be at most 20 bytes").into());
                }
                c.settings.validate()
            }
            IntegrationDecl::AwsAccount(m) | IntegrationDecl::AwsOrganization(m) | IntegrationDecl::Eks(m) => {
                if m.get("name").and_then(|v| v.as_str()).is_none_or(str::is_empty) {
                    return Err("`name` is missing".into());
                }
                Ok(())
            }
        }
    }

}

/// The lowest connector version that may serve an integration type, as the
/// seed states them (RDS PostgreSQL/MySQL 1.5.3, Redshift 1.3.2, Lambda
/// custom integrations 1.4.1, AWS 1.7.0).
pub fn min_connector_version(kind: IntegrationKind) -> Option<&'static str> {
    use IntegrationKind as K;
    match kind {
        K::Postgresql | K::Mysql => Some("1.5.3"),
        K::Redshift => Some("1.3.2"),
        K::Custom => Some("1.4.1"),
        K::AwsAccount | K::AwsOrganization => Some("1.7.0"),
        K::Eks | K::Remote => None,
    }
}

/// `a >= b` for dotted numeric versions.
pub fn version_at_least(a: &str, b: &str) -> bool {
    let parse = |v: &str| v.split('.').map(|p| p.trim().parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    let (mut x, mut y) = (parse(a), parse(b));
    let n = x.len().max(y.len());
    x.resize(n, 0);
    y.resize(n, 0);
    x >= y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(version_at_least("1.8.0", "1.7.0"));
        assert!(version_at_least("1.5.3", "1.5.3"));
        assert!(!version_at_least("1.4.9", "1.5.3"));
        assert!(version_at_least("2", "1.9.9"));
        assert!(!version_at_least("1.10", "1.11.0"));
        assert_eq!(min_connector_version(IntegrationKind::Postgresql), Some("1.5.3"));
    }
}
