//! The `aws-account` integration (first slice): S3 buckets (with their KMS
//! keys) granted to a per-grant IAM user whose access keys are shown once.
//! Policies come from the pure compiler in `sesame_core::policy`: exact ARNs,
//! sized and placed within IAM's quotas, every Allow ending at the deadline.

mod iam_user;

use crate::lambda::block_on;
use async_trait::async_trait;
use aws_credential_types::Credentials as AwsCredentials;
use serde::Deserialize;
use sesame_core::policy::{check_selection, compile, pack, AccessUnit, Quotas, Target};
use sesame_core::Timestamp;
use sesame_integrations::secret::SecretRef;
use sesame_integrations::settings::IntegrationSettings;
use sesame_integrations::{Discovery, Integration, IntegrationError, StatusReport};
use sesame_proto::{ActionParams, Credentials, PermissionInfo, ResourceInfo};
use std::collections::BTreeMap;

pub const RESOURCE_TYPES: [&str; 1] = ["s3_bucket"];

fn default_profile() -> String {
    "apono".into()
}
fn default_prefix() -> String {
    "sesame_".into()
}
fn default_limit() -> usize {
    sesame_core::policy::DEFAULT_NAMED_RESOURCE_LIMIT
}
fn default_managed() -> usize {
    10
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsAccountConfig {
    pub name: String,
    pub region: String,
    /// The AWS profile the connector uses (the seed's default: `apono`).
    #[serde(default = "default_profile")]
    pub profile: String,
    /// Explicit credentials instead of the profile (resolved here only).
    pub access_key_id: Option<SecretRef>,
    pub secret_access_key: Option<SecretRef>,
    /// Endpoint override (tests: moto).
    pub endpoint_url: Option<String>,
    #[serde(default = "default_prefix")]
    pub user_prefix: String,
    /// The seed's guardrail: resources selected by name in one request.
    #[serde(default = "default_limit")]
    pub named_resource_limit: usize,
    /// Managed policies per IAM user: 10, or 20 with a raised quota.
    #[serde(default = "default_managed")]
    pub managed_policies_per_user: usize,
    #[serde(default)]
    pub settings: IntegrationSettings,
}

/// The factory registered by [`crate::install`].
pub fn build(v: &serde_json::Value) -> Result<std::sync::Arc<dyn Integration>, IntegrationError> {
    let cfg: AwsAccountConfig = serde_json::from_value(v.clone()).map_err(|e| IntegrationError::Misconfigured(e.to_string()))?;
    Ok(std::sync::Arc::new(AwsAccount::new(cfg)?))
}

pub struct AwsAccount {
    cfg: AwsAccountConfig,
    iam: aws_sdk_iam::Client,
    s3: aws_sdk_s3::Client,
}

pub(crate) fn sdk_err<E: std::error::Error + 'static>(what: &str, e: E) -> IntegrationError {
    IntegrationError::Unavailable(format!("{what}: {}", aws_sdk_iam::error::DisplayErrorContext(&e)))
}

impl AwsAccount {
    pub fn new(cfg: AwsAccountConfig) -> Result<AwsAccount, IntegrationError> {
        if !sesame_core::username::valid_prefix(&cfg.user_prefix) {
            return Err(IntegrationError::Misconfigured(format!("`user_prefix` `{}` must match [a-z][a-z0-9_]*", cfg.user_prefix)));
        }
        cfg.settings.validate().map_err(IntegrationError::Misconfigured)?;
        let creds = match (&cfg.access_key_id, &cfg.secret_access_key) {
            (Some(id), Some(secret)) => Some(AwsCredentials::new(
                id.resolve().map_err(IntegrationError::Misconfigured)?,
                secret.resolve().map_err(IntegrationError::Misconfigured)?,
                None,
                None,
                "sesame-config",
            )),
            (None, None) => None,
            _ => return Err(IntegrationError::Misconfigured("give both `access_key_id` and `secret_access_key`, or neither".into())),
        };
        let profile = creds.is_none().then_some(cfg.profile.as_str());
        let mut sdk = block_on(crate::sdk_config(&cfg.region, cfg.endpoint_url.as_deref(), profile))?.into_builder();
        if let Some(c) = creds {
            sdk = sdk.credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(c));
        }
        let sdk = sdk.build();
        let s3 = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(cfg.endpoint_url.is_some()).build();
        Ok(AwsAccount { iam: aws_sdk_iam::Client::new(&sdk), s3: aws_sdk_s3::Client::from_conf(s3), cfg })
    }

    /// The customer-managed KMS key encrypting `bucket`, if any.
    async fn bucket_key(&self, bucket: &str) -> Option<String> {
        let enc = self.s3.get_bucket_encryption().bucket(bucket).send().await.ok()?;
        enc.server_side_encryption_configuration()?
            .rules()
            .iter()
            .filter_map(|r| r.apply_server_side_encryption_by_default())
            .find_map(|d| d.kms_master_key_id().map(str::to_owned))
    }
}

#[async_trait]
impl Integration for AwsAccount {
    fn kind(&self) -> &'static str {
        "aws-account"
    }

    fn resource_types(&self) -> Vec<String> {
        RESOURCE_TYPES.iter().map(|s| s.to_string()).collect()
    }

    fn permissions(&self, resource_type: &str) -> Vec<PermissionInfo> {
        let p = |id: &str, name: &str| PermissionInfo { id: id.into(), name: name.into() };
        match resource_type {
            "s3_bucket" => vec![p("read_only", "Read objects"), p("read_write", "Read and write objects")],
            _ => vec![],
        }
    }

    fn max_username_len(&self) -> usize {
        64
    }

    fn user_prefix(&self) -> String {
        self.cfg.user_prefix.clone()
    }

    fn settings(&self) -> IntegrationSettings {
        self.cfg.settings.clone()
    }

    fn named_resource_limit(&self) -> Option<usize> {
        Some(self.cfg.named_resource_limit)
    }

    async fn get_status(&self) -> Result<StatusReport, IntegrationError> {
        self.iam.list_users().max_items(1).send().await.map_err(|e| sdk_err("cannot list IAM users", e))?;
        self.s3.list_buckets().send().await.map_err(|e| sdk_err("cannot list S3 buckets", e))?;
        Ok(StatusReport { healthy: true, message: format!("IAM and S3 reachable in {}", self.cfg.region) })
    }

    async fn list_resources(&self) -> Result<Discovery, IntegrationError> {
        let out = self.s3.list_buckets().send().await.map_err(|e| sdk_err("cannot list S3 buckets", e))?;
        let mut resources = Vec::new();
        for b in out.buckets() {
            let Some(name) = b.name() else { continue };
            let mut metadata = BTreeMap::new();
            if let Some(k) = self.bucket_key(name).await {
                metadata.insert("kms_key".to_owned(), k);
            }
            resources.push(ResourceInfo { id: name.to_owned(), name: name.to_owned(), resource_type: "s3_bucket".into(), metadata });
        }
        let permissions = RESOURCE_TYPES.iter().map(|t| (t.to_string(), self.permissions(t))).collect();
        Ok(Discovery { resources, permissions })
    }

    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
        let out = self.s3.list_buckets().send().await.map_err(|e| sdk_err("cannot list S3 buckets", e))?;
        let mut tags = BTreeMap::new();
        for name in out.buckets().iter().filter_map(|b| b.name()) {
            if let Ok(t) = self.s3.get_bucket_tagging().bucket(name).send().await {
                tags.insert(name.to_owned(), t.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect());
            }
        }
        Ok(tags)
    }

    async fn grant_access(&self, p: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError> {
        check_selection(p.resources.len(), self.cfg.named_resource_limit).map_err(|g| IntegrationError::Invalid(g.to_string()))?;
        let write = match p.permission.as_str() {
            "read_only" => false,
            "read_write" => true,
            other => return Err(IntegrationError::Invalid(format!("unknown permission `{other}`: use read_only or read_write"))),
        };
        let mut units = Vec::new();
        for bucket in &p.resources {
            units.push(AccessUnit::S3Bucket { bucket: bucket.clone(), write, kms_key_arn: self.bucket_key(bucket).await });
        }
        let placement = pack(&compile(&units, valid_until), valid_until, Quotas::for_target(Target::User, self.cfg.managed_policies_per_user))
            .map_err(|e| IntegrationError::Invalid(e.to_string()))?;
        iam_user::ensure(&self.iam, &p.username, &p.grant_id).await?;
        iam_user::put_policies(&self.iam, &p.username, &placement).await
    }

    async fn revoke_access(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        iam_user::delete(&self.iam, &p.username).await
    }

    async fn create_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        iam_user::new_access_key(&self.iam, &p.username, &self.cfg.region, p.resources.first().map(String::as_str)).await
    }

    async fn reset_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        self.create_credentials(p).await
    }

    async fn delete_credentials(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        iam_user::delete_keys(&self.iam, &p.username).await
    }

    async fn disable_user(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        iam_user::delete_keys(&self.iam, &p.username).await?;
        iam_user::delete_policies(&self.iam, &p.username).await
    }

    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError> {
        iam_user::delete(&self.iam, username).await
    }

    async fn list_managed_users(&self) -> Result<Vec<String>, IntegrationError> {
        iam_user::list(&self.iam, &self.cfg.user_prefix).await
    }
}
