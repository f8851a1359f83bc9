//! RDS auto-discovery, exactly as the seed: instances tagged `auth_type`
//! (`iam-auth` | `user-password`) and `apono-connector-id`, plus
//! `apono-secret` (a Secrets Manager ARN) for passwords, become database
//! sub-integrations served by the PostgreSQL/MySQL integrations. A missing
//! or malformed tag is a per-instance error that names the tag.

use super::AwsAccount;
use sesame_integrations::registry::{IntegrationDecl, Registry};
use sesame_integrations::secret::{AwsIdentity, AwsSecretRef, RdsTokenRef, SecretError, SecretRef};
use sesame_integrations::{Child, Integration, IntegrationError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const TAG_AUTH: &str = "auth_type";
pub const TAG_CONNECTOR: &str = "apono-connector-id";
pub const TAG_SECRET: &str = "apono-secret";

/// IAM tokens live 15 minutes; children using them are rebuilt before that.
const TOKEN_REFRESH: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdsAuth {
    Iam,
    Password { secret_arn: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    pub auth: RdsAuth,
    pub connector: String,
    /// `postgresql` or `mysql`.
    pub kind: &'static str,
}

/// Read an instance's tags. `Ok(None)`: not tagged for Sesame at all.
pub fn parse_tags(tags: &BTreeMap<String, String>, engine: &str) -> Result<Option<Tagged>, String> {
    let ours = [TAG_AUTH, TAG_CONNECTOR, TAG_SECRET];
    if !ours.iter().any(|t| tags.contains_key(*t)) {
        return Ok(None);
    }
    let auth = match tags.get(TAG_AUTH).map(|s| s.trim()) {
        None => return Err(format!("tag `{TAG_AUTH}` is missing: set it to `iam-auth` or `user-password`")),
        Some("iam-auth") => RdsAuth::Iam,
        Some("user-password") => {
            let secret = tags.get(TAG_SECRET).map(|s| s.trim()).unwrap_or_default();
            if secret.is_empty() {
                return Err(format!("tag `{TAG_SECRET}` is missing: `user-password` needs the ARN of the Secrets Manager secret holding the credentials"));
            }
            let parts: Vec<&str> = secret.split(':').collect();
            if parts.len() < 7 || parts[0] != "arn" || parts[2] != "secretsmanager" || parts[5] != "secret" {
                return Err(format!("tag `{TAG_SECRET}` is `{secret}`, not a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)"));
            }
            RdsAuth::Password { secret_arn: secret.to_owned() }
        }
        Some(other) => return Err(format!("tag `{TAG_AUTH}` is `{other}`: use `iam-auth` or `user-password`")),
    };
    let connector = tags.get(TAG_CONNECTOR).map(|s| s.trim()).unwrap_or_default();
    if connector.is_empty() {
        return Err(format!("tag `{TAG_CONNECTOR}` is missing: set it to the id of the connector that reaches this database"));
    }
    let kind = match engine {
        "postgres" | "aurora-postgresql" => "postgresql",
        "mysql" | "mariadb" | "aurora-mysql" => "mysql",
        other => return Err(format!("engine `{other}` is not supported: RDS auto-discovery serves PostgreSQL, MySQL and MariaDB")),
    };
    Ok(Some(Tagged { auth, connector: connector.to_owned(), kind }))
}

/// A built sub-integration and when it was built.
pub(crate) struct Built {
    pub integration: Arc<dyn Integration>,
    pub decl: serde_json::Value,
    pub at: Instant,
    /// IAM auth: where grantees get `rds-db:connect` (and the token is rebuilt).
    pub iam: Option<IamTarget>,
    /// A rebuild with a fresh token is under way.
    pub refreshing: bool,
}

pub(crate) type Children = Arc<std::sync::Mutex<BTreeMap<String, Built>>>;

/// What building a sub-integration needs of its parent.
#[derive(Clone)]
pub(crate) struct ChildMaker {
    registry: Registry,
    iam: aws_sdk_iam::Client,
    federation: Option<sesame_core::policy::Federation>,
    children: Children,
}

/// Build (or rebuild) the sub-integration `name` from its declaration and
/// remember it under its short name.
async fn build_child(m: ChildMaker, name: &str, decl: &serde_json::Value, iam: Option<IamTarget>) -> Result<Arc<dyn Integration>, IntegrationError> {
    let d: IntegrationDecl = serde_json::from_value(decl.clone()).map_err(|e| IntegrationError::Misconfigured(e.to_string()))?;
    d.validate()?;
    let db = m.registry.build(&d).await?;
    // IAM auth: each grant also gets its per-grant `rds-db:connect`.
    let integ: Arc<dyn Integration> = match &iam {
        Some(t) => Arc::new(super::rds_iam::RdsIam {
            descriptor: Arc::new(super::rds_iam::iam_login_names(&db.descriptor())),
            inner: db,
            iam: m.iam.clone(),
            region: t.region.clone(),
            account_id: t.account_id.clone(),
            dbi_resource_id: t.dbi_resource_id.clone(),
            federation: m.federation.clone(),
        }),
        None => db,
    };
    // The instance's own name: the last segment (`org/ACCOUNT/INSTANCE` in a member account).
    let short = name.rsplit_once('/').map(|x| x.1).unwrap_or(name).to_owned();
    let built = Built { integration: integ.clone(), decl: decl.clone(), at: Instant::now(), iam, refreshing: false };
    m.children.lock().unwrap_or_else(|p| p.into_inner()).insert(short, built);
    Ok(integ)
}

/// What an IAM-auth instance's grantees need `rds-db:connect` on.
#[derive(Debug, Clone)]
pub(crate) struct IamTarget {
    pub region: String,
    pub account_id: String,
    pub dbi_resource_id: String,
}

/// One discovered RDS instance, as discovery saw it.
pub(crate) struct Instance<'a> {
    pub id: &'a str,
    pub arn: &'a str,
    pub engine: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub region: &'a str,
    /// What `rds-db:connect` ARNs name the instance by.
    pub dbi_resource_id: &'a str,
    pub tags: &'a BTreeMap<String, String>,
}

impl AwsAccount {
    /// The sub-integration of one instance, or `None` when it is not tagged
    /// for Sesame or belongs to another connector.
    pub(crate) async fn rds_child(&self, i: &Instance<'_>) -> Option<Child> {
        let name = format!("{}/{}", self.cfg.name, i.id);
        let fail = |e: String| Some(Child { name: name.clone(), source: i.arn.to_owned(), info: None, error: Some(format!("RDS instance `{}`: {e}", i.id)) });
        let t = match parse_tags(i.tags, i.engine) {
            Ok(Some(t)) => t,
            Ok(None) => return None,
            Err(e) => return fail(e),
        };
        if let Some(mine) = &self.cfg.connector_id {
            if &t.connector != mine {
                tracing::debug!(instance = i.id, connector = %t.connector, "served by another connector");
                return None;
            }
        }
        let (host, port) = match self.cfg.rds_host_overrides.get(i.id) {
            Some(hp) => match hp.rsplit_once(':').and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?))) {
                Some(x) => x,
                None => return fail(format!("`rds_host_overrides` value `{hp}` is not host:port")),
            },
            None => (i.host.to_owned(), i.port),
        };
        // Secrets and tokens are read with the integration's own identity (keys or profile).
        let explicit = self.cfg.access_key_id.is_some() && self.cfg.secret_access_key.is_some();
        let who = AwsIdentity {
            profile: (!explicit).then(|| self.cfg.profile.clone()),
            access_key_id: self.cfg.access_key_id.clone().map(Box::new),
            secret_access_key: self.cfg.secret_access_key.clone().map(Box::new),
            roles: self.roles.clone(),
        };
        let (username, password, auth) = match &t.auth {
            RdsAuth::Password { secret_arn } => {
                let username = match self.secret_username(secret_arn).await {
                    Ok(u) => u,
                    Err(e) => return fail(format!("tag `{TAG_SECRET}`: {e}")),
                };
                let r = AwsSecretRef {
                    secret_id: secret_arn.clone(),
                    region: secret_arn.split(':').nth(3).unwrap_or(i.region).to_owned(),
                    key: Some("password".into()),
                    endpoint_url: self.cfg.endpoint_url.clone(),
                    identity: who.clone(),
                };
                (username, SecretRef::AwsSecretsManager(r), "password")
            }
            RdsAuth::Iam => {
                let u = self.cfg.rds_iam_username.clone();
                let r = RdsTokenRef {
                    host: host.clone(),
                    port,
                    username: u.clone(),
                    region: i.region.to_owned(),
                    identity: who.clone(),
                };
                (u.clone(), SecretRef::RdsIamToken(r), "iam")
            }
        };
        let mut decl = serde_json::json!({
            "type": t.kind, "name": name, "host": host, "port": port, "username": username, "password": password,
            "auth_type": auth, "region": i.region, "user_prefix": self.cfg.user_prefix, "settings": self.cfg.settings,
        });
        if t.kind == "mysql" {
            decl["instance_id"] = serde_json::json!(i.id);
        }
        // The chosen granularity; `schema` exists on PostgreSQL only.
        let all: &[&str] = if t.kind == "mysql" { &sesame_integrations::mysql::RESOURCE_TYPES } else { &sesame_integrations::postgres::RESOURCE_TYPES };
        let types: Vec<&String> = self.cfg.rds_resource_types.iter().filter(|x| all.contains(&x.as_str())).collect();
        if !types.is_empty() {
            decl["resource_types"] = serde_json::json!(types);
        }
        let iam = match t.auth {
            RdsAuth::Iam => {
                if i.dbi_resource_id.is_empty() {
                    return fail("RDS reports no DbiResourceId: grantees could not be given rds-db:connect".into());
                }
                let account_id = match self.account_id().await {
                    Ok(a) => a,
                    Err(e) => return fail(e.to_string()),
                };
                Some(IamTarget { region: i.region.to_owned(), account_id, dbi_resource_id: i.dbi_resource_id.to_owned() })
            }
            RdsAuth::Password { .. } => None,
        };
        match build_child(self.child_maker(), &name, &decl, iam).await {
            Ok(integ) => Some(Child { name: name.clone(), source: i.arn.to_owned(), info: Some(integ.descriptor().info(&name)), error: None }),
            Err(e) => fail(e.to_string()),
        }
    }

    fn child_maker(&self) -> ChildMaker {
        ChildMaker { registry: self.registry.clone(), iam: self.iam.clone(), federation: self.federation(), children: self.children.clone() }
    }

    /// A sub-integration by its short name. IAM-token children are rebuilt
    /// with a fresh token in the background once the token is 10 minutes
    /// old (tokens live 15); the current one serves meanwhile.
    pub(crate) fn rds_lookup(&self, short: &str) -> Option<Arc<dyn Integration>> {
        let mut map = self.children.lock().unwrap_or_else(|p| p.into_inner());
        let b = map.get_mut(short)?;
        if b.iam.is_some() && b.at.elapsed() > TOKEN_REFRESH && !b.refreshing {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                b.refreshing = true;
                let (maker, decl, iam) = (self.child_maker(), b.decl.clone(), b.iam.clone());
                let name = format!("{}/{short}", self.cfg.name);
                rt.spawn(async move {
                    if let Err(e) = build_child(maker.clone(), &name, &decl, iam).await {
                        tracing::warn!(integration = %name, error = %e, "cannot refresh the RDS IAM token; retrying on next use");
                        let short = name.rsplit('/').next().unwrap_or_default().to_owned();
                        if let Some(b) = maker.children.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&short) {
                            b.refreshing = false;
                        }
                    }
                });
            }
        }
        Some(b.integration.clone())
    }

    async fn secret_username(&self, arn: &str) -> Result<String, SecretError> {
        let region = arn.split(':').nth(3).unwrap_or(&self.cfg.region).to_owned();
        let out = self
            .regional(&region)
            .secrets
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| format!("cannot read `{arn}`: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e)))?;
        let v: serde_json::Value = serde_json::from_str(out.secret_string().unwrap_or_default()).map_err(|_| format!("secret `{arn}` is not JSON with `username` and `password`"))?;
        v["username"].as_str().map(str::to_owned).ok_or_else(|| SecretError::from(format!("secret `{arn}` has no `username`")))
    }
}

/// A fresh RDS IAM token, made with the SDK's generator (SigV4 presigning).
pub async fn iam_token(r: &RdsTokenRef, registry: &Registry) -> Result<String, SecretError> {
    let sdk = crate::secrets::identity(&r.region, None, &r.identity, registry).await?;
    let cfg = aws_sdk_rds::auth_token::Config::builder()
        .hostname(&r.host)
        .port(u64::from(r.port))
        .username(&r.username)
        .region(aws_config::Region::new(r.region.clone()))
        .build()
        .map_err(|e| e.to_string())?;
    let token = aws_sdk_rds::auth_token::AuthTokenGenerator::new(cfg).auth_token(&sdk).await.map_err(|e| format!("cannot make an RDS IAM token: {e}"))?;
    Ok(token.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[tokio::test]
    async fn iam_tokens_are_presigned_connect_urls_for_the_login() {
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        let r = RdsTokenRef {
            host: "orders.abc.eu-west-1.rds.amazonaws.com".into(),
            port: 5432,
            username: "sesame".into(),
            region: "eu-west-1".into(),
            identity: Default::default(),
        };
        let t = iam_token(&r, &Registry::new()).await.unwrap();
        assert!(t.starts_with("orders.abc.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=sesame"), "{t}");
        for part in ["X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Credential=AKIDEXAMPLE%2F", "%2Feu-west-1%2Frds-db%2Faws4_request", "X-Amz-Expires=900", "X-Amz-Signature="] {
            assert!(t.contains(part), "{part} missing in {t}");
        }
    }

    #[test]
    fn the_seeds_tags_and_what_is_wrong_with_them() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
        assert_eq!(parse_tags(&tags(&[("env", "prod")]), "postgres"), Ok(None));
        let t = parse_tags(&tags(&[("auth_type", "user-password"), ("apono-connector-id", "c1"), ("apono-secret", arn)]), "postgres").unwrap().unwrap();
        assert_eq!(t, Tagged { auth: RdsAuth::Password { secret_arn: arn.into() }, connector: "c1".into(), kind: "postgresql" });
        let t = parse_tags(&tags(&[("auth_type", "iam-auth"), ("apono-connector-id", "c1")]), "aurora-mysql").unwrap().unwrap();
        assert_eq!((t.auth, t.kind), (RdsAuth::Iam, "mysql"));
        let err = |kv: &[(&str, &str)], engine: &str| parse_tags(&tags(kv), engine).unwrap_err();
        assert_eq!(err(&[("apono-connector-id", "c1")], "postgres"), "tag `auth_type` is missing: set it to `iam-auth` or `user-password`");
        assert_eq!(err(&[("auth_type", "password"), ("apono-connector-id", "c1")], "postgres"), "tag `auth_type` is `password`: use `iam-auth` or `user-password`");
        assert!(err(&[("auth_type", "user-password"), ("apono-connector-id", "c1")], "postgres").starts_with("tag `apono-secret` is missing"));
        assert!(err(&[("auth_type", "user-password"), ("apono-connector-id", "c1"), ("apono-secret", "db-password")], "postgres")
            .starts_with("tag `apono-secret` is `db-password`, not a Secrets Manager ARN"));
        assert!(err(&[("auth_type", "iam-auth")], "postgres").starts_with("tag `apono-connector-id` is missing"));
        assert!(err(&[("auth_type", "iam-auth"), ("apono-connector-id", "c1")], "oracle-ee").starts_with("engine `oracle-ee` is not supported"));
    }
}
