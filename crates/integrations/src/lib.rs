//! The integration contract and the built-in integrations.
//!
//! One trait, shaped like the seed's custom-integration events
//! (get-status, list-resources, list-resources-tags, grant-access,
//! revoke-access, create-credentials, reset-credentials, delete-credentials).
//!
//! **Invariant:** grant and revoke are idempotent: repeating a grant is a
//! no-op and revoking what is already gone succeeds, so any action can be
//! retried after a crash.

pub mod config_schema;
pub mod custom;
pub mod descriptor;
pub mod mysql;
pub mod postgres;
pub mod proxy;
pub mod redshift;
pub mod registry;
pub mod secret;
pub mod settings;
pub mod sql;
pub mod wire;

use async_trait::async_trait;
use sesame_core::Timestamp;
use sesame_proto::{ActionParams, Credentials};
use std::collections::BTreeMap;
use std::sync::Arc;

pub use sesame_proto::Cause;
pub use descriptor::{Descriptor, Limits, ResourceType, UsernameRule};

#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    /// The target could not be reached or failed; worth retrying. Its
    /// cause says where (target, network, AWS, handler, connector, time).
    #[error("{0}")]
    Unavailable(Cause),
    /// The request can never succeed as it is (bad resource id, bad name...).
    #[error("{0}")]
    Invalid(String),
    /// The integration's own account lacks what it needs.
    #[error("{0}")]
    Misconfigured(String),
}

/// A configuration that cannot work, and what to change in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl From<String> for ConfigError {
    fn from(s: String) -> Self {
        ConfigError(s)
    }
}

impl From<&str> for ConfigError {
    fn from(s: &str) -> Self {
        ConfigError(s.to_owned())
    }
}

impl From<ConfigError> for IntegrationError {
    fn from(e: ConfigError) -> Self {
        IntegrationError::Misconfigured(e.0)
    }
}

impl IntegrationError {
    /// Where it failed: the cause's label, or `invalid` / `misconfigured`.
    pub fn cause(&self) -> &'static str {
        match self {
            IntegrationError::Unavailable(c) => c.label(),
            IntegrationError::Invalid(_) => "invalid",
            IntegrationError::Misconfigured(_) => "misconfigured",
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, IntegrationError::Unavailable(_))
    }

    /// What the person who asked reads: Sesame's own text for a request that
    /// cannot succeed; for target trouble a stable sentence (the target's own
    /// words, which may name hosts or statements, go to the audit log).
    pub fn user_message(&self) -> String {
        match self {
            IntegrationError::Invalid(m) => m.clone(),
            IntegrationError::Unavailable(_) => "the target could not be reached or failed; Sesame keeps retrying (an admin finds the details in the audit log)".into(),
            IntegrationError::Misconfigured(_) => "the integration is misconfigured; an admin finds the details in the audit log and `sesame inventory integrations`".into(),
        }
    }
}

pub use sesame_proto::connector::{Child, Discovery, StatusReport};

#[async_trait]
pub trait Integration: Send + Sync {
    /// What it is and offers: built once with the integration (a remote
    /// one's changes when its connector registers, a custom one's when
    /// discovery learns its permissions).
    fn descriptor(&self) -> Arc<Descriptor>;
    /// A sub-integration found by discovery (`name` without the parent's
    /// prefix), e.g. an RDS instance of an AWS account.
    fn child(&self, _name: &str) -> Option<std::sync::Arc<dyn Integration>> {
        None
    }

    async fn get_status(&self) -> Result<StatusReport, IntegrationError>;
    async fn list_resources(&self) -> Result<Discovery, IntegrationError>;
    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError>;
    /// Give `params.username` exactly `params.permission` on `params.resources`
    /// until `valid_until` (a backstop where the target supports one).
    async fn grant_access(&self, params: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError>;
    async fn revoke_access(&self, params: &ActionParams) -> Result<(), IntegrationError>;
    async fn create_credentials(&self, params: &ActionParams) -> Result<Credentials, IntegrationError>;
    /// [`Integration::grant_access`] and [`Integration::create_credentials`]
    /// at once, for a grantee who asked for the credentials with the
    /// request. The default does one, then the other; a target that can do
    /// both in one trip (a login made with its password) does.
    async fn grant_with_credentials(&self, params: &ActionParams, valid_until: Timestamp) -> Result<Credentials, IntegrationError> {
        self.grant_access(params, valid_until).await?;
        self.create_credentials(params).await
    }
    async fn reset_credentials(&self, params: &ActionParams) -> Result<Credentials, IntegrationError>;
    async fn delete_credentials(&self, params: &ActionParams) -> Result<(), IntegrationError>;
    /// Revocation when `user_cleanup_days` is set: the login stays, disabled
    /// and stripped of every privilege, until [`Integration::delete_user`].
    async fn disable_user(&self, params: &ActionParams) -> Result<(), IntegrationError>;
    /// Delete a (disabled) login; deleting what is gone succeeds.
    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError>;
    /// Logins on the target that carry [`Integration::user_prefix`], for the reconciler.
    async fn list_managed_users(&self) -> Result<Vec<String>, IntegrationError>;

    /// The target-side deadline for targets that have none of their own
    /// (Kubernetes bindings): remove what Sesame made there that is past
    /// its deadline, and say what was removed. A connector calls it on its
    /// own clock, so access ends even while the control plane is
    /// unreachable; the default has nothing to remove.
    async fn expire(&self, _now: Timestamp) -> Result<Vec<String>, IntegrationError> {
        Ok(vec![])
    }

    /// Would a grant of `params` fit on the target? Checked before a request
    /// is submitted (and by its dry run): e.g. the IAM policy sizing of AWS
    /// grants. Reads only; the default has nothing to check.
    async fn preflight(&self, _params: &ActionParams, _valid_until: Timestamp) -> Result<(), IntegrationError> {
        Ok(())
    }

    /// A standing principal's (`role`|`user`) ARN and current permission
    /// boundary. What Sesame put and what was there before are kept in the
    /// control plane's store, never on the principal.
    async fn boundary_of(&self, _principal_type: &str, _name: &str) -> Result<(String, Option<String>), IntegrationError> {
        Err(IntegrationError::Invalid(format!("{} integrations have no permission boundaries: use an aws-account integration", self.descriptor().kind)))
    }
    /// Put `boundary_arn` as a standing principal's permission boundary, or
    /// remove its boundary (`None`).
    async fn set_boundary(&self, _principal_type: &str, _name: &str, _boundary_arn: Option<&str>) -> Result<(), IntegrationError> {
        Err(IntegrationError::Invalid(format!("{} integrations have no permission boundaries: use an aws-account integration", self.descriptor().kind)))
    }
}

/// A strong random password: 32 characters from `[A-Za-z0-9]` (190 bits).
pub fn random_password() -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::rngs::OsRng.sample_iter(&Alphanumeric).take(32).map(char::from).collect()
}
