//! Amazon Redshift: the configured database, its schemas and tables.
//! Speaks the PostgreSQL wire protocol; every statement comes from
//! [`dialect`], which uses only what Redshift supports.
//!
//! Resource ids: `db`, `db/schema`, `db/schema/table`.

pub mod dialect;

use sesame_proto::connector::IntegrationKind;
use crate::postgres::SslMode;
use crate::secret::SecretRef;
use crate::settings::IntegrationSettings;
use crate::{Cause, Descriptor, Discovery, Integration, IntegrationError, StatusReport, UsernameRule};
use async_trait::async_trait;
use serde::Deserialize;
use sesame_core::{resource_id, Timestamp};
use sesame_proto::{ActionParams, Credentials, ResourceInfo};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const RESOURCE_TYPES: [&str; 3] = ["database", "schema", "table"];

fn default_port() -> u16 {
    5439
}
fn default_prefix() -> String {
    "sesame_".into()
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedshiftConfig {
    pub name: String,
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub database: String,
    /// A user with CREATEUSER.
    pub username: String,
    pub password: Option<SecretRef>,
    #[serde(default = "default_prefix")]
    pub user_prefix: String,
    #[serde(default)]
    pub ssl_mode: SslMode,
    pub ssl_root_cert: Option<String>,
    pub public_host: Option<String>,
    #[serde(default)]
    pub settings: IntegrationSettings,
}

pub struct Redshift {
    cfg: RedshiftConfig,
    pool: PgPool,
    descriptor: Arc<Descriptor>,
}

fn unavailable(e: sqlx::Error) -> IntegrationError {
    match e {
        sqlx::Error::Database(db) => {
            IntegrationError::Unavailable(Cause::Target { system: "redshift".into(), code: db.code().unwrap_or_default().into_owned(), message: db.message().to_owned() })
        }
        other => IntegrationError::Unavailable(Cause::Unreachable { system: "redshift".into(), message: other.to_string() }),
    }
}

impl Redshift {
    /// Build with the password already read (`Registry::redshift` reads it
    /// where the connector runs).
    pub fn new(cfg: RedshiftConfig, password: Option<String>) -> Result<Redshift, IntegrationError> {
        if !sesame_core::username::valid_prefix(&cfg.user_prefix) {
            return Err(IntegrationError::Misconfigured(format!("`user_prefix` `{}` must match [a-z][a-z0-9_]*", cfg.user_prefix)));
        }
        cfg.settings.validate()?;
        let mut opts = PgConnectOptions::new()
            .host(&cfg.host)
            .port(cfg.port)
            .username(&cfg.username)
            .database(&cfg.database)
            .ssl_mode(cfg.ssl_mode.to_sqlx())
            .log_statements(log::LevelFilter::Off);
        if let Some(pw) = &password {
            opts = opts.password(pw);
        }
        if let Some(ca) = &cfg.ssl_root_cert {
            opts = opts.ssl_root_cert(ca);
        }
        let pool = crate::sql::checked_when_idle(PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Duration::from_secs(60)),
        )
        .connect_lazy_with(opts);
        let types: Vec<String> = RESOURCE_TYPES.iter().map(|s| s.to_string()).collect();
        let descriptor = Arc::new(Descriptor::new(
            IntegrationKind::Redshift,
            &types,
            |t| crate::sql::permissions(t, &["database", "schema", "table"]),
            // Redshift user names: up to 127 bytes; stay within PostgreSQL's 63.
            UsernameRule { prefix: cfg.user_prefix.clone(), max_len: 63, requester_identity: false },
            cfg.settings.clone(),
        ));
        Ok(Redshift { cfg, pool, descriptor })
    }

    /// Run statements one by one (Redshift has no multi-statement DO blocks).
    async fn run(&self, stmts: &[String]) -> Result<(), IntegrationError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        for s in stmts {
            sqlx::query(s).execute(&mut *tx).await.map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn exists(&self, user: &str) -> Result<bool, IntegrationError> {
        let n: i64 = sqlx::query_scalar(dialect::USER_EXISTS).bind(user).fetch_one(&self.pool).await.map_err(unavailable)?;
        Ok(n > 0)
    }

    async fn schemas(&self) -> Result<Vec<String>, IntegrationError> {
        sqlx::query_scalar(dialect::LIST_SCHEMAS).fetch_all(&self.pool).await.map_err(unavailable)
    }

    /// Lock, end sessions, revoke everything. False when the user is gone.
    async fn strip(&self, user: &str) -> Result<bool, IntegrationError> {
        if !self.exists(user).await? {
            return Ok(false);
        }
        self.run(&[dialect::lock_user(user)?]).await?;
        sqlx::query(dialect::TERMINATE_SESSIONS).bind(user).execute(&self.pool).await.map_err(unavailable)?;
        let mut stmts = vec![dialect::revoke_database(&self.cfg.database, user)?];
        for s in self.schemas().await? {
            stmts.extend(dialect::revoke_schema(&s, user)?);
        }
        self.run(&stmts).await?;
        Ok(true)
    }

    async fn set_password(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        if !self.exists(&p.username).await? {
            return Err(IntegrationError::Invalid(format!("login `{}` does not exist on the target", p.username)));
        }
        let password = dialect::new_password();
        self.run(&[dialect::set_password(&p.username, &password)?]).await?;
        let host = self.cfg.public_host.clone().unwrap_or_else(|| self.cfg.host.clone());
        let command = format!(
            "PGPASSWORD={} psql \"host={host} port={} dbname={} user={} sslmode={}\"",
            crate::sql::shell_quote(&password),
            self.cfg.port,
            self.cfg.database,
            p.username,
            self.cfg.ssl_mode.as_str()
        );
        let details = BTreeMap::from([
            ("host".to_owned(), host),
            ("port".to_owned(), self.cfg.port.to_string()),
            ("database".to_owned(), self.cfg.database.clone()),
        ]);
        Ok(Credentials { username: p.username.clone(), secret: password, details, connect_command: Some(command) })
    }
}

#[async_trait]
impl Integration for Redshift {
    fn descriptor(&self) -> Arc<Descriptor> {
        self.descriptor.clone()
    }

    async fn get_status(&self) -> Result<StatusReport, IntegrationError> {
        let sup: bool = sqlx::query_scalar(dialect::IS_SUPERUSER).fetch_one(&self.pool).await.map_err(unavailable)?;
        if !sup {
            return Ok(StatusReport {
                healthy: false,
                message: format!("the connector user `{u}` lacks CREATEUSER: run `ALTER USER {u} CREATEUSER`", u = self.cfg.username),
            });
        }
        Ok(StatusReport { healthy: true, message: format!("connected as `{}`", self.cfg.username) })
    }

    async fn list_resources(&self) -> Result<Discovery, IntegrationError> {
        let db = &self.cfg.database;
        let res = |kind: &str, id: String, name: &str| ResourceInfo {
            id,
            name: name.to_owned(),
            resource_type: kind.to_owned(),
            metadata: BTreeMap::new(),
        };
        let mut resources = vec![res("database", resource_id::join(&[db]), db)];
        for s in self.schemas().await? {
            resources.push(res("schema", resource_id::join(&[db, &s]), &s));
        }
        let tables: Vec<(String, String)> = sqlx::query_as(dialect::LIST_TABLES).fetch_all(&self.pool).await.map_err(unavailable)?;
        for (s, t) in tables {
            resources.push(res("table", resource_id::join(&[db, &s, &t]), &t));
        }
        let permissions = self.descriptor.permission_map();
        Ok(Discovery { resources, permissions, children: vec![] })
    }

    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
        Ok(BTreeMap::new())
    }

    async fn grant_access(&self, p: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError> {
        let until = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(valid_until.0)
            .ok_or_else(|| IntegrationError::Invalid("deadline out of range".into()))?
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        let mut stmts = vec![if self.exists(&p.username).await? {
            dialect::refresh_user(&p.username, &until)?
        } else {
            dialect::create_user(&p.username, &until)?
        }];
        // Sesame's mark: membership of the integration's marker group.
        let marker = dialect::marker_group(&self.cfg.name);
        let n: i64 = sqlx::query_scalar(dialect::GROUP_EXISTS).bind(&marker).fetch_one(&self.pool).await.map_err(unavailable)?;
        if n == 0 {
            stmts.push(dialect::create_group(&marker)?);
        }
        stmts.push(dialect::add_to_group(&marker, &p.username)?);
        for id in &p.resources {
            let parts = resource_id::split(id);
            let bad = || IntegrationError::Invalid(format!("resource `{id}` is not a valid {} id", p.resource_type));
            if parts.first() != Some(&self.cfg.database) {
                return Err(bad());
            }
            match (p.resource_type.as_str(), parts.as_slice()) {
                ("database", [_]) => {
                    for s in self.schemas().await? {
                        stmts.extend(dialect::grant_schema(&s, &p.username, &p.permission)?);
                    }
                }
                ("schema", [_, s]) => stmts.extend(dialect::grant_schema(s, &p.username, &p.permission)?),
                ("table", [_, s, t]) => stmts.extend(dialect::grant_table(s, t, &p.username, &p.permission)?),
                _ => return Err(bad()),
            }
        }
        self.run(&stmts).await
    }

    async fn revoke_access(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.delete_user(&p.username).await
    }

    async fn create_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        self.set_password(p).await
    }

    async fn reset_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        self.set_password(p).await
    }

    async fn delete_credentials(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        if self.exists(&p.username).await? {
            self.run(&[dialect::lock_user(&p.username)?]).await?;
        }
        Ok(())
    }

    async fn disable_user(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        self.strip(&p.username).await.map(|_| ())
    }

    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError> {
        if !self.strip(username).await? {
            return Ok(());
        }
        match sqlx::query(&dialect::drop_user(username)?).execute(&self.pool).await {
            Ok(_) => Ok(()),
            // It owns objects: it stays, locked and stripped.
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("2BP01") => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn list_managed_users(&self) -> Result<Vec<String>, IntegrationError> {
        sqlx::query_scalar(dialect::LIST_USERS)
            .bind(&self.cfg.user_prefix)
            .bind(dialect::marker_group(&self.cfg.name))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)
    }
}
