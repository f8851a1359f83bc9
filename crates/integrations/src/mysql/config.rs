//! Configuration of a MySQL / MariaDB / RDS MySQL integration.

use crate::secret::SecretRef;
use crate::settings::IntegrationSettings;
use serde::Deserialize;

pub use crate::sql::AuthType;

fn default_port() -> u16 {
    3306
}
fn default_prefix() -> String {
    "sesame_".into()
}
fn default_user_host() -> String {
    "%".into()
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MysqlConfig {
    pub name: String,
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// The connector's account; `get-status` checks it holds what the seed lists.
    pub username: String,
    pub password: Option<SecretRef>,
    /// Databases to discover; empty means all but the system schemas.
    #[serde(default)]
    pub databases: Vec<String>,
    #[serde(default = "default_prefix")]
    pub user_prefix: String,
    /// Host part of the accounts Sesame creates (`'user'@'%'`).
    #[serde(default = "default_user_host")]
    pub user_host: String,
    #[serde(default)]
    pub auth_type: AuthType,
    /// AWS region and RDS instance (for IAM auth instructions).
    pub region: Option<String>,
    pub instance_id: Option<String>,
    pub public_host: Option<String>,
    /// Granularity: the resource types offered (default: all).
    #[serde(default)]
    pub resource_types: Vec<String>,
    /// Roles offered for membership (names or glob patterns); default none.
    #[serde(default)]
    pub roles: crate::sql::RoleAllowList,
    #[serde(default)]
    pub settings: IntegrationSettings,
}

impl MysqlConfig {
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        if !sesame_core::username::valid_prefix(&self.user_prefix) || self.user_prefix.len() > 12 {
            return Err(format!(
                "`user_prefix` `{}` must match [a-z][a-z0-9_]* and be at most 12 bytes (MySQL names are short)",
                self.user_prefix
            ).into());
        }
        self.roles.validate()?;
        if self.auth_type == AuthType::Iam && self.region.is_none() {
            return Err("`auth_type = \"iam\"` needs `region` (where the RDS instance runs)".into());
        }
        crate::sql::check_types(&super::RESOURCE_TYPES, &self.resource_types)?;
        self.settings.validate()
    }
}
