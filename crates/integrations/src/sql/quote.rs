//! **The** quoting functions. Every identifier and literal that reaches SQL
//! text goes through here; nothing else builds quoted SQL.

use crate::IntegrationError;

/// `name` as a PostgreSQL (and Redshift) identifier: `"..."` with inner `"` doubled.
pub fn ident(name: &str) -> Result<String, IntegrationError> {
    reject_nul(name)?;
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// `value` as a string literal: `'...'` with inner `'` doubled. With
/// `standard_conforming_strings = off` (a role or database setting the
/// connector does not control; Redshift's default) a backslash escapes the
/// next character, so a value carrying one is refused: names read back from a
/// target go through bind parameters instead.
pub fn literal(value: &str) -> Result<String, IntegrationError> {
    reject_nul(value)?;
    if value.contains('\\') {
        return Err(IntegrationError::Invalid(format!("`{value}` contains a backslash, which a SQL string literal cannot carry safely")));
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

/// `name` as a MySQL/MariaDB identifier: `` `...` `` with inner backticks doubled.
pub fn mysql_ident(name: &str) -> Result<String, IntegrationError> {
    reject_nul(name)?;
    Ok(format!("`{}`", name.replace('`', "``")))
}

/// `db` as the database part of a database-level `GRANT … ON db.*` or
/// `REVOKE … ON db.*`. There MySQL reads the name as a pattern: `_` and `%`
/// are wildcards (a grant on `m_sql` would reach `mysql`), so both are
/// escaped with a backslash. A backslash in the name itself is refused: its
/// meaning in a pattern depends on `sql_mode`. Table-level grants take the
/// database name literally; use [`mysql_ident`] there.
pub fn mysql_db_pattern(db: &str) -> Result<String, IntegrationError> {
    if db.contains('\\') {
        return Err(IntegrationError::Invalid(format!("database `{db}` contains a backslash, which MySQL grant patterns cannot carry safely")));
    }
    mysql_ident(&db.replace('_', "\\_").replace('%', "\\%"))
}

/// `value` as a MySQL/MariaDB string literal. A backslash means different
/// things under different `sql_mode`s, so it is refused rather than guessed.
pub fn mysql_literal(value: &str) -> Result<String, IntegrationError> {
    reject_nul(value)?;
    if value.contains('\\') {
        return Err(IntegrationError::Invalid(format!("`{value}` contains a backslash, which MySQL string literals cannot carry safely")));
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

/// `'user'@'host'`.
pub fn mysql_account(user: &str, host: &str) -> Result<String, IntegrationError> {
    Ok(format!("{}@{}", mysql_literal(user)?, mysql_literal(host)?))
}

fn reject_nul(s: &str) -> Result<(), IntegrationError> {
    if s.contains('\0') {
        return Err(IntegrationError::Invalid("names and values may not contain a NUL character".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_stay_inside_their_quotes() {
        assert_eq!(ident(r#"we"ird; DROP TABLE x; --"#).unwrap(), r#""we""ird; DROP TABLE x; --""#);
        assert_eq!(literal("o'brien'; --").unwrap(), "'o''brien''; --'");
        assert_eq!(ident("ünï 🚀").unwrap(), "\"ünï 🚀\"");
        assert!(ident("a\0b").is_err());
        assert!(literal("a\0b").is_err());
        assert!(literal("x\\'; DROP TABLE t; --").is_err(), "a backslash could end the literal early");
    }

    #[test]
    fn mysql_quoting() {
        assert_eq!(mysql_ident("we`ird; DROP").unwrap(), "`we``ird; DROP`");
        assert_eq!(mysql_account("o'b", "%").unwrap(), "'o''b'@'%'");
        assert!(mysql_literal("a\\b").is_err());
        assert_eq!(mysql_ident("ünï 🚀").unwrap(), "`ünï 🚀`");
    }

    #[test]
    fn mysql_database_grants_are_not_patterns() {
        assert_eq!(mysql_db_pattern("m_sql").unwrap(), "`m\\_sql`");
        assert_eq!(mysql_db_pattern("%").unwrap(), "`\\%`");
        assert_eq!(mysql_db_pattern("a`b_%").unwrap(), "`a``b\\_\\%`");
        assert!(mysql_db_pattern("a\\b").is_err());
    }
}
