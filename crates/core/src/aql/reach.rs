//! What a query asks for on one grant — one permission on one resource
//! type of one integration — when the target can select resources by
//! itself: every resource of the type, or those carrying a tag. Then the
//! grant need not list what the query selects today; it is the selection
//! (an ARN pattern with an `aws:ResourceTag` condition), and it follows the
//! inventory as tags change, as an access scope does.
//!
//! The query is evaluated as far as the grant decides it (integration,
//! resource type, permission, status); what is left must be `true` (every
//! resource) or tag equalities joined by `or`. Anything else — names,
//! paths, context, risk, a negated tag — is answered by name.

use super::eval::{field_test, text_test, type_test, Node, PermissionFacts};
use super::ast::{Field, Op};
use super::Query;
use crate::policy::Selector;

/// One grant as a query reads it, without its resources.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    pub integration: &'a str,
    pub integration_kind: &'a str,
    pub resource_type: &'a str,
    /// Every resource's status (Sesame's stored resources are `active`).
    pub resource_status: &'a str,
    pub permission: PermissionFacts<'a>,
}

/// What is left of a query once the grant is known.
enum Left {
    Known(bool),
    /// Resources with any of these tags.
    Tags(Vec<(String, String)>),
    /// Depends on more than tags: only names say it.
    ByName,
}

impl Query {
    /// The selectors that grant exactly what the query selects on `g`:
    /// `Some(vec![])` when it selects nothing there, `Some([*])` when it
    /// selects every resource, `Some([tag:k=v, …])` when it selects by tag;
    /// `None` when only a list of names says it.
    pub fn reach(&self, g: &Grant<'_>) -> Option<Vec<Selector>> {
        match left(&self.node, g) {
            Left::Known(false) => Some(vec![]),
            Left::Known(true) => Some(vec![Selector::Any]),
            Left::Tags(tags) => tags.into_iter().map(|(k, v)| Selector::of_tag(&k, &v)).collect(),
            Left::ByName => None,
        }
    }
}

fn left(n: &Node, g: &Grant<'_>) -> Left {
    match n {
        Node::Test { field, op, negate, values, types } => {
            let known = |hit: bool| Left::Known(hit != *negate);
            let p = &g.permission;
            match field {
                Field::ResourceType => known(type_test(*op, values, types, g.integration_kind, g.resource_type)),
                Field::Integration | Field::IntegrationName => known(text_test(*op, values, g.integration)),
                Field::ResourceStatus => known(text_test(*op, values, g.resource_status)),
                Field::Permission => known(text_test(*op, values, p.id)),
                Field::PermissionName => known(text_test(*op, values, p.name)),
                Field::PermissionStatus => known(text_test(*op, values, p.status)),
                Field::PermissionRiskLevel => known(field_test(field, *op, values, p.risk_level)),
                Field::PermissionTag(k) => known(p.tags.get(k).is_some_and(|s| text_test(*op, values, s))),
                Field::PermissionContext(k) => known(p.context.get(k).is_some_and(|s| text_test(*op, values, s))),
                Field::ResourceTag(k) if !*negate && matches!(op, Op::Eq | Op::In) => {
                    let vs = if *op == Op::Eq { &values[..values.len().min(1)] } else { &values[..] };
                    Left::Tags(vs.iter().map(|v| (k.clone(), v.clone())).collect())
                }
                _ => Left::ByName,
            }
        }
        Node::Not(inner) => match left(inner, g) {
            Left::Known(b) => Left::Known(!b),
            _ => Left::ByName,
        },
        Node::And(parts) => {
            let mut rest = Vec::new();
            for p in parts {
                match left(p, g) {
                    Left::Known(false) => return Left::Known(false),
                    Left::Known(true) => {}
                    other => rest.push(other),
                }
            }
            match rest.len() {
                0 => Left::Known(true),
                // Two tag conditions at once would need both in one
                // statement: said by name instead.
                1 => rest.pop().unwrap_or(Left::ByName),
                _ => Left::ByName,
            }
        }
        Node::Or(parts) => {
            let mut tags = Vec::new();
            let mut by_name = false;
            for p in parts {
                match left(p, g) {
                    Left::Known(true) => return Left::Known(true),
                    Left::Known(false) => {}
                    Left::Tags(t) => tags.extend(t),
                    Left::ByName => by_name = true,
                }
            }
            if by_name {
                Left::ByName
            } else if tags.is_empty() {
                Left::Known(false)
            } else {
                tags.sort();
                tags.dedup();
                Left::Tags(tags)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;

    fn reach(q: &str, resource_type: &str, permission: &str) -> Option<Vec<String>> {
        let empty = BTreeMap::new();
        let p = PermissionFacts { id: permission, name: permission, status: "active", risk_level: "low", tags: &empty, context: &empty };
        let g = Grant { integration: "acct", integration_kind: "aws-account", resource_type, resource_status: "active", permission: p };
        q.parse::<Query>().unwrap().reach(&g).map(|v| v.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_query_that_reads_only_the_grant_and_tags_compiles_to_selectors() {
        let s = |v: &[&str]| Some(v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>());
        assert_eq!(reach(r#"resource_type = "aws-account-s3-bucket""#, "s3_bucket", "read_only"), s(&["*"]));
        assert_eq!(reach(r#"resource_type = "aws-account-s3-bucket""#, "sqs_queue", "send"), s(&[]), "another type: nothing");
        assert_eq!(reach(r#"integration = "acct" and permission = "read_only""#, "s3_bucket", "read_only"), s(&["*"]));
        assert_eq!(reach(r#"integration = "other""#, "s3_bucket", "read_only"), s(&[]));
        assert_eq!(
            reach(r#"resource_type = "s3_bucket" and resource_tag["team"] = "payments" and resource_status = "active""#, "s3_bucket", "read_only"),
            s(&["tag:team=payments"])
        );
        assert_eq!(reach(r#"resource_tag["env"] in ("prod", "stage") or resource_tag["team"] = "pay""#, "s3_bucket", "read_only"), s(&["tag:env=prod", "tag:env=stage", "tag:team=pay"]));
        // A permission-level test decides per grant.
        let q = r#"resource_tag["team"] = "pay" and permission_risk_level in ("low")"#;
        assert_eq!((reach(q, "s3_bucket", "read_only"), reach(&q.replace("low", "high"), "s3_bucket", "read_only")), (s(&["tag:team=pay"]), s(&[])));
        // `not` of what the grant decides is decided.
        assert_eq!(reach(r#"not resource_type = "secret""#, "s3_bucket", "read_only"), s(&["*"]));
    }

    #[test]
    fn what_only_names_can_say_stays_by_name() {
        for q in [
            r#"resource_name contains "prod""#,
            r#"resource_tag["team"] != "payments""#,
            r#"not resource_tag["team"] = "payments""#,
            r#"resource_tag["team"] contains "pay""#,
            r#"resource_tag["team"] = "pay" and resource_tag["env"] = "prod""#,
            r#"resource_tag["team"] = "pay" or resource_name = "x""#,
            r#"resource_context["region"] = "us-east-1""#,
            r#"resource_risk_level = "high""#,
            // A tag value IAM could read as a policy variable or a wildcard.
            r#"resource_tag["team"] = "${aws:username}""#,
            r#"resource_tag["team"] = "pay*""#,
            r#"resource_tag["aws:cloudformation:stack-name"] = "x""#,
        ] {
            assert_eq!(reach(q, "s3_bucket", "read_only"), None, "{q}");
        }
        // Decided false before the by-name part matters: nothing.
        assert_eq!(reach(r#"resource_type = "secret" and resource_name = "x""#, "s3_bucket", "read_only"), Some(vec![]));
    }
}
