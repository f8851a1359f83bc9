//! What an access scope selects from the stored inventory now: every
//! integration's resources, read as AQL facts, with the permissions their
//! integration offers for their type.

use crate::state::AppState;
use sesame_core::aql::{Grant, Inventory, PermissionFacts, PermissionSet, Query, ResourceFacts};
use sesame_core::bundle::{self, Part};
use sesame_proto::ScopeUnit;
use sesame_store::StoredResource;
use std::collections::BTreeMap;

/// A stored resource's metadata split the way AQL reads it: `tag:k` entries
/// are its tags, the rest its context; region and account come from the ARN
/// when discovery did not name them.
pub fn tags_and_context(r: &StoredResource) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut tags = BTreeMap::new();
    let mut context = BTreeMap::new();
    for (k, v) in &r.metadata {
        match k.strip_prefix("tag:") {
            Some(t) => tags.insert(t.to_owned(), v.clone()),
            None => context.insert(k.clone(), v.clone()),
        };
    }
    // A resource's risk level: what discovery said, or its `risk_level`
    // (or `risk-level`) tag when that names a level (word or the seed's 1-4).
    if !context.contains_key("risk_level") {
        let tagged = ["risk_level", "risk-level"].iter().find_map(|k| tags.get(*k)).and_then(|v| level(v));
        if let Some(l) = tagged {
            context.insert("risk_level".into(), l.to_owned());
        }
    }
    if let Some(arn) = context.get("arn").cloned() {
        let mut parts = arn.split(':');
        let (region, account) = (parts.nth(3).unwrap_or_default(), parts.next().unwrap_or_default());
        for (k, v) in [("region", region), ("account", account)] {
            if !v.is_empty() {
                context.entry(k.to_owned()).or_insert_with(|| v.to_owned());
            }
        }
    }
    (tags, context)
}

const LEVELS: [&str; 4] = ["low", "medium", "high", "critical"];

/// A risk level as people write it: a word in any case, or the seed's 1-4.
fn level(v: &str) -> Option<&'static str> {
    let v = v.trim().to_ascii_lowercase();
    LEVELS.iter().position(|l| *l == v).or_else(|| v.parse::<usize>().ok().filter(|n| (1..=4).contains(n)).map(|n| n - 1)).map(|i| LEVELS[i])
}

/// The risk of a resource nothing rated: the highest risk of what can be
/// granted on it (the permissions its integration offers for its type).
pub fn type_risk(permissions: &[sesame_proto::PermissionInfo]) -> &'static str {
    permissions.iter().filter_map(|p| p.risk_level.as_deref().and_then(level)).max_by_key(|l| LEVELS.iter().position(|x| x == l)).unwrap_or("")
}

/// A stored resource as AQL reads it: its path and source id from its
/// context when discovery named them, its id otherwise; its risk level as
/// rated, or `fallback_risk`.
fn facts<'a>(integration: &'a str, kind: &'a str, r: &'a StoredResource, tags: &'a BTreeMap<String, String>, context: &'a BTreeMap<String, String>, fallback_risk: &'a str) -> ResourceFacts<'a> {
    ResourceFacts {
        integration,
        integration_kind: kind,
        resource_type: &r.resource_type,
        id: &r.id,
        name: &r.name,
        path: context.get("path").map_or(r.id.as_str(), String::as_str),
        source_id: context.get("arn").map_or(r.id.as_str(), String::as_str),
        status: "active",
        risk_level: context.get("risk_level").map_or(fallback_risk, String::as_str),
        tags,
        context,
    }
}

/// Of `names`, the access scopes that select every requested unit: each
/// found resource with `permission`. A scope that does not exist, or does
/// not parse, selects nothing.
pub async fn selecting(
    st: &AppState,
    names: &[String],
    integration: &str,
    kind: &str,
    resources: &[StoredResource],
    permission: &sesame_proto::PermissionInfo,
) -> Result<Vec<String>, sesame_store::StoreError> {
    let empty = BTreeMap::new();
    let risk = permission.risk_level.as_deref().unwrap_or_default();
    let p = PermissionFacts { id: &permission.id, name: &permission.name, status: "active", risk_level: risk, tags: &empty, context: &empty };
    let mut out = Vec::new();
    let offer = st.integration(integration).map(|i| i.descriptor().clone());
    for name in names {
        let Some(q) = st.store.scope(name).await?.and_then(|row| row.query.parse::<Query>().ok()) else { continue };
        let all = resources.iter().all(|r| {
            let (tags, context) = tags_and_context(r);
            let fallback = offer.as_ref().map_or("", |o| type_risk(o.permissions(&r.resource_type)));
            q.matches(&facts(integration, kind, r, &tags, &context, fallback), &p)
        });
        if all && !resources.is_empty() {
            out.push(name.clone());
        }
    }
    Ok(out)
}

/// Every access unit of the inventory the query selects, by integration,
/// resource type, resource and permission: the stored inventory laid out in
/// columns (as `sesame bench scopes` measures), then the query over it.
pub async fn units(st: &AppState, q: &Query) -> Result<Vec<ScopeUnit>, sesame_store::StoreError> {
    let empty = BTreeMap::new();
    let mut index = Inventory::new();
    for name in st.integration_names() {
        let Some(integ) = st.integration(&name) else { continue };
        let d = integ.descriptor();
        let kind = d.kind.as_str();
        let sets: BTreeMap<&str, PermissionSet> = d
            .resource_types
            .iter()
            .map(|t| {
                let facts: Vec<PermissionFacts<'_>> =
                    t.permissions
                        .iter()
                        .map(|p| PermissionFacts { id: &p.id, name: &p.name, status: "active", risk_level: p.risk_level.as_deref().unwrap_or_default(), tags: &empty, context: &empty })
                        .collect();
                (t.name.as_str(), index.permission_set(&facts))
            })
            .collect();
        let none = index.permission_set(&[]);
        for r in st.store.list_inventory(&name, None).await? {
            let (tags, context) = tags_and_context(&r);
            let fallback = type_risk(d.permissions(&r.resource_type));
            index.push(&facts(&name, kind, &r, &tags, &context, fallback), sets.get(r.resource_type.as_str()).copied().unwrap_or(none));
        }
    }
    Ok(index
        .select(q)
        .into_iter()
        .map(|u| {
            let (row, permission) = index.unit(u);
            ScopeUnit {
                integration: index.integration(row).to_owned(),
                resource_type: index.resource_type(row).to_owned(),
                resource: index.resource_id(row).to_owned(),
                resource_name: index.resource_name(row).to_owned(),
                permission: permission.to_owned(),
            }
        })
        .collect())
}

/// A query as an admin wrote it: parsed, or why not (line and column).
pub fn parse_query(query: &str) -> Result<Query, crate::error::ApiError> {
    query.parse().map_err(|e| crate::error::ApiError::new(sesame_proto::ErrorCode::InvalidQuery, format!("the query does not parse: {e}")))
}

/// A scope's name: what people type and read; no control characters.
pub fn check_name(name: &str) -> Result<(), crate::error::ApiError> {
    if name.trim().is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) || name.trim() != name {
        return Err(crate::error::ApiError::new(
            sesame_proto::ErrorCode::BadRequest,
            "a scope's name is 1 to 128 characters, without control characters or surrounding spaces: choose another",
        ));
    }
    Ok(())
}

/// What the query selects, as grants (one per integration, type and
/// permission): by name, or — where the integration grants on selected
/// resources and the query says which by itself (every resource of the
/// type, or a tag) — by selector, so the grant is one compact statement
/// that follows the inventory as the scope does.
pub async fn grants(st: &AppState, q: &Query) -> Result<Vec<Part>, sesame_store::StoreError> {
    let units = units(st, q).await?;
    let mut parts = bundle::merge(units.into_iter().map(|u| Part { integration: u.integration, resource_type: u.resource_type, permission: u.permission, resources: vec![u.resource] }));
    let empty = BTreeMap::new();
    for p in &mut parts {
        let Some(integ) = st.integration(&p.integration).filter(|_| selectable(st, p)) else { continue };
        let d = integ.descriptor();
        let Some(perm) = d.permissions(&p.resource_type).iter().find(|x| x.id == p.permission) else { continue };
        let facts = PermissionFacts { id: &perm.id, name: &perm.name, status: "active", risk_level: perm.risk_level.as_deref().unwrap_or_default(), tags: &empty, context: &empty };
        let g = Grant { integration: &p.integration, integration_kind: d.kind.as_str(), resource_type: &p.resource_type, resource_status: "active", permission: facts };
        if let Some(sels) = q.reach(&g).filter(|s| !s.is_empty()) {
            p.resources = sels.iter().map(ToString::to_string).collect();
        }
    }
    Ok(parts)
}

/// Whether the part's integration grants its permission on selected
/// resources (`*`, a tag), not only on named ones.
pub fn selectable(st: &AppState, p: &Part) -> bool {
    st.integration(&p.integration).is_some_and(|i| i.descriptor().permissions(&p.resource_type).iter().any(|x| x.id == p.permission && x.selectable))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn tags_and_context_split_the_metadata_and_read_the_arn() {
        let r = sesame_store::StoredResource {
            resource_type: "s3_bucket".into(),
            id: "logs".into(),
            name: "logs".into(),
            metadata: [("tag:env", "prd"), ("arn", "arn:aws:sqs:eu-west-1:123456789012:q"), ("path", "/")].into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        };
        let (tags, context) = super::tags_and_context(&r);
        assert_eq!(tags.get("env").unwrap(), "prd");
        assert_eq!(context.get("region").unwrap(), "eu-west-1");
        assert_eq!(context.get("account").unwrap(), "123456789012");
        assert!(!context.contains_key("tag:env"));
        assert!(!context.contains_key("risk_level"), "nothing rated it");
    }

    #[test]
    fn a_resources_risk_is_rated_by_discovery_by_its_tag_or_by_what_it_grants() {
        let r = |meta: &[(&str, &str)]| sesame_store::StoredResource {
            resource_type: "table".into(),
            id: "db/public/t".into(),
            name: "t".into(),
            metadata: meta.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        };
        let risk = |meta: &[(&str, &str)]| super::tags_and_context(&r(meta)).1.get("risk_level").cloned();
        assert_eq!(risk(&[("risk_level", "medium")]), Some("medium".into()), "discovery's word wins");
        assert_eq!(risk(&[("risk_level", "medium"), ("tag:risk_level", "critical")]), Some("medium".into()));
        assert_eq!(risk(&[("tag:risk_level", "HIGH")]), Some("high".into()));
        assert_eq!(risk(&[("tag:risk-level", "3")]), Some("high".into()), "the seed's numbers");
        assert_eq!(risk(&[("tag:risk_level", "9")]), None, "not a level");
        let p = |id: &str, r: Option<&str>| sesame_proto::PermissionInfo { id: id.into(), name: id.into(), risk_level: r.map(Into::into), selectable: false };
        assert_eq!(super::type_risk(&[p("read_only", Some("low")), p("read_write", Some("high")), p("x", None)]), "high");
        assert_eq!(super::type_risk(&[p("x", None)]), "");
    }
}
