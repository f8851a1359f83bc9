//! A local stand-in for a Kubernetes API server, for the EKS tests (no API
//! server can be installed here). It serves what Sesame's EKS integration
//! calls — discovery, namespaces, ClusterRoles, and RBAC bindings and roles
//! by server-side apply, list by label selector and delete — and checks
//! each request as the real server would: the bearer token, the path, the
//! verb, server-side apply's content type and field manager, object names,
//! labels, that an object's name and namespace match its path, and that a
//! binding's `roleRef` never changes. It also authorizes requests made as
//! a person (`Impersonate-User`, as `kubectl --as`) by RBAC over the
//! bindings it holds, so a test can prove what a grantee can and cannot do.
//! Every request is recorded. Test support: failures panic.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const RBAC: &str = "rbac.authorization.k8s.io";

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The person it was made as (`Impersonate-User`), if any.
    pub as_user: Option<String>,
}

#[derive(Default)]
struct State {
    namespaces: Vec<String>,
    /// ClusterRoles: name → rules.
    cluster_roles: BTreeMap<String, Value>,
    /// (kind, namespace, name) → object; kind is ClusterRoleBinding, RoleBinding or Role.
    objects: BTreeMap<(String, String, String), Value>,
    seen: Vec<Seen>,
    /// Answer 503 to everything (the API server down).
    down: bool,
}

#[derive(Clone)]
pub struct KubeFake {
    pub url: String,
    pub token: String,
    state: Arc<Mutex<State>>,
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

/// Kubernetes' user-facing ClusterRoles, reduced to the kinds the fake serves.
fn built_in_roles() -> BTreeMap<String, Value> {
    let read = ["get", "list", "watch"];
    let write = ["get", "list", "watch", "create", "update", "patch", "delete"];
    BTreeMap::from([
        ("view".into(), json!([rule(&[""], &["pods", "services", "configmaps"], &read), rule(&["apps"], &["deployments"], &read)])),
        (
            "edit".into(),
            json!([rule(&[""], &["pods", "services", "configmaps", "secrets"], &write), rule(&["apps"], &["deployments"], &write)]),
        ),
        (
            "admin".into(),
            json!([
                rule(&[""], &["pods", "services", "configmaps", "secrets"], &write),
                rule(&["apps"], &["deployments"], &write),
                rule(&[RBAC], &["roles", "rolebindings"], &write)
            ]),
        ),
        ("cluster-admin".into(), json!([rule(&["*"], &["*"], &["*"])])),
        ("system:aggregate-to-view".into(), json!([rule(&[""], &["pods"], &read)])),
        ("payments-reader".into(), json!([rule(&[""], &["secrets", "configmaps"], &read)])),
    ])
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code.as_u16()});
    (code, [("content-type", "application/json")], body.to_string()).into_response()
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, [("content-type", "application/json")], v.to_string()).into_response()
}

fn dns_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') && !s.starts_with('-') && !s.ends_with('-')
}

/// Kubernetes' rules for label keys (optional DNS prefix, name ≤ 63) and values (≤ 63).
fn label_ok(k: &str, v: &str) -> bool {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 63
            && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && n.as_bytes()[0].is_ascii_alphanumeric()
            && n.as_bytes()[n.len() - 1].is_ascii_alphanumeric()
    };
    let key_ok = match k.split_once('/') {
        Some((prefix, name)) => prefix.len() <= 253 && prefix.split('.').all(dns_label) && name_ok(name),
        None => name_ok(k),
    };
    key_ok && (v.is_empty() || name_ok(v))
}

/// An equality-based label selector (`k=v,k2=v2`); anything else is refused.
fn parse_selector(s: &str) -> Option<Vec<(String, String)>> {
    s.split(',')
        .map(|term| {
            let (k, v) = term.split_once('=')?;
            (!v.contains('=') && label_ok(k, v)).then(|| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

fn query_of(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

fn matches(labels: &Value, sel: &[(String, String)]) -> bool {
    sel.iter().all(|(k, v)| labels.get(k).and_then(Value::as_str) == Some(v))
}

/// Does one RBAC rule allow `verb` on `group`/`resource`?
fn rule_allows(r: &Value, verb: &str, group: &str, resource: &str) -> bool {
    let has = |field: &str, want: &str| r[field].as_array().is_some_and(|a| a.iter().any(|x| x == "*" || x == want));
    has("verbs", verb) && has("apiGroups", group) && has("resources", resource)
}

impl State {
    fn rules_of(&self, role_ref: &Value, ns: &str) -> Vec<Value> {
        let name = role_ref["name"].as_str().unwrap_or_default();
        let rules = match role_ref["kind"].as_str() {
            Some("ClusterRole") => self.cluster_roles.get(name).cloned(),
            Some("Role") => self.objects.get(&("Role".into(), ns.into(), name.into())).map(|r| r["rules"].clone()),
            _ => None,
        };
        rules.and_then(|r| r.as_array().cloned()).unwrap_or_default()
    }

    /// RBAC as the API server evaluates it, over the bindings held here.
    fn allows(&self, user: &str, verb: &str, group: &str, resource: &str, ns: Option<&str>) -> bool {
        let subject_is = |b: &Value| {
            b["subjects"].as_array().is_some_and(|s| s.iter().any(|s| s["kind"] == "User" && s["name"] == user && s["apiGroup"] == RBAC))
        };
        for ((kind, bns, _), b) in &self.objects {
            let applies = match kind.as_str() {
                "ClusterRoleBinding" => true,
                "RoleBinding" => ns == Some(bns.as_str()),
                _ => false,
            };
            if applies && subject_is(b) && self.rules_of(&b["roleRef"], bns).iter().any(|r| rule_allows(r, verb, group, resource)) {
                return true;
            }
        }
        false
    }
}

impl KubeFake {
    /// Start on a free loopback port with namespaces `default`,
    /// `kube-system`, `payments` and `web`.
    pub async fn start() -> KubeFake {
        let state = State {
            namespaces: ["default", "kube-system", "payments", "web"].map(String::from).to_vec(),
            cluster_roles: built_in_roles(),
            ..Default::default()
        };
        let mut fake = KubeFake { url: String::new(), token: format!("fake-admin-{}", rand::random::<u64>()), state: Arc::new(Mutex::new(state)) };
        let me = fake.clone();
        fake.url = crate::serve(move |method, uri, headers, body| me.handle(method, uri, headers, body)).await;
        fake
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Sesame's objects now: `Kind namespace/name` (or `Kind name`).
    pub fn objects(&self) -> Vec<String> {
        self.state.lock().unwrap().objects.keys().map(|(k, ns, n)| if ns.is_empty() { format!("{k} {n}") } else { format!("{k} {ns}/{n}") }).collect()
    }

    /// One object as stored.
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.state.lock().unwrap().objects.get(&(kind.into(), namespace.into(), name.into())).cloned()
    }

    /// Put an object in as someone else would (not through Sesame).
    pub fn put(&self, kind: &str, namespace: &str, name: &str, v: Value) {
        self.state.lock().unwrap().objects.insert((kind.into(), namespace.into(), name.into()), v);
    }

    /// The API server down (every request answered 503) or back.
    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    /// What `user` may do, as the API server would decide a request made
    /// as them: `verb` on `resource` (`pods`, `deployments.apps`) in `ns`,
    /// or cluster-wide when `ns` is `None`. Asked over HTTP with
    /// `Impersonate-User`, like `kubectl --as USER auth can-i`.
    pub async fn can(&self, user: &str, verb: &str, resource: &str, ns: Option<&str>) -> bool {
        let (plural, group) = resource.split_once('.').unwrap_or((resource, ""));
        let base = if group.is_empty() { "/api/v1".to_owned() } else { format!("/apis/{group}/v1") };
        let path = match ns {
            Some(ns) => format!("{base}/namespaces/{ns}/{plural}"),
            None => format!("{base}/{plural}"),
        };
        let method = if verb == "list" { reqwest::Method::GET } else if verb == "delete" { reqwest::Method::DELETE } else { panic!("can: list or delete") };
        let r = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .header("Impersonate-User", user)
            .send()
            .await
            .expect("the fake API server answers");
        match r.status().as_u16() {
            200 => true,
            403 => false,
            s => panic!("{verb} {path} as {user}: HTTP {s}"),
        }
    }

    fn handle(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let as_user = headers.get("impersonate-user").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut st = self.state.lock().unwrap();
        st.seen.push(Seen { method: method.to_string(), path: uri.path().to_owned(), query: uri.query().unwrap_or_default().to_owned(), as_user: as_user.clone() });
        if st.down {
            return status(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", "the API server is down");
        }
        let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if bearer != Some(self.token.as_str()) {
            return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
        }
        let q = query_of(&uri);
        let path: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
        if let Some(user) = as_user {
            return person(&st, &user, &method, &path);
        }
        match (method.as_str(), path.as_slice()) {
            ("GET", ["version"]) => ok(json!({"major": "1", "minor": "33", "gitVersion": "v1.33.4-eks-fake", "platform": "linux/amd64"})),
            ("GET", ["api", "v1"]) => ok(json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "verbs": ["get", "list", "watch"]},
                {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": ["get", "list", "watch", "create", "delete"]},
                {"name": "pods/exec", "singularName": "", "namespaced": true, "kind": "PodExecOptions", "verbs": ["create", "get"]},
                {"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]},
                {"name": "secrets", "singularName": "secret", "namespaced": true, "kind": "Secret", "verbs": ["get", "list", "watch", "create", "delete"]},
                {"name": "configmaps", "singularName": "configmap", "namespaced": true, "kind": "ConfigMap", "verbs": ["get", "list", "watch", "create", "delete"]},
                {"name": "bindings", "singularName": "binding", "namespaced": true, "kind": "Binding", "verbs": ["create"]},
            ]})),
            ("GET", ["apis"]) => ok(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
                {"name": RBAC, "versions": [{"groupVersion": "rbac.authorization.k8s.io/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "rbac.authorization.k8s.io/v1", "version": "v1"}},
            ]})),
            ("GET", ["apis", "apps", "v1"]) => ok(json!({"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": [
                {"name": "deployments", "singularName": "deployment", "namespaced": true, "kind": "Deployment", "verbs": ["get", "list", "watch", "create", "delete"]},
                {"name": "deployments/scale", "singularName": "", "namespaced": true, "kind": "Scale", "verbs": ["get", "patch"]},
            ]})),
            ("GET", ["apis", RBAC, "v1"]) => ok(json!({"kind": "APIResourceList", "groupVersion": "rbac.authorization.k8s.io/v1", "resources": [
                {"name": "clusterroles", "singularName": "clusterrole", "namespaced": false, "kind": "ClusterRole", "verbs": ["get", "list", "create", "delete", "patch"]},
                {"name": "clusterrolebindings", "singularName": "clusterrolebinding", "namespaced": false, "kind": "ClusterRoleBinding", "verbs": ["get", "list", "create", "delete", "patch"]},
                {"name": "roles", "singularName": "role", "namespaced": true, "kind": "Role", "verbs": ["get", "list", "create", "delete", "patch"]},
                {"name": "rolebindings", "singularName": "rolebinding", "namespaced": true, "kind": "RoleBinding", "verbs": ["get", "list", "create", "delete", "patch"]},
            ]})),
            ("GET", ["api", "v1", "namespaces", ns, "configmaps", name]) => match st.objects.get(&("ConfigMap".to_owned(), ns.to_string(), name.to_string())) {
                Some(o) => ok(o.clone()),
                None => status(StatusCode::NOT_FOUND, "NotFound", &format!("configmaps \"{name}\" not found")),
            },
            ("GET", ["api", "v1", "namespaces"]) => {
                let items: Vec<Value> = st.namespaces.iter().map(|n| json!({"metadata": {"name": n, "labels": {"kubernetes.io/metadata.name": n}}})).collect();
                ok(json!({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": items}))
            }
            ("GET", ["apis", RBAC, "v1", "clusterroles"]) => {
                let items: Vec<Value> = st.cluster_roles.iter().map(|(n, r)| json!({"metadata": {"name": n}, "rules": r})).collect();
                ok(json!({"kind": "ClusterRoleList", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {}, "items": items}))
            }
            ("GET", ["apis", RBAC, "v1", plural]) => list(&st, plural, None, &q),
            ("GET", ["apis", RBAC, "v1", "namespaces", ns, plural]) => list(&st, plural, Some(ns), &q),
            ("PATCH", ["apis", RBAC, "v1", plural, name]) => apply(&mut st, plural, "", name, &headers, &q, &body),
            ("PATCH", ["apis", RBAC, "v1", "namespaces", ns, plural, name]) => apply(&mut st, plural, ns, name, &headers, &q, &body),
            ("DELETE", ["apis", RBAC, "v1", plural, name]) => delete(&mut st, plural, "", name),
            ("DELETE", ["apis", RBAC, "v1", "namespaces", ns, plural, name]) => delete(&mut st, plural, ns, name),
            _ => status(StatusCode::NOT_FOUND, "NotFound", &format!("the server could not find the requested resource ({method} {})", uri.path())),
        }
    }
}

fn kind_of(plural: &str) -> Option<&'static str> {
    Some(match plural {
        "clusterrolebindings" => "ClusterRoleBinding",
        "rolebindings" => "RoleBinding",
        "roles" => "Role",
        _ => return None,
    })
}

fn list(st: &State, plural: &str, ns: Option<&str>, q: &BTreeMap<String, String>) -> Response {
    let Some(kind) = kind_of(plural) else { return status(StatusCode::NOT_FOUND, "NotFound", &format!("no resource {plural}")) };
    if kind == "ClusterRoleBinding" && ns.is_some() {
        return status(StatusCode::NOT_FOUND, "NotFound", "clusterrolebindings are not namespaced");
    }
    let sel = match q.get("labelSelector") {
        Some(s) => match parse_selector(s) {
            Some(sel) => sel,
            None => return status(StatusCode::BAD_REQUEST, "BadRequest", &format!("unable to parse requirement: {s}")),
        },
        None => vec![],
    };
    let items: Vec<Value> = st
        .objects
        .iter()
        .filter(|((k, ons, _), o)| k == kind && ns.is_none_or(|n| n == ons) && matches(&o["metadata"]["labels"], &sel))
        .map(|(_, o)| o.clone())
        .collect();
    ok(json!({"kind": format!("{kind}List"), "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"resourceVersion": "1"}, "items": items}))
}

fn apply(st: &mut State, plural: &str, ns: &str, name: &str, headers: &HeaderMap, q: &BTreeMap<String, String>, body: &[u8]) -> Response {
    let bad = |m: String| status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", &m);
    let Some(kind) = kind_of(plural) else { return status(StatusCode::NOT_FOUND, "NotFound", &format!("no resource {plural}")) };
    if (kind == "ClusterRoleBinding") != ns.is_empty() {
        return status(StatusCode::NOT_FOUND, "NotFound", &format!("{plural} in the wrong scope"));
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/apply-patch+yaml") {
        return status(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", "server-side apply wants application/apply-patch+yaml");
    }
    if q.get("fieldManager").map(String::as_str) != Some("sesame") || q.get("force").map(String::as_str) != Some("true") {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "Sesame applies with fieldManager=sesame and force=true");
    }
    if !ns.is_empty() && !st.namespaces.iter().any(|n| n == ns) {
        return status(StatusCode::NOT_FOUND, "NotFound", &format!("namespaces \"{ns}\" not found"));
    }
    let Ok(o) = serde_json::from_slice::<Value>(body) else { return status(StatusCode::BAD_REQUEST, "BadRequest", "the body is not JSON") };
    if o["apiVersion"] != "rbac.authorization.k8s.io/v1" || o["kind"] != kind {
        return bad(format!("apiVersion/kind must be rbac.authorization.k8s.io/v1 {kind}, got {} {}", o["apiVersion"], o["kind"]));
    }
    let m = &o["metadata"];
    if m["name"] != name || !dns_label(name) {
        return bad(format!("metadata.name {} must be the path's {name} and a valid name", m["name"]));
    }
    if m["namespace"].as_str().unwrap_or_default() != ns {
        return bad(format!("metadata.namespace {} does not match the path's {ns:?}", m["namespace"]));
    }
    if let Some(labels) = m["labels"].as_object() {
        if let Some((k, v)) = labels.iter().find(|(k, v)| !v.as_str().is_some_and(|v| label_ok(k, v))) {
            return bad(format!("metadata.labels: invalid label {k}={v}"));
        }
    }
    if kind == "Role" {
        if !o["rules"].as_array().is_some_and(|r| r.iter().all(|r| r["verbs"].is_array() && r["apiGroups"].is_array() && r["resources"].is_array())) {
            return bad("rules: each rule needs verbs, apiGroups and resources".into());
        }
    } else {
        let rr = &o["roleRef"];
        let want_kind = if kind == "ClusterRoleBinding" { &["ClusterRole"][..] } else { &["ClusterRole", "Role"][..] };
        if rr["apiGroup"] != RBAC || !want_kind.iter().any(|k| rr["kind"] == *k) || !rr["name"].is_string() {
            return bad(format!("roleRef {rr} is not valid for a {kind}"));
        }
        if !o["subjects"].as_array().is_some_and(|s| !s.is_empty() && s.iter().all(|s| s["kind"] == "User" && s["apiGroup"] == RBAC && s["name"].is_string())) {
            return bad(format!("subjects {} must be users of {RBAC}", o["subjects"]));
        }
        if let Some(old) = st.objects.get(&(kind.into(), ns.into(), name.into())) {
            if old["roleRef"] != *rr {
                return bad("roleRef: Invalid value: cannot change roleRef".into());
            }
        }
    }
    st.objects.insert((kind.into(), ns.into(), name.into()), o.clone());
    ok(o)
}

fn delete(st: &mut State, plural: &str, ns: &str, name: &str) -> Response {
    let Some(kind) = kind_of(plural) else { return status(StatusCode::NOT_FOUND, "NotFound", &format!("no resource {plural}")) };
    match st.objects.remove(&(kind.into(), ns.into(), name.into())) {
        Some(_) => ok(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 200})),
        None => status(StatusCode::NOT_FOUND, "NotFound", &format!("{plural} \"{name}\" not found")),
    }
}

/// A request made as a person: allowed by RBAC over the bindings held, or 403.
fn person(st: &State, user: &str, method: &Method, path: &[&str]) -> Response {
    let verb = match method.as_str() {
        "GET" => "list",
        "DELETE" => "delete",
        m => return status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", &format!("the fake serves people GET and DELETE, not {m}")),
    };
    let (group, ns, resource) = match path {
        ["api", "v1", "namespaces", ns, r] => ("", Some(*ns), *r),
        ["api", "v1", r] => ("", None, *r),
        ["apis", g, "v1", "namespaces", ns, r] => (*g, Some(*ns), *r),
        ["apis", g, "v1", r] => (*g, None, *r),
        _ => return status(StatusCode::NOT_FOUND, "NotFound", "not served to people by the fake"),
    };
    if st.allows(user, verb, group, resource, ns) {
        ok(json!({"kind": "List", "apiVersion": "v1", "metadata": {}, "items": []}))
    } else {
        let where_ = ns.map(|n| format!(" in the namespace \"{n}\"")).unwrap_or_default();
        status(StatusCode::FORBIDDEN, "Forbidden", &format!("{resource} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{group}\"{where_}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_and_labels_follow_kubernetes_rules() {
        assert_eq!(parse_selector("app.kubernetes.io/managed-by=sesame,sesame.dev/login=sesame_a_1").unwrap().len(), 2);
        assert!(parse_selector("a=b,c").is_none());
        assert!(parse_selector("a!=b").is_none());
        assert!(parse_selector("a=b=c").is_none());
        assert!(label_ok("sesame.dev/login", "sesame_alice_k3x9"));
        assert!(!label_ok("sesame.dev/login", "alice@example.com"));
    }
}
