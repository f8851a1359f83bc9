//! The `aws-organization` integration: discovers the organization's OUs
//! (nested) and accounts, honouring the exclude lists, and grants through
//! IAM Identity Center (see [`sso`]) within its limits ([`limiter`]).

mod limiter;
pub mod members;
mod sso;
mod tree;

use sesame_proto::connector::IntegrationKind;
use crate::account::sdk_err;
use sesame_integrations::registry::Registry;
use async_trait::async_trait;
use serde::Deserialize;
use sesame_core::policy::{check_selection, deny_after, pack, statements_of, Quotas, Statement, Target};
use sesame_core::Timestamp;
use sesame_integrations::secret::SecretRef;
use sesame_integrations::settings::IntegrationSettings;
use sesame_integrations::{Descriptor, Discovery, Integration, IntegrationError, StatusReport, UsernameRule};
use sesame_proto::{ActionParams, Credentials, PermissionInfo, ResourceInfo};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use aws_sdk_ssoadmin::types::PrincipalType;

pub use limiter::{Limiter, OUTSTANDING_CREATIONS, REQUESTS_PER_SECOND};
pub use tree::{split_list, Tree};

pub const RESOURCE_TYPES: [&str; 2] = ["aws_account", "aws_ou"];

/// A permission offered on accounts and OUs: what its permission set holds.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPermission {
    pub id: String,
    pub name: Option<String>,
    /// AWS-managed policies by name (`ReadOnlyAccess`) or ARN.
    #[serde(default)]
    pub aws_managed: Vec<String>,
    /// Customer-managed policies by name (`/path/Name` or `Name`): they must
    /// exist in every account the grant reaches.
    #[serde(default)]
    pub customer_managed: Vec<String>,
    /// An identity-based policy document; each Allow ends at the deadline.
    pub inline: Option<serde_json::Value>,
}

fn default_permissions() -> Vec<OrgPermission> {
    let p = |id: &str, name: &str, managed: &str| OrgPermission { id: id.into(), name: Some(name.into()), aws_managed: vec![managed.into()], customer_managed: vec![], inline: None };
    vec![
        p("read_only", "Read only (ReadOnlyAccess)", "ReadOnlyAccess"),
        p("view_only", "View only (ViewOnlyAccess)", "job-function/ViewOnlyAccess"),
        p("power_user", "Power user (PowerUserAccess)", "PowerUserAccess"),
        p("admin", "Administrator (AdministratorAccess)", "AdministratorAccess"),
    ]
}

/// A list given as the seed's comma-separated string or as a list.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum IdList {
    Csv(String),
    List(Vec<String>),
}

impl Default for IdList {
    fn default() -> Self {
        IdList::List(vec![])
    }
}

impl IdList {
    fn ids(&self) -> Vec<String> {
        match self {
            IdList::Csv(s) => split_list(s),
            IdList::List(l) => l.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
        }
    }
}

fn default_prefix() -> String {
    "sesame_".into()
}
fn default_profile() -> String {
    "apono".into()
}
fn default_limit() -> usize {
    sesame_core::policy::DEFAULT_NAMED_RESOURCE_LIMIT
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsOrganizationConfig {
    pub name: String,
    /// The region IAM Identity Center is configured in.
    pub sso_region: String,
    /// The AWS access portal URL, for sign-in links.
    pub sso_portal_url: String,
    /// The role to assume in the management account, if the connector runs elsewhere.
    pub management_account_role_arn: Option<String>,
    #[serde(default)]
    pub exclude_ou_ids: IdList,
    #[serde(default)]
    pub exclude_account_ids: IdList,
    #[serde(default = "default_profile")]
    pub profile: String,
    pub access_key_id: Option<SecretRef>,
    pub secret_access_key: Option<SecretRef>,
    pub endpoint_url: Option<String>,
    #[serde(default = "default_prefix")]
    pub user_prefix: String,
    #[serde(default)]
    pub permissions: Vec<OrgPermission>,
    #[serde(default = "default_limit")]
    pub named_resource_limit: usize,
    /// Identity Center's request rate (20/s) and outstanding creations (10).
    pub requests_per_second: Option<u32>,
    /// Reach into member accounts: each becomes a sub-integration
    /// `NAME/ACCOUNT_ID` with the aws-account integration's reach.
    pub members: Option<members::MemberConfig>,
    #[serde(default)]
    pub settings: IntegrationSettings,
}

/// Build an `aws-organization` integration from its configuration.
pub async fn build(v: &serde_json::Value, registry: &Registry) -> Result<Arc<dyn Integration>, IntegrationError> {
    let cfg: AwsOrganizationConfig = serde_json::from_value(v.clone()).map_err(|e| IntegrationError::Misconfigured(e.to_string()))?;
    Ok(Arc::new(AwsOrganization::build(cfg, registry).await?))
}

pub struct AwsOrganization {
    cfg: AwsOrganizationConfig,
    permissions: Vec<OrgPermission>,
    excluded_ous: Vec<String>,
    excluded_accounts: Vec<String>,
    org: aws_sdk_organizations::Client,
    sso: aws_sdk_ssoadmin::Client,
    ids: aws_sdk_identitystore::Client,
    pub limiter: Limiter,
    descriptor: Arc<Descriptor>,
    /// The management account's SDK configuration, which member roles are assumed from.
    sdk: aws_config::SdkConfig,
    registry: Registry,
    /// Permission set names by ARN (a name never changes), as last listed.
    set_names: std::sync::Mutex<BTreeMap<String, String>>,
    /// Member accounts built so far, by id.
    members: std::sync::Mutex<BTreeMap<String, Arc<crate::account::AwsAccount>>>,
}

impl AwsOrganization {
    pub async fn build(cfg: AwsOrganizationConfig, registry: &Registry) -> Result<AwsOrganization, IntegrationError> {
        if !sesame_core::username::valid_prefix(&cfg.user_prefix) {
            return Err(IntegrationError::Misconfigured(format!("`user_prefix` `{}` must match [a-z][a-z0-9_]*", cfg.user_prefix)));
        }
        if !cfg.sso_portal_url.starts_with("https://") && !cfg.sso_portal_url.starts_with("http://") {
            return Err(IntegrationError::Misconfigured(format!("`sso_portal_url` `{}` must be the access portal's URL (https://...)", cfg.sso_portal_url)));
        }
        cfg.settings.validate()?;
        if let Some(m) = cfg.members.as_ref().filter(|m| !members::valid_role_name(&m.role_name)) {
            return Err(IntegrationError::Misconfigured(format!("`members.role_name` `{}` is not an IAM role name (1 to 64 letters, digits and `+=,.@_-`)", m.role_name)));
        }
        let permissions = if cfg.permissions.is_empty() { default_permissions() } else { cfg.permissions.clone() };
        for p in &permissions {
            if p.aws_managed.is_empty() && p.customer_managed.is_empty() && p.inline.is_none() {
                return Err(IntegrationError::Misconfigured(format!("permission `{}` grants nothing: give aws_managed, customer_managed or inline", p.id)));
            }
            if let Some(doc) = &p.inline {
                statements_of(doc).map_err(|e| IntegrationError::Misconfigured(format!("permission `{}`: inline policy: {e}", p.id)))?;
            }
        }
        let base = crate::integration_sdk(&cfg.sso_region, cfg.endpoint_url.as_deref(), &cfg.profile, cfg.access_key_id.as_ref(), cfg.secret_access_key.as_ref(), registry).await?;
        let sdk = match &cfg.management_account_role_arn {
            Some(role) => {
                let provider = aws_config::sts::AssumeRoleProvider::builder(role).session_name("sesame").configure(&base).build().await;
                base.to_builder().credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider)).build()
            }
            None => base,
        };
        // Identity Center calls are paced and retried by the limiter, not the SDK.
        let sso_conf = aws_sdk_ssoadmin::config::Builder::from(&sdk).retry_config(aws_config::retry::RetryConfig::disabled()).build();
        let ids_conf = aws_sdk_identitystore::config::Builder::from(&sdk).retry_config(aws_config::retry::RetryConfig::disabled()).build();
        let types: Vec<String> = RESOURCE_TYPES.iter().map(|s| s.to_string()).collect();
        let offered: Vec<PermissionInfo> =
            permissions.iter().map(|p| PermissionInfo { id: p.id.clone(), name: p.name.clone().unwrap_or_else(|| p.id.clone()), risk_level: None, selectable: false }).collect();
        let descriptor = Descriptor::new(
            IntegrationKind::AwsOrganization,
            &types,
            |_| offered.clone(),
            // Permission set names: at most 32 characters.
            UsernameRule { prefix: cfg.user_prefix.clone(), max_len: 32, requester_identity: false },
            cfg.settings.clone(),
        )
        .with_named_resource_limit(Some(cfg.named_resource_limit));
        Ok(AwsOrganization {
            descriptor: Arc::new(descriptor),
            excluded_ous: cfg.exclude_ou_ids.ids(),
            excluded_accounts: cfg.exclude_account_ids.ids(),
            org: aws_sdk_organizations::Client::new(&sdk),
            sso: aws_sdk_ssoadmin::Client::from_conf(sso_conf),
            ids: aws_sdk_identitystore::Client::from_conf(ids_conf),
            limiter: Limiter::new(cfg.requests_per_second.unwrap_or(REQUESTS_PER_SECOND), OUTSTANDING_CREATIONS),
            permissions,
            cfg,
            sdk,
            registry: registry.clone(),
            members: Default::default(),
            set_names: Default::default(),
        })
    }

    fn permission(&self, id: &str) -> Result<&OrgPermission, IntegrationError> {
        self.permissions.iter().find(|p| p.id == id).ok_or_else(|| {
            let ids: Vec<&str> = self.permissions.iter().map(|p| p.id.as_str()).collect();
            IntegrationError::Invalid(format!("unknown permission `{id}`: use one of {}", ids.join(", ")))
        })
    }

    /// The permission set's inline policy: the permission's own statements
    /// (each Allow ending at the deadline) and a Deny of everything after
    /// the deadline, which also bounds the managed policies.
    fn inline_policy(&self, p: &OrgPermission, deadline: Timestamp) -> Result<serde_json::Value, IntegrationError> {
        let mut statements: Vec<Statement> = match &p.inline {
            Some(doc) => statements_of(doc).map_err(IntegrationError::Misconfigured)?,
            None => vec![],
        };
        statements.push(deny_after(deadline));
        let placement = pack(&statements, deadline, Quotas { managed_count: 0, ..Quotas::for_target(Target::PermissionSet, 0) })
            .map_err(|e| IntegrationError::Invalid(e.to_string()))?;
        placement.inline.ok_or_else(|| IntegrationError::Invalid("the permission set's policy is empty".into()))
    }

    /// Every account a grant on `resources` reaches, or an error naming
    /// what is unknown or excluded.
    async fn reach(&self, resources: &[String]) -> Result<Vec<String>, IntegrationError> {
        let tree = self.tree().await?;
        let mut out = BTreeSet::new();
        for r in resources {
            let known = if r.starts_with("ou-") { tree.ous.iter().any(|o| &o.id == r) } else { tree.accounts.iter().any(|a| &a.id == r) };
            if !known {
                return Err(IntegrationError::Invalid(format!("`{r}` is not an account or OU of this organization (or it is excluded)")));
            }
            out.extend(tree.accounts_of(r));
        }
        Ok(out.into_iter().collect())
    }

    fn portal_link(&self, account: &str, permission_set: &str) -> String {
        format!("{}/#/console?account_id={account}&role_name={permission_set}", self.cfg.sso_portal_url.trim_end_matches('/'))
    }
}

#[async_trait]
impl Integration for AwsOrganization {
    fn descriptor(&self) -> Arc<Descriptor> {
        self.descriptor.clone()
    }

    /// A member account (`members`), as discovery built it.
    fn child(&self, name: &str) -> Option<Arc<dyn Integration>> {
        self.member_child(name)
    }

    async fn get_status(&self) -> Result<StatusReport, IntegrationError> {
        let org = self.org.describe_organization().send().await.map_err(|e| sdk_err("cannot describe the organization", e))?;
        let (instance, _) = self.instance().await?;
        let id = org.organization().and_then(|o| o.id()).unwrap_or_default().to_owned();
        Ok(StatusReport { healthy: true, message: format!("organization {id}; Identity Center {instance}") })
    }

    async fn list_resources(&self) -> Result<Discovery, IntegrationError> {
        let tree = self.tree().await?;
        let mut resources = Vec::new();
        for ou in &tree.ous {
            let metadata = BTreeMap::from([("arn".to_owned(), ou.arn.clone()), ("path".to_owned(), ou.path.clone())]);
            resources.push(ResourceInfo { id: ou.id.clone(), name: ou.path.clone(), resource_type: "aws_ou".into(), metadata });
        }
        for a in &tree.accounts {
            let mut metadata = BTreeMap::from([("path".to_owned(), a.path.clone()), ("email".to_owned(), a.email.clone())]);
            if let Some(parent) = a.ous.last() {
                metadata.insert("ou".into(), parent.clone());
            }
            resources.push(ResourceInfo { id: a.id.clone(), name: a.name.clone(), resource_type: "aws_account".into(), metadata });
        }
        let permissions = self.descriptor.permission_map();
        let accounts: Vec<String> = tree.accounts.iter().map(|a| a.id.clone()).collect();
        let children = self.member_children(&accounts).await;
        Ok(Discovery { resources, permissions, children })
    }

    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
        let tree = self.tree().await?;
        let mut out = BTreeMap::new();
        for id in tree.accounts.iter().map(|a| &a.id).chain(tree.ous.iter().map(|o| &o.id)) {
            let tags = self.account_tags(id).await;
            if !tags.is_empty() {
                out.insert(id.clone(), tags);
            }
        }
        Ok(out)
    }

    async fn grant_access(&self, p: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError> {
        check_selection(p.resources.len(), self.cfg.named_resource_limit).map_err(|g| IntegrationError::Invalid(g.to_string()))?;
        let perm = self.permission(&p.permission)?.clone();
        let who = p.requester().ok_or_else(|| IntegrationError::Invalid("Identity Center grants need the requester's identity; none was passed".into()))?;
        let accounts = self.reach(&p.resources).await?;
        if accounts.is_empty() {
            return Err(IntegrationError::Invalid("the selection reaches no account (empty or excluded OUs)".into()));
        }
        let inline = self.inline_policy(&perm, valid_until)?;
        let (instance, store) = self.instance().await?;
        let principal = self.principal_id(&store, who).await?;
        let ps = self.ensure_permission_set(&instance, &p.username, &p.grant_id, &inline, &perm.aws_managed, &perm.customer_managed).await?;
        // Resumable: what an earlier attempt (killed, timed out) assigned is
        // read back in one listing and not done again.
        let done = self.assigned_accounts(&instance, &ps, &principal).await?;
        let todo: Vec<&String> = accounts.iter().filter(|a| !done.contains(*a)).collect();
        tracing::info!(permission_set = %p.username, accounts = accounts.len(), already = done.len(), "assigning in Identity Center");
        // Assignments run side by side; the limiter queues them.
        let results = futures::future::join_all(todo.iter().map(|a| self.assign(&instance, &ps, &principal, a))).await;
        results.into_iter().collect::<Result<Vec<()>, _>>().map(|_| ())
    }

    async fn revoke_access(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        let (instance, store) = self.instance().await?;
        let Some(ps) = self.find_permission_set(&instance, &p.username).await? else { return Ok(()) };
        // The grantee's assignments, from one listing, deleted side by side.
        let mut removed = BTreeSet::new();
        // (A grantee gone from the identity store is swept below, account by account.)
        let principal = match p.requester() {
            Some(who) => match self.principal_id(&store, who).await {
                Ok(id) => Some(id),
                Err(IntegrationError::Invalid(_)) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        if let Some(principal) = principal {
            removed = self.assigned_accounts(&instance, &ps, &principal).await?;
            let results = futures::future::join_all(removed.iter().map(|a| self.unassign(&instance, &ps, &principal, PrincipalType::User, a))).await;
            results.into_iter().collect::<Result<Vec<()>, _>>()?;
        }
        // Then every other account the set may be in: where it is provisioned
        // and the grant's own selection (an account may have moved since).
        let mut accounts: BTreeSet<String> = self.provisioned_accounts(&instance, &ps).await.into_iter().collect();
        if let Ok(reached) = self.reach(&p.resources).await {
            accounts.extend(reached);
        }
        for a in accounts.difference(&removed) {
            self.unassign_all(&instance, &ps, a).await?;
        }
        if self.delete_permission_set(&instance, &ps).await.is_ok() {
            return Ok(());
        }
        // Refused (someone else was assigned the set by hand): sweep every account.
        for a in &removed {
            self.unassign_all(&instance, &ps, a).await?;
        }
        self.delete_permission_set(&instance, &ps).await
    }

    async fn create_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        let accounts = self.reach(&p.resources).await?;
        let mut details = BTreeMap::from([
            ("sso_portal_url".to_owned(), self.cfg.sso_portal_url.clone()),
            ("permission_set".to_owned(), p.username.clone()),
            ("accounts".to_owned(), accounts.join(",")),
        ]);
        if let Some(a) = accounts.first() {
            details.insert("sign_in_link".into(), self.portal_link(a, &p.username));
        }
        // The start URL, account and role to answer its questions are in the details.
        let command = accounts.first().map(|_| "aws configure sso --profile sesame && aws sts get-caller-identity --profile sesame".to_owned());
        // Nothing secret: people sign in through the access portal.
        Ok(Credentials { username: p.requester().unwrap_or_default().to_owned(), secret: String::new(), details, connect_command: command })
    }

    async fn reset_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        self.create_credentials(p).await
    }

    async fn delete_credentials(&self, _p: &ActionParams) -> Result<(), IntegrationError> {
        Ok(())
    }

    async fn disable_user(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.revoke_access(p).await
    }

    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError> {
        self.revoke_access(&ActionParams { username: username.to_owned(), ..Default::default() }).await
    }

    async fn list_managed_users(&self) -> Result<Vec<String>, IntegrationError> {
        let (instance, _) = self.instance().await?;
        Ok(self.permission_sets(&instance).await?.into_iter().map(|(n, _)| n).filter(|n| n.starts_with(&self.cfg.user_prefix)).collect())
    }
}
