//! **The** quoting functions. Every identifier and literal that reaches SQL
//! text goes through here; nothing else builds quoted SQL.

use crate::IntegrationError;

/// `name` as a PostgreSQL (and Redshift) identifier: `"..."` with inner `"` doubled.
pub fn ident(name: &str) -> Result<String, IntegrationError> {
    reject_nul(name)?;
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// `value` as a standard-conforming string literal: `'...'` with inner `'` doubled.
pub fn literal(value: &str) -> Result<String, IntegrationError> {
    reject_nul(value)?;
    Ok(format!("'{}'", value.replace('\'', "''")))
}

/// `name` as a MySQL/MariaDB identifier: `` `...` `` with inner backticks doubled.
pub fn mysql_ident(name: &str) -> Result<String, IntegrationError> {
    reject_nul(name)?;
    Ok(format!("`{}`", name.replace('`', "``")))
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
    }

    #[test]
    fn mysql_quoting() {
        assert_eq!(mysql_ident("we`ird; DROP").unwrap(), "`we``ird; DROP`");
        assert_eq!(mysql_account("o'b", "%").unwrap(), "'o''b'@'%'");
        assert!(mysql_literal("a\\b").is_err());
        assert_eq!(mysql_ident("ünï 🚀").unwrap(), "`ünï 🚀`");
    }
}
