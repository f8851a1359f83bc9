//! The statements of grant, revoke, disable. Pure: every name goes through
//! the one quoting module.

use super::config::AuthType;
use crate::sql::quote;
use crate::IntegrationError;
use sesame_core::resource_id;
use sesame_proto::ActionParams;

pub fn privileges(permission: &str) -> Result<&'static str, IntegrationError> {
    match permission {
        "read_only" => Ok("SELECT"),
        "read_write" => Ok("SELECT, INSERT, UPDATE, DELETE"),
        "admin" => Ok("ALL PRIVILEGES"),
        other => Err(IntegrationError::Invalid(format!("unknown permission `{other}`: use read_only, read_write, admin or member"))),
    }
}

/// `CREATE USER IF NOT EXISTS` with an unusable random password (or the RDS
/// IAM plugin); nobody can log in before create-credentials.
pub fn create_user(account: &str, auth: AuthType) -> Result<String, IntegrationError> {
    Ok(match auth {
        AuthType::Password => {
            format!("CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {} ACCOUNT LOCK", quote::mysql_literal(&crate::random_password())?)
        }
        AuthType::Iam => format!("CREATE USER IF NOT EXISTS {account} IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"),
    })
}

pub use crate::sql::{marker_name as marker_role, MARKER_PREFIX};

/// Create the marker role if needed and grant it to `account`.
pub fn mark_statements(marker: &str, account: &str) -> Result<[String; 2], IntegrationError> {
    let role = quote::mysql_ident(marker)?;
    Ok([format!("CREATE ROLE IF NOT EXISTS {role}"), format!("GRANT {role} TO {account}")])
}

/// MariaDB's login for a grant with credentials, made and marked in one
/// statement: `GRANT role TO account IDENTIFIED BY` creates the account
/// with its password and Sesame's mark together. One ACL statement fewer
/// than `CREATE USER` then `GRANT role` (each costs the engine about as much
/// as the other), and no moment when the login exists unmarked. On an
/// account an earlier attempt of the same grant made, it sets the password.
/// MySQL 8 has no `IDENTIFIED BY` in `GRANT`.
pub fn marked_login(marker: &str, account: &str, password: &str) -> Result<String, IntegrationError> {
    Ok(format!("GRANT {} TO {account} IDENTIFIED BY {}", quote::mysql_ident(marker)?, quote::mysql_literal(password)?))
}

/// The GRANTs for `p`, to `account` (`'user'@'host'`).
pub fn grant_statements(p: &ActionParams, account: &str) -> Result<Vec<String>, IntegrationError> {
    let mut out = Vec::new();
    for id in &p.resources {
        let parts = resource_id::split(id);
        let bad = || IntegrationError::Invalid(format!("resource `{id}` is not a valid {} id", p.resource_type));
        match (p.resource_type.as_str(), parts.as_slice()) {
            ("database", [db]) => out.push(format!("GRANT {} ON {}.* TO {account}", privileges(&p.permission)?, quote::mysql_db_pattern(db)?)),
            ("table", [db, t]) => out.push(format!(
                "GRANT {} ON {}.{} TO {account}",
                privileges(&p.permission)?,
                quote::mysql_ident(db)?,
                quote::mysql_ident(t)?
            )),
            ("role", [role]) => {
                if p.permission != "member" {
                    return Err(IntegrationError::Invalid(format!("roles offer `member`, not `{}`", p.permission)));
                }
                out.push(format!("GRANT {} TO {account}", quote::mysql_ident(role)?));
                out.push(format!("SET DEFAULT ROLE {} FOR {account}", quote::mysql_ident(role)?));
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kind: &str, ids: &[&str], perm: &str) -> ActionParams {
        ActionParams {
            resource_type: kind.into(),
            resources: ids.iter().map(|s| s.to_string()).collect(),
            permission: perm.into(),
            username: "sesame_a_1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn statements_are_exact_and_quoted() {
        let acct = quote::mysql_account("sesame_a_1", "%").unwrap();
        let t = resource_id::join(&["app", "we`ird; DROP"]);
        assert_eq!(grant_statements(&p("table", &[&t], "read_only"), &acct).unwrap(), vec![
            "GRANT SELECT ON `app`.`we``ird; DROP` TO 'sesame_a_1'@'%'"
        ]);
        assert_eq!(grant_statements(&p("database", &["app"], "read_write"), &acct).unwrap(), vec![
            "GRANT SELECT, INSERT, UPDATE, DELETE ON `app`.* TO 'sesame_a_1'@'%'"
        ]);
        assert_eq!(grant_statements(&p("database", &["m_sql"], "read_only"), &acct).unwrap(), vec![
            "GRANT SELECT ON `m\\_sql`.* TO 'sesame_a_1'@'%'"
        ]);
        assert_eq!(grant_statements(&p("role", &["analyst"], "member"), &acct).unwrap().len(), 2);
        assert!(grant_statements(&p("table", &["app"], "read_only"), &acct).is_err());
        assert!(grant_statements(&p("role", &["analyst"], "admin"), &acct).is_err());
    }

    #[test]
    fn markers_are_per_integration_and_short() {
        let (a, b) = (marker_role("orders-db"), marker_role("orders-db-2"));
        assert_ne!(a, b);
        assert!(a.starts_with(MARKER_PREFIX) && a.len() == 28, "{a}");
        let acct = quote::mysql_account("sesame_a_1", "%").unwrap();
        assert_eq!(mark_statements(&a, &acct).unwrap()[1], format!("GRANT `{a}` TO 'sesame_a_1'@'%'"));
        assert_eq!(marked_login(&a, &acct, "p'w").unwrap(), format!("GRANT `{a}` TO 'sesame_a_1'@'%' IDENTIFIED BY 'p''w'"));
    }

    #[test]
    fn iam_users_use_the_rds_plugin() {
        let acct = quote::mysql_account("sesame_a_1", "%").unwrap();
        assert_eq!(
            create_user(&acct, AuthType::Iam).unwrap(),
            "CREATE USER IF NOT EXISTS 'sesame_a_1'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"
        );
    }
}
