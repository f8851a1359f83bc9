//! AQL, the query language of access scopes: `field operator "value"`
//! conditions joined by `and`, `or`, `not` and parentheses, over resources
//! and their permissions. The syntax and field names are the seed product's
//! (its public Apono Query Language reference), so its queries run here
//! unchanged:
//!
//! ```
//! use sesame_core::aql::Query;
//! let q: Query = r#"resource_type = "aws-rds-mysql" and resource_name contains "prod"
//!                   and resource_context["region"] = "us-east-1""#.parse().unwrap();
//! assert_eq!(q.to_string(), r#"resource_type = "aws-rds-mysql" and resource_name contains "prod" and resource_context["region"] = "us-east-1""#);
//! ```
//!
//! - Values are in double quotes; a backslash escapes the next character.
//!   Single quotes and line breaks inside a value are refused.
//! - Field names are case-sensitive and matched exactly; a near miss is
//!   refused with the name it was probably meant to be.
//! - Keywords and operators are written in lower case or upper case.
//! - Comparisons are exact and case-sensitive. The negative operators
//!   (`!=`, `not_contains`, `not_in`) are the negation of the positive ones:
//!   a resource without the tag `env` is `resource_tag["env"] != "prod"`.
//! - `resource_type` answers to Sesame's type names (`table`, `s3_bucket`)
//!   and to the seed's spellings (`aws-account-s3-bucket`, see [`types`]).
//!
//! Parsing never panics and is bounded: at most [`parse::MAX_LEN`] bytes and
//! [`parse::MAX_DEPTH`] levels of nesting.

mod ast;
mod eval;
mod index;
pub mod parse;
mod print;
mod reach;
pub mod types;

#[cfg(test)]
mod tests;

pub use ast::{Cond, Expr, Field, Op, KEYED_FIELDS, OPS, PLAIN_FIELDS};
pub use eval::{PermissionFacts, ResourceFacts};
pub use index::{Inventory, PermissionSet};
pub use reach::Grant;

use std::fmt;
use std::str::FromStr;

/// A query that does not parse: where, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct AqlError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// A parsed, compiled query.
#[derive(Debug, Clone)]
pub struct Query {
    expr: Expr,
    node: eval::Node,
}

impl Query {
    pub fn new(expr: Expr) -> Query {
        let node = eval::compile(&expr);
        Query { expr, node }
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether the query reads anything about permissions; when it does
    /// not, a resource it selects is selected with every permission.
    pub fn reads_permissions(&self) -> bool {
        self.expr.conditions().any(|c| c.field.is_permission())
    }

    /// Whether the query selects this permission on this resource.
    pub fn matches(&self, r: &ResourceFacts<'_>, p: &PermissionFacts<'_>) -> bool {
        self.node.eval(r, Some(p)).unwrap_or(false)
    }

    /// Whether the query selects the resource whatever the permission:
    /// `Some(true)` with all its permissions, `Some(false)` with none,
    /// `None` when it depends on the permission (ask [`Query::matches`]).
    pub fn matches_resource(&self, r: &ResourceFacts<'_>) -> Option<bool> {
        self.node.eval(r, None)
    }

    /// The permissions of a resource that the query selects: all of them,
    /// none, or those it picks one by one (the resource is read once).
    pub fn select<'a, 'p>(&'a self, r: &ResourceFacts<'a>, permissions: &'a [PermissionFacts<'p>]) -> impl Iterator<Item = &'a PermissionFacts<'p>> + 'a {
        let whole = self.matches_resource(r);
        let r = *r;
        permissions.iter().filter(move |p| whole.unwrap_or_else(|| self.matches(&r, p)))
    }
}

impl PartialEq for Query {
    fn eq(&self, other: &Query) -> bool {
        self.expr == other.expr
    }
}

impl FromStr for Query {
    type Err = AqlError;

    fn from_str(src: &str) -> Result<Query, AqlError> {
        parse::parse(src).map(Query::new)
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}
