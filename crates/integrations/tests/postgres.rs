//! The PostgreSQL integration against the real server: every action is
//! idempotent, and what it grants is exactly what it says.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sesame_integrations::registry::Registry;
use sesame_core::resource_id::join;
use sesame_core::Timestamp;
use sesame_integrations::postgres::PostgresConfig;
use sesame_integrations::Integration;
use sesame_proto::ActionParams;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::ConnectOptions;

fn host() -> String {
    std::env::var("SESAME_TEST_PG_HOST").unwrap_or_else(|_| "127.0.0.1".into())
}

fn suffix() -> String {
    sesame_testkit::targets::suffix(8)
}

#[tokio::test]
async fn grant_and_revoke_are_idempotent() {
    let tag = suffix();
    let db = format!("sesame_it_{tag}");
    let root = PgPoolOptions::new()
        .connect_with(PgConnectOptions::new().host(&host()).username("postgres").database("postgres"))
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {}:5432: {e}; run scripts/services-up postgres", host()));
    sqlx::raw_sql(&format!("CREATE DATABASE {db}")).execute(&root).await.unwrap();
    let dbpool = PgPoolOptions::new()
        .connect_with(PgConnectOptions::new().host(&host()).username("postgres").database(&db))
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE t (id int); INSERT INTO t VALUES (1); CREATE TABLE u (id int);").execute(&dbpool).await.unwrap();
    let cfg: PostgresConfig = toml_cfg(&format!(
        r#"{{"name":"pg","host":"{}","username":"postgres","databases":["{db}"],"user_prefix":"it{tag}_","ssl_mode":"disable"}}"#,
        host()
    ));
    let pg = Registry::new().postgres(cfg).await.unwrap();
    assert!(pg.get_status().await.unwrap().healthy);
    let d = pg.list_resources().await.unwrap();
    let t = join(&[&db, "public", "t"]);
    assert!(d.resources.iter().any(|r| r.id == t && r.resource_type == "table"));
    assert_eq!(d.permissions["table"].len(), 3);

    let user = format!("it{tag}_x_g1");
    let p = ActionParams {
        grant_id: "g1".into(),
        username: user.clone(),
        resource_type: "table".into(),
        resources: vec![t.clone()],
        permission: "read_only".into(),
        custom_parameters: Default::default(),
    };
    let until = Timestamp(4_102_444_800_000); // 2100-01-01
    pg.grant_access(&p, until).await.unwrap();
    pg.grant_access(&p, until).await.expect("a repeated grant is a no-op");
    assert_eq!(pg.list_managed_users().await.unwrap(), vec![user.clone()]);
    let creds = pg.create_credentials(&p).await.unwrap();
    let opts = PgConnectOptions::new().host(&host()).username(&user).password(&creds.secret).database(&db).disable_statement_logging();
    let login = || opts.connect();
    let mut c = login().await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t").fetch_one(&mut c).await.unwrap();
    assert_eq!(n, 1);
    assert!(sqlx::query("SELECT * FROM u").execute(&mut c).await.is_err());
    drop(c);
    pg.delete_credentials(&p).await.unwrap();
    pg.revoke_access(&p).await.unwrap();
    pg.revoke_access(&p).await.expect("revoking what is gone succeeds");
    assert!(pg.list_managed_users().await.unwrap().is_empty());
    assert!(login().await.is_err());
    assert!(pg.create_credentials(&p).await.is_err(), "no credentials for a revoked grant");
    pg.delete_credentials(&p).await.expect("deleting credentials of a gone login succeeds");

    // A bad permission or id is refused, not retried.
    let bad = ActionParams { permission: "superuser".into(), ..p.clone() };
    assert!(!pg.grant_access(&bad, until).await.unwrap_err().is_retryable());
    let _ = pg.revoke_access(&p).await;
    drop(dbpool);
    sqlx::raw_sql(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&root).await.unwrap();
}

/// PostgreSQL hashes a password itself; our verifier, with the same salt and
/// iterations, must be byte-identical.
#[tokio::test]
async fn our_scram_verifiers_are_the_ones_postgresql_makes() {
    let root = PgPoolOptions::new()
        .connect_with(PgConnectOptions::new().host(&host()).username("postgres").database("postgres"))
        .await
        .unwrap();
    let role = format!("sesame_scram_{}", suffix());
    sqlx::raw_sql(&format!("SET password_encryption = 'scram-sha-256'; CREATE ROLE {role} PASSWORD 'Zx9 pw''\"ü'"))
        .execute(&root)
        .await
        .unwrap();
    let stored: String = sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1").bind(&role).fetch_one(&root).await.unwrap();
    sqlx::raw_sql(&format!("DROP ROLE {role}")).execute(&root).await.unwrap();
    assert!(sesame_integrations::sql::scram::matches("Zx9 pw'\"ü", &stored), "{stored}");
    assert!(!sesame_integrations::sql::scram::matches("Zx9 pw'\"u", &stored));
}

#[tokio::test]
async fn an_unreachable_target_is_a_retryable_error() {
    let cfg: PostgresConfig = toml_cfg(r#"{"name":"pg","host":"127.0.0.1","port":1,"username":"postgres","ssl_mode":"disable"}"#);
    let pg = Registry::new().postgres(cfg).await.unwrap();
    let e = pg.revoke_access(&ActionParams { username: "sesame_x".into(), ..Default::default() }).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
}

#[tokio::test]
async fn bad_configuration_is_refused_with_the_key() {
    let cfg: PostgresConfig = toml_cfg(r#"{"name":"pg","host":"h","username":"u","user_prefix":"Bad-Prefix"}"#);
    let e = Registry::new().postgres(cfg).await.err().unwrap().to_string();
    assert!(e.contains("`user_prefix`"), "{e}");
    let missing: PostgresConfig =
        toml_cfg(r#"{"name":"pg","host":"h","username":"u","password":{"env":"SESAME_TEST_SURELY_UNSET_VAR"}}"#);
    let e = Registry::new().postgres(missing).await.err().unwrap().to_string();
    assert!(e.contains("SESAME_TEST_SURELY_UNSET_VAR"), "{e}");
}

fn toml_cfg(json: &str) -> PostgresConfig {
    serde_json::from_str(json).unwrap()
}
