//! RDS sub-integrations with IAM database authentication: the database login
//! alone is useless without `rds-db:connect` on it. This wrapper gives each
//! grant a per-grant principal (under `/sesame-rds/`, apart from the parent's
//! own per-grant principals) whose only permission is connecting as that
//! login on that instance, until the deadline: an IAM user with a key, or —
//! when people sign in through Identity Center or SAML (the parent's
//! delivery) — a role only the grantee's own session may assume. Revoke
//! removes both the principal and the login.

use super::principal::{self, Principal};
use async_trait::async_trait;
use sesame_core::policy::{trust_policy, Federation, Placement};
use sesame_core::Timestamp;
use sesame_integrations::sql::rds_iam::connect_policy;
use sesame_integrations::{Descriptor, Discovery, Integration, IntegrationError, StatusReport};
use sesame_proto::{ActionParams, Credentials};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const PATH: &str = "/sesame-rds/";

pub struct RdsIam {
    pub inner: Arc<dyn Integration>,
    pub iam: aws_sdk_iam::Client,
    pub region: String,
    pub account_id: String,
    /// The instance's `DbiResourceId` (what `rds-db:connect` ARNs name).
    pub dbi_resource_id: String,
    /// The parent's delivery: a per-grant role for federated people, else a user.
    pub federation: Option<Federation>,
    /// The database's, with login names that also fit IAM.
    pub descriptor: Arc<Descriptor>,
}

/// A database's descriptor with login names cut to what IAM accepts: IAM
/// user names are at most 64 characters and the login name is both.
pub fn iam_login_names(db: &Descriptor) -> Descriptor {
    let mut d = db.clone();
    d.username.max_len = d.username.max_len.min(64);
    d
}

impl RdsIam {
    /// The one policy of a grant: connect as `login` on this instance until `deadline`.
    pub fn policy(&self, login: &str, deadline: Timestamp) -> serde_json::Value {
        connect_policy(&self.region, &self.account_id, &self.dbi_resource_id, login, &sesame_core::time::rfc3339(deadline))
    }
}

#[async_trait]
impl Integration for RdsIam {
    fn descriptor(&self) -> Arc<Descriptor> {
        self.descriptor.clone()
    }
    async fn get_status(&self) -> Result<StatusReport, IntegrationError> {
        self.inner.get_status().await
    }
    async fn list_resources(&self) -> Result<Discovery, IntegrationError> {
        self.inner.list_resources().await
    }
    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
        self.inner.list_resources_tags().await
    }
    async fn grant_access(&self, p: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError> {
        self.inner.grant_access(p, valid_until).await?;
        let placement = Placement { inline: Some(self.policy(&p.username, valid_until)), managed: vec![] };
        match &self.federation {
            None => {
                principal::ensure_user_in(&self.iam, PATH, &p.username, &p.grant_id).await?;
                principal::put_policies(&self.iam, Principal::User(&p.username), &placement).await
            }
            Some(f) => {
                let who = p.requester().ok_or_else(|| IntegrationError::Invalid("a federated role needs the requester's identity; none was passed".into()))?;
                let trust = trust_policy(f, &self.account_id, who, valid_until);
                principal::ensure_role_in(&self.iam, PATH, &p.username, &p.grant_id, &trust, 3600).await?;
                principal::put_policies(&self.iam, Principal::Role(&p.username), &placement).await
            }
        }
    }
    async fn revoke_access(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        principal::delete(&self.iam, Principal::User(&p.username)).await?;
        principal::delete(&self.iam, Principal::Role(&p.username)).await?;
        self.inner.revoke_access(p).await
    }
    /// The database side (host, token command) and what signs the token: the
    /// IAM user's key (shown once), or the role the grantee's own session assumes.
    async fn create_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        use sesame_integrations::sql::shell_quote as q;
        let db = self.inner.create_credentials(p).await?;
        if self.federation.is_some() {
            let role_arn = format!("arn:aws:iam::{}:role{PATH}{}", self.account_id, p.username);
            let who = p.requester().unwrap_or_default().to_owned();
            let mut details = db.details;
            details.insert("role_arn".into(), role_arn.clone());
            let assume = format!("aws sts assume-role --role-arn {} --role-session-name {w} --source-identity {w}", q(&role_arn), w = q(&who));
            let command = db.connect_command.map(|c| format!("{assume}  # then, with the role's credentials: {c}"));
            return Ok(Credentials { username: db.username, secret: String::new(), details, connect_command: command });
        }
        let key = principal::new_access_key(&self.iam, &p.username, &self.region, None).await?;
        let mut details = db.details;
        details.extend(key.details);
        let command = db.connect_command.map(|c| format!("AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} {c}", q(&key.username), q(&key.secret)));
        Ok(Credentials { username: db.username, secret: key.secret, details, connect_command: command })
    }
    async fn reset_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        self.create_credentials(p).await
    }
    async fn delete_credentials(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        principal::delete_keys(&self.iam, &p.username).await?;
        self.inner.delete_credentials(p).await
    }
    async fn disable_user(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        principal::delete(&self.iam, Principal::User(&p.username)).await?;
        principal::delete(&self.iam, Principal::Role(&p.username)).await?;
        self.inner.disable_user(p).await
    }
    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError> {
        principal::delete(&self.iam, Principal::User(username)).await?;
        principal::delete(&self.iam, Principal::Role(username)).await?;
        self.inner.delete_user(username).await
    }
    /// Logins on the database and per-grant IAM users: an orphan on either
    /// side is the reconciler's to remove (both sides, idempotently).
    async fn list_managed_users(&self) -> Result<Vec<String>, IntegrationError> {
        let mut all = self.inner.list_managed_users().await?;
        all.extend(principal::list_in(&self.iam, PATH, &self.descriptor.username.prefix).await?);
        all.sort();
        all.dedup();
        Ok(all)
    }
}
