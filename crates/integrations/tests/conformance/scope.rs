//! Issue 9.12: every permission reaches exactly its resource. For each
//! resource type × permission the grantee logs in and probes SELECT, INSERT,
//! CREATE and DROP on the granted object and on its neighbours.

use sesame_integrations::registry::Registry;
use crate::attacks::{grant, my_login, my_ok, pg_login, pg_ok};
use crate::targets::{my_admin, pg_admin, pg_host, tag};
use crate::UNTIL;
use sesame_integrations::mysql::MysqlConfig;
use sesame_integrations::postgres::PostgresConfig;
use sesame_integrations::Integration;

const PERMS: [&str; 3] = ["read_only", "read_write", "admin"];

/// PostgreSQL: database D (schemas s1 with t and u, s2 with v), neighbour
/// database E (table w). Probes, in order: SELECT t, INSERT t, SELECT u,
/// SELECT v, CREATE TABLE in s1, CREATE SCHEMA, DROP TABLE u, DROP TABLE t,
/// then SELECT w from E.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_permission_matrix() {
    let t = tag();
    let (d, e) = (format!("sesame_scd{t}"), format!("sesame_sce{t}"));
    let root = pg_admin("postgres").await;
    for db in [&d, &e] {
        sqlx::raw_sql(&format!("CREATE DATABASE {db}")).execute(&root).await.unwrap();
    }
    let dp = pg_admin(&d).await;
    sqlx::raw_sql(
        "CREATE SCHEMA s1; CREATE TABLE s1.t (id int); CREATE TABLE s1.u (id int); CREATE SCHEMA s2; CREATE TABLE s2.v (id int);
         INSERT INTO s1.t VALUES (1); INSERT INTO s1.u VALUES (1); INSERT INTO s2.v VALUES (1);",
    )
    .execute(&dp)
    .await
    .unwrap();
    let ep = pg_admin(&e).await;
    sqlx::raw_sql("CREATE TABLE public.w (id int)").execute(&ep).await.unwrap();
    let prefix = format!("sc{t}_");
    let cfg: PostgresConfig = serde_json::from_value(serde_json::json!({
        "name": "pg", "host": pg_host(), "username": "postgres", "databases": [d, e], "user_prefix": prefix, "ssl_mode": "disable",
    }))
    .unwrap();
    let pg = Registry::new().postgres(cfg).await.unwrap();
    //                        sel t  ins t  sel u  sel v  create  schema drop u drop t
    let expected: [(&str, [[bool; 8]; 3]); 3] = [
        ("table", [
            [true, false, false, false, false, false, false, false],
            [true, true, false, false, false, false, false, false],
            [true, true, false, false, false, false, false, false],
        ]),
        ("schema", [
            [true, false, true, false, false, false, false, false],
            [true, true, true, false, false, false, false, false],
            [true, true, true, false, true, false, false, false],
        ]),
        ("database", [
            [true, false, true, true, false, false, false, false],
            [true, true, true, true, false, false, false, false],
            [true, true, true, true, true, true, false, false],
        ]),
    ];
    let mut n = 0;
    for (kind, rows) in expected {
        let id = match kind {
            "table" => format!("{d}/s1/t"),
            "schema" => format!("{d}/s1"),
            _ => d.clone(),
        };
        for (perm, want) in PERMS.iter().zip(rows) {
            n += 1;
            let user = format!("{prefix}{n}");
            let p = grant(&user, kind, &id, perm);
            pg.grant_access(&p, UNTIL).await.unwrap();
            pg.create_credentials(&p).await.unwrap();
            let mut c = pg_login(&user, &d).await;
            let probes = [
                "SELECT * FROM s1.t".to_string(),
                "INSERT INTO s1.t VALUES (2)".into(),
                "SELECT * FROM s1.u".into(),
                "SELECT * FROM s2.v".into(),
                format!("CREATE TABLE s1.new{n} (i int); DROP TABLE s1.new{n}"),
                format!("CREATE SCHEMA new{n}; DROP SCHEMA new{n}"),
                "DROP TABLE s1.u".into(),
                "DROP TABLE s1.t".into(),
            ];
            let mut got = [false; 8];
            for (g, sql) in got.iter_mut().zip(&probes) {
                *g = pg_ok(&mut c, sql).await;
            }
            assert_eq!(got, want, "{perm} on {kind} `{id}`: probes {probes:?}");
            let mut other = pg_login(&user, &e).await;
            assert!(!pg_ok(&mut other, "SELECT * FROM public.w").await, "{perm} on {kind} reached the neighbour database");
            drop((c, other));
            pg.revoke_access(&p).await.unwrap();
        }
    }
    dp.close().await;
    ep.close().await;
    for db in [&d, &e] {
        sqlx::raw_sql(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&root).await.unwrap();
    }
}

/// MariaDB: database D (tables t and u), neighbour database E (table w).
/// Probes, in order: SELECT t, INSERT t, SELECT u, CREATE TABLE in D,
/// SELECT w, SELECT mysql.user, DROP TABLE u, DROP TABLE t.
#[tokio::test(flavor = "multi_thread")]
async fn mysql_permission_matrix() {
    let t = tag();
    let (d, e) = (format!("sesame_scd_{t}"), format!("sesame_sce_{t}"));
    let root = my_admin().await;
    sqlx::raw_sql(&format!("CREATE DATABASE {d}; CREATE DATABASE {e}; CREATE TABLE {e}.w (id int)")).execute(&root).await.unwrap();
    let prefix = format!("sc{t}_");
    let cfg: MysqlConfig = serde_json::from_value(serde_json::json!({
        "name": "my", "host": "127.0.0.1", "username": "root", "databases": [d, e], "user_prefix": prefix,
    }))
    .unwrap();
    let my = Registry::new().mysql(cfg).await.unwrap();
    //                       sel t  ins t  sel u  create sel w  mysql  drop u drop t
    let expected: [(&str, [[bool; 8]; 3]); 2] = [
        ("table", [
            [true, false, false, false, false, false, false, false],
            [true, true, false, false, false, false, false, false],
            // ALL PRIVILEGES on a table includes dropping that table, and only it.
            [true, true, false, false, false, false, false, true],
        ]),
        ("database", [
            [true, false, true, false, false, false, false, false],
            [true, true, true, false, false, false, false, false],
            [true, true, true, true, false, false, true, true],
        ]),
    ];
    let mut n = 0;
    for (kind, rows) in expected {
        let id = if kind == "table" { format!("{d}/t") } else { d.clone() };
        for (perm, want) in PERMS.iter().zip(rows) {
            n += 1;
            sqlx::raw_sql(&format!(
                "CREATE TABLE IF NOT EXISTS {d}.t (id int); CREATE TABLE IF NOT EXISTS {d}.u (id int); INSERT INTO {d}.t VALUES (1)"
            ))
            .execute(&root)
            .await
            .unwrap();
            let user = format!("{prefix}{n}");
            let p = grant(&user, kind, &id, perm);
            my.grant_access(&p, UNTIL).await.unwrap();
            let cred = my.create_credentials(&p).await.unwrap();
            let mut c = my_login(&user, &cred.secret).await;
            let probes = [
                format!("SELECT * FROM {d}.t"),
                format!("INSERT INTO {d}.t VALUES (2)"),
                format!("SELECT * FROM {d}.u"),
                format!("CREATE TABLE {d}.new{n} (i int)"),
                format!("SELECT * FROM {e}.w"),
                "SELECT * FROM mysql.user".into(),
                format!("DROP TABLE {d}.u"),
                format!("DROP TABLE {d}.t"),
            ];
            let mut got = [false; 8];
            for (g, sql) in got.iter_mut().zip(&probes) {
                *g = my_ok(&mut c, sql).await;
            }
            assert_eq!(got, want, "{perm} on {kind} `{id}`: probes {probes:?}");
            drop(c);
            my.revoke_access(&p).await.unwrap();
            sqlx::raw_sql(&format!("DROP TABLE IF EXISTS {d}.new{n}")).execute(&root).await.unwrap();
        }
    }
    sqlx::raw_sql(&format!("DROP DATABASE {d}; DROP DATABASE {e}")).execute(&root).await.unwrap();
}
