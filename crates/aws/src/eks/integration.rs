//! The `eks` integration: access to a Kubernetes cluster on AWS, the seed's
//! way. People reach the cluster as themselves (the role mapped at setup,
//! assumed with their e-mail as the session name); a grant is RBAC bindings
//! for their Kubernetes user, made by the connector that runs in or next to
//! the cluster, until the deadline — which the connector also enforces on
//! its own ([`Integration::expire`]), since Kubernetes bindings never
//! expire by themselves.

use super::access_policy::{self, AccessPolicies};
use super::cluster::{Cluster, Endpoint, Managed};
use super::rbac::{self, Grant, Kind, CLUSTER, NAMESPACE};
use super::setup::{Federation, Mapping, Setup, DEFAULT_ROLE, DEFAULT_USER_PREFIX};
use async_trait::async_trait;
use serde::Deserialize;
use sesame_core::Timestamp;
use sesame_integrations::registry::Registry;
use sesame_integrations::secret::SecretRef;
use sesame_integrations::settings::IntegrationSettings;
use sesame_integrations::{Descriptor, Discovery, Integration, IntegrationError, StatusReport, UsernameRule};
use sesame_proto::connector::IntegrationKind;
use sesame_proto::{ActionParams, Credentials, ResourceInfo};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How the cluster maps the role to people's Kubernetes users (chosen at
/// setup: `sesame eks setup --auth`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// EKS API access entries: `USERNAME_PREFIX` + e-mail.
    #[default]
    AccessEntry,
    /// The `aws-auth` ConfigMap's `mapRoles`: the e-mail itself.
    ConfigMap,
}

/// What a grant is made of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantMode {
    /// RBAC bindings in the cluster for the person's Kubernetes user.
    #[default]
    Rbac,
    /// An EKS access policy on a per-grant role only the person may assume
    /// (clusters run without in-cluster RBAC management).
    AccessPolicy,
}

fn default_profile() -> String {
    "apono".into()
}

fn default_region() -> String {
    "us-east-1".into()
}
fn default_role() -> String {
    DEFAULT_ROLE.into()
}
fn default_user_prefix() -> String {
    DEFAULT_USER_PREFIX.into()
}
fn default_login_prefix() -> String {
    "sesame_".into()
}
fn default_timeout() -> u64 {
    20
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EksConfig {
    pub name: String,
    /// The EKS cluster's name.
    pub cluster_name: String,
    /// The AWS account the cluster is in (12 digits).
    pub account_id: String,
    /// The cluster's region.
    #[serde(default = "default_region")]
    pub region: String,
    /// The role people assume to reach the cluster (the seed's `apono-k8s-access`).
    #[serde(default = "default_role")]
    pub role_name: String,
    /// The Kubernetes API server; unset: the cluster the connector runs in.
    pub server_url: Option<String>,
    /// PEM certificate(s) of the API server's authority; unset: the
    /// in-cluster one, or the system's.
    pub certificate_authority: Option<String>,
    /// A bearer token for `server_url`; unset: the connector pod's service account.
    pub token: Option<SecretRef>,
    #[serde(default)]
    pub auth_mode: AuthMode,
    /// Prefix of people's Kubernetes user names under access entries.
    #[serde(default = "default_user_prefix")]
    pub username_prefix: String,
    /// Prefix of the grants' logins, which name and label their objects;
    /// the reconciler only touches objects whose login has it.
    #[serde(default = "default_login_prefix")]
    pub user_prefix: String,
    /// Resource types offered: `cluster`, `namespace` and namespaced kinds
    /// (`pods`, `deployments.apps`); unset: all three, with every kind the
    /// cluster serves.
    pub resource_types: Option<Vec<String>>,
    #[serde(default)]
    pub grant_mode: GrantMode,
    /// AWS credentials for `access_policy` grants (IAM and EKS): the
    /// profile, or explicit keys resolved here.
    #[serde(default = "default_profile")]
    pub profile: String,
    pub access_key_id: Option<SecretRef>,
    pub secret_access_key: Option<SecretRef>,
    /// An AWS-compatible endpoint (tests: moto), and one for EKS alone.
    pub endpoint_url: Option<String>,
    pub eks_endpoint_url: Option<String>,
    /// Longest one Kubernetes API call may take, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub settings: IntegrationSettings,
}

/// Build an `eks` integration from its configuration.
pub async fn build(v: &serde_json::Value, registry: &Registry) -> Result<Arc<dyn Integration>, IntegrationError> {
    let cfg: EksConfig = serde_json::from_value(v.clone()).map_err(|e| IntegrationError::Misconfigured(e.to_string()))?;
    Ok(Arc::new(Eks::build(cfg, registry).await?))
}

pub struct Eks {
    cfg: EksConfig,
    setup: Setup,
    cluster: Cluster,
    /// The IAM and EKS side, in `access_policy` mode.
    policies: Option<AccessPolicies>,
    descriptor: RwLock<Arc<Descriptor>>,
}

fn descriptor(cfg: &EksConfig, types: &[String], roles: &[String]) -> Descriptor {
    let role_permissions = match cfg.grant_mode {
        GrantMode::Rbac => rbac::role_permissions(roles),
        GrantMode::AccessPolicy => access_policy::permissions(),
    };
    Descriptor::new(
        IntegrationKind::Eks,
        types,
        |t| if t == CLUSTER || t == NAMESPACE { role_permissions.clone() } else { rbac::kind_permissions() },
        UsernameRule { prefix: cfg.user_prefix.clone(), max_len: 63, requester_identity: false },
        cfg.settings.clone(),
    )
}

impl Eks {
    pub async fn build(cfg: EksConfig, registry: &Registry) -> Result<Eks, IntegrationError> {
        let setup = Setup {
            account: cfg.account_id.clone(),
            cluster: cfg.cluster_name.clone(),
            region: cfg.region.clone(),
            role: cfg.role_name.clone(),
            federation: Federation::IdentityCenter,
            mapping: match cfg.auth_mode {
                AuthMode::AccessEntry => Mapping::AccessEntry,
                AuthMode::ConfigMap => Mapping::ConfigMap,
            },
            user_prefix: cfg.username_prefix.clone(),
        }
        .checked()
        .map_err(|e| IntegrationError::Misconfigured(e.0))?;
        if !sesame_core::username::valid_prefix(&cfg.user_prefix) {
            return Err(IntegrationError::Misconfigured(format!("`user_prefix` `{}` must match [a-z][a-z0-9_]* and be at most 20 bytes", cfg.user_prefix)));
        }
        if let Some(bad) = cfg.resource_types.iter().flatten().find(|t| *t != CLUSTER && *t != NAMESPACE && Kind::parse(t).is_none()) {
            return Err(IntegrationError::Misconfigured(format!("`resource_types` names `{bad}`: use cluster, namespace or a kind such as pods or deployments.apps")));
        }
        if cfg.grant_mode == GrantMode::AccessPolicy && cfg.resource_types.iter().flatten().any(|t| t != CLUSTER && t != NAMESPACE) {
            return Err(IntegrationError::Misconfigured("`grant_mode = \"access_policy\"` grants on the cluster or namespaces only: `resource_types` may name cluster and namespace".into()));
        }
        cfg.settings.validate()?;
        let token = registry.resolve_opt(cfg.token.as_ref()).await?;
        let cluster = Cluster::connect(&Endpoint {
            server_url: cfg.server_url.clone(),
            certificate_authority: cfg.certificate_authority.clone(),
            token,
            timeout: Duration::from_secs(cfg.timeout_secs.max(1)),
        })?;
        let policies = match cfg.grant_mode {
            GrantMode::Rbac => None,
            GrantMode::AccessPolicy => {
                let sdk = crate::integration_sdk(&cfg.region, cfg.endpoint_url.as_deref(), &cfg.profile, cfg.access_key_id.as_ref(), cfg.secret_access_key.as_ref(), registry).await?;
                let mut eks = aws_sdk_eks::config::Builder::from(&sdk);
                if let Some(u) = &cfg.eks_endpoint_url {
                    eks = eks.endpoint_url(u);
                }
                Some(AccessPolicies {
                    iam: aws_sdk_iam::Client::new(&sdk),
                    eks: aws_sdk_eks::Client::from_conf(eks.build()),
                    account: cfg.account_id.clone(),
                    cluster: cfg.cluster_name.clone(),
                    region: cfg.region.clone(),
                    username_prefix: cfg.username_prefix.clone(),
                })
            }
        };
        let types = cfg.resource_types.clone().unwrap_or_else(|| vec![CLUSTER.into(), NAMESPACE.into()]);
        let d = descriptor(&cfg, &types, &[]);
        Ok(Eks { cfg, setup, cluster, policies, descriptor: RwLock::new(Arc::new(d)) })
    }

    /// The grantee's Kubernetes user: their e-mail (checked by STS's rule
    /// for a session name, which it is) as the cluster's mapping names it.
    fn user_of(&self, p: &ActionParams) -> Result<(String, String), IntegrationError> {
        let email = p.requester().ok_or_else(|| IntegrationError::Invalid("an EKS grant needs the requester's e-mail (the role's session name)".into()))?;
        super::setup::check_session_name(email).map_err(|e| IntegrationError::Invalid(e.0))?;
        Ok((email.to_owned(), self.setup.kubernetes_user(email)))
    }

    async fn delete_login(&self, login: &str) -> Result<(), IntegrationError> {
        // The login goes into a label selector: checked first, so it can only ever select itself.
        rbac::object_name(login)?;
        if let Some(ap) = &self.policies {
            return ap.revoke(login).await;
        }
        for m in self.cluster.managed(Some(login)).await? {
            self.cluster.delete(&m).await?;
        }
        Ok(())
    }

    fn credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        let (email, user) = self.user_of(p)?;
        let mut c = self.setup.grantee_commands(&email).map_err(|e| IntegrationError::Invalid(e.0))?;
        let mut role = self.setup.role_arn();
        if self.policies.is_some() {
            // Their own role for this grant, bound to them by source identity.
            use sesame_integrations::sql::shell_quote as q;
            role = access_policy::role_arn(&self.cfg.account_id, &p.username)?;
            c.assume_role = format!("aws sts assume-role --role-arn {} --role-session-name {} --source-identity {} --duration-seconds 3600", q(&role), q(&email), q(&email));
            c.profile = format!("[profile {}]\nrole_arn = {role}\nrole_session_name = {email}\nsource_identity = {email}\nsource_profile = default\n", p.username);
            c.update_kubeconfig = format!("aws eks update-kubeconfig --region {} --name {} --profile {}", q(&self.cfg.region), q(&self.cfg.cluster_name), q(&p.username));
        }
        let details = BTreeMap::from([
            ("cluster".to_owned(), self.cfg.cluster_name.clone()),
            ("region".to_owned(), self.cfg.region.clone()),
            ("role_arn".to_owned(), role),
            ("kubernetes_user".to_owned(), user.clone()),
            ("aws_config_profile".to_owned(), c.profile),
        ]);
        Ok(Credentials {
            username: user,
            // Nothing secret: people reach the cluster with their own AWS session.
            secret: String::new(),
            details,
            connect_command: Some(format!("{}\n{}", c.assume_role, c.update_kubeconfig)),
        })
    }
}

#[async_trait]
impl Integration for Eks {
    fn descriptor(&self) -> Arc<Descriptor> {
        self.descriptor.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn get_status(&self) -> Result<StatusReport, IntegrationError> {
        let v = self.cluster.version().await?;
        Ok(StatusReport { healthy: true, message: format!("Kubernetes {v} (cluster {})", self.cfg.cluster_name) })
    }

    /// The cluster, its namespaces and the namespaced kinds it serves (a
    /// kind's resources are the namespaces); permissions are the built-in
    /// ClusterRoles and those found in the cluster.
    async fn list_resources(&self) -> Result<Discovery, IntegrationError> {
        let namespaces = self.cluster.namespaces().await?;
        let roles = self.cluster.cluster_roles().await?;
        let types: Vec<String> = match &self.cfg.resource_types {
            Some(t) => t.clone(),
            None if self.policies.is_some() => vec![CLUSTER.to_owned(), NAMESPACE.to_owned()],
            None => {
                let mut t = vec![CLUSTER.to_owned(), NAMESPACE.to_owned()];
                t.extend(self.cluster.namespaced_kinds().await?.iter().map(Kind::type_name));
                t
            }
        };
        let mut resources = Vec::new();
        for t in &types {
            if t == CLUSTER {
                resources.push(ResourceInfo { id: self.cfg.cluster_name.clone(), name: self.cfg.cluster_name.clone(), resource_type: t.clone(), metadata: BTreeMap::new() });
            } else {
                resources.extend(namespaces.iter().map(|ns| ResourceInfo { id: ns.clone(), name: ns.clone(), resource_type: t.clone(), metadata: BTreeMap::new() }));
            }
        }
        let d = descriptor(&self.cfg, &types, &roles);
        let permissions = d.permission_map();
        *self.descriptor.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(d);
        Ok(Discovery { resources, permissions, children: vec![] })
    }

    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
        Ok(BTreeMap::new())
    }

    async fn grant_access(&self, p: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError> {
        let (email, user) = self.user_of(p)?;
        if let Some(ap) = &self.policies {
            let a = access_policy::association(&self.cfg.cluster_name, &p.resource_type, &p.resources, &p.permission)?;
            return ap.grant(&p.username, &email, &a, valid_until).await;
        }
        let objects = rbac::objects(&Grant {
            cluster: &self.cfg.cluster_name,
            login: &p.username,
            user: &user,
            requester: &email,
            resource_type: &p.resource_type,
            resources: &p.resources,
            permission: &p.permission,
            valid_until,
        })?;
        // Roles come before the bindings to them.
        for o in &objects {
            self.cluster.apply(o).await?;
        }
        Ok(())
    }

    async fn revoke_access(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.delete_login(&p.username).await
    }

    async fn create_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        self.credentials(p)
    }

    async fn reset_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        self.credentials(p)
    }

    /// Nothing to delete: the grant made no credentials.
    async fn delete_credentials(&self, _p: &ActionParams) -> Result<(), IntegrationError> {
        Ok(())
    }

    /// A binding cannot be disabled: revocation deletes it.
    async fn disable_user(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.revoke_access(p).await
    }

    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError> {
        self.delete_login(username).await
    }

    /// The logins of Sesame's objects in the cluster that carry this
    /// integration's prefix.
    async fn list_managed_users(&self) -> Result<Vec<String>, IntegrationError> {
        let all: Vec<String> = match &self.policies {
            Some(ap) => ap.managed().await?.into_iter().map(|(login, _)| login).collect(),
            None => self.cluster.managed(None).await?.into_iter().map(|m| m.login).collect(),
        };
        let logins: BTreeSet<String> = all.into_iter().filter(|l| l.starts_with(&self.cfg.user_prefix)).collect();
        Ok(logins.into_iter().collect())
    }

    async fn expire(&self, now: Timestamp) -> Result<Vec<String>, IntegrationError> {
        if let Some(ap) = &self.policies {
            let mut removed = Vec::new();
            for (login, expires) in ap.managed().await? {
                if login.starts_with(&self.cfg.user_prefix) && rbac::expired(expires.as_deref(), now) {
                    ap.revoke(&login).await?;
                    removed.push(format!("access entry and role {login}"));
                }
            }
            return Ok(removed);
        }
        let due: Vec<Managed> =
            self.cluster.managed(None).await?.into_iter().filter(|m| m.login.starts_with(&self.cfg.user_prefix) && rbac::expired(m.expires_at.as_deref(), now)).collect();
        let mut removed = Vec::new();
        for m in due {
            self.cluster.delete(&m).await?;
            removed.push(m.describe());
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// The README's `eks` block is a configuration this type reads (unknown
    /// keys are errors), with the seed's defaults.
    #[test]
    fn the_readmes_eks_block_is_a_valid_configuration() {
        let readme = include_str!("../../../../README.md");
        let start = readme.find("type = \"eks\"").expect("the eks block");
        let block: String = readme[start..].lines().skip(1).take_while(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n");
        let cfg: EksConfig = toml::from_str(&block).unwrap_or_else(|e| panic!("{e}\n{block}"));
        assert_eq!((cfg.role_name.as_str(), cfg.username_prefix.as_str(), cfg.auth_mode), ("apono-k8s-access", "apono:", AuthMode::AccessEntry));
        assert_eq!(cfg.server_url.as_deref(), Some("https://ABCD1234.gr7.eu-west-1.eks.amazonaws.com"));
    }
}
