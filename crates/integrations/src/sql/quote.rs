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
}
