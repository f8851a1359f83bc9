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

/// The GRANTs for `p`, to `account` (`'user'@'host'`).
pub fn grant_statements(p: &ActionParams, account: &str) -> Result<Vec<String>, IntegrationError> {
    let mut out = Vec::new();
    for id in &p.resources {
        let parts = resource_id::split(id);
        let bad = || IntegrationError::Invalid(format!("resource `{id}` is not a valid {} id", p.resource_type));
        match (p.resource_type.as_str(), parts.as_slice()) {
            ("database", [db]) => out.push(format!("GRANT {} ON {}.* TO {account}", privileges(&p.permission)?, quote::mysql_ident(db)?)),
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

/// IAM policy letting a user connect as `db_user` to one RDS instance with
/// IAM authentication (`rds-db:connect`), valid until `deadline` (RFC 3339).
pub fn rds_connect_policy(region: &str, account_id: &str, dbi_resource_id: &str, db_user: &str, deadline: &str) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "rds-db:connect",
            "Resource": format!("arn:aws:rds-db:{region}:{account_id}:dbuser:{dbi_resource_id}/{db_user}"),
            "Condition": { "DateLessThan": { "aws:CurrentTime": deadline } }
        }]
    })
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
        assert_eq!(grant_statements(&p("role", &["analyst"], "member"), &acct).unwrap().len(), 2);
        assert!(grant_statements(&p("table", &["app"], "read_only"), &acct).is_err());
        assert!(grant_statements(&p("role", &["analyst"], "admin"), &acct).is_err());
    }

    #[test]
    fn iam_users_use_the_rds_plugin() {
        let acct = quote::mysql_account("sesame_a_1", "%").unwrap();
        assert_eq!(
            create_user(&acct, AuthType::Iam).unwrap(),
            "CREATE USER IF NOT EXISTS 'sesame_a_1'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"
        );
        let pol = rds_connect_policy("eu-west-1", "123456789012", "db-ABCDEFG", "sesame_a_1", "2026-11-26T10:00:00Z");
        assert_eq!(pol["Statement"][0]["Resource"], "arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABCDEFG/sesame_a_1");
        assert_eq!(pol["Statement"][0]["Condition"]["DateLessThan"]["aws:CurrentTime"], "2026-11-26T10:00:00Z");
    }
}
