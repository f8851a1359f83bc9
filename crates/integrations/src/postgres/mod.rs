//! PostgreSQL and RDS PostgreSQL: databases, schemas, tables and roles.
//!
//! Resource ids: `db` (database), `db/schema`, `db/schema/table` (each name
//! escaped by `sesame_core::resource_id`), and `role` for role membership.

mod config;
mod discovery;
mod grants;
mod revoke;

pub use config::{AuthType, GranteeObjects, PostgresConfig, SslMode};

use sesame_proto::connector::IntegrationKind;
use crate::sql::quote;
use crate::{Cause, Descriptor, Discovery, Integration, IntegrationError, StatusReport, UsernameRule};
use async_trait::async_trait;
use sesame_core::Timestamp;
use sesame_proto::{ActionParams, Credentials};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const RESOURCE_TYPES: [&str; 4] = ["database", "schema", "table", "role"];

pub struct Postgres {
    cfg: PostgresConfig,
    password: Option<String>,
    pools: Mutex<HashMap<String, PgPool>>,
    descriptor: Arc<Descriptor>,
}

fn unavailable(e: sqlx::Error) -> IntegrationError {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            // 42501 insufficient_privilege: the connector account lacks rights.
            if code == "42501" {
                IntegrationError::Misconfigured(format!("the connector account lacks a privilege: {}", db.message()))
            } else {
                IntegrationError::Unavailable(Cause::Target { system: "postgres".into(), code, message: db.message().to_owned() })
            }
        }
        other => IntegrationError::Unavailable(Cause::Unreachable { system: "postgres".into(), message: other.to_string() }),
    }
}

/// Run a multi-statement batch (one implicit transaction, one round trip),
/// retrying catalog write conflicts between concurrent grants and revokes.
pub(super) async fn exec_retrying(pool: &PgPool, sql: &str) -> Result<(), IntegrationError> {
    use rand::Rng;
    let mut attempt = 0u64;
    loop {
        match sqlx::raw_sql(sql).execute(pool).await {
            Ok(_) => return Ok(()),
            Err(sqlx::Error::Database(db)) if attempt < 8 && is_conflict(db.code().as_deref(), db.message()) => {
                attempt += 1;
                let ms = rand::thread_rng().gen_range(2..20) * attempt;
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Err(e) => return Err(unavailable(e)),
        }
    }
}

/// Errors that another session's concurrent catalog change causes.
fn is_conflict(code: Option<&str>, message: &str) -> bool {
    matches!(code, Some("40001" | "40P01" | "42710" | "23505")) || message.contains("concurrently updated")
}

impl Postgres {
    /// Build with the password already read (`Registry::postgres` reads it
    /// where the connector runs).
    pub fn new(cfg: PostgresConfig, password: Option<String>) -> Result<Postgres, IntegrationError> {
        cfg.validate()?;
        let descriptor = Arc::new(Descriptor::new(
            IntegrationKind::Postgresql,
            &crate::sql::offered(&RESOURCE_TYPES, &cfg.resource_types),
            |t| crate::sql::permissions(t, &["database", "schema", "table"]),
            UsernameRule { prefix: cfg.user_prefix.clone(), max_len: 63, requester_identity: false },
            cfg.settings.clone(),
        ));
        Ok(Postgres { cfg, password, pools: Mutex::new(HashMap::new()), descriptor })
    }

    pub fn config(&self) -> &PostgresConfig {
        &self.cfg
    }

    /// A pool on `database` (the maintenance database when `None`).
    fn pool(&self, database: Option<&str>) -> Result<PgPool, IntegrationError> {
        let db = database.unwrap_or(&self.cfg.database).to_owned();
        let mut pools = self.pools.lock().map_err(|_| IntegrationError::Unavailable(Cause::Unreachable { system: "postgres".into(), message: "the connection pool's lock is poisoned".into() }))?;
        if let Some(p) = pools.get(&db) {
            return Ok(p.clone());
        }
        let mut opts = PgConnectOptions::new()
            .host(&self.cfg.host)
            .port(self.cfg.port)
            .username(&self.cfg.username)
            .database(&db)
            .application_name("sesame")
            // Statements may carry secrets: never log them.
            .log_statements(log::LevelFilter::Off)
            .ssl_mode(self.cfg.ssl_mode.to_sqlx());
        if let Some(pw) = &self.password {
            opts = opts.password(pw);
        }
        if let Some(ca) = &self.cfg.ssl_root_cert {
            opts = opts.ssl_root_cert(ca);
        }
        let pool = crate::sql::checked_when_idle(PgPoolOptions::new()
            .max_connections(8)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Duration::from_secs(60)),
        )
        .connect_lazy_with(opts);
        pools.insert(db, pool.clone());
        Ok(pool)
    }

    async fn set_password(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        if self.cfg.auth_type == AuthType::Iam {
            return self.iam_credentials(p).await;
        }
        let (password, verifier) = self.new_password();
        let sql = format!("ALTER ROLE {} WITH PASSWORD {}", quote::ident(&p.username)?, quote::literal(&verifier)?);
        let pool = self.pool(None)?;
        let res = sqlx::raw_sql(&sql).execute(&pool).await;
        match res {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42704") => {
                return Err(IntegrationError::Invalid(format!("login `{}` does not exist on the target", p.username)))
            }
            Err(e) => return Err(unavailable(e)),
        }
        Ok(self.credentials(p, password))
    }

    /// A new password and its SCRAM verifier, hashed here: the plaintext
    /// never reaches the server or its logs.
    fn new_password(&self) -> (String, String) {
        let password = crate::random_password();
        let verifier = crate::sql::scram::new_verifier(&password, self.cfg.password_hash_iterations);
        (password, verifier)
    }

    /// What the grantee connects with, password auth.
    fn credentials(&self, p: &ActionParams, password: String) -> Credentials {
        let database = grants::database_of(p).unwrap_or_else(|| self.cfg.database.clone());
        let host = self.cfg.public_host.clone().unwrap_or_else(|| self.cfg.host.clone());
        let port = self.cfg.port.to_string();
        let command = format!(
            "PGPASSWORD={} psql -h {} -p {} -U {} -d {}",
            crate::sql::shell_quote(&password),
            crate::sql::shell_quote(&host),
            port,
            crate::sql::shell_quote(&p.username),
            crate::sql::shell_quote(&database)
        );
        let details = BTreeMap::from([
            ("host".to_owned(), host),
            ("port".to_owned(), port),
            ("database".to_owned(), database),
            ("sslmode".to_owned(), self.cfg.ssl_mode.as_str().to_owned()),
        ]);
        Credentials { username: p.username.clone(), secret: password, details, connect_command: Some(command) }
    }
}

impl Postgres {
    /// IAM auth: no password; the grantee connects with a token from AWS.
    async fn iam_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(&p.username)
            .fetch_one(&self.pool(None)?)
            .await
            .map_err(unavailable)?;
        if !exists {
            return Err(IntegrationError::Invalid(format!("login `{}` does not exist on the target", p.username)));
        }
        let host = self.cfg.public_host.clone().unwrap_or_else(|| self.cfg.host.clone());
        let database = grants::database_of(p).unwrap_or_else(|| self.cfg.database.clone());
        let token = crate::sql::rds_iam::token_command(&host, self.cfg.port, self.cfg.region.as_deref().unwrap_or_default(), &p.username);
        let q = crate::sql::shell_quote;
        let command = format!(
            "PGSSLMODE=require PGPASSWORD=\"$({token})\" psql -h {} -p {} -U {} -d {}",
            q(&host),
            self.cfg.port,
            q(&p.username),
            q(&database)
        );
        let details = BTreeMap::from([
            ("host".to_owned(), host),
            ("port".to_owned(), self.cfg.port.to_string()),
            ("database".to_owned(), database),
            ("auth".to_owned(), "iam".to_owned()),
        ]);
        Ok(Credentials { username: p.username.clone(), secret: String::new(), details, connect_command: Some(command) })
    }
}

#[async_trait]
impl Integration for Postgres {
    fn descriptor(&self) -> Arc<Descriptor> {
        self.descriptor.clone()
    }

    async fn get_status(&self) -> Result<StatusReport, IntegrationError> {
        let pool = self.pool(None)?;
        let row: (String, bool, bool) =
            sqlx::query_as("SELECT current_user::text, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
                .fetch_one(&pool)
                .await
                .map_err(unavailable)?;
        let (user, sup, createrole) = row;
        if !sup && !createrole {
            return Ok(StatusReport {
                healthy: false,
                message: format!("the connector role `{user}` lacks CREATEROLE: run `ALTER USER {user} WITH CREATEROLE`"),
            });
        }
        // On RDS the connector also needs rds_superuser to grant on others' objects.
        let (on_rds, rds_super): (bool, bool) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_superuser'), \
             COALESCE((SELECT pg_has_role(current_user, 'rds_superuser', 'MEMBER') WHERE EXISTS \
             (SELECT 1 FROM pg_roles WHERE rolname = 'rds_superuser')), false)",
        )
        .fetch_one(&pool)
        .await
        .map_err(unavailable)?;
        if on_rds && !sup && !rds_super {
            return Ok(StatusReport {
                healthy: false,
                message: format!("the connector role `{user}` is not a member of rds_superuser: run `GRANT rds_superuser TO {user}`"),
            });
        }
        if self.cfg.auth_type == AuthType::Iam {
            let has_rds_iam: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')")
                .fetch_one(&pool)
                .await
                .map_err(unavailable)?;
            if !has_rds_iam {
                return Ok(StatusReport {
                    healthy: false,
                    message: "`auth_type = \"iam\"` but this server has no `rds_iam` role: enable IAM database authentication on the RDS instance".into(),
                });
            }
        }
        let tls: Option<bool> = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_optional(&pool)
            .await
            .map_err(unavailable)?;
        let tls = if tls == Some(true) { "over TLS" } else { "without TLS" };
        Ok(StatusReport { healthy: true, message: format!("connected as `{user}` {tls} (ssl_mode {})", self.cfg.ssl_mode.as_str()) })
    }

    async fn list_resources(&self) -> Result<Discovery, IntegrationError> {
        let mut d = discovery::discover(self).await?;
        crate::sql::restrict(&mut d, &self.descriptor.type_names());
        Ok(d)
    }

    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
        Ok(BTreeMap::new())
    }

    async fn grant_access(&self, p: &ActionParams, valid_until: Timestamp) -> Result<(), IntegrationError> {
        grants::grant(self, p, valid_until, None).await
    }

    async fn grant_with_credentials(&self, p: &ActionParams, valid_until: Timestamp) -> Result<Credentials, IntegrationError> {
        if self.cfg.auth_type == AuthType::Iam {
            grants::grant(self, p, valid_until, None).await?;
            return self.iam_credentials(p).await;
        }
        // The password is set in the grant's first transaction.
        let (password, verifier) = self.new_password();
        grants::grant(self, p, valid_until, Some(&verifier)).await?;
        Ok(self.credentials(p, password))
    }

    async fn revoke_access(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        revoke::revoke(self, &p.username).await
    }

    async fn create_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        self.set_password(p).await
    }

    async fn reset_credentials(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        self.set_password(p).await
    }

    async fn delete_credentials(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        let sql = format!("ALTER ROLE {} WITH PASSWORD NULL", quote::ident(&p.username)?);
        match sqlx::raw_sql(&sql).execute(&self.pool(None)?).await {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42704") => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn disable_user(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        revoke::disable(self, &p.username).await
    }

    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError> {
        revoke::delete(self, username).await
    }

    async fn list_managed_users(&self) -> Result<Vec<String>, IntegrationError> {
        // Only logins this integration made (its mark), with its prefix;
        // never a superuser or the connector's own login. left() rather
        // than LIKE: `_` in the prefix is a LIKE wildcard.
        sqlx::query_scalar(
            "SELECT r.rolname::text FROM pg_roles r JOIN pg_shdescription d ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass \
             WHERE d.description = $2 AND left(r.rolname, length($1)) = $1 AND NOT r.rolsuper AND r.rolname <> current_user ORDER BY 1",
        )
        .bind(&self.cfg.user_prefix)
        .bind(grants::marker(&self.cfg.name))
        .fetch_all(&self.pool(None)?)
        .await
        .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shell_quoting() {
        assert_eq!(crate::sql::shell_quote("abc"), "abc");
        assert_eq!(crate::sql::shell_quote("a b'c"), r"'a b'\''c'");
    }
}
