//! grant-access: the login and exactly the privileges of the permission.

use super::{unavailable, Postgres};
use crate::sql::quote;
use crate::IntegrationError;
use sesame_core::{resource_id, Timestamp};
use sesame_proto::ActionParams;
use std::collections::BTreeMap;

/// Table privileges of a permission.
fn table_privileges(permission: &str) -> Result<&'static str, IntegrationError> {
    match permission {
        "read_only" => Ok("SELECT"),
        "read_write" => Ok("SELECT, INSERT, UPDATE, DELETE"),
        "admin" => Ok("ALL PRIVILEGES"),
        other => Err(IntegrationError::Invalid(format!("unknown permission `{other}`: use read_only, read_write or admin"))),
    }
}

/// The database a grant's credentials should connect to.
pub(super) fn database_of(p: &ActionParams) -> Option<String> {
    match p.resource_type.as_str() {
        "database" | "schema" | "table" => p.resources.first().and_then(|r| resource_id::split(r).into_iter().next()),
        _ => None,
    }
}

/// Statements to run in each database, for a database/schema/table grant.
/// Pure: every name goes through [`quote`].
pub fn statements(p: &ActionParams, schemas_of: &BTreeMap<String, Vec<String>>) -> Result<BTreeMap<String, Vec<String>>, IntegrationError> {
    let user = quote::ident(&p.username)?;
    let privs = table_privileges(&p.permission)?;
    let admin = p.permission == "admin";
    let rw = p.permission != "read_only";
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in &p.resources {
        let parts = resource_id::split(id);
        let bad = || IntegrationError::Invalid(format!("resource `{id}` is not a valid {} id", p.resource_type));
        let db = parts.first().ok_or_else(bad)?.clone();
        let qdb = quote::ident(&db)?;
        let stmts = out.entry(db.clone()).or_default();
        // Only a database grant reaches the database itself (CREATE of
        // schemas, TEMP); schema and table grants need nothing but CONNECT.
        let db_priv = if admin && p.resource_type == "database" { "ALL PRIVILEGES" } else { "CONNECT" };
        stmts.push(format!("GRANT {db_priv} ON DATABASE {qdb} TO {user}"));
        let schema_block = |stmts: &mut Vec<String>, s: &str| -> Result<(), IntegrationError> {
            let qs = quote::ident(s)?;
            let schema_priv = if admin { "ALL PRIVILEGES" } else { "USAGE" };
            stmts.push(format!("GRANT {schema_priv} ON SCHEMA {qs} TO {user}"));
            stmts.push(format!("GRANT {privs} ON ALL TABLES IN SCHEMA {qs} TO {user}"));
            if rw {
                stmts.push(format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {qs} TO {user}"));
            }
            Ok(())
        };
        match (p.resource_type.as_str(), parts.len()) {
            ("database", 1) => {
                for s in schemas_of.get(&db).map(Vec::as_slice).unwrap_or_default() {
                    schema_block(stmts, s)?;
                }
            }
            ("schema", 2) => schema_block(stmts, &parts[1])?,
            ("table", 3) => {
                let qs = quote::ident(&parts[1])?;
                stmts.push(format!("GRANT USAGE ON SCHEMA {qs} TO {user}"));
                stmts.push(format!("GRANT {privs} ON TABLE {qs}.{} TO {user}", quote::ident(&parts[2])?));
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

pub(super) fn valid_until_literal(t: Timestamp) -> Result<String, IntegrationError> {
    let dt = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(t.0)
        .ok_or_else(|| IntegrationError::Invalid(format!("deadline {} is out of range", t.0)))?;
    quote::literal(&dt.format("%Y-%m-%d %H:%M:%S%.3f+00").to_string())
}

/// `CREATE ROLE` unless it exists, else refresh the backstop: one statement,
/// so it can share a transaction with the grants.
pub fn ensure_login(username: &str, valid_until: Timestamp) -> Result<String, IntegrationError> {
    if username.contains('$') {
        return Err(IntegrationError::Invalid(format!("login name `{username}` may not contain `$`")));
    }
    let user = quote::ident(username)?;
    let until = valid_until_literal(valid_until)?;
    // No password yet: nobody can log in until create-credentials.
    Ok(format!(
        "DO $sesame$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {lit}) \
         THEN ALTER ROLE {user} WITH LOGIN VALID UNTIL {until}; \
         ELSE CREATE ROLE {user} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT VALID UNTIL {until}; \
         END IF; END $sesame$",
        lit = quote::literal(username)?
    ))
}

/// With IAM auth the login authenticates through `rds_iam` instead of a password.
pub fn iam_membership(username: &str) -> Result<String, IntegrationError> {
    Ok(format!("GRANT rds_iam TO {}", quote::ident(username)?))
}

/// Sesame's mark on the logins an integration creates: the reconciler
/// touches only logins carrying its own integration's mark.
pub fn mark(username: &str, integration: &str) -> Result<String, IntegrationError> {
    Ok(format!("COMMENT ON ROLE {} IS {}", quote::ident(username)?, quote::literal(&marker(integration))?))
}

/// The comment that marks a login as made by `integration`.
pub fn marker(integration: &str) -> String {
    format!("sesame-managed:{integration}")
}

/// Grant `p`; with `verifier` (a SCRAM verifier), the login's password is
/// set in the same transaction.
pub(super) async fn grant(pg: &Postgres, p: &ActionParams, valid_until: Timestamp, verifier: Option<&str>) -> Result<(), IntegrationError> {
    let user = quote::ident(&p.username)?;
    let mut login = Some(format!("{};{}", ensure_login(&p.username, valid_until)?, mark(&p.username, &pg.cfg.name)?));
    if let (Some(v), Some(l)) = (verifier, login.as_mut()) {
        l.push_str(&format!(";ALTER ROLE {user} WITH PASSWORD {}", quote::literal(v)?));
    }
    if pg.cfg.auth_type == super::AuthType::Iam {
        let membership = iam_membership(&p.username)?;
        login = login.map(|l| format!("{l};{membership}"));
    }
    let mut batches: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    if p.resource_type == "role" {
        for r in &p.resources {
            pg.cfg.roles.check(r)?;
        }
        // Never a role with power over the server, whatever the list says.
        let powerful: Vec<String> = sqlx::query_scalar(
            "SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1) AND (rolsuper OR rolcreaterole OR rolbypassrls OR rolreplication)",
        )
        .bind(&p.resources)
        .fetch_all(&pg.pool(None)?)
        .await
        .map_err(unavailable)?;
        if let Some(r) = powerful.first() {
            return Err(IntegrationError::Invalid(format!("role `{r}` holds SUPERUSER, CREATEROLE, BYPASSRLS or REPLICATION and is never handed out")));
        }
        let stmts = batches.entry(None).or_default();
        for r in &p.resources {
            stmts.push(format!("GRANT {} TO {user}", quote::ident(r)?));
        }
        // Membership needs INHERIT to be useful.
        stmts.push(format!("ALTER ROLE {user} INHERIT"));
    } else {
        let mut schemas_of = BTreeMap::new();
        if p.resource_type == "database" {
            for id in &p.resources {
                let db = resource_id::split(id).into_iter().next().unwrap_or_default();
                let schemas: Vec<String> = sqlx::query_scalar(
                    "SELECT nspname::text FROM pg_namespace WHERE nspname <> 'information_schema' AND left(nspname, 3) <> 'pg_'",
                )
                .fetch_all(&pg.pool(Some(&db))?)
                .await
                .map_err(unavailable)?;
                schemas_of.insert(db, schemas);
            }
        }
        for (db, stmts) in statements(p, &schemas_of)? {
            batches.insert(Some(db), stmts);
        }
    }
    // One implicit transaction (one round trip) per database; the login is
    // created in the first one (roles are cluster-wide).
    for (db, stmts) in batches {
        let mut sql = String::from("SELECT pg_advisory_xact_lock(73570002);");
        if let Some(l) = login.take() {
            sql.push_str(&l);
            sql.push(';');
        }
        for s in stmts {
            sql.push_str(&s);
            sql.push(';');
        }
        super::exec_retrying(&pg.pool(db.as_deref())?, &sql).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(kind: &str, ids: &[&str], perm: &str) -> ActionParams {
        ActionParams {
            grant_id: "g".into(),
            username: "sesame_ann_g".into(),
            resource_type: kind.into(),
            resources: ids.iter().map(|s| s.to_string()).collect(),
            permission: perm.into(),
            custom_parameters: Default::default(),
        }
    }

    #[test]
    fn read_only_table_grant_is_exactly_select() {
        let id = resource_id::join(&["app", "we\"ird;", "t/1"]);
        let out = statements(&params("table", &[&id], "read_only"), &BTreeMap::new()).unwrap();
        assert_eq!(
            out["app"],
            vec![
                "GRANT CONNECT ON DATABASE \"app\" TO \"sesame_ann_g\"",
                "GRANT USAGE ON SCHEMA \"we\"\"ird;\" TO \"sesame_ann_g\"",
                "GRANT SELECT ON TABLE \"we\"\"ird;\".\"t/1\" TO \"sesame_ann_g\"",
            ]
        );
    }

    #[test]
    fn admin_reaches_the_database_only_when_the_database_is_granted() {
        let t = resource_id::join(&["app", "public", "t"]);
        for (kind, id) in [("table", t.as_str()), ("schema", "app/public")] {
            let out = statements(&params(kind, &[id], "admin"), &BTreeMap::new()).unwrap();
            assert_eq!(out["app"][0], "GRANT CONNECT ON DATABASE \"app\" TO \"sesame_ann_g\"", "{kind}");
        }
        let out = statements(&params("database", &["app"], "admin"), &BTreeMap::new()).unwrap();
        assert_eq!(out["app"][0], "GRANT ALL PRIVILEGES ON DATABASE \"app\" TO \"sesame_ann_g\"");
    }

    #[test]
    fn database_grant_covers_every_schema() {
        let schemas = BTreeMap::from([("app".to_string(), vec!["public".to_string(), "s2".to_string()])]);
        let out = statements(&params("database", &["app"], "read_write"), &schemas).unwrap();
        assert_eq!(out["app"].len(), 1 + 2 * 3);
        assert!(out["app"].iter().any(|s| s.contains("SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"s2\"")));
    }

    #[test]
    fn bad_ids_and_permissions_are_refused() {
        assert!(statements(&params("table", &["app/x"], "read_only"), &BTreeMap::new()).is_err());
        assert!(statements(&params("table", &["app/s/t"], "superuser"), &BTreeMap::new()).is_err());
    }

    #[test]
    fn iam_logins_join_rds_iam_and_get_no_password() {
        assert_eq!(iam_membership("sesame_a_1").unwrap(), "GRANT rds_iam TO \"sesame_a_1\"");
        let l = ensure_login("sesame_a_1", Timestamp(0)).unwrap();
        assert!(!l.contains("PASSWORD"), "{l}");
        assert!(ensure_login("a$sesame$b", Timestamp(0)).is_err());
    }

    #[test]
    fn logins_are_marked_with_their_integration() {
        assert_eq!(mark("sesame_a_1", "prod-pg").unwrap(), "COMMENT ON ROLE \"sesame_a_1\" IS 'sesame-managed:prod-pg'");
        assert!(mark("sesame_a_1", "we'ird").unwrap().ends_with("'sesame-managed:we''ird'"));
    }

    #[test]
    fn valid_until_is_utc() {
        assert_eq!(valid_until_literal(Timestamp(0)).unwrap(), "'1970-01-01 00:00:00.000+00'");
    }
}
