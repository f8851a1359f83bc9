//! Configuration of a PostgreSQL integration.

use crate::secret::SecretRef;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Allow,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn to_sqlx(self) -> sqlx::postgres::PgSslMode {
        use sqlx::postgres::PgSslMode as M;
        match self {
            SslMode::Disable => M::Disable,
            SslMode::Allow => M::Allow,
            SslMode::Prefer => M::Prefer,
            SslMode::Require => M::Require,
            SslMode::VerifyCa => M::VerifyCa,
            SslMode::VerifyFull => M::VerifyFull,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

pub use crate::sql::AuthType;

fn default_port() -> u16 {
    5432
}
fn default_database() -> String {
    "postgres".into()
}
fn default_iterations() -> u32 {
    256
}
fn default_orphan_owner() -> String {
    "sesame-orphans".into()
}

/// What happens to objects a grantee created when its login is deleted.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GranteeObjects {
    /// Owned by `orphan_owner` (NOLOGIN, no privileges) from then on.
    #[default]
    Reassign,
    /// Dropped with the login.
    Drop,
}

fn default_prefix() -> String {
    "sesame_".into()
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// Unique name used in access flows and requests.
    pub name: String,
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// The database the connector logs into to manage roles.
    #[serde(default = "default_database")]
    pub database: String,
    /// The connector's account: needs CREATEROLE (rds_superuser on RDS) and
    /// the right to grant on the objects it hands out.
    pub username: String,
    /// Where the connector's password is; omit for trust/peer auth.
    pub password: Option<SecretRef>,
    /// Databases to discover; empty means every database that allows connections.
    #[serde(default)]
    pub databases: Vec<String>,
    /// Prefix of the logins Sesame creates (`[a-z][a-z0-9_]*`, at most 20 bytes).
    #[serde(default = "default_prefix")]
    pub user_prefix: String,
    #[serde(default)]
    pub auth_type: AuthType,
    /// AWS region of the RDS instance (IAM auth).
    pub region: Option<String>,
    #[serde(default)]
    pub ssl_mode: SslMode,
    /// CA certificate file for verify-ca / verify-full.
    pub ssl_root_cert: Option<String>,
    /// Host name given to grantees, when it differs from `host`.
    pub public_host: Option<String>,
    /// Granularity: the resource types offered (default: all).
    #[serde(default)]
    pub resource_types: Vec<String>,
    #[serde(default)]
    pub settings: crate::settings::IntegrationSettings,
    /// PBKDF2 iterations of the SCRAM-SHA-256 verifiers Sesame computes for
    /// the random passwords it creates (16..=100000).
    #[serde(default = "default_iterations")]
    pub password_hash_iterations: u32,
    /// Roles offered for membership (names or glob patterns); default none.
    #[serde(default)]
    pub roles: crate::sql::RoleAllowList,
    /// Objects a deleted grantee made: reassigned to `orphan_owner`, or dropped.
    #[serde(default)]
    pub grantee_objects: GranteeObjects,
    /// The NOLOGIN role without privileges that inherits them (created by
    /// Sesame when missing). Never the connector's account.
    #[serde(default = "default_orphan_owner")]
    pub orphan_owner: String,
}

impl PostgresConfig {
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        if !sesame_core::username::valid_prefix(&self.user_prefix) {
            return Err(format!(
                "`user_prefix` `{}` must match [a-z][a-z0-9_]* and be at most 20 bytes",
                self.user_prefix
            ).into());
        }
        if !(16..=100_000).contains(&self.password_hash_iterations) {
            return Err(format!("`password_hash_iterations` {} must be between 16 and 100000", self.password_hash_iterations).into());
        }
        self.roles.validate()?;
        if self.auth_type == AuthType::Iam && self.region.is_none() {
            return Err("`auth_type = \"iam\"` needs `region` (where the RDS instance runs)".into());
        }
        crate::sql::check_types(&super::RESOURCE_TYPES, &self.resource_types)?;
        if self.orphan_owner.is_empty() || self.orphan_owner.starts_with(&self.user_prefix) || self.orphan_owner == self.username {
            return Err(format!(
                "`orphan_owner` `{}` must be a role of its own: not empty, not the connector's `username`, not starting with `user_prefix`",
                self.orphan_owner
            ).into());
        }
        self.settings.validate()
    }
}
