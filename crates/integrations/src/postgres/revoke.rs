//! revoke-access: end sessions, then drop the login; a login that owns
//! objects is stripped of privileges and set NOLOGIN instead. With user
//! cleanup configured, revocation only disables, and deletion comes later.

use super::{exec_retrying, unavailable, Postgres};
use crate::sql::quote;
use crate::IntegrationError;

const LOCK: &str = "SELECT pg_advisory_xact_lock(73570002);";

/// No new sessions, end the live ones. False when the login does not exist.
async fn lock_out(pg: &Postgres, username: &str) -> Result<bool, IntegrationError> {
    let admin = pg.pool(None)?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
        .bind(username)
        .fetch_one(&admin)
        .await
        .map_err(unavailable)?;
    if exists {
        let user = quote::ident(username)?;
        let lit = quote::literal(username)?;
        exec_retrying(
            &admin,
            &format!(
                "ALTER ROLE {user} WITH NOLOGIN PASSWORD NULL VALID UNTIL '-infinity';\
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {lit};"
            ),
        )
        .await?;
    }
    Ok(exists)
}

/// Databases where the role holds privileges, and whether it owns objects.
async fn dependencies(pg: &Postgres, username: &str) -> Result<(Vec<String>, bool), IntegrationError> {
    let deps: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT d.datname::text, s.deptype::text FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid \
         WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)",
    )
    .bind(username)
    .fetch_all(&pg.pool(None)?)
    .await
    .map_err(unavailable)?;
    let owns = deps.iter().any(|(_, t)| t == "o");
    let mut dbs: Vec<String> = deps.into_iter().map(|(d, _)| d).collect();
    dbs.sort_unstable();
    dbs.dedup();
    Ok((dbs, owns))
}

pub(super) async fn revoke(pg: &Postgres, username: &str) -> Result<(), IntegrationError> {
    if !lock_out(pg, username).await? {
        return Ok(());
    }
    let (dbs, owns) = dependencies(pg, username).await?;
    if owns {
        return strip(pg, username, &dbs).await;
    }
    drop_role(pg, username, &dbs, false).await
}

pub(super) async fn disable(pg: &Postgres, username: &str) -> Result<(), IntegrationError> {
    if !lock_out(pg, username).await? {
        return Ok(());
    }
    let (dbs, _) = dependencies(pg, username).await?;
    strip(pg, username, &dbs).await
}

/// Delete for good; objects the login owns pass to the connector's account.
pub(super) async fn delete(pg: &Postgres, username: &str) -> Result<(), IntegrationError> {
    if !lock_out(pg, username).await? {
        return Ok(());
    }
    let (dbs, _) = dependencies(pg, username).await?;
    drop_role(pg, username, &dbs, true).await
}

/// DROP OWNED revokes privileges in that database and on shared objects
/// (databases), so it runs in each database the role touches, and in the
/// maintenance database with the DROP ROLE.
async fn drop_role(pg: &Postgres, username: &str, dbs: &[String], reassign: bool) -> Result<(), IntegrationError> {
    let user = quote::ident(username)?;
    let reassign = if reassign { format!("REASSIGN OWNED BY {user} TO CURRENT_USER;") } else { String::new() };
    for db in dbs.iter().filter(|d| **d != pg.cfg.database) {
        exec_retrying(&pg.pool(Some(db))?, &format!("{LOCK}{reassign}DROP OWNED BY {user}")).await?;
    }
    exec_retrying(&pg.pool(None)?, &format!("{LOCK}{reassign}DROP OWNED BY {user};DROP ROLE IF EXISTS {user}")).await
}

/// Revoke everything the role was granted, keeping its own objects.
async fn strip(pg: &Postgres, username: &str, dbs: &[String]) -> Result<(), IntegrationError> {
    let user = quote::ident(username)?;
    for db in dbs {
        let pool = pg.pool(Some(db))?;
        let schemas: Vec<String> = sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace WHERE nspname <> 'information_schema' AND left(nspname, 3) <> 'pg_'",
        )
        .fetch_all(&pool)
        .await
        .map_err(unavailable)?;
        let mut sql = format!("{LOCK}REVOKE ALL PRIVILEGES ON DATABASE {} FROM {user};", quote::ident(db)?);
        for s in schemas {
            let qs = quote::ident(&s)?;
            sql.push_str(&format!(
                "REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA {qs} FROM {user};\
                 REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA {qs} FROM {user};\
                 REVOKE ALL PRIVILEGES ON SCHEMA {qs} FROM {user};"
            ));
        }
        exec_retrying(&pool, &sql).await?;
    }
    // Database-level grants are shared objects: revoke them wherever they are.
    let admin = pg.pool(None)?;
    let granted_dbs: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database d WHERE EXISTS (SELECT 1 FROM aclexplode(d.datacl) a \
         WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1))",
    )
    .bind(username)
    .fetch_all(&admin)
    .await
    .map_err(unavailable)?;
    let memberships: Vec<String> = sqlx::query_scalar(
        "SELECT r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid \
         WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = $1)",
    )
    .bind(username)
    .fetch_all(&admin)
    .await
    .map_err(unavailable)?;
    let mut sql = String::from(LOCK);
    for d in granted_dbs {
        sql.push_str(&format!("REVOKE ALL PRIVILEGES ON DATABASE {} FROM {user};", quote::ident(&d)?));
    }
    for r in memberships {
        sql.push_str(&format!("REVOKE {} FROM {user};", quote::ident(&r)?));
    }
    exec_retrying(&admin, &sql).await
}
