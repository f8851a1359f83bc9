//! A local stand-in for the Amazon EKS API's access-entry operations (moto
//! has none), for the EKS tests. Each request is checked against the
//! operation's shape as the EKS API Reference documents it — method, path
//! (`/clusters/{name}/access-entries/{principalArn}/access-policies/...`,
//! with the ARNs percent-encoded), SigV4 for the `eks` service, the body's
//! members, their types and the allowed values — and answered with the
//! documented response members; a request that does not match is refused
//! with `InvalidParameterException` and recorded as such, so a test can
//! assert none was. Test support: failures panic.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The access policies EKS offers (a subset of `ListAccessPolicies`).
pub const POLICIES: [&str; 4] = ["AmazonEKSViewPolicy", "AmazonEKSEditPolicy", "AmazonEKSAdminPolicy", "AmazonEKSClusterAdminPolicy"];

#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub username: String,
    pub kind: String,
    pub tags: BTreeMap<String, String>,
    /// policy ARN → access scope.
    pub policies: BTreeMap<String, Value>,
}

#[derive(Default)]
struct State {
    /// (cluster, principal ARN) → entry.
    entries: BTreeMap<(String, String), Entry>,
    clusters: Vec<String>,
    /// Operation names, in order; `refused:` + why for requests off the documented shape.
    calls: Vec<String>,
}

#[derive(Clone)]
pub struct EksApi {
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn err(code: StatusCode, kind: &str, message: &str) -> Response {
    (code, [("content-type", "application/json"), ("x-amzn-errortype", kind)], json!({"message": message}).to_string()).into_response()
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, [("content-type", "application/json")], v.to_string()).into_response()
}

/// A body member's documented type.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    StrList,
    StrMap,
    Scope,
}

/// Check `body` against an operation's members: `(name, type, required)`.
fn shape(body: &Map<String, Value>, members: &[(&str, Ty, bool)]) -> Result<(), String> {
    for k in body.keys() {
        if !members.iter().any(|(m, ..)| m == k) {
            return Err(format!("unknown member `{k}`"));
        }
    }
    for (m, ty, required) in members {
        let Some(v) = body.get(*m) else {
            if *required {
                return Err(format!("missing required member `{m}`"));
            }
            continue;
        };
        let fits = match ty {
            Ty::Str => v.is_string(),
            Ty::StrList => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            Ty::StrMap => v.as_object().is_some_and(|o| o.values().all(Value::is_string)),
            Ty::Scope => {
                let t = v["type"].as_str();
                let ns = &v["namespaces"];
                match t {
                    Some("cluster") => ns.is_null() || ns.as_array().is_some_and(Vec::is_empty),
                    Some("namespace") => ns.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)),
                    _ => false,
                }
            }
        };
        if !fits {
            return Err(format!("member `{m}` has the wrong type or value: {v}"));
        }
    }
    Ok(())
}

impl EksApi {
    /// Start on a free loopback port, serving the clusters named.
    pub async fn start(clusters: &[&str]) -> EksApi {
        let state = Arc::new(Mutex::new(State { clusters: clusters.iter().map(|c| (*c).to_owned()).collect(), ..Default::default() }));
        let me = EksApi { url: String::new(), state: state.clone() };
        let url = crate::serve(move |method, uri, headers, body| me.handle(method, uri, headers, body)).await;
        EksApi { url, state }
    }

    /// The operations called, in order (`refused: …` for requests off the documented shape).
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The access entries of `cluster`, by principal ARN.
    pub fn entries(&self, cluster: &str) -> BTreeMap<String, Entry> {
        self.state.lock().unwrap().entries.iter().filter(|((c, _), _)| c == cluster).map(|((_, p), e)| (p.clone(), e.clone())).collect()
    }

    /// Put an access entry in as an administrator would (the setup's).
    pub fn put_entry(&self, cluster: &str, principal: &str, username: &str) {
        let e = Entry { username: username.into(), kind: "STANDARD".into(), ..Default::default() };
        self.state.lock().unwrap().entries.insert((cluster.into(), principal.into()), e);
    }

    fn handle(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let mut st = self.state.lock().unwrap();
        let refuse = |st: &mut State, why: String| {
            st.calls.push(format!("refused: {why}"));
            err(StatusCode::BAD_REQUEST, "InvalidParameterException", &why)
        };
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !(auth.starts_with("AWS4-HMAC-SHA256 ") && auth.contains("/eks/aws4_request")) {
            return refuse(&mut st, format!("not signed with SigV4 for eks: {auth:?}"));
        }
        let segs: Vec<String> = uri.path().trim_start_matches('/').split('/').map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let body: Map<String, Value> = if body.is_empty() {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(m)) => m,
                _ => return refuse(&mut st, "the body is not a JSON object".into()),
            }
        };
        let cluster = segs.get(1).copied().unwrap_or_default().to_owned();
        if segs.first() == Some(&"clusters") && !st.clusters.contains(&cluster) {
            return err(StatusCode::NOT_FOUND, "ResourceNotFoundException", &format!("No cluster found for name: {cluster}."));
        }
        let entry_arn = |p: &str| format!("arn:aws:eks:us-east-1:123456789012:access-entry/{cluster}/{}", p.replace([':', '/'], "-"));
        let view = |p: &str, e: &Entry| {
            json!({"clusterName": cluster, "principalArn": p, "kubernetesGroups": [], "accessEntryArn": entry_arn(p),
                   "createdAt": 1.7e9, "modifiedAt": 1.7e9, "tags": e.tags, "username": e.username, "type": e.kind})
        };
        match (method.as_str(), segs.as_slice()) {
            ("GET", ["clusters", _]) => {
                st.calls.push("DescribeCluster".into());
                ok(json!({"cluster": {"name": cluster, "arn": format!("arn:aws:eks:us-east-1:123456789012:cluster/{cluster}"), "status": "ACTIVE",
                    "endpoint": "https://ABCD.gr7.us-east-1.eks.amazonaws.com", "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}}}))
            }
            ("POST", ["clusters", _, "access-entries"]) => {
                let members = [("principalArn", Ty::Str, true), ("kubernetesGroups", Ty::StrList, false), ("tags", Ty::StrMap, false), ("clientRequestToken", Ty::Str, false), ("username", Ty::Str, false), ("type", Ty::Str, false)];
                if let Err(e) = shape(&body, &members) {
                    return refuse(&mut st, format!("CreateAccessEntry: {e}"));
                }
                let p = body["principalArn"].as_str().unwrap().to_owned();
                if !p.starts_with("arn:aws:iam::") {
                    return refuse(&mut st, format!("CreateAccessEntry: principalArn `{p}` is not an IAM principal"));
                }
                let username = body.get("username").and_then(Value::as_str).unwrap_or_default().to_owned();
                if ["system:", "eks:", "aws:", "amazon:", "iam:"].iter().any(|r| username.starts_with(r)) {
                    return refuse(&mut st, format!("CreateAccessEntry: username `{username}` uses a reserved prefix"));
                }
                st.calls.push("CreateAccessEntry".into());
                if st.entries.contains_key(&(cluster.clone(), p.clone())) {
                    return err(StatusCode::CONFLICT, "ResourceInUseException", "The specified access entry resource is already in use on this cluster.");
                }
                let tags: BTreeMap<String, String> = body.get("tags").and_then(Value::as_object).map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect()).unwrap_or_default();
                let e = Entry { username, kind: body.get("type").and_then(Value::as_str).unwrap_or("STANDARD").to_owned(), tags, policies: BTreeMap::new() };
                let v = view(&p, &e);
                st.entries.insert((cluster.clone(), p), e);
                ok(json!({"accessEntry": v}))
            }
            ("GET", ["clusters", _, "access-entries"]) => {
                st.calls.push("ListAccessEntries".into());
                let arns: Vec<&String> = st.entries.keys().filter(|(c, _)| *c == cluster).map(|(_, p)| p).collect();
                ok(json!({"accessEntries": arns}))
            }
            ("GET", ["clusters", _, "access-entries", p]) => {
                st.calls.push("DescribeAccessEntry".into());
                match st.entries.get(&(cluster.clone(), (*p).to_owned())) {
                    Some(e) => ok(json!({"accessEntry": view(p, e)})),
                    None => err(StatusCode::NOT_FOUND, "ResourceNotFoundException", &format!("The specified access entry resource is not found: {p}")),
                }
            }
            ("DELETE", ["clusters", _, "access-entries", p]) => {
                st.calls.push("DeleteAccessEntry".into());
                match st.entries.remove(&(cluster.clone(), (*p).to_owned())) {
                    Some(_) => ok(json!({})),
                    None => err(StatusCode::NOT_FOUND, "ResourceNotFoundException", &format!("The specified access entry resource is not found: {p}")),
                }
            }
            ("POST", ["clusters", _, "access-entries", p, "access-policies"]) => {
                if let Err(e) = shape(&body, &[("policyArn", Ty::Str, true), ("accessScope", Ty::Scope, true)]) {
                    return refuse(&mut st, format!("AssociateAccessPolicy: {e}"));
                }
                let policy = body["policyArn"].as_str().unwrap().to_owned();
                if !POLICIES.iter().any(|n| policy == format!("arn:aws:eks::aws:cluster-access-policy/{n}")) {
                    return refuse(&mut st, format!("AssociateAccessPolicy: `{policy}` is not an access policy"));
                }
                st.calls.push("AssociateAccessPolicy".into());
                let Some(e) = st.entries.get_mut(&(cluster.clone(), (*p).to_owned())) else {
                    return err(StatusCode::NOT_FOUND, "ResourceNotFoundException", "The specified access entry resource is not found.");
                };
                e.policies.insert(policy.clone(), body["accessScope"].clone());
                ok(json!({"clusterName": cluster, "principalArn": p,
                    "associatedAccessPolicy": {"policyArn": policy, "accessScope": body["accessScope"], "associatedAt": 1.7e9, "modifiedAt": 1.7e9}}))
            }
            ("GET", ["clusters", _, "access-entries", p, "access-policies"]) => {
                st.calls.push("ListAssociatedAccessPolicies".into());
                let Some(e) = st.entries.get(&(cluster.clone(), (*p).to_owned())) else {
                    return err(StatusCode::NOT_FOUND, "ResourceNotFoundException", "The specified access entry resource is not found.");
                };
                let list: Vec<Value> = e.policies.iter().map(|(a, s)| json!({"policyArn": a, "accessScope": s, "associatedAt": 1.7e9, "modifiedAt": 1.7e9})).collect();
                ok(json!({"clusterName": cluster, "principalArn": p, "associatedAccessPolicies": list}))
            }
            _ => refuse(&mut st, format!("no EKS operation is {method} {}", uri.path())),
        }
    }
}
