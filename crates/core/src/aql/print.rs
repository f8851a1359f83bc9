//! [`Expr`] back to text, in one canonical spelling: lower-case keywords,
//! one space around operators, parentheses only where precedence needs them
//! (`not` binds tighter than `and`, `and` tighter than `or`).

use super::ast::{Cond, Expr, Field};
use std::fmt::{self, Display, Formatter, Write};

/// A value in double quotes; `"` and `\` are escaped with a backslash.
pub fn quote(value: &str, f: &mut impl Write) -> fmt::Result {
    f.write_char('"')?;
    for c in value.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        if let Some(k) = self.key() {
            f.write_char('[')?;
            quote(k, f)?;
            f.write_char(']')?;
        }
        Ok(())
    }
}

impl Display for Cond {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.field, self.op.as_str())?;
        if self.op.takes_list() {
            f.write_char('(')?;
            for (i, v) in self.values.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                quote(v, f)?;
            }
            f.write_char(')')
        } else {
            quote(self.values.first().map_or("", String::as_str), f)
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Cond(c) => c.fmt(f),
            Expr::Not(e) => match **e {
                Expr::And(_) | Expr::Or(_) => write!(f, "not ({e})"),
                _ => write!(f, "not {e}"),
            },
            Expr::And(parts) => {
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    match p {
                        Expr::Or(_) => write!(f, "({p})")?,
                        _ => p.fmt(f)?,
                    }
                }
                Ok(())
            }
            Expr::Or(parts) => {
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    p.fmt(f)?;
                }
                Ok(())
            }
        }
    }
}
