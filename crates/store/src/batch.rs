//! Statements written together: on SQLite one multi-statement query (one
//! round trip to the thread sqlx runs it on), on PostgreSQL one statement
//! after another. [`crate::transact`] builds write transactions on it.

use crate::pool::Engine;
use crate::Result;
use sqlx::{Any, Transaction};

/// One bound value.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::Text(v)
    }
}
impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Arg {
        Arg::Text(v.clone())
    }
}

/// Statements run in order inside one transaction. Each is written with its
/// own parameters `$1, $2, …`; on SQLite they are renumbered to follow one
/// another in the one query.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    statements: Vec<(String, Vec<Arg>)>,
}

impl Batch {
    pub(crate) fn push(&mut self, sql: impl Into<String>, args: Vec<Arg>) {
        self.statements.push((sql.into(), args));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The statements as one SQLite query between `before` and `after`
    /// (statements without parameters), and every argument in order.
    pub(crate) fn joined(self, before: &str, after: &str) -> (String, Vec<Arg>) {
        let mut sql = String::from(before);
        let mut args = Vec::new();
        for (s, a) in self.statements {
            sql.push_str(&renumber(&s, args.len()));
            sql.push_str(";\n");
            args.extend(a);
        }
        sql.push_str(after);
        (sql, args)
    }

    /// Run inside an open transaction.
    pub(crate) async fn run_in(self, tx: &mut Transaction<'_, Any>, engine: Engine) -> Result<()> {
        match engine {
            Engine::Sqlite => {
                if !self.is_empty() {
                    let (sql, args) = self.joined("", "");
                    bound(&sql, args).execute(&mut **tx).await?;
                }
            }
            Engine::Postgres => {
                for (sql, args) in self.statements {
                    bound(&sql, args).execute(&mut **tx).await?;
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn bound(sql: &str, args: Vec<Arg>) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
    args.into_iter().fold(sqlx::query(sql), |q, a| match a {
        Arg::Int(v) => q.bind(v),
        Arg::Text(v) => q.bind(v),
    })
}

/// `sql` with every `$N` made `$(N + by)`.
fn renumber(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut n = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            n.push(*d);
            chars.next();
        }
        match n.parse::<usize>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&n),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn parameters_follow_on_from_the_statements_before() {
        assert_eq!(renumber("UPDATE t SET a = $1, b = $12 WHERE c = $1", 3), "UPDATE t SET a = $4, b = $15 WHERE c = $4");
        assert_eq!(renumber("SELECT '$' || $2", 0), "SELECT '$' || $2");
        let mut b = Batch::default();
        b.push("INSERT INTO a VALUES ($1, $2)", vec![1.into(), "x".into()]);
        b.push("UPDATE b SET v = $1 WHERE k = $2 OR k = $1", vec![2.into(), "y".into()]);
        let (sql, args) = b.joined("BEGIN;\n", "COMMIT");
        assert_eq!(sql, "BEGIN;\nINSERT INTO a VALUES ($1, $2);\nUPDATE b SET v = $3 WHERE k = $4 OR k = $3;\nCOMMIT");
        assert_eq!(args.len(), 4);
    }
}
