//! Evaluating a query against one resource and one of its permissions.
//!
//! A query is compiled once: each condition keeps its operator in positive
//! form with a negation flag (`!=` is `not =`, so a missing tag is `!=`
//! anything), and a `resource_type` test knows which integration kinds the
//! seed's spellings stand for. With the permission left out, a query answers
//! `None` when the answer depends on it, so a caller can select a resource
//! outright, drop it, or ask per permission.

use super::ast::{Cond, Expr, Field, Op};
use super::types;
use std::collections::BTreeMap;

/// What a query can read about a resource.
#[derive(Debug, Clone, Copy)]
pub struct ResourceFacts<'a> {
    /// The integration's name (Sesame's integration id).
    pub integration: &'a str,
    /// Its kind: `postgresql`, `mysql`, `aws-account`…
    pub integration_kind: &'a str,
    pub resource_type: &'a str,
    /// Sesame's id of the resource.
    pub id: &'a str,
    pub name: &'a str,
    pub path: &'a str,
    /// The target's own id (the ARN), or the id when it has none.
    pub source_id: &'a str,
    pub status: &'a str,
    pub risk_level: &'a str,
    pub tags: &'a BTreeMap<String, String>,
    pub context: &'a BTreeMap<String, String>,
}

/// What a query can read about a permission.
#[derive(Debug, Clone, Copy)]
pub struct PermissionFacts<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub status: &'a str,
    pub risk_level: &'a str,
    pub tags: &'a BTreeMap<String, String>,
    pub context: &'a BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Test { field: Field, op: Op, negate: bool, values: Vec<String>, types: Vec<(Option<&'static str>, String)> },
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

pub(crate) fn compile(e: &Expr) -> Node {
    match e {
        Expr::Cond(Cond { field, op, values }) => {
            let (op, negate) = op.positive();
            let types = if *field == Field::ResourceType && matches!(op, Op::Eq | Op::In) {
                values.iter().map(|v| { let (k, t) = types::meaning(v); (k, t.to_owned()) }).collect()
            } else {
                Vec::new()
            };
            Node::Test { field: field.clone(), op, negate, values: values.clone(), types }
        }
        Expr::Not(inner) => Node::Not(Box::new(compile(inner))),
        Expr::And(parts) => Node::And(parts.iter().map(compile).collect()),
        Expr::Or(parts) => Node::Or(parts.iter().map(compile).collect()),
    }
}

/// The positive test of a `resource_type` condition on a resource of this
/// kind and type: the seed's spellings stand for one kind's type.
pub(crate) fn type_test(op: Op, values: &[String], types: &[(Option<&'static str>, String)], kind: &str, resource_type: &str) -> bool {
    if types.is_empty() {
        types::spellings(kind, resource_type).any(|s| text_test(op, values, s))
    } else {
        types.iter().any(|(k, t)| t == resource_type && k.is_none_or(|k| k == kind))
    }
}

/// The positive test of a condition on a field's text: a risk level
/// answers to its word and its number.
pub(crate) fn field_test(field: &Field, op: Op, values: &[String], s: &str) -> bool {
    match field {
        Field::ResourceRiskLevel | Field::PermissionRiskLevel => types::risk_spellings(s).any(|x| text_test(op, values, x)),
        _ => text_test(op, values, s),
    }
}

/// The positive test of a condition on one text.
pub(crate) fn text_test(op: Op, values: &[String], s: &str) -> bool {
    let first = values.first().map_or("", String::as_str);
    match op {
        Op::Eq => s == first,
        Op::In => values.iter().any(|v| v == s),
        Op::Contains => s.contains(first),
        Op::StartsWith => s.starts_with(first),
        Op::EndsWith => s.ends_with(first),
        // compile() keeps only positive operators.
        Op::Ne | Op::NotContains | Op::NotIn => false,
    }
}

impl Node {
    pub(crate) fn eval(&self, r: &ResourceFacts<'_>, p: Option<&PermissionFacts<'_>>) -> Option<bool> {
        match self {
            Node::Test { field, op, negate, values, types } => {
                let hit = match field {
                    Field::ResourceType => type_test(*op, values, types, r.integration_kind, r.resource_type),
                    f if f.is_permission() => {
                        let p = p?;
                        let s = match f {
                            Field::Permission => Some(p.id),
                            Field::PermissionName => Some(p.name),
                            Field::PermissionStatus => Some(p.status),
                            Field::PermissionRiskLevel => Some(p.risk_level),
                            Field::PermissionTag(k) => p.tags.get(k).map(String::as_str),
                            Field::PermissionContext(k) => p.context.get(k).map(String::as_str),
                            _ => None,
                        };
                        s.is_some_and(|s| field_test(f, *op, values, s))
                    }
                    f => {
                        let s = match f {
                            Field::ResourceName => Some(r.name),
                            Field::ResourcePath => Some(r.path),
                            Field::Resource => Some(r.id),
                            Field::ResourceSourceId => Some(r.source_id),
                            Field::ResourceStatus => Some(r.status),
                            Field::ResourceRiskLevel => Some(r.risk_level),
                            Field::Integration | Field::IntegrationName => Some(r.integration),
                            Field::ResourceTag(k) => r.tags.get(k).map(String::as_str),
                            Field::ResourceContext(k) => r.context.get(k).map(String::as_str),
                            _ => None,
                        };
                        s.is_some_and(|s| field_test(f, *op, values, s))
                    }
                };
                Some(hit != *negate)
            }
            Node::Not(inner) => inner.eval(r, p).map(|b| !b),
            Node::And(parts) => {
                let mut unknown = false;
                for part in parts {
                    match part.eval(r, p) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                if unknown { None } else { Some(true) }
            }
            Node::Or(parts) => {
                let mut unknown = false;
                for part in parts {
                    match part.eval(r, p) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                if unknown { None } else { Some(false) }
            }
        }
    }
}
