//! The Redshift SQL dialect, in one place. Only what Redshift has: no
//! `DO` blocks, no `IF NOT EXISTS` on users, no `DROP OWNED`, no sequences,
//! no `CONNECT` privilege, sessions in `stv_sessions`, users in `pg_user`.

use crate::sql::quote;
use crate::IntegrationError;
use md5::{Digest, Md5};

pub const USER_EXISTS: &str = "SELECT COUNT(*) FROM pg_user WHERE usename = $1";
pub const IS_SUPERUSER: &str = "SELECT usesuper FROM pg_user WHERE usename = current_user";
pub const LIST_SCHEMAS: &str =
    "SELECT nspname::varchar FROM pg_namespace WHERE nspname <> 'information_schema' AND left(nspname, 3) <> 'pg_' ORDER BY 1";
pub const LIST_TABLES: &str = "SELECT schemaname::varchar, tablename::varchar FROM pg_tables \
     WHERE schemaname <> 'information_schema' AND left(schemaname, 3) <> 'pg_' ORDER BY 1, 2";
/// Users with the prefix ($1) in the integration's marker group ($2); never
/// a superuser or the connector's own user.
pub const LIST_USERS: &str = "SELECT u.usename::varchar FROM pg_user u, pg_group g WHERE g.groname = $2 AND u.usesysid = ANY(g.grolist) \
     AND left(u.usename, length($1)) = $1 AND NOT u.usesuper AND u.usename <> current_user ORDER BY 1";
pub const GROUP_EXISTS: &str = "SELECT COUNT(*) FROM pg_group WHERE groname = $1";

/// The group (without privileges) marking the users `integration` made:
/// Redshift has no comments on users.
pub use crate::sql::marker_name as marker_group;

pub fn create_group(group: &str) -> Result<String, IntegrationError> {
    Ok(format!("CREATE GROUP {}", quote::ident(group)?))
}

pub fn add_to_group(group: &str, user: &str) -> Result<String, IntegrationError> {
    Ok(format!("ALTER GROUP {} ADD USER {}", quote::ident(group)?, quote::ident(user)?))
}

/// Redshift password rules: 8 to 64 characters, at least one upper-case
/// letter, one lower-case letter and one digit; none of `' " \ / @` or space.
pub fn valid_password(p: &str) -> bool {
    (8..=64).contains(&p.len())
        && p.chars().any(|c| c.is_ascii_uppercase())
        && p.chars().any(|c| c.is_ascii_lowercase())
        && p.chars().any(|c| c.is_ascii_digit())
        && p.chars().all(|c| c.is_ascii_graphic() && !"'\"\\/@".contains(c))
}

/// A random password that meets Redshift's rules.
pub fn new_password() -> String {
    loop {
        let p = crate::random_password();
        if valid_password(&p) {
            return p;
        }
    }
}

/// `md5` + md5(password + username): the form Redshift (and PostgreSQL)
/// store, so the plaintext never travels.
pub fn md5_secret(password: &str, username: &str) -> String {
    let mut h = Md5::new();
    h.update(password.as_bytes());
    h.update(username.as_bytes());
    format!("md5{}", hex_lower(&h.finalize()))
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn create_user(user: &str, valid_until: &str) -> Result<String, IntegrationError> {
    Ok(format!(
        "CREATE USER {} PASSWORD {} VALID UNTIL {}",
        quote::ident(user)?,
        quote::literal(&md5_secret(&new_password(), user))?,
        quote::literal(valid_until)?
    ))
}

pub fn refresh_user(user: &str, valid_until: &str) -> Result<String, IntegrationError> {
    Ok(format!("ALTER USER {} VALID UNTIL {}", quote::ident(user)?, quote::literal(valid_until)?))
}

pub fn set_password(user: &str, password: &str) -> Result<String, IntegrationError> {
    Ok(format!("ALTER USER {} PASSWORD {}", quote::ident(user)?, quote::literal(&md5_secret(password, user))?))
}

/// No new sessions: expired, with a password nobody knows.
pub fn lock_user(user: &str) -> Result<String, IntegrationError> {
    Ok(format!(
        "ALTER USER {} PASSWORD {} VALID UNTIL '1970-01-01'",
        quote::ident(user)?,
        quote::literal(&md5_secret(&new_password(), user))?
    ))
}

/// Ends a user's sessions; the name (read back from the target) is bound as `$1`.
pub const TERMINATE_SESSIONS: &str = "SELECT pg_terminate_backend(process) FROM stv_sessions WHERE user_name = $1";

pub fn table_privileges(permission: &str) -> Result<&'static str, IntegrationError> {
    match permission {
        "read_only" => Ok("SELECT"),
        "read_write" => Ok("SELECT, INSERT, UPDATE, DELETE"),
        "admin" => Ok("ALL"),
        other => Err(IntegrationError::Invalid(format!("unknown permission `{other}`: use read_only, read_write or admin"))),
    }
}

pub fn grant_schema(schema: &str, user: &str, permission: &str) -> Result<Vec<String>, IntegrationError> {
    let (s, u) = (quote::ident(schema)?, quote::ident(user)?);
    let schema_priv = if permission == "admin" { "ALL" } else { "USAGE" };
    Ok(vec![
        format!("GRANT {schema_priv} ON SCHEMA {s} TO {u}"),
        format!("GRANT {} ON ALL TABLES IN SCHEMA {s} TO {u}", table_privileges(permission)?),
    ])
}

pub fn grant_table(schema: &str, table: &str, user: &str, permission: &str) -> Result<Vec<String>, IntegrationError> {
    let (s, u) = (quote::ident(schema)?, quote::ident(user)?);
    Ok(vec![
        format!("GRANT USAGE ON SCHEMA {s} TO {u}"),
        format!("GRANT {} ON TABLE {s}.{} TO {u}", table_privileges(permission)?, quote::ident(table)?),
    ])
}

/// Everything a user may hold in one schema, revoked (Redshift cannot drop
/// a user that still holds privileges).
pub fn revoke_schema(schema: &str, user: &str) -> Result<Vec<String>, IntegrationError> {
    let (s, u) = (quote::ident(schema)?, quote::ident(user)?);
    Ok(vec![format!("REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {u}"), format!("REVOKE ALL ON SCHEMA {s} FROM {u}")])
}

pub fn revoke_database(database: &str, user: &str) -> Result<String, IntegrationError> {
    Ok(format!("REVOKE ALL ON DATABASE {} FROM {}", quote::ident(database)?, quote::ident(user)?))
}

pub fn drop_user(user: &str) -> Result<String, IntegrationError> {
    Ok(format!("DROP USER IF EXISTS {}", quote::ident(user)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_follow_redshift_rules() {
        for _ in 0..200 {
            assert!(valid_password(&new_password()));
        }
        assert!(!valid_password("alllowercase1"));
        assert!(!valid_password("Short1"));
        assert!(!valid_password("Has@Sign1x"));
        assert!(!valid_password("Has Space1x"));
    }

    #[test]
    fn md5_secret_is_the_documented_form() {
        // md5('ez' || 'user1') as Redshift documents it.
        assert_eq!(md5_secret("ez", "user1"), "md5153c434b4b77c89e6b94f12c5393af5b");
    }

    #[test]
    fn statements_quote_every_name() {
        assert_eq!(grant_table("we\"ird", "t;x", "sesame_a", "read_only").unwrap()[1], "GRANT SELECT ON TABLE \"we\"\"ird\".\"t;x\" TO \"sesame_a\"");
    }
}
