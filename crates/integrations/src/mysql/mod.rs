//! MySQL, MariaDB and RDS MySQL: databases, tables and roles.
//!
//! Resource ids: `db` (database), `db/table`, and the role name for `role`.

mod config;
pub mod grants;
pub mod privileges;

pub use config::{AuthType, MysqlConfig};

use sesame_proto::connector::IntegrationKind;
use crate::sql::quote;
use crate::{Cause, Descriptor, Discovery, Integration, IntegrationError, StatusReport, UsernameRule};
use async_trait::async_trait;
use sesame_core::{resource_id, Timestamp};
use sesame_proto::{ActionParams, Credentials, ResourceInfo};
use sqlx::ConnectOptions;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const RESOURCE_TYPES: [&str; 3] = ["database", "table", "role"];
const SYSTEM_SCHEMAS: [&str; 4] = ["information_schema", "mysql", "performance_schema", "sys"];

pub struct Mysql {
    cfg: MysqlConfig,
    pool: MySqlPool,
    /// The marker role is known to exist (created once per process, not per grant).
    marker_ready: std::sync::atomic::AtomicBool,
    /// The server is MariaDB (read once, at the first grant that needs to know).
    mariadb: tokio::sync::OnceCell<bool>,
    descriptor: Arc<Descriptor>,
}

/// MySQL's own error number: sqlx's `code()` is the SQLSTATE, which is
/// `HY000` for most errors.
fn errno(e: &sqlx::Error) -> Option<u16> {
    match e {
        sqlx::Error::Database(db) => db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().map(|m| m.number()),
        _ => None,
    }
}

/// ER_PARSE_ERROR: its message quotes the statement from where it failed.
const PARSE_ERROR: u16 = 1064;

fn unavailable(e: sqlx::Error) -> IntegrationError {
    let number = errno(&e);
    match e {
        // The quoted text may be a password (`IDENTIFIED BY`): never passed on.
        sqlx::Error::Database(_) if number == Some(PARSE_ERROR) => IntegrationError::Unavailable(Cause::Target {
            system: "mysql".into(),
            code: PARSE_ERROR.to_string(),
            message: "the server could not parse a statement Sesame sent (its text is withheld: it may carry a password); check that the server is MySQL 5.7+ or MariaDB 10.4+".into(),
        }),
        sqlx::Error::Database(db) => {
            let code = number.map(|n| n.to_string()).or_else(|| db.code().map(|c| c.to_string())).unwrap_or_default();
            // 1044/1045/1142/1227: access denied / missing privilege.
            if matches!(code.as_str(), "1044" | "1045" | "1142" | "1227" | "42000") && db.message().contains("denied") {
                IntegrationError::Misconfigured(format!("the connector account lacks a privilege: {}", db.message()))
            } else {
                IntegrationError::Unavailable(Cause::Target { system: "mysql".into(), code, message: db.message().to_owned() })
            }
        }
        other => IntegrationError::Unavailable(Cause::Unreachable { system: "mysql".into(), message: other.to_string() }),
    }
}

impl Mysql {
    /// Build with the password already read (`Registry::mysql` reads it
    /// where the connector runs).
    pub fn new(cfg: MysqlConfig, password: Option<String>) -> Result<Mysql, IntegrationError> {
        cfg.validate()?;
        // Statements may carry secrets (IDENTIFIED BY): never log them.
        let mut opts = MySqlConnectOptions::new().host(&cfg.host).port(cfg.port).username(&cfg.username).log_statements(log::LevelFilter::Off);
        // An empty password (e.g. from a secret) means none: sqlx would send a scramble of "".
        if let Some(pw) = password.as_ref().filter(|p| !p.is_empty()) {
            opts = opts.password(pw);
        }
        let pool = crate::sql::checked_when_idle(MySqlPoolOptions::new()
            .max_connections(8)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Duration::from_secs(60)),
        )
        .connect_lazy_with(opts);
        let descriptor = Arc::new(Descriptor::new(
            IntegrationKind::Mysql,
            &crate::sql::offered(&RESOURCE_TYPES, &cfg.resource_types),
            |t| crate::sql::permissions(t, &["database", "table"]),
            // MySQL 5.7+/8: 32 characters; MariaDB allows 80. 32 fits both.
            UsernameRule { prefix: cfg.user_prefix.clone(), max_len: 32, requester_identity: false },
            cfg.settings.clone(),
        ));
        Ok(Mysql { cfg, pool, marker_ready: Default::default(), mariadb: Default::default(), descriptor })
    }

    fn account(&self, username: &str) -> Result<String, IntegrationError> {
        quote::mysql_account(username, &self.cfg.user_host)
    }

    /// The role (without privileges) that marks the accounts this
    /// integration made: the reconciler touches only accounts holding it.
    fn marker(&self) -> String {
        grants::marker_role(&self.cfg.name)
    }

    /// Grant the marker role to `account`, creating the role first the first
    /// time (and again after a failure: someone may have dropped it).
    /// The statements that mark `account` as Sesame's: the marker role is
    /// created once per process (again after a failed grant).
    fn mark_statements(&self, account: &str) -> Result<Vec<String>, IntegrationError> {
        use std::sync::atomic::Ordering;
        let [create, grant] = grants::mark_statements(&self.marker(), account)?;
        Ok(if self.marker_ready.swap(true, Ordering::Relaxed) { vec![grant] } else { vec![create, grant] })
    }

    /// Run statements that include the mark as one batch; when it fails, the
    /// marker role may be what failed, so it is made again next time.
    async fn exec_marking(&self, batch: Vec<String>) -> Result<(), IntegrationError> {
        let r = self.exec(&batch.join(";\n")).await;
        if r.is_err() {
            self.marker_ready.store(false, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }

    async fn marked(&self) -> Result<Vec<String>, IntegrationError> {
        let marker = self.marker();
        // MariaDB keeps role grants in mysql.roles_mapping, MySQL 8 in mysql.role_edges.
        let mariadb = sqlx::query_scalar::<_, String>(
            "SELECT CONVERT(User USING utf8mb4) FROM mysql.roles_mapping WHERE Role = ? AND Host = ? ORDER BY 1",
        )
        .bind(&marker)
        .bind(&self.cfg.user_host)
        .fetch_all(&self.pool)
        .await;
        match mariadb {
            Ok(u) => Ok(u),
            Err(_) => sqlx::query_scalar("SELECT CONVERT(TO_USER USING utf8mb4) FROM mysql.role_edges WHERE FROM_USER = ? AND TO_HOST = ? ORDER BY 1")
                .bind(&marker)
                .bind(&self.cfg.user_host)
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable),
        }
    }

    async fn is_mariadb(&self) -> Result<bool, IntegrationError> {
        let read = || async {
            let version: String = sqlx::query_scalar("SELECT VERSION()").fetch_one(&self.pool).await.map_err(unavailable)?;
            Ok::<_, IntegrationError>(version.contains("MariaDB"))
        };
        self.mariadb.get_or_try_init(read).await.copied()
    }

    async fn exec(&self, sql: &str) -> Result<(), IntegrationError> {
        sqlx::raw_sql(sql).execute(&self.pool).await.map(|_| ()).map_err(unavailable)
    }

    async fn user_exists(&self, username: &str) -> Result<bool, IntegrationError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?")
            .bind(username)
            .bind(&self.cfg.user_host)
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(n > 0)
    }

    /// Lock the account and end its sessions. False when it does not exist.
    async fn lock_out(&self, username: &str) -> Result<bool, IntegrationError> {
        if !self.user_exists(username).await? {
            return Ok(false);
        }
        self.exec(&format!("ALTER USER {} ACCOUNT LOCK", self.account(username)?)).await?;
        let ids: Vec<i64> = sqlx::query_scalar("SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST WHERE USER = ?")
            .bind(username)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        for id in ids {
            // The session may end by itself meanwhile (1094 unknown thread).
            match sqlx::raw_sql(&format!("KILL CONNECTION {id}")).execute(&self.pool).await {
                Ok(_) => {}
                Err(e) if errno(&e) == Some(1094) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(true)
    }

    async fn granted_roles(&self, username: &str) -> Result<Vec<String>, IntegrationError> {
        // MariaDB keeps role grants in mysql.roles_mapping, MySQL 8 in mysql.role_edges.
        let mariadb = sqlx::query_scalar::<_, String>("SELECT CONVERT(Role USING utf8mb4) FROM mysql.roles_mapping WHERE User = ? AND Host = ?")
            .bind(username)
            .bind(&self.cfg.user_host)
            .fetch_all(&self.pool)
            .await;
        match mariadb {
            Ok(r) => Ok(r),
            Err(_) => sqlx::query_scalar("SELECT CONVERT(FROM_USER USING utf8mb4) FROM mysql.role_edges WHERE TO_USER = ? AND TO_HOST = ?")
                .bind(username)
                .bind(&self.cfg.user_host)
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable),
        }
    }

    /// An `ALTER USER` in one round trip: a login that does not exist fails
    /// with 1396, which is the requester's problem, not the target's.
    async fn alter_user(&self, sql: &str, username: &str) -> Result<(), IntegrationError> {
        match sqlx::raw_sql(sql).execute(&self.pool).await {
            Ok(_) => Ok(()),
            Err(e) if errno(&e) == Some(1396) => {
                Err(IntegrationError::Invalid(format!("login `{username}` does not exist on the target")))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn set_password(&self, p: &ActionParams) -> Result<Credentials, IntegrationError> {
        let account = self.account(&p.username)?;
        match self.cfg.auth_type {
            AuthType::Password => {
                let password = crate::random_password();
                self.alter_user(&format!("ALTER USER {account} IDENTIFIED BY {} ACCOUNT UNLOCK", quote::mysql_literal(&password)?), &p.username).await?;
                Ok(self.credentials(p, password))
            }
            AuthType::Iam => {
                self.alter_user(&format!("ALTER USER {account} ACCOUNT UNLOCK"), &p.username).await?;
                Ok(self.credentials(p, String::new()))
            }
        }
    }

    /// What the grantee connects with: `password` (empty with IAM auth,
    /// where the command asks AWS for a token), host, port, database.
    fn credentials(&self, p: &ActionParams, password: String) -> Credentials {
        let host = self.cfg.public_host.clone().unwrap_or_else(|| self.cfg.host.clone());
        let port = self.cfg.port.to_string();
        let database = match p.resource_type.as_str() {
            "database" | "table" => p.resources.first().and_then(|r| resource_id::split(r).into_iter().next()),
            _ => None,
        };
        let mut details = BTreeMap::from([("host".to_owned(), host.clone()), ("port".to_owned(), port.clone())]);
        if let Some(db) = &database {
            details.insert("database".into(), db.clone());
        }
        let db_arg = database.as_deref().map(|d| format!(" {}", crate::sql::shell_quote(d))).unwrap_or_default();
        let (h, u) = (crate::sql::shell_quote(&host), crate::sql::shell_quote(&p.username));
        let command = match self.cfg.auth_type {
            AuthType::Password => format!("MYSQL_PWD={} mysql -h {h} -P {port} -u {u}{db_arg}", crate::sql::shell_quote(&password)),
            AuthType::Iam => format!(
                "mysql -h {h} -P {port} -u {u} --enable-cleartext-plugin --ssl-mode=REQUIRED \
                 --password=\"$(aws rds generate-db-auth-token --hostname {h} --port {port} --region {r} --username {u})\"{db_arg}",
                r = crate::sql::shell_quote(self.cfg.region.as_deref().unwrap_or_default())
            ),
        };
        Credentials { username: p.username.clone(), secret: password, details, connect_command: Some(command) }
    }

    /// The grant's batch: the marker role the first time, the login, Sesame's
    /// mark (unless `login` made it, [`Login::Marked`]), the privileges.
    fn grant_batch(&self, p: &ActionParams, account: &str, login: Login) -> Result<Vec<String>, IntegrationError> {
        if p.resource_type == "role" {
            for r in &p.resources {
                self.cfg.roles.check(r)?;
            }
        }
        let mut marking = self.mark_statements(account)?;
        let mark = marking.pop();
        let mut batch = marking;
        match login {
            Login::Marked(sql) => batch.push(sql),
            Login::Unmarked(sql) => batch.extend([sql].into_iter().chain(mark)),
        }
        batch.extend(grants::grant_statements(p, account)?);
        Ok(batch)
    }
}

/// The statement that makes a grant's login, and whether it marks it too.
enum Login {
    Marked(String),
    Unmarked(String),
}

#[async_trait]
impl Integration for Mysql {
    fn descriptor(&self) -> Arc<Descriptor> {
        self.descriptor.clone()
    }

    async fn get_status(&self) -> Result<StatusReport, IntegrationError> {
        let version: String = sqlx::query_scalar("SELECT VERSION()").fetch_one(&self.pool).await.map_err(unavailable)?;
        let lines: Vec<String> = sqlx::query_scalar("SHOW GRANTS FOR CURRENT_USER()").fetch_all(&self.pool).await.map_err(unavailable)?;
        let mysql8 = !version.contains("MariaDB") && version.split('.').next().and_then(|m| m.parse::<u32>().ok()).is_some_and(|m| m >= 8);
        let missing = privileges::missing(&lines, mysql8);
        if missing.is_empty() {
            return Ok(StatusReport { healthy: true, message: format!("connected as `{}` to {version}", self.cfg.username) });
        }
        Ok(StatusReport {
            healthy: false,
            message: format!(
                "the connector account `{}` lacks {}: grant them, e.g. `GRANT {} ON *.* TO '{}'@'%'`",
                self.cfg.username,
                missing.join(", "),
                missing.iter().filter(|m| !m.contains(" ON ")).copied().collect::<Vec<_>>().join(", "),
                self.cfg.username
            ),
        })
    }

    async fn list_resources(&self) -> Result<Discovery, IntegrationError> {
        let mut dbs: Vec<String> = sqlx::query_scalar("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY 1")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        dbs.retain(|d| !SYSTEM_SCHEMAS.contains(&d.as_str()) && (self.cfg.databases.is_empty() || self.cfg.databases.contains(d)));
        let mut resources = Vec::new();
        let res = |kind: &str, id: String, name: &str, meta: &[(&str, &str)]| ResourceInfo {
            id,
            name: name.to_owned(),
            resource_type: kind.to_owned(),
            metadata: meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        for db in &dbs {
            resources.push(res("database", resource_id::join(&[db]), db, &[]));
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1")
                    .bind(db)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(unavailable)?;
            for t in &tables {
                resources.push(res("table", resource_id::join(&[db, t]), t, &[("database", db)]));
            }
        }
        let roles = match sqlx::query_scalar::<_, String>("SELECT CONVERT(User USING utf8mb4) FROM mysql.user WHERE BINARY is_role = 'Y' ORDER BY 1").fetch_all(&self.pool).await {
            Ok(r) => r,
            // MySQL 8: roles are locked accounts with an expired password.
            Err(_) => sqlx::query_scalar("SELECT CONVERT(User USING utf8mb4) FROM mysql.user WHERE BINARY account_locked = 'Y' AND BINARY password_expired = 'Y' ORDER BY 1")
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?,
        };
        for r in roles.iter().filter(|r| !r.starts_with(&self.cfg.user_prefix) && !r.starts_with(grants::MARKER_PREFIX) && self.cfg.roles.allows(r)) {
            resources.push(res("role", r.clone(), r, &[]));
        }
        let permissions = self.descriptor.permission_map();
        let mut d = Discovery { resources, permissions, children: vec![] };
        crate::sql::restrict(&mut d, &self.descriptor.type_names());
        Ok(d)
    }

    async fn list_resources_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, IntegrationError> {
        Ok(BTreeMap::new())
    }

    async fn grant_access(&self, p: &ActionParams, _valid_until: Timestamp) -> Result<(), IntegrationError> {
        // MySQL has no account expiry to use as a backstop; the revoke job
        // and the reconciler are the guarantee.
        let account = self.account(&p.username)?;
        // One batch, one round trip: the login, Sesame's mark, the grants.
        let batch = self.grant_batch(p, &account, Login::Unmarked(grants::create_user(&account, self.cfg.auth_type)?))?;
        self.exec_marking(batch).await
    }

    async fn grant_with_credentials(&self, p: &ActionParams, valid_until: Timestamp) -> Result<Credentials, IntegrationError> {
        if self.cfg.auth_type != AuthType::Password {
            self.grant_access(p, valid_until).await?;
            return self.create_credentials(p).await;
        }
        // The login made with the password shown, in the grant's one batch.
        let account = self.account(&p.username)?;
        let password = crate::random_password();
        if self.is_mariadb().await? {
            // Made and marked in one statement. A login that exists already
            // is an earlier attempt of this one-call grant's (names are unique
            // per grant, and a one-call grant is its grant's first attempt, so
            // no two-step grant locked it): it gets the new password.
            let login = grants::marked_login(&self.marker(), &account, &password)?;
            self.exec_marking(self.grant_batch(p, &account, Login::Marked(login))?).await?;
            return Ok(self.credentials(p, password));
        }
        // MySQL: the login exists already only if an earlier attempt made
        // it; then the grant is done again and the password set on its own.
        let login = format!("CREATE USER {account} IDENTIFIED BY {}", quote::mysql_literal(&password)?);
        let batch = self.grant_batch(p, &account, Login::Unmarked(login))?;
        match sqlx::raw_sql(&batch.join(";\n")).execute(&self.pool).await {
            Ok(_) => Ok(self.credentials(p, password)),
            Err(e) if errno(&e) == Some(1396) => {
                self.grant_access(p, valid_until).await?;
                self.create_credentials(p).await
            }
            Err(e) => {
                self.marker_ready.store(false, std::sync::atomic::Ordering::Relaxed);
                Err(unavailable(e))
            }
        }
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
        if !self.user_exists(&p.username).await? {
            return Ok(());
        }
        self.exec(&format!("ALTER USER {} ACCOUNT LOCK", self.account(&p.username)?)).await
    }

    async fn disable_user(&self, p: &ActionParams) -> Result<(), IntegrationError> {
        if !self.lock_out(&p.username).await? {
            return Ok(());
        }
        let account = self.account(&p.username)?;
        // Every role but Sesame's mark: a disabled account stays Sesame's.
        let marker = self.marker();
        for r in self.granted_roles(&p.username).await?.into_iter().filter(|r| *r != marker) {
            self.exec(&format!("REVOKE {} FROM {account}", quote::mysql_ident(&r)?)).await?;
        }
        self.exec(&format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}")).await?;
        // MariaDB's REVOKE ALL takes role grants too: put the mark back.
        self.exec_marking(self.mark_statements(&account)?).await
    }

    async fn delete_user(&self, username: &str) -> Result<(), IntegrationError> {
        if !self.lock_out(username).await? {
            return Ok(());
        }
        self.exec(&format!("DROP USER IF EXISTS {}", self.account(username)?)).await
    }

    async fn list_managed_users(&self) -> Result<Vec<String>, IntegrationError> {
        // Only accounts this integration marked, with its prefix; never the
        // connector's own account.
        let mut users = self.marked().await?;
        users.retain(|u| u.starts_with(&self.cfg.user_prefix) && *u != self.cfg.username);
        Ok(users)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// A statement the server cannot parse is reported without its text,
    /// which may carry a password: asked of the real MariaDB.
    #[tokio::test]
    async fn a_parse_error_never_carries_the_statement() {
        let url = "mysql://root@127.0.0.1:3306";
        let pool = MySqlPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .unwrap_or_else(|e| panic!("MariaDB is not reachable at {url}: {e}; start it with `scripts/services-up mariadb`"));
        let secret = "hunter2-not-to-be-seen";
        let e = sqlx::raw_sql(&format!("GRANT `r` TO 'u'@'%' IDENTIFIED BI '{secret}'")).execute(&pool).await.unwrap_err();
        assert_eq!(errno(&e), Some(PARSE_ERROR), "{e}");
        assert!(e.to_string().contains(secret), "the server's own message quotes it: {e}");
        let reported = unavailable(e);
        assert!(!format!("{reported} {reported:?}").contains(secret), "{reported:?}");
        assert!(matches!(&reported, IntegrationError::Unavailable(Cause::Target { code, .. }) if code == "1064"), "{reported:?}");
    }
}
