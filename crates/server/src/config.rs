//! Configuration: a versioned TOML file (`deny_unknown_fields`), then the
//! `SESAME_*` environment, then command-line flags, validated into one
//! [`Settings`]. Errors name the file, the key and what to do.

use sesame_core::flow::{ApprovalMode, ApproverPolicy, ResourceScope, ScopeBy};
use sesame_core::people::{Attribute, Condition, Conditions, Logical, MatchOp};
use sesame_core::{AccessFlow, Directory, FlowKind, User};
pub use sesame_integrations::registry::IntegrationDecl;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const CONFIG_VERSION: u32 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub version: u32,
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub worker: WorkerSection,
    #[serde(default)]
    pub users: Vec<UserDecl>,
    #[serde(default)]
    pub integrations: Vec<IntegrationDecl>,
    #[serde(default)]
    pub access_flows: Vec<FlowDecl>,
    /// Named sets of access targets (the seed's `apono_bundle_v2`).
    #[serde(default)]
    pub bundles: Vec<BundleDecl>,
    /// Connectors that may dial in (`sesame connector`).
    #[serde(default)]
    pub connectors: Vec<ConnectorDecl>,
    /// Sesame's own roles, granted to groups.
    #[serde(default)]
    pub roles: RolesDecl,
    /// Sign-in through an OpenID Provider.
    pub oidc: Option<OidcDecl>,
    /// What integrations made through the API may reach of this server.
    #[serde(default)]
    pub api_integrations: ApiIntegrations,
    /// A declaration (`sesame apply`'s format: TOML, YAML or JSON) applied
    /// at every start, as `sesame apply -f` would (without pruning).
    /// Relative to this file.
    pub declarations: Option<PathBuf>,
}

/// `[api_integrations]`: an admin who makes integrations through the API
/// must not gain this server's own secrets or a shell on it. Their secret
/// references may only read environment variables with this prefix, files
/// inside this directory, and AWS Secrets Manager secrets whose name starts
/// with this prefix; custom integrations over `exec` are declared in this
/// file only.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiIntegrations {
    #[serde(default = "default_env_prefix")]
    pub secret_env_prefix: String,
    /// Without it, `file` references are refused. Relative to this file.
    pub secret_dir: Option<PathBuf>,
    #[serde(default = "default_aws_secret_prefix")]
    pub aws_secret_prefix: String,
}

impl Default for ApiIntegrations {
    fn default() -> Self {
        ApiIntegrations { secret_env_prefix: default_env_prefix(), secret_dir: None, aws_secret_prefix: default_aws_secret_prefix() }
    }
}

fn default_env_prefix() -> String {
    "SESAME_SECRET_".into()
}

fn default_aws_secret_prefix() -> String {
    "sesame/".into()
}

/// `[oidc]`: people sign in at this OpenID Provider (browsers with the
/// authorization-code flow and PKCE, `sesame login` with the device grant).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcDecl {
    /// The issuer URL; its `/.well-known/openid-configuration` is read.
    pub issuer: String,
    pub client_id: String,
    /// A reference (`{ env = "..." }`, `{ file = "..." }`), never the value.
    pub client_secret: sesame_integrations::secret::SecretRef,
    /// Scopes asked for; `openid` is always asked.
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// The ID token claim that lists the person's groups.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Sesame's `/auth/callback` as the provider sends browsers back to it.
    pub redirect_url: String,
    /// How long a sign-in lasts.
    #[serde(default = "default_session", with = "humantime_serde_compat")]
    pub session: Duration,
}

fn default_oidc_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}
fn default_groups_claim() -> String {
    "groups".into()
}
fn default_session() -> Duration {
    Duration::from_secs(8 * 3600)
}

/// `[roles]`: the groups whose members administer Sesame, audit it (read
/// the audit log and reports, change nothing), and may request access at
/// all (everybody when left out).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesDecl {
    #[serde(default)]
    pub admins: Vec<String>,
    #[serde(default)]
    pub auditors: Vec<String>,
    pub requesters: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorDecl {
    pub id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default = "default_store")]
    pub store: String,
    /// PEM certificate chain and private key: with both, the API speaks
    /// HTTPS only. Relative paths are relative to this file.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Failed sign-ins allowed per minute per address and per token; more
    /// are refused (429) before the store is asked.
    #[serde(default = "default_auth_failures")]
    pub auth_failures_per_minute: u32,
    /// The key that seals MFA secrets in the store (32 random bytes, made
    /// with mode 0600 on first start). Replicas share it. Relative paths are
    /// relative to this file.
    #[serde(default = "default_mfa_key_file")]
    pub mfa_key_file: PathBuf,
}

fn default_mfa_key_file() -> PathBuf {
    PathBuf::from("sesame-mfa.key")
}

fn default_auth_failures() -> u32 {
    crate::limits::AUTH_FAILURES_PER_MINUTE
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: default_listen(),
            store: default_store(),
            tls_cert: None,
            tls_key: None,
            auth_failures_per_minute: default_auth_failures(),
            mfa_key_file: default_mfa_key_file(),
        }
    }
}

/// The certificate and key the API is served with.
#[derive(Debug, Clone)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_store() -> String {
    "sqlite://sesame.db".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSection {
    #[serde(default = "d_poll", with = "humantime_serde_compat")]
    pub poll_interval: Duration,
    #[serde(default = "d_retry_base", with = "humantime_serde_compat")]
    pub retry_base: Duration,
    #[serde(default = "d_retry_max", with = "humantime_serde_compat")]
    pub retry_max: Duration,
    #[serde(default = "d_reconcile", with = "humantime_serde_compat")]
    pub reconcile_interval: Duration,
    #[serde(default = "d_sync", with = "humantime_serde_compat")]
    pub sync_interval: Duration,
    #[serde(default = "d_concurrency")]
    pub concurrency: u32,
    #[serde(default = "d_lease", with = "humantime_serde_compat")]
    pub lease: Duration,
    /// A connector instance that has not polled for this long is disconnected.
    #[serde(default = "d_connector_timeout", with = "humantime_serde_compat")]
    pub connector_timeout: Duration,
    /// The longest one action (grant, revoke, ...) may take before the worker
    /// gives up on it and retries; every integration's own timeouts must fit
    /// inside it, and it must be shorter than `lease`.
    #[serde(default = "d_action_timeout", with = "humantime_serde_compat")]
    pub action_timeout: Duration,
    /// The longest one integration's discovery, or its reconcile pass, may take.
    #[serde(default = "d_sync_timeout", with = "humantime_serde_compat")]
    pub sync_timeout: Duration,
}

impl WorkerSection {
    /// How long a claimed job stays its claimer's, in ms.
    pub fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(60_000)
    }
}

impl Default for WorkerSection {
    fn default() -> Self {
        WorkerSection {
            poll_interval: d_poll(),
            retry_base: d_retry_base(),
            retry_max: d_retry_max(),
            reconcile_interval: d_reconcile(),
            sync_interval: d_sync(),
            concurrency: d_concurrency(),
            lease: d_lease(),
            connector_timeout: d_connector_timeout(),
            action_timeout: d_action_timeout(),
            sync_timeout: d_sync_timeout(),
        }
    }
}

fn d_poll() -> Duration {
    Duration::from_millis(100)
}
fn d_retry_base() -> Duration {
    Duration::from_millis(500)
}
fn d_retry_max() -> Duration {
    Duration::from_secs(60)
}
fn d_reconcile() -> Duration {
    Duration::from_secs(60)
}
fn d_sync() -> Duration {
    Duration::from_secs(300)
}
fn d_concurrency() -> u32 {
    32
}
fn d_connector_timeout() -> Duration {
    Duration::from_secs(30)
}
fn d_lease() -> Duration {
    Duration::from_secs(180)
}
fn d_sync_timeout() -> Duration {
    Duration::from_secs(600)
}
fn d_action_timeout() -> Duration {
    Duration::from_secs(150)
}

/// Durations written the humane way: `100ms`, `2h`, `1h 30m`.
mod humantime_serde_compat {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("`{s}` is not a duration ({e}); write e.g. `500ms`, `2h`")))
    }

    pub mod option {
        use serde::{Deserializer, Serializer};
        use std::time::Duration;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            super::deserialize(d).map(Some)
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDecl {
    pub email: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub admin: bool,
    /// Display name.
    pub name: Option<String>,
    /// The manager's e-mail (`manager` requestor conditions and approvers).
    pub manager: Option<String>,
    /// Free attributes that requestor and approver conditions read.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// Conditions on people, in the seed's spelling.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionsDecl {
    /// `AND` or `OR` (default).
    #[serde(default = "default_or")]
    pub logical_operator: String,
    pub conditions: Vec<ConditionDecl>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionDecl {
    /// `user`, `group`, `manager`, `Owner` (approvers) or a custom attribute.
    #[serde(rename = "type")]
    pub kind: String,
    /// `is` (default), `is_not`, `contains`, `does_not_contain`, `starts_with`.
    #[serde(default = "default_is")]
    pub match_operator: String,
    #[serde(default)]
    pub values: Vec<String>,
    /// The seed's identity source of the user or group. Sesame has one
    /// directory, so it is accepted (to port definitions) and not read.
    pub source_integration_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApproverPolicyDecl {
    /// `ANY_OF` (default) or `ALL_OF`.
    #[serde(default = "default_any_of")]
    pub approval_mode: String,
    pub approver_groups: Vec<ApproverGroupDecl>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApproverGroupDecl {
    #[serde(default = "default_or")]
    pub logical_operator: String,
    pub approvers: Vec<ConditionDecl>,
}

fn default_or() -> String {
    "OR".into()
}

fn default_is() -> String {
    "is".into()
}

fn default_any_of() -> String {
    "ANY_OF".into()
}

fn conditions(logical: &str, items: &[ConditionDecl], approvers: bool, at: &str) -> Result<Conditions, String> {
    let logical = match logical.to_ascii_uppercase().as_str() {
        "AND" => Logical::And,
        "OR" => Logical::Or,
        other => return Err(format!("`{at}.logical_operator` `{other}` is not AND or OR")),
    };
    if items.is_empty() {
        return Err(format!("`{at}` names no condition: add one, e.g. {{ type = \"group\", values = [\"developers\"] }}"));
    }
    let mut out = Vec::new();
    for (j, c) in items.iter().enumerate() {
        let op = MatchOp::parse(&c.match_operator)
            .ok_or_else(|| format!("`{at}[{j}].match_operator` `{}` is not one of is, is_not, contains, does_not_contain, starts_with", c.match_operator))?;
        let attribute = Attribute::parse(&c.kind);
        if attribute == Attribute::Owner && !approvers {
            return Err(format!("`{at}[{j}]`: `Owner` names approvers, not requestors"));
        }
        if c.values.is_empty() && !matches!(attribute, Attribute::Owner | Attribute::Manager) {
            return Err(format!("`{at}[{j}]` has no `values`: name whom it matches"));
        }
        out.push(Condition { attribute, op, values: c.values.clone() });
    }
    Ok(Conditions { logical, conditions: out })
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalsDecl {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Deserialize, serde::Serialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum FlowKindDecl {
    Automatic,
    SelfServe,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FlowDecl {
    pub name: String,
    /// The seed's `access_targets` (instead of `integration`).
    #[serde(default)]
    pub access_targets: Vec<AccessTargetDecl>,
    /// Inactive flows decide nothing (the seed's `active`, default true).
    #[serde(default = "yes")]
    pub active: bool,
    /// `automatic` or `self_serve`...
    pub kind: Option<FlowKindDecl>,
    /// ...or the seed's `trigger`: `AUTOMATIC` or `SELF_SERVE`.
    pub trigger: Option<String>,
    /// The one integration it covers (or `access_targets`).
    pub integration: Option<String>,
    /// Who may ask, by name (Sesame's first spelling)...
    pub requesters: Option<PrincipalsDecl>,
    /// ...or by conditions (the seed's `requestors`).
    pub requestors: Option<ConditionsDecl>,
    /// Who approves, by name (one group, owners joining)...
    pub approvers: Option<PrincipalsDecl>,
    /// ...or the seed's `approver_policy`.
    pub approver_policy: Option<ApproverPolicyDecl>,
    #[serde(default)]
    pub resource_types: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    /// The longest grant, `8h`...
    #[serde(default, with = "humantime_serde_compat::option")]
    pub max_duration: Option<Duration>,
    /// ...or the seed's `grant_duration_in_min`.
    pub grant_duration_in_min: Option<u64>,
    #[serde(default)]
    pub require_justification: bool,
    /// When the flow takes requests (the seed's `timeframe`).
    pub timeframe: Option<TimeframeDecl>,
    /// The seed's `settings`.
    pub settings: Option<FlowSettingsDecl>,
    /// A pending request nobody answers this long ends Expired (Sesame's).
    #[serde(default, with = "humantime_serde_compat::option")]
    pub pending_expiry: Option<Duration>,
    /// Up to 5 tiers: unanswered for `after`, the tier's approvers may approve too.
    #[serde(default)]
    pub escalation: Vec<EscalationDecl>,
    /// For whom requestors may ask (default: themselves).
    pub request_for: Option<RequestForDecl>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestForDecl {
    /// `self`, `others`, `direct_reports`.
    pub request_scopes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct BundleDecl {
    pub name: String,
    /// Integration targets (each permission on what its resources_scopes
    /// select) and access scopes; no bundles.
    pub access_targets: Vec<AccessTargetDecl>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccessTargetDecl {
    pub integration: Option<IntegrationTargetDecl>,
    pub bundle: Option<NamedDecl>,
    pub access_scope: Option<NamedDecl>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamedDecl {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationTargetDecl {
    pub integration_name: String,
    pub resource_type: String,
    /// Empty: every permission of the type.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// None: every resource of the type.
    #[serde(default)]
    pub resources_scopes: Vec<ResourcesScopeDecl>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesScopeDecl {
    /// `include_resources` or `exclude_resources`.
    pub scope_mode: String,
    /// `NAME`, `APONO_ID` (Sesame's id) or `TAG`.
    #[serde(rename = "type")]
    pub by: String,
    /// The tag (with `TAG`).
    pub key: Option<String>,
    pub values: Vec<String>,
}

/// One integration a flow covers, and where the file says so.
struct Target {
    integration: String,
    resource_types: Vec<String>,
    permissions: Vec<String>,
    scopes: Vec<ResourceScope>,
    /// An access_scope target: what the named scope selects.
    access_scope: Option<String>,
    /// A bundle target (flows only): requests for that bundle.
    bundle: Option<String>,
    at: String,
}

/// The seed's `access_targets` of a flow or a bundle (`at` names it),
/// each integration target with its type in Sesame's spelling.
fn access_targets(integrations: &[IntegrationDecl], bundles: &[BundleDecl], targets: &[AccessTargetDecl], at: &str, bundles_allowed: bool) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    for (j, t) in targets.iter().enumerate() {
        let at = format!("{at}.access_targets[{j}]");
        let it = match (&t.integration, &t.bundle, &t.access_scope) {
            (Some(it), None, None) => it,
            (None, None, Some(scope)) => {
                out.push(Target { integration: String::new(), resource_types: vec![], permissions: vec![], scopes: vec![], access_scope: Some(scope.name.clone()), bundle: None, at });
                continue;
            }
            (None, Some(b), None) if bundles_allowed => {
                if !bundles.iter().any(|d| d.name == b.name) {
                    return Err(format!("`{at}.bundle.name` `{}` is not declared: add it under [[bundles]] or fix the name", b.name));
                }
                out.push(Target { integration: String::new(), resource_types: vec![], permissions: vec![], scopes: vec![], access_scope: None, bundle: Some(b.name.clone()), at });
                continue;
            }
            (None, Some(_), None) => return Err(format!("`{at}`: bundles do not nest; name an integration or an access_scope")),
            _ => return Err(format!("`{at}` names exactly one of integration, bundle and access_scope")),
        };
        let scopes = it
            .resources_scopes
            .iter()
            .enumerate()
            .map(|(k, sc)| resource_scope(sc).map_err(|e| format!("`{at}.integration.resources_scopes[{k}]`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        // The seed's spellings: `aws-account-s3-bucket` is the s3_bucket
        // type of an aws-account integration; `READ_WRITE` is read_write.
        let declared_kind = integrations.iter().find(|d| d.name() == it.integration_name).map(|d| d.kind());
        let resource_type = match sesame_core::aql::types::meaning(&it.resource_type) {
            (Some(kind), ty) => {
                if declared_kind.is_some_and(|k| k.as_str() != kind && k != sesame_proto::connector::IntegrationKind::Remote) {
                    return Err(format!("`{at}.integration.resource_type` `{}` is a type of {kind} integrations, and `{}` is not one", it.resource_type, it.integration_name));
                }
                ty.to_owned()
            }
            (None, ty) => ty.to_owned(),
        };
        out.push(Target {
            integration: it.integration_name.clone(),
            resource_types: vec![resource_type],
            permissions: it.permissions.iter().map(|p| p.to_lowercase()).collect(),
            scopes,
            access_scope: None,
            bundle: None,
            at: format!("{at}.integration.integration_name"),
        });
    }
    Ok(out)
}

fn resource_scope(d: &ResourcesScopeDecl) -> Result<ResourceScope, String> {
    let include = match d.scope_mode.to_ascii_lowercase().as_str() {
        "include_resources" => true,
        "exclude_resources" => false,
        other => return Err(format!("`scope_mode` `{other}` is not include_resources or exclude_resources")),
    };
    let by = match (d.by.to_ascii_uppercase().as_str(), &d.key) {
        ("NAME", None) => ScopeBy::Name,
        ("APONO_ID" | "ID", None) => ScopeBy::Id,
        ("TAG", Some(k)) if !k.is_empty() => ScopeBy::Tag { key: k.clone() },
        ("TAG", _) => return Err("a `TAG` scope needs the tag's `key`".into()),
        ("NAME" | "APONO_ID" | "ID", Some(_)) => return Err("only a `TAG` scope takes a `key`".into()),
        (other, _) => return Err(format!("`type` `{other}` is not NAME, APONO_ID or TAG")),
    };
    if d.values.is_empty() {
        return Err("`values` is empty: name what it selects".into());
    }
    Ok(ResourceScope { include, by, values: d.values.clone() })
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationDecl {
    /// How long the tier before it (or the request) goes unanswered.
    #[serde(with = "humantime_serde_compat")]
    pub after: Duration,
    #[serde(default = "default_or")]
    pub logical_operator: String,
    pub approvers: Vec<ConditionDecl>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSettingsDecl {
    /// Default true for self-serve flows; automatic flows cannot ask for one.
    pub justification_required: Option<bool>,
    /// An approver (or rejecter) must say why.
    #[serde(default)]
    pub require_approver_reason: bool,
    /// Always true in Sesame.
    pub requester_cannot_approve_self: Option<bool>,
    /// MFA at approval time: an approval counts only after the approver's
    /// step-up.
    pub require_mfa: Option<bool>,
    /// Sesame's: the requester steps up before the grant (`PendingMFA`).
    pub requester_mfa: Option<bool>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// How many times an Active grant may be extended (default 0).
    pub max_extensions: Option<u32>,
    /// The longest one extension may be, in minutes (default: the flow's
    /// grant duration).
    pub extension_duration_in_min: Option<u64>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeframeDecl {
    /// `MONDAY` .. `SUNDAY`; every day when left out.
    #[serde(default)]
    pub days_of_week: Vec<String>,
    /// `HH:MM` or `HH:MM:SS`.
    pub start_time: String,
    /// Before `start_time`: the window runs past midnight.
    pub end_time: String,
    /// IANA name, e.g. `Europe/London`.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

fn default_time_zone() -> String {
    "UTC".into()
}

/// Overrides from the environment and the command line.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub store: Option<String>,
    pub insecure_http: bool,
}

impl Overrides {
    /// `SESAME_LISTEN`, `SESAME_STORE`.
    pub fn from_env() -> Overrides {
        Overrides { listen: std::env::var("SESAME_LISTEN").ok(), store: std::env::var("SESAME_STORE").ok(), insecure_http: false }
    }

    /// `other` wins where it says something.
    pub fn then(self, other: Overrides) -> Overrides {
        Overrides { listen: other.listen.or(self.listen), store: other.store.or(self.store), insecure_http: other.insecure_http || self.insecure_http }
    }
}

/// The validated configuration the server runs with.
#[derive(Debug)]
pub struct Settings {
    pub path: PathBuf,
    pub listen: String,
    /// HTTPS when set; plain HTTP otherwise (loopback only, unless `insecure_http`).
    pub tls: Option<Tls>,
    /// `--insecure-http`: plain HTTP on a non-loopback address, knowingly.
    pub insecure_http: bool,
    pub auth_failures_per_minute: u32,
    /// Where the key sealing MFA secrets lives.
    pub mfa_key_file: PathBuf,
    pub store: String,
    pub worker: WorkerSection,
    pub directory: Directory,
    pub roles: sesame_core::Roles,
    pub integrations: Vec<IntegrationDecl>,
    /// The file's access flows and bundles; those made through the API
    /// join them in `AppState::policy`.
    pub flows: Vec<AccessFlow>,
    pub bundles: Vec<sesame_core::bundle::Bundle>,
    /// Their declarations, to check API-made ones against.
    pub flow_decls: Vec<FlowDecl>,
    pub bundle_decls: Vec<BundleDecl>,
    pub connectors: BTreeSet<String>,
    pub oidc: Option<OidcDecl>,
    pub api_integrations: ApiIntegrations,
    /// Applied at start (`declarations`), resolved against the file's directory.
    pub declarations: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
#[error("config `{path}`: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

pub fn load(path: &Path, overrides: Overrides) -> Result<Settings, ConfigError> {
    let err = |m: String| ConfigError { path: path.display().to_string(), message: m };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read the file: {e}")))?;
    parse(&text, path, overrides)
}

/// Access flows and bundles from their declarations (the file's, and any
/// made through the API), checked against the integrations: the one place
/// they are read, so both spellings mean the same.
pub fn policy(integrations: &[IntegrationDecl], flows_decl: &[FlowDecl], bundles_decl: &[BundleDecl]) -> Result<(Vec<AccessFlow>, Vec<sesame_core::bundle::Bundle>), String> {
    let err = |m: String| m;
    let names: BTreeSet<String> = integrations.iter().map(|d| d.name().to_owned()).collect();
    let mut flows = Vec::new();
    for (i, f) in flows_decl.iter().enumerate() {
        // `parent/instance`: a sub-integration the parent's discovery finds (RDS auto-discovery).
        let parent_may_have_children = |p: &str| {
            integrations.iter().any(|d| {
                d.name() == p
                    && match d {
                        IntegrationDecl::AwsAccount(_) | IntegrationDecl::Remote(_) => true,
                        // Member accounts (`members`) are its sub-integrations.
                        IntegrationDecl::AwsOrganization(m) => m.contains_key("members"),
                        _ => false,
                    }
            })
        };
        // What the flow covers: one integration (Sesame's first spelling) or
        // the seed's `access_targets`, each integration target a flow of its own.
        let targets: Vec<Target> = match (&f.integration, f.access_targets.is_empty()) {
            (Some(integ), true) => vec![Target {
                integration: integ.clone(),
                resource_types: f.resource_types.clone(),
                permissions: f.permissions.clone(),
                scopes: vec![],
                access_scope: None,
                bundle: None,
                at: format!("access_flows[{i}].integration"),
            }],
            (None, false) if f.resource_types.is_empty() && f.permissions.is_empty() => {
                access_targets(integrations, bundles_decl, &f.access_targets, &format!("access_flows[{i}]"), true).map_err(err)?
            }
            _ => {
                return Err(err(format!(
                    "`access_flows[{i}]` names what it covers with `integration` (and resource_types, permissions) or with `access_targets`: use exactly one"
                )))
            }
        };
        for Target { integration, at, .. } in targets.iter().filter(|t| t.access_scope.is_none() && t.bundle.is_none()) {
            let declared = names.contains(integration) || integration.split_once('/').is_some_and(|(p, c)| !c.is_empty() && parent_may_have_children(p));
            if !declared {
                return Err(err(format!("`{at}` `{integration}` is not declared: add it under [[integrations]] or fix the name")));
            }
        }
        let kind = match (f.kind, f.trigger.as_deref().map(str::to_ascii_uppercase).as_deref()) {
            (Some(FlowKindDecl::Automatic), None) | (None, Some("AUTOMATIC")) => FlowKind::Automatic,
            (Some(FlowKindDecl::SelfServe), None) | (None, Some("SELF_SERVE")) => FlowKind::SelfServe,
            (None, Some(other)) => return Err(err(format!("`access_flows[{i}].trigger` `{other}` is not AUTOMATIC or SELF_SERVE"))),
            _ => return Err(err(format!("`access_flows[{i}]` needs exactly one of `kind` (automatic, self_serve) and `trigger` (AUTOMATIC, SELF_SERVE)"))),
        };
        let max_duration = match (f.max_duration, f.grant_duration_in_min) {
            (Some(d), None) => d,
            (None, Some(m)) if m > 0 => Duration::from_secs(m.saturating_mul(60)),
            (None, Some(_)) => return Err(err(format!("`access_flows[{i}].grant_duration_in_min` is 0: give the longest grant in minutes"))),
            _ => return Err(err(format!("`access_flows[{i}]` needs exactly one of `max_duration` (e.g. \"8h\") and `grant_duration_in_min`"))),
        };
        if f.escalation.len() > sesame_core::escalation::MAX_TIERS {
            return Err(err(format!("`access_flows[{i}].escalation` has {} tiers; at most {}", f.escalation.len(), sesame_core::escalation::MAX_TIERS)));
        }
        if !f.escalation.is_empty() && kind != FlowKind::SelfServe {
            return Err(err(format!("`access_flows[{i}].escalation`: only a self-serve flow waits for approvers to escalate to")));
        }
        let tier_at = |field: String| format!("access_flows[{i}].{field}");
        let escalation = f
            .escalation
            .iter()
            .enumerate()
            .map(|(j, t)| {
                let approvers = conditions(&t.logical_operator, &t.approvers, true, &tier_at(format!("escalation[{j}].approvers")))?;
                if t.after.is_zero() {
                    return Err(format!("`{}` is zero: give the time the tier before waits", tier_at(format!("escalation[{j}].after"))));
                }
                Ok(sesame_core::escalation::Tier { after: t.after, approvers })
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(err)?;
        let settings = f.settings.as_ref();
        // The seed's opt-in to self-approval; Sesame's default is never.
        let self_approval = settings.and_then(|s| s.requester_cannot_approve_self) == Some(false);
        // MFA at approval time: on a self-serve flow the approvers step up;
        // an automatic flow approves at request time, so its requester does.
        let asks_mfa = settings.and_then(|s| s.require_mfa).unwrap_or(false);
        let require_mfa = asks_mfa && kind == FlowKind::SelfServe;
        let requester_mfa = settings.and_then(|s| s.requester_mfa).unwrap_or(false) || (asks_mfa && kind == FlowKind::Automatic);
        let max_extensions = settings.and_then(|s| s.max_extensions).unwrap_or(0);
        let extension_max = match settings.and_then(|s| s.extension_duration_in_min) {
            Some(0) if max_extensions > 0 => {
                return Err(err(format!("`access_flows[{i}].settings.extension_duration_in_min` is 0 with max_extensions = {max_extensions}: give the longest extension in minutes")))
            }
            Some(m) => Duration::from_secs(m.saturating_mul(60)),
            None => max_duration,
        };
        let require_justification = match (settings.and_then(|s| s.justification_required), kind) {
            (Some(true), FlowKind::Automatic) => {
                return Err(err(format!("`access_flows[{i}].settings.justification_required` must be false for an automatic flow (nobody reads it before the grant)")))
            }
            (Some(j), _) => j,
            (None, FlowKind::SelfServe) if settings.is_some() => true,
            (None, _) => f.require_justification,
        };
        let at = |field: &str| format!("access_flows[{i}].{field}");
        let requestors = match (&f.requesters, &f.requestors) {
            (Some(p), None) => Conditions::of(&p.users, &p.groups),
            (None, Some(c)) => conditions(&c.logical_operator, &c.conditions, false, &at("requestors.conditions")).map_err(err)?,
            _ => return Err(err(format!("`access_flows[{i}]` needs exactly one of `requesters` (users, groups) and `requestors` (conditions)"))),
        };
        let approver_policy = match (&f.approvers, &f.approver_policy) {
            (Some(p), None) => Some(ApproverPolicy::of(Conditions::of(&p.users, &p.groups))),
            (None, Some(ap)) => {
                let mode = match ap.approval_mode.to_ascii_uppercase().as_str() {
                    "ANY_OF" => ApprovalMode::AnyOf,
                    "ALL_OF" => ApprovalMode::AllOf,
                    other => return Err(err(format!("`{}` `{other}` is not ANY_OF or ALL_OF", at("approver_policy.approval_mode")))),
                };
                if ap.approver_groups.is_empty() {
                    return Err(err(format!("`{}` is empty: add a group of approvers", at("approver_policy.approver_groups"))));
                }
                let groups = ap
                    .approver_groups
                    .iter()
                    .enumerate()
                    .map(|(j, g)| conditions(&g.logical_operator, &g.approvers, true, &at(&format!("approver_policy.approver_groups[{j}].approvers"))))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(err)?;
                Some(ApproverPolicy { mode, groups, owners_join: false })
            }
            (None, None) => None,
            (Some(_), Some(_)) => return Err(err(format!("`access_flows[{i}]` has both `approvers` and `approver_policy`: keep one"))),
        };
        // The seed's `trigger = "SELF_SERVE"` with no approver_policy: people
        // ask, and nobody approves (its basic example). Sesame's own
        // `kind = "self_serve"` always names approvers.
        let seed_unapproved = f.trigger.is_some() && approver_policy.is_none();
        if kind == FlowKind::SelfServe && !seed_unapproved && approver_policy.as_ref().is_none_or(|p| p.groups.iter().all(|g| g.conditions.is_empty())) {
            return Err(err(format!("`access_flows[{i}]` is self_serve but names no `approvers`: add approvers.users or approvers.groups, or an approver_policy")));
        }
        let kind = if seed_unapproved { FlowKind::Automatic } else { kind };
        // Nobody approves: MFA at approval time is the requester's.
        let (require_mfa, requester_mfa) = if seed_unapproved { (false, requester_mfa || asks_mfa) } else { (require_mfa, requester_mfa) };
        let request_for = match &f.request_for {
            None => sesame_core::flow::RequestFor::default(),
            Some(rf) => {
                let mut out = sesame_core::flow::RequestFor { own: false, others: false, direct_reports: false };
                for (k, scope) in rf.request_scopes.iter().enumerate() {
                    match scope.to_ascii_lowercase().as_str() {
                        "self" => out.own = true,
                        "others" => out.others = true,
                        "direct_reports" => out.direct_reports = true,
                        other => return Err(err(format!("`access_flows[{i}].request_for.request_scopes[{k}]` `{other}` is not self, others or direct_reports"))),
                    }
                }
                if rf.request_scopes.is_empty() {
                    return Err(err(format!("`access_flows[{i}].request_for.request_scopes` is empty: name self, others or direct_reports")));
                }
                out
            }
        };
        let timeframe = match &f.timeframe {
            Some(t) => Some(
                sesame_core::timeframe::Timeframe::parse(&t.days_of_week, &t.start_time, &t.end_time, &t.time_zone)
                    .map_err(|e| err(format!("`access_flows[{i}].timeframe`: {e}")))?,
            ),
            None => None,
        };
        for Target { integration, resource_types, permissions, scopes: resource_scopes, access_scope, bundle, .. } in targets {
            flows.push(AccessFlow {
                name: f.name.clone(),
                kind,
                requestors: requestors.clone(),
                approver_policy: approver_policy.clone().unwrap_or_else(|| ApproverPolicy::of(Conditions::of(&[], &[]))),
                integration,
                resource_types,
                permissions,
                resource_scopes,
                access_scope,
                bundle,
                request_for,
                max_duration,
                require_justification,
                active: f.active,
                require_approver_reason: settings.is_some_and(|s| s.require_approver_reason),
                pending_expiry: f.pending_expiry,
                escalation: escalation.clone(),
                labels: settings.map(|s| s.labels.clone()).unwrap_or_default(),
                timeframe: timeframe.clone(),
                require_mfa,
                requester_mfa,
                max_extensions,
                extension_max,
                self_approval,
            });
        }
    }
    let mut bundles = Vec::new();
    for (i, b) in bundles_decl.iter().enumerate() {
        use sesame_core::bundle::{Bundle, BundleTarget};
        if b.name.trim().is_empty() || bundles_decl.iter().filter(|o| o.name == b.name).count() > 1 {
            return Err(err(format!("`bundles[{i}].name` `{}` is empty or not unique: give each bundle its own name", b.name)));
        }
        if b.access_targets.is_empty() {
            return Err(err(format!("`bundles[{i}].access_targets` is empty: name what the bundle grants")));
        }
        let mut targets = Vec::new();
        for t in access_targets(integrations, bundles_decl, &b.access_targets, &format!("bundles[{i}]"), false).map_err(err)? {
            if let Some(name) = t.access_scope {
                targets.push(BundleTarget::Scope { name });
                continue;
            }
            if !names.contains(&t.integration) {
                return Err(err(format!("`{}` `{}` is not declared: add it under [[integrations]] or fix the name", t.at, t.integration)));
            }
            if t.permissions.is_empty() {
                return Err(err(format!("`bundles[{i}]`: a bundle's integration target names its permissions (`{}`)", t.integration)));
            }
            let resource_type = t.resource_types.into_iter().next().unwrap_or_default();
            targets.push(BundleTarget::Integration { integration: t.integration, resource_type, permissions: t.permissions, scopes: t.scopes });
        }
        bundles.push(Bundle { name: b.name.clone(), targets });
    }
    Ok((flows, bundles))
}

/// Integrations that are served together (the file's and those made
/// through the API), each labelled as its declaration is (`integrations[2]`):
/// unique names, each valid alone, each done within the worker's timeout,
/// no two managing the same logins, each remote one's connector declared.
pub fn check_integrations(all: &[(String, &IntegrationDecl)], worker: &WorkerSection, connectors: &BTreeSet<String>) -> Result<(), String> {
    let mut names = BTreeSet::new();
    for (at, integ) in all {
        if !names.insert(integ.name().to_owned()) {
            return Err(format!("`{at}.name` `{}` is used twice: integration names are unique", integ.name()));
        }
        if integ.name().contains('/') {
            return Err(format!("`{at}.name` `{}` contains `/`, which names sub-integrations (`parent/rds-instance`): rename it", integ.name()));
        }
        integ.validate().map_err(|m| format!("`{at}` (`{}`): {m}", integ.name()))?;
        if let Some(longest) = integ.longest_action().filter(|l| *l >= worker.action_timeout) {
            return Err(format!(
                "`{at}` (`{}`) may take {longest:?} per event (timeout_secs × attempts), not less than `worker.action_timeout` ({:?}): \
                 lower `timeout_secs` or `retries`, or raise `worker.action_timeout` (and `worker.lease` above it)",
                integ.name(),
                worker.action_timeout
            ));
        }
        if let IntegrationDecl::Remote(r) = integ {
            if !connectors.contains(&r.connector) {
                return Err(format!("`{at}.connector` `{}` is not declared: add [[connectors]] id = \"{}\"", r.connector, r.connector));
            }
        }
    }
    // Two integrations on one server whose prefixes overlap would take each
    // other's logins for their own.
    let spaces: Vec<(&String, &IntegrationDecl, (String, u16, &str))> = all.iter().filter_map(|(at, d)| d.login_space().map(|s| (at, *d, s))).collect();
    for (n, (i, a, (ha, pa, xa))) in spaces.iter().enumerate() {
        for (j, b, (hb, pb, xb)) in &spaces[n + 1..] {
            if ha == hb && pa == pb && (xa.starts_with(xb) || xb.starts_with(xa)) {
                return Err(format!(
                    "`{i}` (`{}`) and `{j}` (`{}`) manage logins on {ha}:{pa} with overlapping prefixes `{xa}` and `{xb}`: \
                     give each its own `user_prefix` (neither a prefix of the other)",
                    a.name(),
                    b.name()
                ));
            }
        }
    }
    Ok(())
}

pub fn parse(text: &str, path: &Path, overrides: Overrides) -> Result<Settings, ConfigError> {
    let err = |m: String| ConfigError { path: path.display().to_string(), message: m };
    let file: FileConfig = toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_owned()))?;
    if file.version != CONFIG_VERSION {
        return Err(err(format!("`version` is {} but this Sesame reads version {CONFIG_VERSION}: set `version = 1`", file.version)));
    }
    let mut users = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, u) in file.users.iter().enumerate() {
        if !u.email.contains('@') {
            return Err(err(format!("`users[{i}].email` `{}` is not an e-mail address", u.email)));
        }
        if !seen.insert(u.email.to_lowercase()) {
            return Err(err(format!("`users[{i}].email` `{}` is declared twice: remove one", u.email)));
        }
        users.push(User {
            email: u.email.clone(),
            groups: u.groups.iter().cloned().collect(),
            admin: u.admin,
            auditor: false,
            name: u.name.clone(),
            manager: u.manager.clone(),
            attributes: u.attributes.clone(),
        });
    }
    if file.worker.action_timeout >= file.worker.lease {
        return Err(err(format!(
            "`worker.action_timeout` ({:?}) must be shorter than `worker.lease` ({:?}): a job still running when its lease ends would run twice",
            file.worker.action_timeout, file.worker.lease
        )));
    }
    let connectors: BTreeSet<String> = file.connectors.iter().map(|c| c.id.clone()).collect();
    let labelled: Vec<(String, &IntegrationDecl)> = file.integrations.iter().enumerate().map(|(i, d)| (format!("integrations[{i}]"), d)).collect();
    check_integrations(&labelled, &file.worker, &connectors).map_err(err)?;
    let (flows, bundles) = policy(&file.integrations, &file.access_flows, &file.bundles).map_err(err)?;
    let relative = |p: &Path| path.parent().map(|d| d.join(p)).unwrap_or_else(|| p.to_owned());
    let tls = match (&file.server.tls_cert, &file.server.tls_key) {
        (Some(c), Some(k)) => Some(Tls { cert: relative(c), key: relative(k) }),
        (None, None) => None,
        _ => return Err(err("`server.tls_cert` and `server.tls_key` go together: set both (PEM files) or neither".into())),
    };
    let o = Overrides { listen: Some(file.server.listen), store: Some(file.server.store), ..Default::default() }.then(overrides);
    let roles = sesame_core::Roles { admins: file.roles.admins, auditors: file.roles.auditors, requesters: file.roles.requesters };
    if roles.requesters.as_ref().is_some_and(Vec::is_empty) {
        return Err(err("`roles.requesters` is empty, so nobody but admins could ask for access: name groups, or leave it out (everybody)".into()));
    }
    let mut directory = Directory { users };
    roles.apply(&mut directory);
    Ok(Settings {
        path: path.to_owned(),
        tls,
        insecure_http: o.insecure_http,
        auth_failures_per_minute: file.server.auth_failures_per_minute.max(1),
        mfa_key_file: relative(&file.server.mfa_key_file),
        listen: o.listen.unwrap_or_else(default_listen),
        store: resolve_store_url(o.store.unwrap_or_else(default_store), path),
        worker: file.worker,
        directory,
        roles,
        integrations: file.integrations,
        flows,
        bundles,
        flow_decls: file.access_flows.clone(),
        bundle_decls: file.bundles.clone(),
        connectors,
        oidc: file.oidc,
        api_integrations: ApiIntegrations { secret_dir: file.api_integrations.secret_dir.as_deref().map(relative), ..file.api_integrations },
        declarations: file.declarations.as_deref().map(relative),
    })
}

/// A relative SQLite path is relative to the config file, not to the
/// directory the command happens to run in.
fn resolve_store_url(url: String, config: &Path) -> String {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let p = Path::new(rest);
        if p.is_relative() {
            if let Some(dir) = config.parent().filter(|d| !d.as_os_str().is_empty()) {
                return format!("sqlite://{}", dir.join(p).display());
            }
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Settings, ConfigError> {
        parse(text, Path::new("/etc/sesame/sesame.toml"), Overrides::default())
    }

    #[test]
    fn errors_name_file_key_and_fix() {
        let e = p("version = 2").unwrap_err().to_string();
        assert!(e.starts_with("config `/etc/sesame/sesame.toml`: `version` is 2"), "{e}");
        let e = p("version = 1\nbogus = 1").unwrap_err().to_string();
        assert!(e.contains("unknown field `bogus`"), "{e}");
        let e = p("version = 1\n[[access_flows]]\nname='f'\nkind='automatic'\nintegration='nope'\nrequesters={}\nmax_duration='1h'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`access_flows[0].integration` `nope` is not declared"), "{e}");
        let e = p("version = 1\n[[integrations]]\ntype = 'postgresql'\nname = 'pg'\nhost = 'h'\nusername = 'u'\npasword = 'typo'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `pasword`"), "{e}");
        let e = p("version = 1\n[[integrations]]\ntype = 'oracle'\nname = 'o'").unwrap_err().to_string();
        assert!(e.contains("unknown variant `oracle`"), "{e}");
        let e = p("version = 1\n[[integrations]]\ntype = 'mysql'\nname = 'm'\nhost = 'h'\nusername = 'u'\n[integrations.settings]\nresource_owner = { tag_key = 'owner', attribute = 'email' }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`integrations[0]` (`m`): `settings.resource_owner` needs an integration owner"), "{e}");
        let e = p(&format!("version = 1\n[[integrations]]\ntype = 'redshift'\nname = 'r'\nhost = 'h'\ndatabase = 'd'\nusername = 'u'\n[integrations.settings]\ncustom_access_details = '{}'", "x".repeat(401)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("401 characters"), "{e}");
        let s = p("version = 1\n[[integrations]]\ntype = 'aws_account'\nname = 'prod'\nregion = 'eu-west-1'").unwrap();
        assert_eq!(s.integrations[0].kind(), sesame_proto::connector::IntegrationKind::AwsAccount);
        let e = p("version = 1\n[worker]\npoll_interval = 'soon'").unwrap_err().to_string();
        assert!(e.contains("`soon` is not a duration"), "{e}");
    }

    /// The seed provider's published `apono_bundle_v2` (s3_bucket_bundle)
    /// and `apono_access_flow_v2` (bundle-and-access-scope) examples, ported
    /// field by field: data-source references become names, and the
    /// bundle's two `integration` keys in one object (HCL keeps the last)
    /// become two targets. A flow with a bundle and an access scope covers
    /// requests for the bundle and what the scope selects.
    #[test]
    fn the_seeds_published_bundle_example_loads_and_its_flow_covers_it() {
        let ported = r#"version = 1
[[users]]
email = "rita@example.com"
groups = ["RND-team"]
[[users]]
email = "sec@example.com"
groups = ["InfoSec"]
[[integrations]]
type = "aws_account"
name = "Amazon Account Integration"
region = "us-east-1"
[[integrations]]
type = "aws_organization"
name = "Amazon Organization Integration"
sso_region = "us-east-1"
sso_portal_url = "https://example.awsapps.com/start"

[[bundles]]
name = "S3 Logs and Sensitive Buckets"
access_targets = [
  { integration = { integration_name = "Amazon Account Integration", resource_type = "aws-account-s3-bucket", resources_scopes = [ { scope_mode = "include_resources", type = "NAME", values = ["s3-logs-to-grafana", "s3-sensitive-data"] } ], permissions = ["ADMIN"] } },
  { integration = { integration_name = "Amazon Organization Integration", resource_type = "aws-organization-s3-bucket", resources_scopes = [ { scope_mode = "include_resources", type = "NAME", values = ["s3-logs-to-Kibana", "s3-sensitive-data"] } ], permissions = ["ADMIN"] } },
]

[[access_flows]]
name = "Access to production DBs"
active = true
grant_duration_in_min = 30
trigger = "SELF_SERVE"
requestors = { logical_operator = "AND", conditions = [ { type = "group", match_operator = "contains", values = ["RND-team"] } ] }
access_targets = [ { bundle = { name = "S3 Logs and Sensitive Buckets" } }, { access_scope = { name = "production_db" } } ]
approver_policy = { approval_mode = "ANY_OF", approver_groups = [ { logical_operator = "OR", approvers = [
  { source_integration_name = "Google Oauth", type = "group", match_operator = "is", values = ["InfoSec"] },
  { type = "group", match_operator = "is", values = ["DevOps"] },
] } ] }
settings = { justification_required = true, requester_cannot_approve_self = true, require_mfa = false, max_extensions = 0, extension_duration_in_min = 0, labels = ["bundle_access", "scope_reference"] }
"#;
        let s = p(ported).unwrap();
        assert_eq!(s.bundles.len(), 1);
        assert_eq!(s.bundles[0].targets.len(), 2);
        match &s.bundles[0].targets[0] {
            sesame_core::bundle::BundleTarget::Integration { resource_type, permissions, scopes, .. } => {
                assert_eq!((resource_type.as_str(), permissions.clone(), scopes[0].values.len()), ("s3_bucket", vec!["admin".to_string()], 2));
            }
            other => panic!("{other:?}"),
        }
        let flows: Vec<(Option<&str>, Option<&str>)> = s.flows.iter().map(|f| (f.bundle.as_deref(), f.access_scope.as_deref())).collect();
        assert_eq!(flows, [(Some("S3 Logs and Sensitive Buckets"), None), (None, Some("production_db"))], "one flow per target");
        let rita = s.directory.user("rita@example.com").unwrap().clone();
        let draft = sesame_core::RequestDraft { requester: &rita, grantee: None, bundle: Some("S3 Logs and Sensitive Buckets"), integration: "", resource_type: "", resources: &[], selected_by: &[], permission: "", duration: Duration::from_secs(600), justification: Some("incident") };
        match sesame_core::decide(&draft, &s.flows, &s.directory, &sesame_core::Owners::default(), sesame_core::Timestamp(0)) {
            sesame_core::Decision::Pending { flow, approvers, .. } => assert_eq!((flow.as_str(), approvers), ("Access to production DBs", vec!["sec@example.com".to_string()])),
            other => panic!("{other:?}"),
        }
    }

    /// Two of the seed provider's published `apono_access_flow_v2` examples
    /// (automatic-approval, owner-approver), ported field by field. What
    /// differs: data-source references become names, and an automatic flow
    /// needs its duration. They load, and decide as the examples document.
    #[test]
    fn the_seeds_published_flow_examples_load_and_decide_as_documented() {
        let ported = r#"version = 1
[[users]]
email = "dana@example.com"
groups = ["RND-backend"]
[[users]]
email = "ira@example.com"
groups = ["Infra Admins"]
[[users]]
email = "owner@example.com"
[[integrations]]
type = "aws_account"
name = "aws-account-integration"
region = "us-east-1"
[[integrations]]
type = "aws_account"
name = "aws-staging"
region = "us-east-1"

[[access_flows]]
name = "AWS Automatic Access Flow"
trigger = "AUTOMATIC"
grant_duration_in_min = 60
requestors = { logical_operator = "OR", conditions = [ { type = "group", match_operator = "contains", values = ["RND"] } ] }
access_targets = [ { integration = { integration_name = "aws-account-integration", resource_type = "aws-account-iam-policy", permissions = ["Attach"] } } ]
settings = { justification_required = false, require_mfa = true }

[[access_flows]]
name = "AWS Prod Env - Integration Owner Approval"
active = true
grant_duration_in_min = 120
trigger = "SELF_SERVE"
requestors = { logical_operator = "AND", conditions = [ { type = "group", match_operator = "contains", values = ["Infra Admins"], source_integration_name = "Google Oauth" } ] }
access_targets = [ { integration = { integration_name = "aws-staging", resource_type = "aws-account-s3-bucket", permissions = ["READ_WRITE"] } } ]
approver_policy = { approval_mode = "ANY_OF", approver_groups = [ { logical_operator = "AND", approvers = [ { type = "Owner" } ] } ] }
settings = { justification_required = true, requester_cannot_approve_self = true, max_extensions = 0, extension_duration_in_min = 0, labels = ["created_from_terraform"] }
"#;
        let s = p(ported).unwrap();
        let auto = &s.flows[0];
        assert!(auto.requester_mfa, "MFA on an automatic flow: the requester steps up");
        // basic.tf: SELF_SERVE with no approver_policy — people ask, nobody
        // approves, justification by default. (Sesame needs a duration: the
        // seed's default is indefinite.)
        let basic = p(&format!("{ported}\n[[access_flows]]\nname = \"AWS Attach Access Flow\"\ntrigger = \"SELF_SERVE\"\ngrant_duration_in_min = 60\nrequestors = {{ logical_operator = \"OR\", conditions = [ {{ type = \"group\", match_operator = \"contains\", values = [\"RND\"] }} ] }}\naccess_targets = [ {{ integration = {{ integration_name = \"aws-account-integration\", resource_type = \"aws-account-iam-policy\", permissions = [\"Attach\"] }} }} ]\nsettings = {{}}\n")).unwrap();
        let b = basic.flows.iter().find(|f| f.name == "AWS Attach Access Flow").unwrap();
        assert_eq!((b.kind, b.require_justification), (FlowKind::Automatic, true));
        assert_eq!((auto.kind, auto.resource_types.clone(), auto.permissions.clone(), auto.require_justification), (FlowKind::Automatic, vec!["iam_policy".to_string()], vec!["attach".to_string()], false));
        let owner = &s.flows[1];
        assert_eq!((owner.kind, owner.resource_types.clone(), owner.permissions.clone(), owner.max_duration), (FlowKind::SelfServe, vec!["s3_bucket".to_string()], vec!["read_write".to_string()], Duration::from_secs(7200)));
        let user = |e: &str| s.directory.user(e).unwrap().clone();
        let draft = |u: &User, integration: &'static str, resource_type: &'static str, permission: &'static str| (u.clone(), integration, resource_type, permission);
        let decide = |(u, integration, resource_type, permission): (User, &str, &str, &str), owners: &sesame_core::Owners| {
            let r = sesame_core::RequestDraft { requester: &u, grantee: None, bundle: None, integration, resource_type, resources: &[], selected_by: &[], permission, duration: Duration::from_secs(600), justification: Some("port") };
            sesame_core::decide(&r, &s.flows, &s.directory, owners, sesame_core::Timestamp(0))
        };
        // RND (by "contains") attaches the policy at once.
        let none = sesame_core::Owners::default();
        assert!(matches!(decide(draft(&user("dana@example.com"), "aws-account-integration", "iam_policy", "attach"), &none), sesame_core::Decision::Grant { .. }));
        // Infra Admins ask; the integration owner approves.
        let owners = sesame_core::Owners { resource_owners: vec![("reports".into(), vec![])], integration_owners: sesame_core::Principals { users: vec!["owner@example.com".into()], groups: vec![] } };
        match decide(draft(&user("ira@example.com"), "aws-staging", "s3_bucket", "read_write"), &owners) {
            sesame_core::Decision::Pending { approvers, .. } => assert_eq!(approvers, ["owner@example.com"]),
            other => panic!("{other:?}"),
        }
        // Others are refused.
        assert!(matches!(decide(draft(&user("ira@example.com"), "aws-account-integration", "iam_policy", "attach"), &none), sesame_core::Decision::Refuse(_)));
        // Extensions port: a count and the longest one.
        let ext = p(&ported.replace("max_extensions = 0, extension_duration_in_min = 0", "max_extensions = 2, extension_duration_in_min = 30")).unwrap();
        assert_eq!((ext.flows[1].max_extensions, ext.flows[1].extension_max), (2, Duration::from_secs(1800)));
        let e = p(&ported.replace("max_extensions = 0", "max_extensions = 2")).unwrap_err().to_string();
        assert!(e.contains("extension_duration_in_min` is 0 with max_extensions = 2"), "{e}");
        let e = p(&ported.replace("aws-account-iam-policy", "aws-rds-mysql")).unwrap_err().to_string();
        assert!(e.contains("is a type of mysql integrations, and `aws-account-integration` is not one"), "{e}");

        // managers_request_for_employees.tf: managers ask for their direct
        // reports only; no approver policy, MFA required — so the manager
        // steps up and nobody approves. (Its Azure SQL server target becomes
        // an S3 bucket: Sesame has no Azure integration.)
        let managers = format!(
            "{ported}\n[[users]]\nemail = \"mona@example.com\"\ngroups = [\"All Company\"]\n[[users]]\nemail = \"eli@example.com\"\ngroups = [\"All Company\"]\nmanager = \"mona@example.com\"\n\n\
             [[access_flows]]\nname = \"Sensitive Access to Production AWS\"\nactive = true\ngrant_duration_in_min = 60\ntrigger = \"SELF_SERVE\"\n\
             requestors = {{ logical_operator = \"OR\", conditions = [ {{ type = \"group\", match_operator = \"contains\", source_integration_name = \"Google Oauth\", values = [\"All Company\"] }} ] }}\n\
             request_for = {{ request_scopes = [\"direct_reports\"] }}\n\
             access_targets = [ {{ integration = {{ integration_name = \"aws-staging\", resource_type = \"aws-account-s3-bucket\", permissions = [\"READ_WRITE\"] }} }} ]\n\
             settings = {{ justification_required = true, require_approver_reason = false, requester_cannot_approve_self = false, require_mfa = true, max_extensions = 0, extension_duration_in_min = 0, labels = [\"created_from_terraform\"] }}\n"
        );
        let m = p(&managers).unwrap();
        let f = m.flows.iter().find(|f| f.name == "Sensitive Access to Production AWS").unwrap();
        assert_eq!((f.kind, f.requester_mfa, f.require_justification, f.self_approval), (FlowKind::Automatic, true, true, true));
        assert_eq!(f.request_for, sesame_core::flow::RequestFor { own: false, others: false, direct_reports: true });
        let (mona, eli) = (m.directory.user("mona@example.com").unwrap().clone(), m.directory.user("eli@example.com").unwrap().clone());
        let ask = |requester: &User, grantee: Option<&User>| {
            let r = sesame_core::RequestDraft { requester, grantee, bundle: None, integration: "aws-staging", resource_type: "s3_bucket", resources: &[], selected_by: &[], permission: "read_write", duration: Duration::from_secs(600), justification: Some("port") };
            sesame_core::decide(&r, &m.flows, &m.directory, &sesame_core::Owners::default(), sesame_core::Timestamp(0))
        };
        assert!(matches!(ask(&mona, Some(&eli)), sesame_core::Decision::Grant { ref flow } if flow == "Sensitive Access to Production AWS"), "for a direct report");
        assert!(matches!(ask(&mona, None), sesame_core::Decision::Refuse(_)), "not for herself");
        assert!(matches!(ask(&eli, Some(&mona)), sesame_core::Decision::Refuse(_)), "not for one's manager");
    }

    #[test]
    fn flows_in_the_seeds_spelling_load_and_their_mistakes_say_where() {
        let seed = "version = 1\n[[integrations]]\ntype = 'postgresql'\nname = 'pg'\nhost = 'h'\nusername = 'u'\n[[access_flows]]\nname='f'\nintegration='pg'\nrequesters={}\ngrant_duration_in_min = 90\n";
        let f = &p(&format!("{seed}trigger = 'automatic'\nactive = false\nsettings = {{ labels = ['pci'] }}")).unwrap().flows[0];
        assert_eq!((f.kind, f.max_duration, f.active, f.require_justification, f.labels.clone()), (FlowKind::Automatic, Duration::from_secs(5400), false, false, vec!["pci".to_string()]));
        let f = &p(&format!("{seed}trigger = 'SELF_SERVE'\napprovers = {{ users = ['b@x.io'] }}\nsettings = {{ require_approver_reason = true }}")).unwrap().flows[0];
        assert!(f.require_justification && f.require_approver_reason, "justification defaults to required on a self-serve flow");
        for (extra, says) in [
            ("trigger = 'AUTOMATIC'\nsettings = { justification_required = true }", "must be false for an automatic flow"),
            ("trigger = 'LATER'", "`LATER` is not AUTOMATIC or SELF_SERVE"),
            ("trigger = 'AUTOMATIC'\nkind = 'automatic'", "exactly one of `kind`"),
        ] {
            let e = p(&format!("{seed}{extra}")).unwrap_err().to_string();
            assert!(e.contains(says), "{extra}: {e}");
        }
        let base = "version = 1\n[[integrations]]\ntype = 'postgresql'\nname = 'pg'\nhost = 'h'\nusername = 'u'\n[[access_flows]]\nname='f'\nkind='self_serve'\nintegration='pg'\nmax_duration='1h'\n";
        let ok = p(&format!("{base}requestors = {{ conditions = [ {{ type = 'department', match_operator = 'IS', values = ['payments'] }} ] }}\napprover_policy = {{ approval_mode = 'all_of', approver_groups = [ {{ approvers = [ {{ type = 'manager' }} ] }}, {{ logical_operator = 'and', approvers = [ {{ type = 'Owner' }}, {{ type = 'group', values = ['dba'] }} ] }} ] }}\ntimeframe = {{ start_time = '09:00', end_time = '17:00', time_zone = 'Europe/Paris' }}")).unwrap();
        let f = &ok.flows[0];
        assert_eq!((f.approver_policy.mode, f.approver_policy.groups.len(), f.approver_policy.owners_join), (ApprovalMode::AllOf, 2, false));
        assert!(f.approver_policy.groups[1].names_owners() && f.timeframe.is_some());
        for (extra, says) in [
            ("requesters = {}\nrequestors = { conditions = [ { type = 'user', values = ['a@x.io'] } ] }\napprovers = { users = ['b@x.io'] }", "exactly one of `requesters`"),
            ("approvers = { users = ['b@x.io'] }", "exactly one of `requesters`"),
            ("requestors = { conditions = [ { type = 'Owner' } ] }\napprovers = { users = ['b@x.io'] }", "`access_flows[0].requestors.conditions[0]`: `Owner` names approvers"),
            ("requestors = { conditions = [ { type = 'user', match_operator = 'equals', values = ['a'] } ] }\napprovers = { users = ['b@x.io'] }", "`equals` is not one of is, is_not"),
            ("requestors = { logical_operator = 'XOR', conditions = [ { type = 'user', values = ['a'] } ] }\napprovers = { users = ['b@x.io'] }", "`XOR` is not AND or OR"),
            ("requestors = { conditions = [ { type = 'group' } ] }\napprovers = { users = ['b@x.io'] }", "has no `values`"),
            ("requesters = {}\napprover_policy = { approval_mode = 'SOME_OF', approver_groups = [] }", "`SOME_OF` is not ANY_OF or ALL_OF"),
            ("requesters = {}\napprover_policy = { approver_groups = [] }", "approver_groups` is empty"),
            ("requesters = {}\napprover_policy = { approver_groups = [ { approvers = [] } ] }", "approver_groups[0].approvers` names no condition"),
            ("requesters = {}\napprovers = { users = ['b@x.io'] }\napprover_policy = { approver_groups = [ { approvers = [ { type = 'manager' } ] } ] }", "both `approvers` and `approver_policy`"),
            ("requesters = {}\napprovers = {}", "self_serve but names no `approvers`"),
            ("requesters = {}\napprovers = { users = ['b@x.io'] }\ntimeframe = { days_of_week = ['Funday'], start_time = '09:00', end_time = '17:00' }", "`access_flows[0].timeframe`: `Funday` is not a day"),
            ("requesters = {}\napprovers = { users = ['b@x.io'] }\ngrant_duration_in_min = 60", "exactly one of `max_duration`"),
            ("requesters = {}\napprovers = { users = ['b@x.io'] }\nescalation = [ { after = '0s', approvers = [ { type = 'user', values = ['c@x.io'] } ] } ]", "`access_flows[0].escalation[0].after` is zero"),
        ] {
            let e = p(&format!("{base}{extra}")).unwrap_err().to_string();
            assert!(e.contains(says), "{extra}: {e}");
        }
        // MFA: approvers of a self-serve flow step up; an automatic flow has
        // no approver to ask: its requester steps up.
        let auto = base.replace("kind='self_serve'", "kind='automatic'");
        let f = p(&format!("{auto}requesters = {{}}\nsettings = {{ require_mfa = true, justification_required = false }}")).unwrap();
        assert!(f.flows[0].requester_mfa && !f.flows[0].require_mfa);
        let f = p(&format!("{auto}requesters = {{}}\nsettings = {{ requester_mfa = true, justification_required = false }}")).unwrap();
        assert!(f.flows[0].requester_mfa && !f.flows[0].require_mfa);
        let f = p(&format!("{base}requesters = {{}}\napprovers = {{ users = ['b@x.io'] }}\nsettings = {{ require_mfa = true }}")).unwrap();
        assert!(f.flows[0].require_mfa && !f.flows[0].requester_mfa);
        // Self-approval only when a flow opts in, as the seed spells it.
        assert!(!f.flows[0].self_approval);
        let f = p(&format!("{base}requesters = {{}}\napprovers = {{ users = ['b@x.io'] }}\nsettings = {{ requester_cannot_approve_self = false }}")).unwrap();
        assert!(f.flows[0].self_approval);
        // access_targets: one flow per integration target, with its scopes.
        let head = "version = 1\n[[integrations]]\ntype = 'postgresql'\nname = 'pg'\nhost = 'h'\nusername = 'u'\n[[integrations]]\ntype = 'mysql'\nname = 'my'\nhost = 'h'\nusername = 'u'\n[[access_flows]]\nname='t'\ntrigger='AUTOMATIC'\nrequesters={}\ngrant_duration_in_min=60\n";
        let two = p(&format!("{head}access_targets = [ {{ integration = {{ integration_name = 'pg', resource_type = 'table', resources_scopes = [ {{ scope_mode = 'exclude_resources', type = 'TAG', key = 'pii', values = ['yes'] }} ] }} }}, {{ integration = {{ integration_name = 'my', resource_type = 'database', permissions = ['read_only'] }} }} ]")).unwrap();
        assert_eq!(two.flows.iter().map(|f| (f.name.as_str(), f.integration.as_str(), f.resource_scopes.len())).collect::<Vec<_>>(), [("t", "pg", 1), ("t", "my", 0)]);
        let scoped = p(&format!("{head}access_targets = [ {{ access_scope = {{ name = 'prod-dbs' }} }} ]")).unwrap();
        assert_eq!(scoped.flows[0].access_scope.as_deref(), Some("prod-dbs"), "a scope is created through the API, so it is not looked up at load");
        for (targets, says) in [
            ("access_targets = [ { bundle = { name = 'b' } } ]", "`access_flows[0].access_targets[0].bundle.name` `b` is not declared: add it under [[bundles]]"),
            ("access_targets = [ { access_scope = { name = 'a' }, bundle = { name = 'b' } } ]", "exactly one of integration, bundle and access_scope"),
            ("access_targets = [ { integration = { integration_name = 'nope', resource_type = 'table' } } ]", "`access_flows[0].access_targets[0].integration.integration_name` `nope` is not declared"),
            ("access_targets = [ { integration = { integration_name = 'pg', resource_type = 'table', resources_scopes = [ { scope_mode = 'include', type = 'NAME', values = ['a'] } ] } } ]", "`scope_mode` `include` is not include_resources"),
            ("access_targets = [ { integration = { integration_name = 'pg', resource_type = 'table', resources_scopes = [ { scope_mode = 'include_resources', type = 'TAG', values = ['a'] } ] } } ]", "needs the tag's `key`"),
            ("integration = 'pg'\naccess_targets = [ { integration = { integration_name = 'pg', resource_type = 'table' } } ]", "use exactly one"),
            ("", "use exactly one"),
        ] {
            let e = p(&format!("{head}{targets}")).unwrap_err().to_string();
            assert!(e.contains(says), "{targets}: {e}");
        }
        // request_for: the seed's scopes, any case; unknown or none refused.
        let rf = |scopes: &str| p(&format!("{base}requesters = {{}}\napprovers = {{ users = ['b@x.io'] }}\nrequest_for = {{ request_scopes = [{scopes}] }}"));
        let f = rf("'SELF', 'direct_reports'").unwrap();
        assert_eq!(f.flows[0].request_for, sesame_core::flow::RequestFor { own: true, others: false, direct_reports: true });
        assert!(rf("'anyone'").unwrap_err().to_string().contains("`anyone` is not self, others or direct_reports"));
        assert!(rf("").unwrap_err().to_string().contains("request_scopes` is empty"));
        // Bundles: integration targets with their permissions and access
        // scopes; no nesting; a flow names a declared one.
        let bundle = |targets: &str| format!("{head}access_targets = [ {{ bundle = {{ name = 'b' }} }} ]\n[[bundles]]\nname = 'b'\naccess_targets = [ {targets} ]\n");
        let ok = p(&bundle("{ integration = { integration_name = 'pg', resource_type = 'table', permissions = ['READ_ONLY'], resources_scopes = [ { scope_mode = 'include_resources', type = 'NAME', values = ['orders'] } ] } }, { access_scope = { name = 'prod-dbs' } }")).unwrap();
        assert_eq!((ok.flows[0].bundle.as_deref(), ok.bundles.len(), ok.bundles[0].targets.len()), (Some("b"), 1, 2));
        assert!(matches!(&ok.bundles[0].targets[0], sesame_core::bundle::BundleTarget::Integration { permissions, scopes, .. } if permissions == &["read_only"] && scopes.len() == 1));
        for (targets, says) in [
            ("{ bundle = { name = 'b' } }", "`bundles[0].access_targets[0]`: bundles do not nest"),
            ("{ integration = { integration_name = 'pg', resource_type = 'table' } }", "a bundle's integration target names its permissions"),
            ("{ integration = { integration_name = 'nope', resource_type = 'table', permissions = ['read_only'] } }", "`nope` is not declared"),
        ] {
            let e = p(&bundle(targets)).unwrap_err().to_string();
            assert!(e.contains(says), "{targets}: {e}");
        }
        let e = p(&format!("{}[[bundles]]\nname = 'b'\naccess_targets = []\n", bundle("{ access_scope = { name = 'x' } }"))).unwrap_err().to_string();
        assert!(e.contains("not unique"), "{e}");
        let six = ["{ after = '1m', approvers = [ { type = 'manager' } ] }"; 6].join(", ");
        let e = p(&format!("{base}requesters = {{}}\napprovers = {{ users = ['b@x.io'] }}\nescalation = [{six}]")).unwrap_err().to_string();
        assert!(e.contains("has 6 tiers; at most 5"), "{e}");
    }

    #[test]
    fn the_readmes_configuration_reference_is_a_valid_configuration() {
        // Unknown keys are errors: every key the reference shows is accepted.
        let readme = include_str!("../../../README.md");
        let start = readme.find("```toml\nversion = 1").expect("the reference block") + "```toml\n".len();
        let len = readme[start..].find("```").expect("its end");
        let s = p(&readme[start..start + len]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.integrations.len(), s.flows.len()), (8, 2));
        let seed = &s.flows[1];
        assert_eq!((seed.approver_policy.mode, seed.approver_policy.groups.len(), seed.require_approver_reason), (ApprovalMode::AllOf, 2, true));
        assert!(s.flows[0].timeframe.is_some() && s.directory.users.iter().any(|u| u.manager.is_some() && !u.attributes.is_empty()));
        assert_eq!((seed.integration.as_str(), seed.resource_types.clone(), seed.resource_scopes.len()), ("local-pg", vec!["table".to_string()], 2));
    }

    #[test]
    fn overlapping_login_prefixes_on_one_server_are_refused() {
        let pg = |name: &str, host: &str, prefix: &str| format!("[[integrations]]\ntype = 'postgresql'\nname = '{name}'\nhost = '{host}'\nusername = 'c'\nuser_prefix = '{prefix}'\n");
        let e = p(&format!("version = 1\n{}{}", pg("a", "db.internal", "sesame_"), pg("b", "DB.internal", "sesame_ops_"))).unwrap_err().to_string();
        assert!(e.contains("`a`") && e.contains("`b`") && e.contains("overlapping prefixes"), "{e}");
        assert!(p(&format!("version = 1\n{}{}", pg("a", "db.internal", "sesame_a_"), pg("b", "db.internal", "sesame_b_"))).is_ok());
        assert!(p(&format!("version = 1\n{}{}", pg("a", "db1.internal", "sesame_"), pg("b", "db2.internal", "sesame_"))).is_ok());
    }

    #[test]
    fn an_integration_timeout_must_fit_the_worker_action_timeout() {
        let hook = "version = 1\n[[integrations]]\ntype = 'custom'\nname = 'app'\nresource_types = ['x']\ntimeout_secs = 40\n\
                    transport = { kind = 'webhook', url = 'https://h.example/x', secret = { env = 'K' }, retries = 3 }\n";
        let e = p(hook).unwrap_err().to_string();
        assert!(e.contains("`app`") && e.contains("worker.action_timeout"), "{e}");
        assert!(p(&format!("{hook}[worker]\naction_timeout = '200s'\nlease = '300s'")).is_ok());
        let e = p("version = 1\n[worker]\naction_timeout = '60s'\nlease = '60s'").unwrap_err().to_string();
        assert!(e.contains("shorter than `worker.lease`"), "{e}");
        // The defaults fit the default custom integration (30 s × 4 attempts).
        assert!(p(&hook.replace("timeout_secs = 40", "timeout_secs = 30")).is_ok());
    }

    #[test]
    fn overrides_win_and_sqlite_paths_follow_the_file() {
        let s = parse(
            "version = 1\n[server]\nlisten = '0.0.0.0:1'\nstore = 'sqlite://data/s.db'",
            Path::new("/etc/sesame/sesame.toml"),
            Overrides { listen: Some("127.0.0.1:9".into()), store: None, insecure_http: false },
        )
        .unwrap();
        assert_eq!(s.listen, "127.0.0.1:9");
        assert_eq!(s.store, "sqlite:///etc/sesame/data/s.db");
    }
}
