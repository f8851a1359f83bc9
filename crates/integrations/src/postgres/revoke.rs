//! revoke-access: end sessions, then drop the login; a login that owns
//! objects is stripped of privileges and set NOLOGIN instead.

use super::{unavailable, Postgres};
use crate::sql::quote;
use crate::IntegrationError;

pub(super) async fn revoke(pg: &Postgres, username: &str) -> Result<(), IntegrationError> {
    let user = quote::ident(username)?;
    let admin = pg.pool(None)?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
        .bind(username)
        .fetch_one(&admin)
        .await
        .map_err(unavailable)?;
    if !exists {
        return Ok(());
    }
    // No new sessions, then end the live ones.
    let lit = quote::literal(username)?;
    super::exec_retrying(
        &admin,
        &format!(
            "ALTER ROLE {user} WITH NOLOGIN PASSWORD NULL VALID UNTIL '-infinity';\
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {lit};"
        ),
    )
    .await?;
    // Where does the role have privileges (a) or own objects (o)?
    let deps: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT d.datname::text, s.deptype::text FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid \
         WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)",
    )
    .bind(username)
    .fetch_all(&admin)
    .await
    .map_err(unavailable)?;
    let owns_objects = deps.iter().any(|(_, t)| t == "o");
    let mut dbs: Vec<&str> = deps.iter().map(|(d, _)| d.as_str()).collect();
    dbs.sort_unstable();
    dbs.dedup();
    if owns_objects {
        for db in &dbs {
            strip_privileges(pg, db, &user).await?;
        }
        let memberships: Vec<String> = sqlx::query_scalar(
            "SELECT r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid \
             WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = $1)",
        )
        .bind(username)
        .fetch_all(&admin)
        .await
        .map_err(unavailable)?;
        for r in memberships {
            sqlx::raw_sql(&format!("REVOKE {} FROM {user}", quote::ident(&r)?)).execute(&admin).await.map_err(unavailable)?;
        }
        return Ok(());
    }
    // DROP OWNED revokes privileges in that database and on shared objects
    // (databases), so run it in each database the role touches, and in the
    // maintenance database (with the DROP ROLE) for the database-level grants.
    let lock = "SELECT pg_advisory_xact_lock(73570002);";
    for db in dbs.iter().copied().filter(|d| *d != pg.cfg.database) {
        super::exec_retrying(&pg.pool(Some(db))?, &format!("{lock}DROP OWNED BY {user}")).await?;
    }
    super::exec_retrying(&admin, &format!("{lock}DROP OWNED BY {user};DROP ROLE IF EXISTS {user}")).await
}

/// Revoke everything the role was granted in `db`, keeping its own objects.
async fn strip_privileges(pg: &Postgres, db: &str, user: &str) -> Result<(), IntegrationError> {
    let pool = pg.pool(Some(db))?;
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname <> 'information_schema' AND left(nspname, 3) <> 'pg_'",
    )
    .fetch_all(&pool)
    .await
    .map_err(unavailable)?;
    let mut sql = format!("SELECT pg_advisory_xact_lock(73570002);REVOKE ALL PRIVILEGES ON DATABASE {} FROM {user};", quote::ident(db)?);
    for s in schemas {
        let qs = quote::ident(&s)?;
        sql.push_str(&format!(
            "REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA {qs} FROM {user};\
             REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA {qs} FROM {user};\
             REVOKE ALL PRIVILEGES ON SCHEMA {qs} FROM {user};"
        ));
    }
    super::exec_retrying(&pool, &sql).await
}
