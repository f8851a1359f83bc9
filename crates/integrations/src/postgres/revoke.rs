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
        exec_retrying(&admin, &format!("ALTER ROLE {user} WITH NOLOGIN PASSWORD NULL VALID UNTIL '-infinity'")).await?;
        // The name was read back from the target: a bind parameter, never a literal.
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1")
            .bind(username)
            .execute(&admin)
            .await
            .map_err(unavailable)?;
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
    drop_role(pg, username, &dbs, None).await
}

pub(super) async fn disable(pg: &Postgres, username: &str) -> Result<(), IntegrationError> {
    if !lock_out(pg, username).await? {
        return Ok(());
    }
    let (dbs, _) = dependencies(pg, username).await?;
    strip(pg, username, &dbs).await
}

/// Delete for good. Objects the login made pass to the configured
/// `orphan_owner` (a NOLOGIN role without privileges), or are dropped with
/// `grantee_objects = "drop"`; never to the connector's own account, where a
/// planted SECURITY DEFINER function would run with its rights.
pub(super) async fn delete(pg: &Postgres, username: &str) -> Result<(), IntegrationError> {
    if !lock_out(pg, username).await? {
        return Ok(());
    }
    let (dbs, owns) = dependencies(pg, username).await?;
    let heir = match (owns, pg.cfg.grantee_objects) {
        (true, super::GranteeObjects::Reassign) => Some(ensure_orphan_owner(pg).await?),
        _ => None,
    };
    drop_role(pg, username, &dbs, heir.as_deref()).await
}

/// The role that inherits what deleted grantees made: created NOLOGIN and
/// without privileges if missing; refused if it exists with any power.
async fn ensure_orphan_owner(pg: &Postgres) -> Result<String, IntegrationError> {
    let name = &pg.cfg.orphan_owner;
    let admin = pg.pool(None)?;
    let q = quote::ident(name)?;
    let powers: Option<bool> = sqlx::query_scalar(
        "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolcanlogin OR rolreplication OR rolbypassrls \
                OR EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid) \
         FROM pg_roles r WHERE rolname = $1",
    )
    .bind(name)
    .fetch_optional(&admin)
    .await
    .map_err(unavailable)?;
    match powers {
        Some(true) => {
            return Err(IntegrationError::Misconfigured(format!(
                "`orphan_owner` `{name}` can log in, holds a role attribute or is a member of another role: \
                 name a role only Sesame uses (it is created NOLOGIN without privileges when missing)"
            )))
        }
        Some(false) => {}
        None => {
            let create = format!("CREATE ROLE {q} WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS");
            match sqlx::raw_sql(&create).execute(&admin).await {
                Ok(_) => {}
                // Created meanwhile by a concurrent delete.
                Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42710") => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
    }
    // REASSIGN OWNED needs the privileges of the target role (PostgreSQL
    // before 16: membership). Membership gives the connector the orphan
    // role's rights (none), never the other way round.
    let member: bool = sqlx::query_scalar("SELECT pg_has_role(current_user, $1, 'USAGE')").bind(name).fetch_one(&admin).await.map_err(unavailable)?;
    if !member {
        exec_retrying(&admin, &format!("GRANT {q} TO CURRENT_USER")).await?;
    }
    Ok(q)
}

/// DROP OWNED revokes privileges in that database and on shared objects
/// (databases), so it runs in each database the role touches, and in the
/// maintenance database with the DROP ROLE. `heir` (quoted) receives the
/// role's objects first; without it they are dropped.
async fn drop_role(pg: &Postgres, username: &str, dbs: &[String], heir: Option<&str>) -> Result<(), IntegrationError> {
    let user = quote::ident(username)?;
    let reassign = heir.map(|h| format!("REASSIGN OWNED BY {user} TO {h};")).unwrap_or_default();
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
