//! The real servers behind the conformance suite, and how to log in to them.

use sesame_integrations::registry::Registry;
use sesame_core::resource_id::join;
use sesame_integrations::mysql::MysqlConfig;
use sesame_integrations::postgres::PostgresConfig;
use sesame_integrations::redshift::{dialect, RedshiftConfig};
use sesame_integrations::sql::scram;
use sesame_integrations::Integration;
use sqlx::mysql::{MySqlConnection, MySqlPool};
use sqlx::postgres::{PgConnection, PgPool};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    Mysql,
    Redshift,
}

pub enum Conn {
    Pg(PgConnection),
    My(MySqlConnection),
}

pub struct Target {
    pub name: &'static str,
    pub kind: Kind,
    pub integration: Box<dyn Integration>,
    pub prefix: String,
    pub db: String,
    pub table: String,
    pub other_table: String,
    pub hostile_table: String,
    pub(crate) pg: Option<PgPool>,
    pub(crate) my: Option<MySqlPool>,
}

/// A fresh name part: tests on the shared servers never collide.
pub fn tag() -> String {
    sesame_testkit::targets::suffix(6)
}

pub use sesame_testkit::targets::{my_admin, pg_admin, pg_host};

pub fn pgq(n: &str) -> String {
    format!("\"{}\"", n.replace('"', "\"\""))
}

pub fn myq(n: &str) -> String {
    format!("`{}`", n.replace('`', "``"))
}

const PG_SCHEMA: &str = "we\"ird; DROP TABLE public.canary; -- ünï🚀";
const PG_TABLE: &str = "t\"; DELETE FROM public.canary; -- xxxxxxxxxxxxxxxxxxxxxxxxxx";
const MY_TABLE: &str = "t`; DELETE FROM canary; -- ünï xxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

async fn pg_database(tag: &str, prefix: &str) -> (String, PgPool) {
    let db = format!("sesame_{prefix}{tag}");
    sqlx::raw_sql(&format!("CREATE DATABASE {db}")).execute(&pg_admin("postgres").await).await.unwrap();
    let pool = pg_admin(&db).await;
    sqlx::raw_sql(&format!(
        "CREATE TABLE public.t (id int); INSERT INTO public.t VALUES (1); CREATE TABLE public.u (id int);
         CREATE TABLE public.canary (id int); INSERT INTO public.canary VALUES (1);
         CREATE SCHEMA {s}; CREATE TABLE {s}.{t} (v int); INSERT INTO {s}.{t} VALUES (1);",
        s = pgq(PG_SCHEMA),
        t = pgq(PG_TABLE)
    ))
    .execute(&pool)
    .await
    .unwrap();
    assert!(PG_TABLE.len() >= 60 && PG_TABLE.len() <= 63);
    (db, pool)
}

pub async fn postgres() -> Target {
    let tag = tag();
    let (db, pool) = pg_database(&tag, "cf").await;
    let prefix = format!("cf{tag}_");
    let cfg: PostgresConfig = serde_json::from_value(serde_json::json!({
        "name": "pg", "host": pg_host(), "username": "postgres", "databases": [db], "user_prefix": prefix, "ssl_mode": "disable",
    }))
    .unwrap();
    Target {
        name: "postgresql",
        kind: Kind::Postgres,
        integration: Box::new(Registry::new().postgres(cfg).await.unwrap()),
        table: join(&[&db, "public", "t"]),
        other_table: join(&[&db, "public", "u"]),
        hostile_table: join(&[&db, PG_SCHEMA, PG_TABLE]),
        prefix,
        db,
        pg: Some(pool),
        my: None,
    }
}

pub async fn redshift() -> Target {
    let tag = tag();
    let (db, pool) = pg_database(&tag, "rs").await;
    // Test shim: Redshift lists sessions in stv_sessions; PostgreSQL in pg_stat_activity.
    sqlx::raw_sql("CREATE VIEW public.stv_sessions AS SELECT pid AS process, usename::text AS user_name FROM pg_stat_activity")
        .execute(&pool)
        .await
        .unwrap();
    let prefix = format!("rs{tag}_");
    let cfg: RedshiftConfig = serde_json::from_value(serde_json::json!({
        // Its own name: the marker group is named after the integration and is
        // cluster-wide, so two suites at once would add users to one group row
        // concurrently ("tuple concurrently updated", retried by the worker in
        // production, a failure here).
        "name": format!("rs{tag}"), "host": pg_host(), "port": 5432, "database": db, "username": "postgres", "user_prefix": prefix, "ssl_mode": "disable",
    }))
    .unwrap();
    Target {
        name: "redshift",
        kind: Kind::Redshift,
        integration: Box::new(Registry::new().redshift(cfg).await.unwrap()),
        table: join(&[&db, "public", "t"]),
        other_table: join(&[&db, "public", "u"]),
        hostile_table: join(&[&db, PG_SCHEMA, PG_TABLE]),
        prefix,
        db,
        pg: Some(pool),
        my: None,
    }
}

pub async fn mysql() -> Target {
    let tag = tag();
    let db = format!("sesame_cf_{tag}");
    let root = my_admin().await;
    for s in [
        format!("CREATE DATABASE {db}"),
        format!("CREATE TABLE {db}.t (id int)"),
        format!("INSERT INTO {db}.t VALUES (1)"),
        format!("CREATE TABLE {db}.u (id int)"),
        format!("CREATE TABLE {db}.canary (id int)"),
        format!("INSERT INTO {db}.canary VALUES (1)"),
        format!("CREATE TABLE {db}.{} (v int)", myq(MY_TABLE)),
        format!("INSERT INTO {db}.{} VALUES (1)", myq(MY_TABLE)),
    ] {
        sqlx::raw_sql(&s).execute(&root).await.unwrap();
    }
    let prefix = format!("my{tag}_");
    let cfg: MysqlConfig = serde_json::from_value(serde_json::json!({
        "name": "my", "host": "127.0.0.1", "username": "root", "databases": [db], "user_prefix": prefix,
    }))
    .unwrap();
    Target {
        name: "mysql",
        kind: Kind::Mysql,
        integration: Box::new(Registry::new().mysql(cfg).await.unwrap()),
        table: join(&[&db, "t"]),
        other_table: join(&[&db, "u"]),
        hostile_table: join(&[&db, MY_TABLE]),
        prefix,
        db,
        pg: None,
        my: Some(root),
    }
}

impl Target {
    fn sql_name(&self, id: &str) -> String {
        let parts = sesame_core::resource_id::split(id);
        match self.kind {
            Kind::Mysql => parts.iter().map(|p| myq(p)).collect::<Vec<_>>().join("."),
            _ => parts[1..].iter().map(|p| pgq(p)).collect::<Vec<_>>().join("."),
        }
    }

    pub fn select(&self, id: &str) -> String {
        format!("SELECT * FROM {}", self.sql_name(id))
    }

    pub fn insert(&self, id: &str) -> String {
        format!("INSERT INTO {} VALUES (2)", self.sql_name(id))
    }

    pub async fn login(&self, user: &str, password: &str) -> Result<Conn, sqlx::Error> {
        match self.kind {
            Kind::Mysql => sesame_testkit::targets::my_login(Some(&self.db), user, password).await.map(Conn::My),
            _ => sesame_testkit::targets::pg_login(&self.db, user, password).await.map(Conn::Pg),
        }
    }

    pub async fn exec(&self, c: &mut Conn, sql: &str) -> Result<(), sqlx::Error> {
        match c {
            Conn::Pg(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
            Conn::My(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
        }
    }

    /// MariaDB checks passwords; the local PostgreSQL trusts loopback, so
    /// there the stored verifier is compared with the password instead.
    pub async fn password_works(&self, user: &str, password: &str) -> bool {
        match self.kind {
            Kind::Mysql => self.login(user, password).await.is_ok(),
            Kind::Postgres | Kind::Redshift => {
                let stored: Option<String> = sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
                    .bind(user)
                    .fetch_one(self.pg.as_ref().unwrap())
                    .await
                    .unwrap();
                let stored = stored.unwrap_or_default();
                if self.kind == Kind::Postgres {
                    scram::matches(password, &stored)
                } else {
                    stored == dialect::md5_secret(password, user)
                }
            }
        }
    }

    pub async fn can_read(&self, user: &str, password: &str) -> bool {
        match self.login(user, password).await {
            Ok(mut c) => self.exec(&mut c, &self.select(&self.table)).await.is_ok(),
            Err(_) => false,
        }
    }

    pub async fn canary_intact(&self) -> bool {
        match self.kind {
            Kind::Mysql => {
                let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}.canary", self.db))
                    .fetch_one(self.my.as_ref().unwrap())
                    .await
                    .unwrap();
                n == 1
            }
            _ => {
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM public.canary").fetch_one(self.pg.as_ref().unwrap()).await.unwrap();
                n == 1
            }
        }
    }

    pub async fn cleanup(self) {
        for u in self.integration.list_managed_users().await.unwrap_or_default() {
            let _ = self.integration.delete_user(&u).await;
        }
        match self.kind {
            Kind::Mysql => {
                sqlx::raw_sql(&format!("DROP DATABASE {}", self.db)).execute(self.my.as_ref().unwrap()).await.unwrap();
            }
            _ => {
                self.pg.unwrap().close().await;
                sqlx::raw_sql(&format!("DROP DATABASE {} WITH (FORCE)", self.db)).execute(&pg_admin("postgres").await).await.unwrap();
            }
        }
    }
}

pub async fn mysql_limited_account_status() {
    let root = my_admin().await;
    let user = format!("sesame_lim_{}", tag());
    for s in [
        format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'Lim1tedPw'"),
        format!("GRANT SELECT, SHOW DATABASES, CREATE USER ON *.* TO '{user}'@'%'"),
        format!("GRANT UPDATE ON mysql.* TO '{user}'@'%'"),
    ] {
        sqlx::raw_sql(&s).execute(&root).await.unwrap();
    }
    let dir = std::env::temp_dir().join(format!("sesame-secret-{user}"));
    std::fs::write(&dir, "Lim1tedPw\n").unwrap();
    let cfg: MysqlConfig = serde_json::from_value(serde_json::json!({
        "name": "my", "host": "127.0.0.1", "username": user, "password": {"file": dir.display().to_string()},
    }))
    .unwrap();
    let st = Registry::new().mysql(cfg).await.unwrap().get_status().await.unwrap();
    let _ = std::fs::remove_file(&dir);
    sqlx::raw_sql(&format!("DROP USER '{user}'@'%'")).execute(&root).await.unwrap();
    assert!(!st.healthy);
    assert!(st.message.contains("lacks PROCESS, GRANT OPTION:"), "{}", st.message);
    assert!(!st.message.contains("Lim1tedPw"), "the secret leaked into a message");
}

pub async fn postgres_ssl_modes() {
    let ca = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    assert!(
        std::path::Path::new(ca).exists(),
        "{ca} is missing: the local PostgreSQL serves the Debian snakeoil certificate (apt-get install ssl-cert)"
    );
    let status = |host: &str, mode: &str, root: Option<&str>| {
        let mut v = serde_json::json!({"name": "pg", "host": host, "username": "postgres", "ssl_mode": mode});
        if let Some(r) = root {
            v["ssl_root_cert"] = r.into();
        }
        let cfg: PostgresConfig = serde_json::from_value(v).unwrap();
        async move { Registry::new().postgres(cfg).await.unwrap().get_status().await }
    };
    for (mode, tls) in [("disable", false), ("allow", false), ("prefer", true), ("require", true)] {
        let st = status("127.0.0.1", mode, None).await.unwrap();
        assert!(st.healthy, "{mode}: {}", st.message);
        assert_eq!(st.message.contains("over TLS"), tls, "{mode}: {}", st.message);
    }
    let st = status("127.0.0.1", "verify-ca", Some(ca)).await.unwrap();
    assert!(st.message.contains("over TLS"), "verify-ca: {}", st.message);
    let e = status("127.0.0.1", "verify-full", Some(ca)).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let st = status("localhost", "verify-full", Some(ca)).await.unwrap();
    assert!(st.message.contains("over TLS"), "verify-full with the right name: {}", st.message);
}

