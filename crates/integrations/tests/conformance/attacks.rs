//! Attacks on the database integrations, performed on the real servers:
//! hostile names, planted objects, powerful roles. Each test failed before
//! the fix it guards.

use sesame_integrations::registry::Registry;
use crate::targets::{my_admin, myq, pg_admin, pg_host, pgq, tag};
use crate::UNTIL;
use sesame_integrations::mysql::{Mysql, MysqlConfig};
use sesame_integrations::postgres::{Postgres, PostgresConfig};
use sesame_integrations::Integration;
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

pub use sesame_testkit::params::grant;

pub async fn my_login(user: &str, password: &str) -> MySqlConnection {
    sesame_testkit::targets::my_login(None, user, password).await.unwrap()
}

pub async fn pg_login(user: &str, db: &str) -> PgConnection {
    PgConnectOptions::new().host(&pg_host()).username(user).database(db).disable_statement_logging().connect().await.unwrap()
}

pub async fn my_ok(c: &mut MySqlConnection, sql: &str) -> bool {
    sqlx::raw_sql(sql).execute(c).await.is_ok()
}

pub async fn pg_ok(c: &mut PgConnection, sql: &str) -> bool {
    sqlx::raw_sql(sql).execute(c).await.is_ok()
}

async fn mysql(prefix: &str, extra: serde_json::Value) -> Mysql {
    let mut v = serde_json::json!({"name": "my", "host": "127.0.0.1", "username": "root", "user_prefix": prefix});
    v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    Registry::new().mysql(serde_json::from_value::<MysqlConfig>(v).unwrap()).await.unwrap()
}

async fn postgres(prefix: &str, extra: serde_json::Value) -> Postgres {
    let mut v = serde_json::json!({"name": "pg", "host": pg_host(), "username": "postgres", "user_prefix": prefix, "ssl_mode": "disable"});
    v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    Registry::new().postgres(serde_json::from_value::<PostgresConfig>(v).unwrap()).await.unwrap()
}

/// Issue 9.1: in `GRANT … ON db.*` MySQL reads `_` and `%` as wildcards. A
/// grant on `m_sql` must not reach `mysql`, one on `%` must not reach every
/// database, one on `app_1` must not reach `appx1`.
#[tokio::test(flavor = "multi_thread")]
async fn mysql_database_grants_reach_exactly_the_named_database() {
    let root = my_admin().await;
    let t = tag();
    let (under, x) = (format!("a{t}_1"), format!("a{t}x1"));
    for db in ["m_sql", "%", under.as_str(), x.as_str()] {
        let q = myq(db);
        sqlx::raw_sql(&format!("CREATE DATABASE IF NOT EXISTS {q}; CREATE TABLE IF NOT EXISTS {q}.t (id int); INSERT INTO {q}.t VALUES (1)"))
            .execute(&root)
            .await
            .unwrap();
    }
    let prefix = format!("p{t}_");
    let my = mysql(&prefix, serde_json::json!({})).await;
    let cases: [(&str, &str, &[&str]); 4] = [
        ("m_sql", "read_only", &["SELECT * FROM mysql.user", "SELECT * FROM mysql.db"]),
        ("m_sql", "admin", &["SELECT * FROM mysql.user", "CREATE TABLE mysql.evil (i int)", "DROP TABLE mysql.db"]),
        ("%", "read_only", &[&format!("SELECT * FROM {}.t", myq(&x)), "SELECT * FROM mysql.user"]),
        (&under, "read_write", &[&format!("SELECT * FROM {}.t", myq(&x)), &format!("INSERT INTO {}.t VALUES (2)", myq(&x))]),
    ];
    // Each case both ways: granted then given credentials, and granted with
    // them (MariaDB: the login made by `GRANT marker … IDENTIFIED BY`).
    for ((n, (db, perm, denied)), one_call) in cases.iter().enumerate().flat_map(|c| [(c, false), (c, true)]) {
        let user = format!("{prefix}{n}{}", if one_call { "w" } else { "" });
        let p = grant(&user, "database", db, perm);
        let c = if one_call {
            my.grant_with_credentials(&p, UNTIL).await.unwrap()
        } else {
            my.grant_access(&p, UNTIL).await.unwrap();
            my.create_credentials(&p).await.unwrap()
        };
        let mut conn = my_login(&user, &c.secret).await;
        assert!(my_ok(&mut conn, &format!("SELECT * FROM {}.t", myq(db))).await, "{perm} on `{db}`: the named database is readable");
        for sql in denied.iter() {
            assert!(!my_ok(&mut conn, sql).await, "{perm} on `{db}` (one call: {one_call}) reached beyond it: `{sql}` succeeded");
        }
        drop(conn);
        my.revoke_access(&p).await.unwrap();
    }
    // Table-level grants take the database name literally: `a…_1`.t never reaches `a…x1`.t.
    let user = format!("{prefix}t");
    let p = grant(&user, "table", &format!("{under}/t"), "read_only");
    my.grant_access(&p, UNTIL).await.unwrap();
    let c = my.create_credentials(&p).await.unwrap();
    let mut conn = my_login(&user, &c.secret).await;
    assert!(my_ok(&mut conn, &format!("SELECT * FROM {}.t", myq(&under))).await);
    assert!(!my_ok(&mut conn, &format!("SELECT * FROM {}.t", myq(&x))).await, "a table grant reached a database matching its name as a pattern");
    drop(conn);
    my.revoke_access(&p).await.unwrap();
    for db in ["m_sql", "%", under.as_str(), x.as_str()] {
        sqlx::raw_sql(&format!("DROP DATABASE {}", myq(db))).execute(&root).await.unwrap();
    }
}

/// Issue 9.2: a grantee plants a SECURITY DEFINER function; after its login
/// is deleted the function must not run as the connector's account.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_cleanup_never_hands_planted_objects_to_the_connector() {
    let t = tag();
    let db = format!("sesame_own{t}");
    sqlx::raw_sql(&format!("CREATE DATABASE {db}")).execute(&pg_admin("postgres").await).await.unwrap();
    let pool = pg_admin(&db).await;
    sqlx::raw_sql("CREATE SCHEMA s").execute(&pool).await.unwrap();
    let prefix = format!("ow{t}_");
    let orphans = format!("orphans-{t}");
    for (n, mode) in ["reassign", "drop"].iter().enumerate() {
        let pg = postgres(&prefix, serde_json::json!({"databases": [db], "orphan_owner": orphans, "grantee_objects": mode})).await;
        let user = format!("{prefix}{n}");
        let p = grant(&user, "schema", &format!("{db}/s"), "admin");
        pg.grant_access(&p, UNTIL).await.unwrap();
        pg.create_credentials(&p).await.unwrap();
        let mut conn = pg_login(&user, &db).await;
        let f = format!("s.planted{n}");
        sqlx::raw_sql(&format!("CREATE FUNCTION {f}() RETURNS text LANGUAGE sql SECURITY DEFINER AS 'SELECT current_user::text'"))
            .execute(&mut conn)
            .await
            .expect("admin on a schema may create functions in it");
        conn.close().await.unwrap();
        pg.delete_user(&user).await.unwrap();
        let owner: Option<String> = sqlx::query_scalar(&format!("SELECT {f}()")).fetch_optional(&pool).await.ok().flatten();
        match *mode {
            "reassign" => {
                assert_eq!(owner.as_deref(), Some(orphans.as_str()), "the planted function runs as {owner:?}");
                let powerless: bool = sqlx::query_scalar(
                    "SELECT NOT (rolsuper OR rolcanlogin OR rolcreaterole OR rolcreatedb OR rolbypassrls) FROM pg_roles WHERE rolname = $1",
                )
                .bind(&orphans)
                .fetch_one(&pool)
                .await
                .unwrap();
                assert!(powerless, "`{orphans}` must be NOLOGIN without attributes");
            }
            _ => assert_eq!(owner, None, "with grantee_objects = drop the planted function is gone"),
        }
    }
    // An orphan owner with power is refused, not used.
    let su = format!("su-{t}");
    sqlx::raw_sql(&format!("CREATE ROLE {} SUPERUSER NOLOGIN", pgq(&su))).execute(&pool).await.unwrap();
    let pg = postgres(&prefix, serde_json::json!({"databases": [db], "orphan_owner": su})).await;
    let user = format!("{prefix}9");
    let p = grant(&user, "schema", &format!("{db}/s"), "admin");
    pg.grant_access(&p, UNTIL).await.unwrap();
    pg.create_credentials(&p).await.unwrap();
    let mut conn = pg_login(&user, &db).await;
    sqlx::raw_sql("CREATE TABLE s.mine (i int)").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let e = pg.delete_user(&user).await.unwrap_err();
    assert!(e.to_string().contains("orphan_owner"), "{e}");
    pool.close().await;
    let admin = pg_admin("postgres").await;
    sqlx::raw_sql(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await.unwrap();
    for r in [&user, &orphans, &su] {
        sqlx::raw_sql(&format!("DROP ROLE IF EXISTS {}", pgq(r))).execute(&admin).await.unwrap();
    }
}

/// Issue 9.7: with `standard_conforming_strings = off` a backslash in a
/// literal escapes the closing quote. A login name read back from the
/// target (as the reconciler does) must not inject SQL.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_names_from_the_target_never_reach_a_literal() {
    let t = tag();
    let admin = pg_admin("postgres").await;
    let connector = format!("conn_{t}");
    let canary = format!("pwned_{t}");
    sqlx::raw_sql(&format!(
        "CREATE ROLE {connector} LOGIN SUPERUSER; ALTER ROLE {connector} SET standard_conforming_strings = off"
    ))
    .execute(&admin)
    .await
    .unwrap();
    let prefix = format!("lt{t}_");
    let hostile = format!("{prefix}x\\'; CREATE TABLE public.{canary} (i int); --");
    // Marked as this integration's (the reconciler lists only those).
    sqlx::raw_sql(&format!("CREATE ROLE {h} LOGIN; COMMENT ON ROLE {h} IS 'sesame-managed:pg'", h = pgq(&hostile))).execute(&admin).await.unwrap();
    let pg = postgres(&prefix, serde_json::json!({"username": connector})).await;
    assert!(pg.list_managed_users().await.unwrap().contains(&hostile));
    let _ = pg.delete_user(&hostile).await;
    let planted: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(format!("public.{canary}")).fetch_one(&admin).await.unwrap();
    let gone: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)").bind(&hostile).fetch_one(&admin).await.unwrap();
    sqlx::raw_sql(&format!("DROP TABLE IF EXISTS public.{canary}; DROP ROLE IF EXISTS {}; DROP ROLE {connector}", pgq(&hostile)))
        .execute(&admin)
        .await
        .unwrap();
    assert!(!planted, "a name read from the target injected SQL through a literal");
    assert!(gone, "the hostile login is removed all the same");
}

/// Issue 9.8: roles are offered only from the configured allow-list, and
/// never one with power over the server.
#[tokio::test(flavor = "multi_thread")]
async fn roles_are_offered_only_from_the_allow_list() {
    let t = tag();
    let admin = pg_admin("postgres").await;
    let (su, cr, app) = (format!("r{t}_su"), format!("r{t}_cr"), format!("r{t}_app"));
    sqlx::raw_sql(&format!("CREATE ROLE {su} SUPERUSER NOLOGIN; CREATE ROLE {cr} CREATEROLE NOLOGIN; CREATE ROLE {app} NOLOGIN"))
        .execute(&admin)
        .await
        .unwrap();
    let prefix = format!("ro{t}_");
    let roles_of = |d: sesame_integrations::Discovery| d.resources.into_iter().filter(|r| r.resource_type == "role").map(|r| r.id).collect::<Vec<_>>();
    let default = postgres(&prefix, serde_json::json!({"databases": ["postgres"]})).await;
    assert!(roles_of(default.list_resources().await.unwrap()).is_empty(), "no roles are offered by default");
    let all = postgres(&prefix, serde_json::json!({"databases": ["postgres"], "roles": [format!("r{t}_*")]})).await;
    assert_eq!(roles_of(all.list_resources().await.unwrap()), vec![app.clone()], "superuser and CREATEROLE roles are never offered");
    for r in [&su, &cr] {
        let e = all.grant_access(&grant(&format!("{prefix}1"), "role", r, "member"), UNTIL).await.unwrap_err();
        assert!(!e.is_retryable(), "{e}");
        let member: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)").bind(format!("{prefix}1")).fetch_one(&admin).await.unwrap();
        assert!(!member, "a refused role grant created the login");
    }
    assert!(default.grant_access(&grant(&format!("{prefix}2"), "role", &app, "member"), UNTIL).await.is_err(), "unlisted role granted");
    sqlx::raw_sql(&format!("DROP ROLE {su}; DROP ROLE {cr}; DROP ROLE {app}")).execute(&admin).await.unwrap();

    // MariaDB: roles too.
    let root = my_admin().await;
    let role = format!("r{t}_rep");
    sqlx::raw_sql(&format!("CREATE ROLE {role}")).execute(&root).await.unwrap();
    let roles_of = |d: sesame_integrations::Discovery| d.resources.into_iter().filter(|r| r.resource_type == "role").map(|r| r.id).collect::<Vec<_>>();
    let my = mysql(&format!("m{t}_"), serde_json::json!({"databases": ["none"]})).await;
    assert!(!roles_of(my.list_resources().await.unwrap()).contains(&role), "no roles are offered by default");
    let my = mysql(&format!("m{t}_"), serde_json::json!({"databases": ["none"], "roles": [role]})).await;
    assert!(roles_of(my.list_resources().await.unwrap()).contains(&role));
    sqlx::raw_sql(&format!("DROP ROLE {role}")).execute(&root).await.unwrap();
}

/// Issue 9.4: a prefix is not ownership. Two integrations on one server with
/// the same prefix (an RDS sub-integration beside a direct entry) each see
/// only the logins they made; a real role or superuser with the prefix, and
/// the connector's own login, are never listed for the reconciler.
#[tokio::test(flavor = "multi_thread")]
async fn logins_are_owned_by_the_integration_that_made_them() {
    let t = tag();
    let prefix = format!("ow{t}_");
    let admin = pg_admin("postgres").await;
    let (real, su, conn) = (format!("{prefix}real"), format!("{prefix}su"), format!("{prefix}connector"));
    sqlx::raw_sql(&format!("CREATE ROLE {real} LOGIN; CREATE ROLE {su} SUPERUSER LOGIN; CREATE ROLE {conn} SUPERUSER LOGIN")).execute(&admin).await.unwrap();
    let a = postgres(&prefix, serde_json::json!({"name": "pg-a", "username": conn})).await;
    let b = postgres(&prefix, serde_json::json!({"name": "pg-b"})).await;
    let (ua, ub) = (format!("{prefix}a1"), format!("{prefix}b1"));
    a.grant_access(&grant(&ua, "database", "postgres", "read_only"), UNTIL).await.unwrap();
    b.grant_access(&grant(&ub, "database", "postgres", "read_only"), UNTIL).await.unwrap();
    assert_eq!(a.list_managed_users().await.unwrap(), vec![ua.clone()]);
    assert_eq!(b.list_managed_users().await.unwrap(), vec![ub.clone()]);
    for i in [&a, &b] {
        i.revoke_access(&grant(&ua, "database", "postgres", "read_only")).await.unwrap();
        i.revoke_access(&grant(&ub, "database", "postgres", "read_only")).await.unwrap();
    }
    sqlx::raw_sql(&format!("DROP ROLE {real}; DROP ROLE {su}; DROP ROLE {conn}")).execute(&admin).await.unwrap();

    // MariaDB: the same, with each integration's marker role.
    let root = my_admin().await;
    let mprefix = format!("m{t}_");
    let real = format!("{mprefix}real");
    sqlx::raw_sql(&format!("CREATE USER '{real}'@'%' IDENTIFIED BY 'x'")).execute(&root).await.unwrap();
    let a = mysql(&mprefix, serde_json::json!({"name": "my-a"})).await;
    let b = mysql(&mprefix, serde_json::json!({"name": "my-b"})).await;
    let (ua, ub) = (format!("{mprefix}a1"), format!("{mprefix}b1"));
    a.grant_access(&grant(&ua, "database", "mysql_marker_probe", "read_only"), UNTIL).await.unwrap();
    b.grant_access(&grant(&ub, "database", "mysql_marker_probe", "read_only"), UNTIL).await.unwrap();
    assert_eq!(a.list_managed_users().await.unwrap(), vec![ua.clone()]);
    assert_eq!(b.list_managed_users().await.unwrap(), vec![ub.clone()]);
    // Disabled (awaiting cleanup), an account is still its integration's.
    a.disable_user(&grant(&ua, "database", "mysql_marker_probe", "read_only")).await.unwrap();
    assert_eq!(a.list_managed_users().await.unwrap(), vec![ua.clone()]);
    a.delete_user(&ua).await.unwrap();
    b.delete_user(&ub).await.unwrap();
    sqlx::raw_sql(&format!("DROP USER '{real}'@'%'")).execute(&root).await.unwrap();
}

/// Issue 9.4 on Redshift (its dialect over PostgreSQL's wire protocol):
/// users carry their integration's marker group.
#[tokio::test(flavor = "multi_thread")]
async fn redshift_users_are_owned_by_the_integration_that_made_them() {
    use sesame_integrations::redshift::RedshiftConfig;
    let t = crate::targets::redshift().await;
    let other: RedshiftConfig = serde_json::from_value(serde_json::json!({
        "name": "rs-other", "host": pg_host(), "port": 5432, "database": t.db, "username": "postgres", "user_prefix": t.prefix, "ssl_mode": "disable",
    }))
    .unwrap();
    let b = Registry::new().redshift(other).await.unwrap();
    let a = t.integration.as_ref();
    let real = format!("{}real", t.prefix);
    let admin = pg_admin("postgres").await;
    sqlx::raw_sql(&format!("CREATE USER {real} PASSWORD 'Xx12345678'")).execute(&admin).await.unwrap();
    let (ua, ub) = (format!("{}a1", t.prefix), format!("{}b1", t.prefix));
    a.grant_access(&grant(&ua, "database", &t.db, "read_only"), UNTIL).await.unwrap();
    b.grant_access(&grant(&ub, "database", &t.db, "read_only"), UNTIL).await.unwrap();
    assert_eq!(a.list_managed_users().await.unwrap(), vec![ua.clone()]);
    assert_eq!(b.list_managed_users().await.unwrap(), vec![ub.clone()]);
    b.delete_user(&ub).await.unwrap();
    sqlx::raw_sql(&format!("DROP USER {real}")).execute(&admin).await.unwrap();
    t.cleanup().await;
}
