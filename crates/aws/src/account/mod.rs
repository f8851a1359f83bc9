//! The `aws-account` integration: discovers what the account holds (IAM
//! roles, groups and policies, S3 buckets and their KMS keys, EC2 instances,
//! RDS instances, Redshift clusters, secrets, SNS topics, SQS queues, with
//! their tags) and grants exactly a permission on exactly some resources,
//! delivered either to a per-grant IAM user whose access key is shown once,
//! or — when the account federates people — to a per-grant role only the
//! grantee's federated principal may assume. Policies come from the pure
//! compiler in `sesame_core::policy`: exact ARNs, sized and placed within
//! IAM's quotas, every Allow ending at the deadline.

mod boundary;
mod discover;
mod explorer;
pub mod explorer_setup;
mod principal;
pub(crate) use principal::iam_tag;
pub mod rds;
pub mod rds_iam;
mod units;

use sesame_proto::connector::IntegrationKind;
use async_trait::async_trait;
use aws_config::SdkConfig;
use principal::Principal;
use serde::Deserialize;
use sesame_core::policy::{check_selection, compile, pack, trust_policy, Federation, Placement, Quotas, Target};
use sesame_core::Timestamp;
use sesame_integrations::registry::Registry;
use sesame_integrations::secret::SecretRef;
use sesame_integrations::settings::IntegrationSettings;
use sesame_integrations::{Cause, Descriptor, Discovery, Integration, IntegrationError, StatusReport, UsernameRule};
use sesame_proto::{ActionParams, Credentials};
use std::sync::Arc;
use std::collections::BTreeMap;
use std::sync::Mutex;

pub use discover::Found;
pub use units::{actions_of, permissions, RESOURCE_TYPES};

fn default_profile() -> String {
    "apono".into()
}
fn default_prefix() -> String {
    "sesame_".into()
}
pub(crate) fn default_iam_user() -> String {
    "sesame".into()
}
fn default_limit() -> usize {
    sesame_core::policy::DEFAULT_NAMED_RESOURCE_LIMIT
}

/// Where a grant's access goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// A per-grant IAM user; its access key is shown once.
    #[default]
    IamUser,
    /// A per-grant role only the grantee's Identity Center session may assume.
    IdentityCenterRole,
    /// A per-grant role only the grantee's SAML session may assume.
    SamlRole,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsAccountConfig {
    pub name: String,
    pub region: String,
    /// Regions to discover regional resources in (default: `region` only).
    #[serde(default)]
    pub regions: Vec<String>,
    /// Resource types to sync (default: all of [`RESOURCE_TYPES`]).
    pub resource_types: Option<Vec<String>>,
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
    #[serde(default)]
    pub delivery: Delivery,
    /// The SAML provider people sign in through (`delivery = "saml_role"`).
    pub saml_provider_arn: Option<String>,
    /// The seed's guardrail: resources selected by name in one request.
    #[serde(default = "default_limit")]
    pub named_resource_limit: usize,
    /// The connector this integration runs on: RDS instances whose
    /// `apono-connector-id` names another connector are left to it.
    pub connector_id: Option<String>,
    /// RDS instance id → `host:port` to reach it by (a tunnel or proxy).
    #[serde(default)]
    pub rds_host_overrides: BTreeMap<String, String>,
    /// Granularity of RDS sub-integrations: the resource types they offer
    /// (`database`, `table`, `role`, and `schema` on PostgreSQL; default all).
    #[serde(default)]
    pub rds_resource_types: Vec<String>,
    /// The database login the connector uses on `iam-auth` instances.
    #[serde(default = "default_iam_user")]
    pub rds_iam_username: String,
    /// The Resource Explorer view (aggregator index) to discover regional
    /// resources through, across regions and accounts; without it, each
    /// region in `regions` is listed service by service.
    pub resource_explorer_view_arn: Option<String>,
    /// Managed policies per principal: by default read from
    /// GetAccountSummary (10, or 20 with a raised quota).
    pub managed_policies_per_principal: Option<usize>,
    #[serde(default)]
    pub settings: IntegrationSettings,
}

/// Build an `aws-account` integration from its configuration.
pub async fn build(v: &serde_json::Value, registry: &Registry) -> Result<std::sync::Arc<dyn Integration>, IntegrationError> {
    let cfg: AwsAccountConfig = serde_json::from_value(v.clone()).map_err(|e| IntegrationError::Misconfigured(e.to_string()))?;
    Ok(std::sync::Arc::new(AwsAccount::build(cfg, registry).await?))
}

/// Clients of the regional services.
pub(crate) struct Regional {
    pub ec2: aws_sdk_ec2::Client,
    pub rds: aws_sdk_rds::Client,
    pub redshift: aws_sdk_redshift::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
}

pub struct AwsAccount {
    cfg: AwsAccountConfig,
    sdk: SdkConfig,
    iam: aws_sdk_iam::Client,
    s3: aws_sdk_s3::Client,
    sts: aws_sdk_sts::Client,
    account: Mutex<Option<String>>,
    /// Roles assumed in turn with the configured identity to reach this
    /// account (a member account's); RDS secrets and tokens are read so too.
    roles: Vec<String>,
    /// RDS sub-integrations built by discovery, by instance id.
    children: rds::Children,
    /// Builds RDS sub-integrations and reads their secrets.
    registry: Registry,
    /// Where interrupted Resource Explorer listings got to.
    cursors: Mutex<BTreeMap<String, explorer::Cursor>>,
    /// Tags the last `list_resources` saw, handed once to the
    /// `list_resources_tags` that follows it (so a sync discovers once).
    last_tags: Mutex<Option<(std::time::Instant, Tags)>>,
    /// Bucket → customer-managed KMS key (or none), as discovery last saw
    /// them: a grant reads only the buckets missing here, in bulk.
    bucket_keys: Mutex<BTreeMap<String, Option<String>>>,
    descriptor: Arc<Descriptor>,
}

type Tags = BTreeMap<String, BTreeMap<String, String>>;

/// How long tags from a discovery stand in for a fresh one.
const TAGS_FRESH: std::time::Duration = std::time::Duration::from_secs(60);

fn tags_of(found: &[Found]) -> Tags {
    found.iter().filter(|f| !f.tags.is_empty()).map(|f| (f.info.id.clone(), f.tags.clone())).collect()
}

pub(crate) fn sdk_err<E: std::error::Error + aws_sdk_iam::error::ProvideErrorMetadata + 'static>(what: &str, e: E) -> IntegrationError {
    IntegrationError::Unavailable(Cause::Aws {
        call: what.to_owned(),
        code: e.code().map(str::to_owned),
        message: aws_sdk_iam::error::DisplayErrorContext(&e).to_string(),
    })
}

impl AwsAccount {
    pub async fn build(cfg: AwsAccountConfig, registry: &Registry) -> Result<AwsAccount, IntegrationError> {
        Self::check(&cfg)?;
        let sdk = crate::integration_sdk(&cfg.region, cfg.endpoint_url.as_deref(), &cfg.profile, cfg.access_key_id.as_ref(), cfg.secret_access_key.as_ref(), registry).await?;
        AwsAccount::with_sdk(cfg, sdk, registry)
    }

    /// The roles `sdk` (given to [`AwsAccount::with_sdk`]) assumed in turn
    /// with the configured identity.
    pub fn assuming(mut self, roles: Vec<String>) -> AwsAccount {
        self.roles = roles;
        self
    }

    fn check(cfg: &AwsAccountConfig) -> Result<(), IntegrationError> {
        if !sesame_core::username::valid_prefix(&cfg.user_prefix) {
            return Err(IntegrationError::Misconfigured(format!("`user_prefix` `{}` must match [a-z][a-z0-9_]*", cfg.user_prefix)));
        }
        if cfg.delivery == Delivery::SamlRole && cfg.saml_provider_arn.as_deref().is_none_or(|a| !a.starts_with("arn:")) {
            return Err(IntegrationError::Misconfigured("`delivery = \"saml_role\"` needs `saml_provider_arn` (arn:aws:iam::ACCOUNT:saml-provider/NAME)".into()));
        }
        if let Some(ts) = &cfg.resource_types {
            if let Some(bad) = ts.iter().find(|t| !RESOURCE_TYPES.contains(&t.as_str())) {
                return Err(IntegrationError::Misconfigured(format!("unknown resource type `{bad}`: use {}", RESOURCE_TYPES.join(", "))));
            }
        }
        if let Some(bad) = cfg.rds_resource_types.iter().find(|t| !["database", "schema", "table", "role"].contains(&t.as_str())) {
            return Err(IntegrationError::Misconfigured(format!("`rds_resource_types` names `{bad}`: use some of database, schema, table, role")));
        }
        Ok(cfg.settings.validate()?)
    }

    /// An account reached with credentials made elsewhere (an organization's
    /// member account, through a role assumed in it); `cfg` checked as
    /// [`AwsAccount::build`] checks it.
    pub fn with_sdk(cfg: AwsAccountConfig, sdk: SdkConfig, registry: &Registry) -> Result<AwsAccount, IntegrationError> {
        Self::check(&cfg)?;
        let s3 = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(cfg.endpoint_url.is_some()).build();
        let types = match &cfg.resource_types {
            Some(ts) => ts.clone(),
            None => RESOURCE_TYPES.iter().map(|s| s.to_string()).collect(),
        };
        let descriptor = Descriptor::new(
            IntegrationKind::AwsAccount,
            &types,
            units::permissions,
            UsernameRule { prefix: cfg.user_prefix.clone(), max_len: 64, requester_identity: false },
            cfg.settings.clone(),
        )
        .with_named_resource_limit(Some(cfg.named_resource_limit));
        Ok(AwsAccount {
            descriptor: Arc::new(descriptor),
            iam: aws_sdk_iam::Client::new(&sdk),
            sts: aws_sdk_sts::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(s3),
            sdk,
            cfg,
            account: Mutex::new(None),
            roles: Vec::new(),
            children: Default::default(),
            registry: registry.clone(),
            cursors: Mutex::new(BTreeMap::new()),
            last_tags: Mutex::new(None),
            bucket_keys: Mutex::new(BTreeMap::new()),
        })
    }

    pub(crate) fn regions(&self) -> Vec<String> {
        if self.cfg.regions.is_empty() {
            vec![self.cfg.region.clone()]
        } else {
            self.cfg.regions.clone()
        }
    }

    pub(crate) fn regional(&self, region: &str) -> Regional {
        let c = self.sdk.to_builder().region(aws_config::Region::new(region.to_owned())).build();
        Regional {
            ec2: aws_sdk_ec2::Client::new(&c),
            rds: aws_sdk_rds::Client::new(&c),
            redshift: aws_sdk_redshift::Client::new(&c),
            secrets: aws_sdk_secretsmanager::Client::new(&c),
            sns: aws_sdk_sns::Client::new(&c),
            sqs: aws_sdk_sqs::Client::new(&c),
        }
    }

    pub(crate) async fn account_id(&self) -> Result<String, IntegrationError> {
        if let Some(a) = self.account.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(a);
        }
        let me = self.sts.get_caller_identity().send().await.map_err(|e| sdk_err("cannot read the caller identity (STS)", e))?;
        let a = me.account().unwrap_or_default().to_owned();
        *self.account.lock().unwrap_or_else(|p| p.into_inner()) = Some(a.clone());
        Ok(a)
    }

    /// The policies a grant needs, placed within the principal's quotas:
    /// the same sizing for a grant and for its dry run.
    async fn placement(&self, p: &ActionParams, valid_until: Timestamp) -> Result<Placement, IntegrationError> {
        // Selectors (`tag:KEY=VALUE`, `*`) are not resources selected by name.
        let named = p.resources.iter().filter(|r| sesame_core::policy::Selector::parse(r).is_none()).count();
        check_selection(named, self.cfg.named_resource_limit).map_err(|g| IntegrationError::Invalid(g.to_string()))?;
        let units = self.units(&p.resource_type, &p.permission, &p.resources).await?;
        let statements = compile(&units, valid_until);
        let q = match self.federation() {
            None => Quotas::for_target(Target::User, self.managed_per_principal("AttachedPoliciesPerUserQuota").await),
            Some(_) => Quotas::for_target(Target::Role, self.managed_per_principal("AttachedPoliciesPerRoleQuota").await),
        };
        pack(&statements, valid_until, q).map_err(|e| IntegrationError::Invalid(e.to_string()))
    }

    /// The customer-managed KMS key encrypting `bucket`, if any (read now;
    /// discovery remembers what it read).
    async fn bucket_key(&self, bucket: &str) -> Option<String> {
        let key = async {
            let enc = self.s3.get_bucket_encryption().bucket(bucket).send().await.ok()?;
            enc.server_side_encryption_configuration()?
                .rules()
                .iter()
                .filter_map(|r| r.apply_server_side_encryption_by_default())
                .find_map(|d| d.kms_master_key_id().map(str::to_owned))
        }
        .await;
        self.bucket_keys.lock().unwrap_or_else(|p| p.into_inner()).insert(bucket.to_owned(), key.clone());
        key
    }

    /// The keys of `buckets`: what discovery saw, and the buckets it did not
    /// see read now, 16 at a time.
    async fn bucket_keys(&self, buckets: &[String]) -> BTreeMap<String, Option<String>> {
        use futures::StreamExt;
        let mut known: BTreeMap<String, Option<String>> = {
            let cache = self.bucket_keys.lock().unwrap_or_else(|p| p.into_inner());
            buckets.iter().filter_map(|b| cache.get(b).map(|k| (b.clone(), k.clone()))).collect()
        };
        let missing: Vec<String> = buckets.iter().filter(|b| !known.contains_key(*b)).cloned().collect();
        let reads = missing.into_iter().map(|b| async move {
            let k = self.bucket_key(&b).await;
            (b, k)
        });
        let read: Vec<(String, Option<String>)> = futures::stream::iter(reads).buffer_unordered(16).collect().await;
        known.extend(read);
        known
    }

    /// Managed policies a principal may carry: configured, else the
    /// account's quota from GetAccountSummary, else IAM's default of 10.
    async fn managed_per_principal(&self, key: &str) -> usize {
        if let Some(n) = self.cfg.managed_policies_per_principal {
            return n;
        }
        match self.iam.get_account_summary().send().await {
            Ok(s) => s
                .summary_map()
                .and_then(|m| m.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| *v))
                .and_then(|v| usize::try_from(v).ok())
                .filter(|v| *v > 0)
                .unwrap_or(10),
            Err(_) => 10,
        }
    }

    fn federation(&self) -> Option<Federation> {
        match self.cfg.delivery {
            Delivery::IamUser => None,
            Delivery::IdentityCenterRole => Some(Federation::IdentityCenter),
            Delivery::SamlRole => Some(Federation::Saml { provider_arn: self.cfg.saml_provider_arn.clone().unwrap_or_default() }),
        }
    }

    fn first_use_hint(&self, p: &ActionParams) -> Option<String> {
        use sesame_integrations::sql::shell_quote as q;
        let r = p.resources.first()?;
        Some(match p.resource_type.as_str() {
            "s3_bucket" => format!("aws s3 ls {}", q(&format!("s3://{r}/"))),
            "ec2_instance" => format!("aws ssm start-session --target {}", q(r.rsplit('/').next().unwrap_or(r))),
            "iam_role" => format!("aws sts assume-role --role-arn {} --role-session-name {}", q(r), q(&p.username)),
            "secret" => format!("aws secretsmanager get-secret-value --secret-id {}", q(r)),
            _ => "aws sts get-caller-identity".to_owned(),
        })
    }

    fn role_credentials(&self, p: &ActionParams, role_arn: String) -> Credentials {
        let who = p.requester().unwrap_or_default().to_owned();
        let mut details = BTreeMap::from([("role_arn".to_owned(), role_arn.clone()), ("source_identity".to_owned(), who.clone()), ("region".to_owned(), self.cfg.region.clone())]);
        let command = match self.cfg.delivery {
            Delivery::SamlRole => {
                details.insert("how".into(), "sign in through your identity provider and choose this role".into());
                None
            }
            _ => {
                use sesame_integrations::sql::shell_quote as q;
                // Session names allow [\w+=,.@-]: the e-mail fits.
                Some(format!("aws sts assume-role --role-arn {} --role-session-name {w} --source-identity {w}", q(&role_arn), w = q(&who)))
            }
        };
        // Nothing secret: only the grantee's own federated session can assume it.
        Credentials { username: role_arn, secret: String::new(), details, connect_command: command }
    }
}

#[async_trait]
impl Integration for AwsAccount {
    fn descriptor(&self) -> Arc<Descriptor> {
        self.descriptor.clone()
    }

    fn child(&self, name: &str) -> Option<std::sync::Arc<dyn Integration>> {
        self.rds_lookup(name)
    }

    async fn get_status(&self) -> Result<StatusReport, IntegrationError> {
        let account = self.account_id().await?;
        self.iam.list_users().max_items(1).send().await.map_err(|e| sdk_err("cannot list IAM users", e))?;
        let wrong = self.explorer_problems().await?;
        if !wrong.is_empty() {
            return Ok(StatusReport { healthy: false, message: format!("account {account}: Resource Explorer: {}", wrong.join("; ")) });
        }
        Ok(StatusReport { healthy: true, message: format!("account {account} reachable in {}", self.regions().join(", ")) })
    }

    async fn list_resources(&self) -> Result<Discovery, IntegrationError> {
        let found = self.discover().await?;
        *self.last_tags.lock().unwrap_or_else(|p| p.into_inner()) = Some((std::time::Instant::now(), tags_of(&found)));
        let permissions = self.descriptor.permission_map();
        let mut children = Vec::new();
        for f in found.iter().filter(|f| f.info.resource_type == "rds_instance") {
            let m = &f.info.metadata;
            let get = |k: &str| m.get(k).map(String::as_str).unwrap_or_default();
            let i = rds::Instance {
                id: &f.info.name,
                arn: &f.info.id,
                engine: get("engine"),
                host: get("host"),
                port: get("port").parse().unwrap_or(5432),
                region: get("region"),
                dbi_resource_id: get("dbi_resource_id"),
                tags: &f.tags,
            };
            children.extend(self.rds_child(&i).await);
        }
        // Instances no longer tagged (or gone) are no longer served.
        let names: Vec<String> = children.iter().filter(|c| c.info.is_some()).map(|c| c.name.rsplit('/').next().unwrap_or_default().to_owned()).collect();
        self.children.lock().unwrap_or_else(|p| p.into_inner()).retain(|k, _| names.contains(k));
        Ok(Discovery { resources: found.into_iter().map(|f| f.info).collect(), permissions, children })
    }

    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
        let last = self.last_tags.lock().unwrap_or_else(|p| p.into_inner()).take();
        match last {
            Some((at, tags)) if at.elapsed() < TAGS_FRESH => Ok(tags),
            _ => Ok(tags_of(&self.discover().await?)),
        }
    }

    async fn grant_access(&self, p: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError> {
        let placement = self.placement(p, valid_until).await?;
        match self.federation() {
            None => {
                principal::ensure_user(&self.iam, &p.username, &p.grant_id).await?;
                principal::put_policies(&self.iam, Principal::User(&p.username), &placement).await
            }
            Some(f) => {
                let who = p.requester().ok_or_else(|| IntegrationError::Invalid("a federated role needs the requester's identity; none was passed".into()))?;
                let trust = trust_policy(&f, &self.account_id().await?, who, valid_until);
                principal::ensure_role(&self.iam, &p.username, &p.grant_id, &trust, 3600).await?;
                principal::put_policies(&self.iam, Principal::Role(&p.username), &placement).await
            }
        }
    }

    async fn preflight(&self, p: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError> {
        self.placement(p, valid_until).await.map(|_| ())
    }

    async fn revoke_access(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        // Whatever the delivery was when it was granted: both are idempotent.
        principal::delete(&self.iam, Principal::User(&p.username)).await?;
        principal::delete(&self.iam, Principal::Role(&p.username)).await
    }

    async fn create_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        if self.federation().is_some() {
            let arn = format!("arn:aws:iam::{}:role{}{}", self.account_id().await?, principal::PATH, p.username);
            return Ok(self.role_credentials(p, arn));
        }
        principal::new_access_key(&self.iam, &p.username, &self.cfg.region, self.first_use_hint(p)).await
    }

    async fn reset_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        self.create_credentials(p).await
    }

    async fn delete_credentials(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        principal::delete_keys(&self.iam, &p.username).await
    }

    async fn disable_user(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        if principal::is_role(&self.iam, &p.username).await? {
            return principal::delete_policies(&self.iam, Principal::Role(&p.username)).await;
        }
        principal::delete_keys(&self.iam, &p.username).await?;
        principal::delete_policies(&self.iam, Principal::User(&p.username)).await
    }

    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError> {
        principal::delete(&self.iam, Principal::User(username)).await?;
        principal::delete(&self.iam, Principal::Role(username)).await
    }

    async fn list_managed_users(&self) -> Result<Vec<String>, IntegrationError> {
        principal::list(&self.iam, &self.cfg.user_prefix).await
    }

    async fn boundary_of(&self, principal_type: &str, name: &str) -> Result<(String, Option<String>), IntegrationError> {
        self.standing_boundary(principal_type, name).await
    }

    async fn set_boundary(&self, principal_type: &str, name: &str, boundary_arn: Option<&str>) -> Result<(), IntegrationError> {
        self.put_standing_boundary(principal_type, name, boundary_arn).await
    }

}
