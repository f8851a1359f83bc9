//! Bundles (the seed's `apono_bundle_v2`): a named set of access targets —
//! integration targets and access scopes; bundles do not nest. A request for
//! a bundle is one request of several grants, approved together and granted
//! or rolled back together.

use crate::flow::{in_scopes, RequestedResource, ResourceScope, ScopeBy};
use crate::policy::Selector;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub name: String,
    pub targets: Vec<BundleTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleTarget {
    /// These permissions on the resources of one type of one integration
    /// that the scopes select (every resource of the type without scopes).
    Integration { integration: String, resource_type: String, permissions: Vec<String>, scopes: Vec<ResourceScope> },
    /// What an access scope selects, permissions included.
    Scope { name: String },
}

/// One grant of a bundle request: a permission on resources of one type of
/// one integration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Part {
    pub integration: String,
    pub resource_type: String,
    pub permission: String,
    pub resources: Vec<String>,
}

/// The grants an integration target asks for, given the resources of its
/// type the inventory holds: one per permission, with the resources its
/// scopes select; none when they select nothing.
pub fn integration_parts(integration: &str, resource_type: &str, permissions: &[String], scopes: &[ResourceScope], inventory: &[RequestedResource]) -> Vec<Part> {
    let resources: Vec<String> = inventory.iter().filter(|r| in_scopes(scopes, r)).map(|r| r.id.clone()).collect();
    if resources.is_empty() {
        return vec![];
    }
    permissions
        .iter()
        .map(|p| Part { integration: integration.to_owned(), resource_type: resource_type.to_owned(), permission: p.clone(), resources: resources.clone() })
        .collect()
}

/// The selectors that grant what an integration target's scopes select,
/// when a target that selects by tag can say it itself: `*` without scopes,
/// one `tag:KEY=VALUE` per value of include-by-tag scopes. `None` when a
/// scope names resources or excludes some: then they are granted by name.
pub fn target_selectors(scopes: &[ResourceScope]) -> Option<Vec<Selector>> {
    if scopes.is_empty() {
        return Some(vec![Selector::Any]);
    }
    let mut out = Vec::new();
    for s in scopes {
        match &s.by {
            ScopeBy::Tag { key } if s.include => {
                for v in &s.values {
                    out.push(Selector::of_tag(key, v)?);
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Access units (integration, type, resource, permission) — what a scope
/// selects — gathered into grants, one per integration, type and
/// permission; parts asking for the same grant are merged, each resource
/// once.
pub fn merge(parts: impl IntoIterator<Item = Part>) -> Vec<Part> {
    let mut by: std::collections::BTreeMap<(String, String, String), Vec<String>> = std::collections::BTreeMap::new();
    for p in parts {
        let rs = by.entry((p.integration, p.resource_type, p.permission)).or_default();
        for r in p.resources {
            if !rs.contains(&r) {
                rs.push(r);
            }
        }
    }
    by.into_iter().map(|((integration, resource_type, permission), resources)| Part { integration, resource_type, permission, resources }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(id: &str, team: &str) -> RequestedResource {
        RequestedResource { id: id.into(), name: id.rsplit('/').next().unwrap_or(id).into(), tags: [("team".to_string(), team.to_string())].into(), selector: false }
    }

    #[test]
    fn an_integration_target_asks_each_permission_on_what_its_scopes_select() {
        let inv = [res("db/public/orders", "pay"), res("db/public/users", "id"), res("db/public/refunds", "pay")];
        let by_tag = [ResourceScope { include: true, by: ScopeBy::Tag { key: "team".into() }, values: vec!["pay".into()] }];
        let parts = integration_parts("pg", "table", &["read_only".into(), "read_write".into()], &by_tag, &inv);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].resources, ["db/public/orders", "db/public/refunds"]);
        assert_eq!((parts[1].permission.as_str(), parts[1].resources.len()), ("read_write", 2));
        // No scope: every resource of the type; a scope selecting nothing: no grant.
        assert_eq!(integration_parts("pg", "table", &["read_only".into()], &[], &inv)[0].resources.len(), 3);
        let none = [ResourceScope { include: true, by: ScopeBy::Name, values: vec!["nope".into()] }];
        assert!(integration_parts("pg", "table", &["read_only".into()], &none, &inv).is_empty());
    }

    #[test]
    fn parts_for_the_same_grant_merge_with_each_resource_once() {
        let p = |perm: &str, rs: &[&str]| Part { integration: "pg".into(), resource_type: "table".into(), permission: perm.into(), resources: rs.iter().map(|s| s.to_string()).collect() };
        let merged = merge([p("read_only", &["a", "b"]), p("read_write", &["a"]), p("read_only", &["b", "c"])]);
        assert_eq!(merged, [p("read_only", &["a", "b", "c"]), p("read_write", &["a"])]);
    }

    #[test]
    fn a_target_by_tag_or_of_every_resource_is_its_own_selector() {
        let tag = |include: bool, values: &[&str]| ResourceScope { include, by: ScopeBy::Tag { key: "team".into() }, values: values.iter().map(|v| (*v).to_owned()).collect() };
        assert_eq!(target_selectors(&[]), Some(vec![Selector::Any]));
        assert_eq!(
            target_selectors(&[tag(true, &["pay", "ops"])]),
            Some(vec![Selector::of_tag("team", "pay").unwrap(), Selector::of_tag("team", "ops").unwrap()])
        );
        assert_eq!(target_selectors(&[tag(true, &["pay"]), tag(false, &["ops"])]), None, "an exclusion is said by name");
        assert_eq!(target_selectors(&[ResourceScope { include: true, by: ScopeBy::Name, values: vec!["a".into()] }]), None);
        assert_eq!(target_selectors(&[tag(true, &["pay*"])]), None, "a value IAM would read as a wildcard");
    }
}
