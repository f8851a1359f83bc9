//! Integration declarations as configuration holds them, and building them.
//! Shared by `serve` (in-process connector) and `sesame connector`.

use crate::custom::{Custom, CustomConfig};
use crate::mysql::{Mysql, MysqlConfig};
use crate::postgres::{Postgres, PostgresConfig};
use crate::redshift::{Redshift, RedshiftConfig};
use crate::settings::IntegrationSettings;
use crate::{Integration, IntegrationError};
use serde::Deserialize;
use std::sync::Arc;

/// An integration served by a connector process elsewhere: the control plane
/// knows its name and its connector, never its configuration or secrets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteDecl {
    pub name: String,
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
}

/// Builds AWS integrations (`aws-account`, `aws-organization`) from their
/// kind and configuration; installed by `sesame-aws` at startup.
pub type AwsFactory = fn(&str, &serde_json::Value) -> Result<Arc<dyn Integration>, IntegrationError>;
static AWS: std::sync::OnceLock<AwsFactory> = std::sync::OnceLock::new();

pub fn set_aws_factory(f: AwsFactory) {
    let _ = AWS.set(f);
}

impl IntegrationDecl {
    pub fn name(&self) -> &str {
        match self {
            IntegrationDecl::Postgresql(c) => &c.name,
            IntegrationDecl::Mysql(c) => &c.name,
            IntegrationDecl::Redshift(c) => &c.name,
            IntegrationDecl::Custom(c) => &c.name,
            IntegrationDecl::Remote(c) => &c.name,
            IntegrationDecl::AwsAccount(m) | IntegrationDecl::AwsOrganization(m) => m.get("name").and_then(|v| v.as_str()).unwrap_or_default(),
        }
    }

    /// The integration type, as connectors report it.
    pub fn kind(&self) -> &'static str {
        match self {
            IntegrationDecl::Postgresql(_) => "postgresql",
            IntegrationDecl::Mysql(_) => "mysql",
            IntegrationDecl::Redshift(_) => "redshift",
            IntegrationDecl::Custom(_) => "custom",
            IntegrationDecl::Remote(_) => "remote",
            IntegrationDecl::AwsAccount(_) => "aws-account",
            IntegrationDecl::AwsOrganization(_) => "aws-organization",
        }
    }

    pub fn settings(&self) -> Option<&IntegrationSettings> {
        match self {
            IntegrationDecl::Postgresql(c) => Some(&c.settings),
            IntegrationDecl::Mysql(c) => Some(&c.settings),
            IntegrationDecl::Redshift(c) => Some(&c.settings),
            IntegrationDecl::Custom(c) => Some(&c.settings),
            IntegrationDecl::Remote(c) => Some(&c.settings),
            IntegrationDecl::AwsAccount(_) | IntegrationDecl::AwsOrganization(_) => None,
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
    pub fn validate(&self) -> Result<(), String> {
        match self {
            IntegrationDecl::Postgresql(c) => c.validate(),
            IntegrationDecl::Mysql(c) => c.validate(),
            IntegrationDecl::Redshift(c) => {
                if !sesame_core::username::valid_prefix(&c.user_prefix) {
                    return Err(format!("`user_prefix` `{}` must match [a-z][a-z0-9_]*", c.user_prefix));
                }
                c.settings.validate()
            }
            IntegrationDecl::Custom(c) => c.validate(),
            IntegrationDecl::Remote(c) => {
                if c.connector.trim().is_empty() {
                    return Err("`connector` is empty: name the connector that serves it".into());
                }
                if let Some(p) = c.user_prefix.as_deref().filter(|p| !sesame_core::username::valid_prefix(p)) {
                    return Err(format!("`user_prefix` `{p}` must match [a-z][a-z0-9_]* and be at most 20 bytes"));
                }
                c.settings.validate()
            }
            IntegrationDecl::AwsAccount(m) | IntegrationDecl::AwsOrganization(m) => {
                if m.get("name").and_then(|v| v.as_str()).is_none_or(str::is_empty) {
                    return Err("`name` is missing".into());
                }
                Ok(())
            }
        }
    }

    /// Build it, resolving its secrets here (where the connector runs).
    pub fn build(&self) -> Result<Arc<dyn Integration>, IntegrationError> {
        Ok(match self {
            IntegrationDecl::Postgresql(c) => Arc::new(Postgres::new(c.clone())?),
            IntegrationDecl::Mysql(c) => Arc::new(Mysql::new(c.clone())?),
            IntegrationDecl::Redshift(c) => Arc::new(Redshift::new(c.clone())?),
            IntegrationDecl::Custom(c) => Arc::new(Custom::with_builtin_transport(c.clone())?),
            IntegrationDecl::Remote(c) => {
                return Err(IntegrationError::Misconfigured(format!(
                    "`{}` is served by connector `{}`, not here",
                    c.name, c.connector
                )))
            }
            IntegrationDecl::AwsAccount(m) | IntegrationDecl::AwsOrganization(m) => {
                let f = AWS.get().ok_or_else(|| {
                    IntegrationError::Misconfigured("this build has no AWS integrations (sesame_aws::install was not called)".into())
                })?;
                f(self.kind(), &serde_json::Value::Object(m.clone()))?
            }
        })
    }
}

/// The lowest connector version that may serve an integration type, as the
/// seed states them (RDS PostgreSQL/MySQL 1.5.3, Redshift 1.3.2, Lambda
/// custom integrations 1.4.1, AWS 1.7.0).
pub fn min_connector_version(kind: &str) -> Option<&'static str> {
    match kind {
        "postgresql" | "mysql" => Some("1.5.3"),
        "redshift" => Some("1.3.2"),
        "custom" => Some("1.4.1"),
        "aws-account" | "aws-organization" => Some("1.7.0"),
        _ => None,
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
        assert_eq!(min_connector_version("postgresql"), Some("1.5.3"));
    }
}
