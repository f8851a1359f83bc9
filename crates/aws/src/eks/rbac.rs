//! What a grant puts in a cluster, as Kubernetes objects: pure, no I/O.
//!
//! A grant is one binding per resource to a ClusterRole — a
//! ClusterRoleBinding for the cluster, a RoleBinding in each namespace —
//! or, for one kind of object in a namespace (`pods`, `deployments.apps`),
//! a Role allowing that kind alone and the RoleBinding to it. The subject is
//! the grantee's Kubernetes user as the cluster's mapping names it. Every
//! object is named after the grant's login (unique per grant), labelled as
//! Sesame's with that login, and annotated with its deadline: revoke
//! deletes what carries the login, the reconciler what no grant explains,
//! and the connector what is past its deadline, on its own.
//!
//! Every name that reaches a URL or a label is checked here against
//! Kubernetes' own rules first.

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sesame_core::Timestamp;
use sesame_integrations::IntegrationError;
use sesame_proto::PermissionInfo;
use std::collections::BTreeMap;

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const SESAME: &str = "sesame";
/// The grant's login: what revoke and the reconciler select by.
pub const LOGIN: &str = "sesame.dev/login";
/// The deadline (RFC 3339): what the connector's own expiry reads.
pub const EXPIRES_AT: &str = "sesame.dev/expires-at";
/// Who the grant is for (for people reading the cluster).
pub const REQUESTER: &str = "sesame.dev/requester";

pub const CLUSTER: &str = "cluster";
pub const NAMESPACE: &str = "namespace";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Kubernetes' built-in user-facing ClusterRoles, always offered.
pub const BUILT_IN_ROLES: [(&str, &str, &str); 4] =
    [("view", "View", "low"), ("edit", "Edit", "medium"), ("admin", "Admin", "high"), ("cluster-admin", "Cluster admin", "critical")];

/// What a grant on one kind of object allows.
pub const KIND_PERMISSIONS: [(&str, &str, &str, &[&str]); 2] = [
    ("view", "View", "low", &["get", "list", "watch"]),
    ("edit", "Edit", "medium", &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]),
];

/// The ClusterRoles a cluster or namespace grant may bind: the built-in
/// ones, then those found in the cluster (never Kubernetes' `system:` roles).
pub fn role_permissions(found: &[String]) -> Vec<PermissionInfo> {
    let mut out: Vec<PermissionInfo> = BUILT_IN_ROLES
        .iter()
        .map(|(id, name, risk)| PermissionInfo { id: (*id).into(), name: (*name).into(), risk_level: Some((*risk).into()), selectable: false })
        .collect();
    for r in found {
        if bindable_role(r) && !out.iter().any(|p| &p.id == r) {
            out.push(PermissionInfo { id: r.clone(), name: r.clone(), risk_level: None, selectable: false });
        }
    }
    out
}

pub fn kind_permissions() -> Vec<PermissionInfo> {
    KIND_PERMISSIONS
        .iter()
        .map(|(id, name, risk, _)| PermissionInfo { id: (*id).into(), name: (*name).into(), risk_level: Some((*risk).into()), selectable: false })
        .collect()
}

/// A ClusterRole Sesame may bind: a valid name, and not one of the
/// `system:` roles Kubernetes keeps for its own components.
pub fn bindable_role(name: &str) -> bool {
    path_segment(name) && !name.starts_with("system:")
}

/// Kubernetes' rule for most object names (a path segment): not `.` or
/// `..`, no `/` or `%`, at most 253 bytes.
fn path_segment(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s != "." && s != ".." && !s.contains(['/', '%']) && !s.chars().any(char::is_control)
}

/// RFC 1123 label (namespace names): `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 63.
pub fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain (API group names): labels joined by `.`, ≤ 253.
fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(dns_label)
}

/// A namespaced kind as a resource type: `plural` (core group) or
/// `plural.group`, as `kubectl` spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub group: String,
    pub plural: String,
}

impl Kind {
    pub fn parse(t: &str) -> Option<Kind> {
        let (plural, group) = t.split_once('.').unwrap_or((t, ""));
        (dns_label(plural) && (group.is_empty() || dns_subdomain(group))).then(|| Kind { group: group.into(), plural: plural.into() })
    }

    pub fn type_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

fn invalid(m: String) -> IntegrationError {
    IntegrationError::Invalid(m)
}

/// The object name of a grant's objects: its login with `_` as `-` (a
/// login is `[a-z0-9_]`, so two logins never share a name).
pub fn object_name(login: &str) -> Result<String, IntegrationError> {
    let ok = (1..=63).contains(&login.len()) && login.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let name = login.replace('_', "-");
    if !ok || !dns_label(&name) {
        return Err(invalid(format!("the login `{}` cannot name Kubernetes objects: it must be 1 to 63 of [a-z0-9_], not starting or ending with `_`", login.escape_debug())));
    }
    Ok(name)
}

/// One object a grant makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    ClusterRoleBinding(ClusterRoleBinding),
    RoleBinding(RoleBinding),
    Role(Role),
}

impl Object {
    pub fn describe(&self) -> String {
        let (kind, m) = match self {
            Object::ClusterRoleBinding(o) => ("ClusterRoleBinding", &o.metadata),
            Object::RoleBinding(o) => ("RoleBinding", &o.metadata),
            Object::Role(o) => ("Role", &o.metadata),
        };
        match &m.namespace {
            Some(ns) => format!("{kind} {ns}/{}", m.name.as_deref().unwrap_or_default()),
            None => format!("{kind} {}", m.name.as_deref().unwrap_or_default()),
        }
    }
}

/// A grant, as what it puts in the cluster needs it.
pub struct Grant<'a> {
    pub cluster: &'a str,
    /// The grant's login (`params.username`).
    pub login: &'a str,
    /// The grantee's Kubernetes user (the binding's subject).
    pub user: &'a str,
    pub requester: &'a str,
    pub resource_type: &'a str,
    pub resources: &'a [String],
    pub permission: &'a str,
    pub valid_until: Timestamp,
}

/// Every object `g` makes, checked: the cluster is this one, namespaces and
/// kinds are Kubernetes names, the permission is one this type offers.
pub fn objects(g: &Grant) -> Result<Vec<Object>, IntegrationError> {
    let name = object_name(g.login)?;
    if g.resources.is_empty() {
        return Err(invalid("a grant names at least one resource".into()));
    }
    let meta = |namespace: Option<&str>| ObjectMeta {
        name: Some(name.clone()),
        namespace: namespace.map(str::to_owned),
        labels: Some(BTreeMap::from([(MANAGED_BY.to_owned(), SESAME.to_owned()), (LOGIN.to_owned(), g.login.to_owned())])),
        annotations: Some(BTreeMap::from([
            (EXPIRES_AT.to_owned(), sesame_core::time::rfc3339(g.valid_until)),
            (REQUESTER.to_owned(), g.requester.to_owned()),
        ])),
        ..Default::default()
    };
    let subjects = Some(vec![Subject { kind: "User".into(), api_group: Some(RBAC_GROUP.into()), name: g.user.to_owned(), namespace: None }]);
    let role_ref = |kind: &str, role: &str| RoleRef { api_group: RBAC_GROUP.into(), kind: kind.into(), name: role.to_owned() };
    let namespaces = || -> Result<Vec<&str>, IntegrationError> {
        let mut out: Vec<&str> = Vec::new();
        for ns in g.resources {
            if !dns_label(ns) {
                return Err(invalid(format!("`{}` is not a namespace name (RFC 1123: lower-case letters, digits and `-`, at most 63)", ns.escape_debug())));
            }
            if !out.contains(&ns.as_str()) {
                out.push(ns);
            }
        }
        Ok(out)
    };
    match g.resource_type {
        CLUSTER => {
            if g.resources.iter().any(|r| r != g.cluster) {
                return Err(invalid(format!("this integration's cluster is `{}`", g.cluster)));
            }
            if !bindable_role(g.permission) {
                return Err(invalid(format!("`{}` is not a ClusterRole Sesame binds", g.permission.escape_debug())));
            }
            Ok(vec![Object::ClusterRoleBinding(ClusterRoleBinding { metadata: meta(None), role_ref: role_ref("ClusterRole", g.permission), subjects })])
        }
        NAMESPACE => {
            if !bindable_role(g.permission) {
                return Err(invalid(format!("`{}` is not a ClusterRole Sesame binds", g.permission.escape_debug())));
            }
            Ok(namespaces()?
                .into_iter()
                .map(|ns| Object::RoleBinding(RoleBinding { metadata: meta(Some(ns)), role_ref: role_ref("ClusterRole", g.permission), subjects: subjects.clone() }))
                .collect())
        }
        t => {
            let kind = Kind::parse(t).ok_or_else(|| invalid(format!("`{}` is not a resource type of EKS integrations", t.escape_debug())))?;
            let verbs = KIND_PERMISSIONS
                .iter()
                .find(|(id, ..)| *id == g.permission)
                .map(|(.., verbs)| verbs.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>())
                .ok_or_else(|| invalid(format!("`{}` on {t}: use view or edit", g.permission.escape_debug())))?;
            let mut out = Vec::new();
            for ns in namespaces()? {
                let rule = PolicyRule { api_groups: Some(vec![kind.group.clone()]), resources: Some(vec![kind.plural.clone()]), verbs: verbs.clone(), ..Default::default() };
                out.push(Object::Role(Role { metadata: meta(Some(ns)), rules: Some(vec![rule]) }));
                out.push(Object::RoleBinding(RoleBinding { metadata: meta(Some(ns)), role_ref: role_ref("Role", &name), subjects: subjects.clone() }));
            }
            Ok(out)
        }
    }
}

/// Is an object annotated with `expires_at` past its deadline at `now`? An
/// object of Sesame's without a readable deadline is treated as expired:
/// nothing Sesame grants lasts for ever.
pub fn expired(expires_at: Option<&str>, now: Timestamp) -> bool {
    match expires_at.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()) {
        Some(t) => t.timestamp_millis() <= now.millis(),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn grant<'a>(t: &'a str, resources: &'a [String], permission: &'a str) -> Grant<'a> {
        Grant {
            cluster: "prod",
            login: "sesame_alice_k3x9",
            user: "apono:alice@example.com",
            requester: "alice@example.com",
            resource_type: t,
            resources,
            permission,
            valid_until: Timestamp(1_800_000_000_000),
        }
    }

    #[test]
    fn a_grant_makes_bindings_named_labelled_and_annotated() {
        let cluster = objects(&grant(CLUSTER, &["prod".into()], "view")).unwrap();
        let Object::ClusterRoleBinding(b) = &cluster[0] else { panic!("{cluster:?}") };
        assert_eq!(b.metadata.name.as_deref(), Some("sesame-alice-k3x9"));
        assert_eq!(b.metadata.labels.as_ref().unwrap()[LOGIN], "sesame_alice_k3x9");
        assert_eq!(b.metadata.labels.as_ref().unwrap()[MANAGED_BY], "sesame");
        assert_eq!(b.metadata.annotations.as_ref().unwrap()[EXPIRES_AT], "2027-01-15T08:00:00Z");
        assert_eq!(b.role_ref.name, "view");
        assert_eq!(b.subjects.as_ref().unwrap()[0].name, "apono:alice@example.com");

        let ns = objects(&grant(NAMESPACE, &["payments".into(), "web".into(), "payments".into()], "edit")).unwrap();
        assert_eq!(ns.iter().map(Object::describe).collect::<Vec<_>>(), ["RoleBinding payments/sesame-alice-k3x9", "RoleBinding web/sesame-alice-k3x9"]);

        let kind = objects(&grant("deployments.apps", &["payments".into()], "view")).unwrap();
        let [Object::Role(role), Object::RoleBinding(rb)] = kind.as_slice() else { panic!("{kind:?}") };
        let rule = &role.rules.as_ref().unwrap()[0];
        assert_eq!((rule.api_groups.clone().unwrap(), rule.resources.clone().unwrap()), (vec!["apps".to_owned()], vec!["deployments".to_owned()]));
        assert_eq!(rule.verbs, ["get", "list", "watch"]);
        assert_eq!((rb.role_ref.kind.as_str(), rb.role_ref.name.as_str()), ("Role", "sesame-alice-k3x9"));
        let core = objects(&grant("secrets", &["payments".into()], "edit")).unwrap();
        let Object::Role(role) = &core[0] else { panic!() };
        assert_eq!(role.rules.as_ref().unwrap()[0].api_groups.clone().unwrap(), [""]);
    }

    #[test]
    fn hostile_names_are_refused_before_anything_is_made() {
        let bad = [
            (CLUSTER, "other-cluster", "view"),
            (CLUSTER, "prod", "system:masters"),
            (CLUSTER, "prod", "../../api"),
            (NAMESPACE, "../kube-system", "view"),
            (NAMESPACE, "kube-system/rolebindings", "view"),
            (NAMESPACE, "Payments", "view"),
            (NAMESPACE, "payments?dryRun=All", "view"),
            (NAMESPACE, "web", "admin%2F"),
            ("pods/exec", "web", "view"),
            ("pods", "web", "cluster-admin"),
            ("../secrets", "web", "view"),
        ];
        for (t, r, p) in bad {
            let rs = [r.to_owned()];
            assert!(matches!(objects(&grant(t, &rs, p)), Err(IntegrationError::Invalid(_))), "{t} {r} {p}");
        }
        let rs = ["web".to_owned()];
        for login in ["Alice", "sesame-x", "_x", "x_", "", &"a".repeat(64)] {
            let g = Grant { login, ..grant(NAMESPACE, &rs, "view") };
            assert!(objects(&g).is_err(), "{login}");
        }
        assert!(objects(&grant(NAMESPACE, &[], "view")).is_err(), "no resource");
    }

    #[test]
    fn permissions_and_deadlines() {
        let p = role_permissions(&["view".into(), "system:aggregate-to-view".into(), "payments-reader".into()]);
        assert_eq!(p.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["view", "edit", "admin", "cluster-admin", "payments-reader"]);
        assert_eq!(Kind::parse("deployments.apps").unwrap().type_name(), "deployments.apps");
        assert_eq!(Kind::parse("pods").unwrap(), Kind { group: String::new(), plural: "pods".into() });
        let now = Timestamp(1_800_000_000_000);
        assert!(expired(Some("2027-01-15T08:00:00Z"), now), "at the deadline");
        assert!(!expired(Some("2027-01-15T08:00:01Z"), now));
        assert!(expired(Some("soon"), now) && expired(None, now), "no readable deadline: expired");
    }
}
