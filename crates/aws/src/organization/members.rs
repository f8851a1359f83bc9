//! Member accounts with the account integration's reach: each account of
//! the tree becomes a sub-integration `ORG/ACCOUNT_ID` — an `aws-account`
//! integration (discovery, grants, RDS, boundaries) whose credentials come
//! from a role assumed in that account (AWS Organizations makes
//! `OrganizationAccountAccessRole` in the accounts it creates).

use super::AwsOrganization;
use crate::account::{AwsAccount, Delivery};
use serde::Deserialize;
use sesame_integrations::{Child, Integration, IntegrationError};
use std::sync::Arc;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberConfig {
    /// The role Sesame assumes in each member account.
    pub role_name: String,
    /// The region of the members' regional resources (default: `sso_region`).
    pub region: Option<String>,
    /// More regions to discover in.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Resource types to sync in members (default: all of aws-account's).
    pub resource_types: Option<Vec<String>>,
    /// Where a grant in a member account goes (as for `aws_account`).
    #[serde(default)]
    pub delivery: Delivery,
    /// RDS auto-discovery in members, as for `aws_account`: instances
    /// tagged `apono-connector-id` with another connector are left to it.
    pub connector_id: Option<String>,
    /// RDS instance id → `host:port` to reach it by (a tunnel or proxy).
    #[serde(default)]
    pub rds_host_overrides: std::collections::BTreeMap<String, String>,
    /// Granularity of the members' RDS sub-integrations.
    #[serde(default)]
    pub rds_resource_types: Vec<String>,
    /// The database login the connector uses on `iam-auth` instances.
    pub rds_iam_username: Option<String>,
}

/// IAM's rule for a role name.
pub fn valid_role_name(n: &str) -> bool {
    (1..=64).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

impl AwsOrganization {
    /// The member account `id`, built once through the role assumed in it.
    async fn member(&self, id: &str, m: &MemberConfig) -> Result<Arc<AwsAccount>, IntegrationError> {
        if let Some(a) = self.members.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            return Ok(a.clone());
        }
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IntegrationError::Invalid(format!("`{id}` is not an account id")));
        }
        let role = format!("arn:aws:iam::{id}:role/{}", m.role_name);
        let region = m.region.clone().unwrap_or_else(|| self.cfg.sso_region.clone());
        let provider = aws_config::sts::AssumeRoleProvider::builder(&role).session_name("sesame").region(aws_config::Region::new(region.clone())).configure(&self.sdk).build().await;
        let sdk = self
            .sdk
            .to_builder()
            .region(aws_config::Region::new(region.clone()))
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
            .build();
        let cfg = serde_json::from_value(serde_json::json!({
            "name": format!("{}/{id}", self.cfg.name),
            "region": region,
            "regions": m.regions,
            "resource_types": m.resource_types,
            "endpoint_url": self.cfg.endpoint_url,
            // The organization's own identity: RDS secrets are read with it, through the roles.
            "profile": self.cfg.profile,
            "access_key_id": self.cfg.access_key_id.as_ref(),
            "secret_access_key": self.cfg.secret_access_key.as_ref(),
            "user_prefix": self.cfg.user_prefix,
            "delivery": m.delivery,
            "connector_id": m.connector_id,
            "rds_host_overrides": m.rds_host_overrides,
            "rds_resource_types": m.rds_resource_types,
            "rds_iam_username": m.rds_iam_username.clone().unwrap_or_else(crate::account::default_iam_user),
            "named_resource_limit": self.cfg.named_resource_limit,
            "settings": self.cfg.settings,
        }))
        .map_err(|e| IntegrationError::Misconfigured(format!("member accounts: {e}")))?;
        let roles = self.cfg.management_account_role_arn.iter().cloned().chain([role]).collect();
        let a = Arc::new(AwsAccount::with_sdk(cfg, sdk, &self.registry)?.assuming(roles));
        self.members.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_owned(), a.clone());
        Ok(a)
    }

    /// A sub-integration per member account (those the tree keeps).
    pub(super) async fn member_children(&self, accounts: &[String]) -> Vec<Child> {
        let Some(m) = &self.cfg.members else { return vec![] };
        let mut out = Vec::new();
        for id in accounts {
            let name = format!("{}/{id}", self.cfg.name);
            out.push(match self.member(id, m).await {
                Ok(a) => Child { name: name.clone(), source: id.clone(), info: Some(a.descriptor().info(&name)), error: None },
                Err(e) => Child { name, source: id.clone(), info: None, error: Some(format!("member account {id}: {e}")) },
            });
        }
        out
    }

    pub(super) fn member_child(&self, id: &str) -> Option<Arc<dyn Integration>> {
        let a = self.members.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()?;
        Some(a)
    }
}
