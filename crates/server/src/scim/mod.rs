//! SCIM 2.0 (RFC 7643/7644) at `/scim/v2`, so an identity provider (Okta,
//! Entra ID) pushes people and groups: discovery (`ServiceProviderConfig`,
//! `ResourceTypes`, `Schemas`), `Users` and `Groups` with filters
//! (`filter.rs`), paging, PATCH (`patch.rs`) and ETags. It takes only the
//! token made for it (`sesame token issue --scim`). Every change is audited;
//! deactivating or deleting a person revokes their active grants and
//! withdraws their pending requests at once (`reconciler::end_departed`,
//! which the reconciler also runs on every pass). Decisions read the result through
//! [`people`] (rebuilt here, and every few seconds for other replicas).

pub mod filter;
pub mod patch;
pub mod people;
pub mod schema;

use crate::state::{AppState, People};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use sesame_core::{AuditAction, AuditDraft, Outcome};
use sesame_store::{ScimPut, ScimRow, ScimWrite};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Who a SCIM token belongs to.
pub use crate::auth::SCIM_PRINCIPAL as PRINCIPAL;
const CONTENT_TYPE: &str = "application/scim+json";

/// A SCIM error, in SCIM's own format (RFC 7644 §3.12): `/scim/v2` speaks
/// the protocol identity providers expect, not Sesame's `{code, message}`.
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

fn err(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> ScimError {
    ScimError { status, scim_type, detail: detail.into() }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({"schemas": [schema::ERROR], "status": self.status.as_u16().to_string(), "detail": self.detail});
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        (self.status, [(header::CONTENT_TYPE, CONTENT_TYPE)], body.to_string()).into_response()
    }
}

impl From<sesame_store::StoreError> for ScimError {
    fn from(e: sesame_store::StoreError) -> Self {
        tracing::error!(error = %e, "SCIM: the store failed");
        err(StatusCode::INTERNAL_SERVER_ERROR, None, "the store failed: try again")
    }
}

type Result<T> = std::result::Result<T, ScimError>;

fn scim(status: StatusCode, v: &Value) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(CONTENT_TYPE));
    if let Some(etag) = v.pointer("/meta/version").and_then(Value::as_str).and_then(|e| header::HeaderValue::from_str(e).ok()) {
        headers.insert(header::ETAG, etag);
    }
    (status, headers, v.to_string()).into_response()
}

/// The caller holds the SCIM token; checked before anything else is read.
/// Failures count like any sign-in's (per address and token).
pub struct ScimCaller;

impl axum::extract::FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, st: &AppState) -> Result<Self> {
        match crate::auth::principal(parts, st).await {
            Ok(who) if who == PRINCIPAL => Ok(ScimCaller),
            Ok(_) => Err(err(StatusCode::FORBIDDEN, None, "this token is not a SCIM token: make one with `sesame token issue --scim`")),
            Err(e) if e.code == sesame_proto::ErrorCode::TooManyRequests => Err(err(StatusCode::TOO_MANY_REQUESTS, None, e.message)),
            Err(e) => Err(err(StatusCode::UNAUTHORIZED, None, e.message)),
        }
    }
}

/// The endpoints, to nest under `/scim/v2`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema_one))
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", axum::routing::post(search_users))
        .route("/Users/{id}", get(get_user).put(put_user).patch(patch_user).delete(delete_user))
        .route("/Groups", get(list_groups).post(create_group))
        .route("/Groups/.search", axum::routing::post(search_groups))
        .route("/.search", axum::routing::post(search_all))
        .route("/Groups/{id}", get(get_group).put(put_group).patch(patch_group).delete(delete_group))
        .fallback(|| async { err(StatusCode::NOT_FOUND, None, "no such SCIM endpoint: see /scim/v2/ResourceTypes") })
}

fn base(h: &HeaderMap) -> String {
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let proto = h.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
    format!("{proto}://{host}/scim/v2")
}

fn list(base: &str, items: Vec<Value>, total: usize, start: usize) -> Value {
    let _ = base;
    json!({"schemas": [schema::LIST], "totalResults": total, "startIndex": start, "itemsPerPage": items.len(), "Resources": items})
}

async fn service_provider_config(_c: ScimCaller, h: HeaderMap) -> Result<Response> {
    Ok(scim(StatusCode::OK, &schema::service_provider_config(&base(&h))))
}

async fn resource_types(_c: ScimCaller, h: HeaderMap) -> Result<Response> {
    let all = schema::resource_types(&base(&h));
    Ok(scim(StatusCode::OK, &list(&base(&h), all.clone(), all.len(), 1)))
}

async fn resource_type(_c: ScimCaller, h: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let one = schema::resource_types(&base(&h)).into_iter().find(|r| r["id"] == json!(id));
    one.map(|r| scim(StatusCode::OK, &r)).ok_or_else(|| err(StatusCode::NOT_FOUND, None, format!("no resource type `{id}`: User or Group")))
}

async fn schemas(_c: ScimCaller, h: HeaderMap) -> Result<Response> {
    let all = schema::schemas(&base(&h));
    Ok(scim(StatusCode::OK, &list(&base(&h), all.clone(), all.len(), 1)))
}

async fn schema_one(_c: ScimCaller, h: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let one = schema::schemas(&base(&h)).into_iter().find(|s| s["id"] == json!(id));
    one.map(|s| scim(StatusCode::OK, &s)).ok_or_else(|| err(StatusCode::NOT_FOUND, None, format!("no schema `{id}`")))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }

    fn schema(self) -> &'static str {
        match self {
            Kind::User => schema::USER,
            Kind::Group => schema::GROUP,
        }
    }

    /// The attribute that is unique and required.
    fn name_attr(self) -> &'static str {
        match self {
            Kind::User => "userName",
            Kind::Group => "displayName",
        }
    }
}

fn parse_body(b: &Bytes) -> Result<Value> {
    let v: Value = serde_json::from_slice(b).map_err(|e| err(StatusCode::BAD_REQUEST, Some("invalidSyntax"), format!("the body is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(err(StatusCode::BAD_REQUEST, Some("invalidSyntax"), "the body is not a JSON object"));
    }
    Ok(v)
}

/// What is kept of what the provider sent: no `id`, `meta` or read-only
/// attributes, no password; the schemas it uses; the unique name checked.
fn clean(kind: Kind, mut v: Value) -> Result<(Value, String)> {
    let o = v.as_object_mut().ok_or_else(|| err(StatusCode::BAD_REQUEST, Some("invalidSyntax"), "not an object"))?;
    o.retain(|k, _| !["id", "meta", "schemas", "password", "groups"].iter().any(|x| x.eq_ignore_ascii_case(k)));
    let name_key = o.keys().find(|k| k.eq_ignore_ascii_case(kind.name_attr())).cloned();
    let name = name_key.as_ref().and_then(|k| o.get(k)).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let Some(name) = name else {
        return Err(err(StatusCode::BAD_REQUEST, Some("invalidValue"), format!("`{}` is required: a non-empty string", kind.name_attr())));
    };
    if let Some(k) = name_key {
        o.remove(&k);
    }
    o.insert(kind.name_attr().into(), Value::String(name.clone()));
    if let Some(a) = o.keys().find(|k| k.eq_ignore_ascii_case("active")).cloned() {
        if !o[&a].is_boolean() {
            return Err(err(StatusCode::BAD_REQUEST, Some("invalidValue"), "`active` is true or false"));
        }
    }
    if kind == Kind::Group {
        if let Some(m) = o.keys().find(|k| k.eq_ignore_ascii_case("members")).cloned() {
            let members = o.remove(&m).unwrap_or(Value::Null);
            let Value::Array(ms) = members else { return Err(err(StatusCode::BAD_REQUEST, Some("invalidValue"), "`members` is a list of {value}")) };
            let kept: Vec<Value> = ms
                .into_iter()
                .filter_map(|x| {
                    let value = filter::get_ci(&x, "value").and_then(Value::as_str)?.to_owned();
                    let mut one = Map::new();
                    one.insert("value".into(), Value::String(value));
                    if let Some(t) = filter::get_ci(&x, "type").and_then(Value::as_str) {
                        one.insert("type".into(), Value::String(t.to_owned()));
                    }
                    Some(Value::Object(one))
                })
                .collect();
            o.insert("members".into(), Value::Array(kept));
        }
    }
    let mut schemas = vec![Value::String(kind.schema().into())];
    if kind == Kind::User && o.keys().any(|k| k.eq_ignore_ascii_case(schema::ENTERPRISE)) {
        schemas.push(Value::String(schema::ENTERPRISE.into()));
    }
    o.insert("schemas".into(), Value::Array(schemas));
    Ok((v, name.to_lowercase()))
}

/// A stored resource as served: with id, meta and (for people) groups.
fn served(kind: Kind, row: &ScimRow, base: &str, groups_of: &BTreeMap<String, Vec<Value>>) -> Value {
    let mut v: Value = serde_json::from_str(&row.body).unwrap_or_else(|_| json!({}));
    let location = format!("{base}/{}/{}", kind.endpoint(), row.id);
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(row.id));
        o.insert(
            "meta".into(),
            json!({"resourceType": kind.as_str(), "created": crate::clock::rfc3339(row.created_at), "lastModified": crate::clock::rfc3339(row.updated_at),
                   "location": location, "version": format!("W/\"{}\"", row.version)}),
        );
        if kind == Kind::User {
            if let Some(gs) = groups_of.get(&row.id) {
                o.insert("groups".into(), Value::Array(gs.clone()));
            }
        }
        if kind == Kind::Group {
            if let Some(Value::Array(ms)) = o.get_mut("members") {
                for m in ms {
                    if let Some(id) = m.get("value").and_then(Value::as_str).map(str::to_owned) {
                        m["$ref"] = json!(format!("{base}/Users/{id}"));
                    }
                }
            }
        }
    }
    v
}

async fn groups_by_member(st: &AppState, base: &str) -> Result<BTreeMap<String, Vec<Value>>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for g in st.store.scim_resources("Group").await? {
        let v: Value = serde_json::from_str(&g.body).unwrap_or_default();
        let display = v.get("displayName").cloned().unwrap_or(Value::Null);
        for m in v.get("members").and_then(Value::as_array).into_iter().flatten() {
            if let Some(id) = m.get("value").and_then(Value::as_str) {
                out.entry(id.to_owned()).or_default().push(json!({"value": g.id, "$ref": format!("{base}/Groups/{}", g.id), "display": display}));
            }
        }
    }
    Ok(out)
}

/// `attributes` / `excludedAttributes`: top-level names (id, schemas and
/// meta always stay).
fn project(mut v: Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let names = |s: &str| s.split(',').map(|x| x.trim().rsplit(':').next().unwrap_or("").split('.').next().unwrap_or("").to_ascii_lowercase()).filter(|x| !x.is_empty()).collect::<Vec<_>>();
    if let Some(o) = v.as_object_mut() {
        let keep_always = |k: &str| ["id", "schemas", "meta"].contains(&k.to_ascii_lowercase().as_str());
        if let Some(a) = attributes.filter(|a| !a.trim().is_empty()) {
            let want = names(a);
            o.retain(|k, _| keep_always(k) || want.contains(&k.to_ascii_lowercase()) || (k.to_ascii_lowercase().starts_with("urn:") && a.to_ascii_lowercase().contains(&k.to_ascii_lowercase())));
        } else if let Some(x) = excluded.filter(|x| !x.trim().is_empty()) {
            let drop = names(x);
            o.retain(|k, _| keep_always(k) || !drop.contains(&k.to_ascii_lowercase()));
        }
    }
    v
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

async fn list_of(st: &AppState, kind: Kind, h: &HeaderMap, q: ListQuery) -> Result<Response> {
    let base = base(h);
    let f = q.filter.as_deref().filter(|f| !f.trim().is_empty()).map(filter::parse).transpose().map_err(|e| err(StatusCode::BAD_REQUEST, Some("invalidFilter"), e))?;
    let groups_of = if kind == Kind::User { groups_by_member(st, &base).await? } else { BTreeMap::new() };
    let all: Vec<Value> = st.store.scim_resources(kind.as_str()).await?.iter().map(|r| served(kind, r, &base, &groups_of)).filter(|v| f.as_ref().is_none_or(|f| f.matches(v))).collect();
    Ok(scim(StatusCode::OK, &page(&base, all, &q)))
}

/// One page of what matched (`startIndex` from 1; `count` at most
/// [`schema::MAX_PAGE`]), each projected as asked.
fn page(base: &str, all: Vec<Value>, q: &ListQuery) -> Value {
    let total = all.len();
    let start = usize::try_from(q.start_index.unwrap_or(1).max(1)).unwrap_or(1);
    let count = usize::try_from(q.count.unwrap_or(schema::MAX_PAGE as i64).max(0)).unwrap_or(0).min(schema::MAX_PAGE);
    let items: Vec<Value> = all.into_iter().skip(start - 1).take(count).map(|v| project(v, q.attributes.as_deref(), q.excluded_attributes.as_deref())).collect();
    list(base, items, total, start)
}

async fn one(st: &AppState, kind: Kind, h: &HeaderMap, id: &str) -> Result<(ScimRow, Value)> {
    let row = st.store.scim_resource(kind.as_str(), id).await?.ok_or_else(|| err(StatusCode::NOT_FOUND, None, format!("no {} with id `{id}`", kind.as_str())))?;
    let base = base(h);
    let groups_of = if kind == Kind::User { groups_by_member(st, &base).await? } else { BTreeMap::new() };
    let v = served(kind, &row, &base, &groups_of);
    Ok((row, v))
}

async fn get_of(st: &AppState, kind: Kind, h: &HeaderMap, id: &str, q: &ListQuery) -> Result<Response> {
    let (_, v) = one(st, kind, h, id).await?;
    if let Some(tag) = h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        if v.pointer("/meta/version").and_then(Value::as_str) == Some(tag) {
            return Ok(StatusCode::NOT_MODIFIED.into_response());
        }
    }
    Ok(scim(StatusCode::OK, &project(v, q.attributes.as_deref(), q.excluded_attributes.as_deref())))
}

fn audit(kind: Kind, op: &str, id: &str, name: &str) -> AuditDraft {
    AuditDraft::new("scim", AuditAction::ScimChange, None, Outcome::Ok, json!({"resource_type": kind.as_str(), "op": op, "id": id, "name": name}))
}

/// Store a resource (`create`, or replace `id`), then what follows: the
/// directory is rebuilt and a person who is no longer active loses access.
/// `before`: the resource a replace read (and saw at its version).
async fn write(st: &AppState, kind: Kind, h: &HeaderMap, id: &str, body: Value, before: Option<&ScimRow>, op: &str) -> Result<Response> {
    let create = before.is_none();
    let (clean, key) = clean(kind, body)?;
    let name = clean.get(kind.name_attr()).and_then(Value::as_str).unwrap_or_default().to_owned();
    let text = clean.to_string();
    let put = ScimPut { kind: kind.as_str(), id, name_key: &key, body: &text, version: before.map(|b| b.version) };
    let row = match st.store.put_scim(put, create, &audit(kind, op, id, &name), crate::clock::now()).await? {
        ScimWrite::Done(r) => r,
        ScimWrite::NameTaken => return Err(err(StatusCode::CONFLICT, Some("uniqueness"), format!("another {} has {} `{name}`", kind.as_str(), kind.name_attr()))),
        ScimWrite::Missing => return Err(err(StatusCode::NOT_FOUND, None, format!("no {} with id `{id}`", kind.as_str()))),
        ScimWrite::Stale => return Err(err(StatusCode::PRECONDITION_FAILED, None, "the resource changed while this change was made: read it again and retry")),
    };
    refresh(st).await?;
    if kind == Kind::User {
        // Someone left the directory (deactivated, or known by another
        // e-mail now): their access ends at once, by the reconciler's sweep.
        let was = before.and_then(|b| serde_json::from_str::<Value>(&b.body).ok());
        let was_in = was.as_ref().filter(|w| people::active(w)).and_then(people::email_of);
        if was_in.is_some_and(|e| st.people().directory.user(&e).is_none()) {
            crate::reconciler::end_departed(st).await;
        }
    }
    let base = base(h);
    let groups_of = if kind == Kind::User { groups_by_member(st, &base).await? } else { BTreeMap::new() };
    Ok(scim(if create { StatusCode::CREATED } else { StatusCode::OK }, &served(kind, &row, &base, &groups_of)))
}

fn check_etag(h: &HeaderMap, row: &ScimRow) -> Result<()> {
    match h.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        Some(tag) if tag.trim() != "*" && tag.trim() != format!("W/\"{}\"", row.version) => {
            Err(err(StatusCode::PRECONDITION_FAILED, None, "the resource changed since it was read: read it again"))
        }
        _ => Ok(()),
    }
}

async fn replace(st: &AppState, kind: Kind, h: &HeaderMap, id: &str, b: &Bytes) -> Result<Response> {
    let body = parse_body(b)?;
    let (row, _) = one(st, kind, h, id).await?;
    check_etag(h, &row)?;
    write(st, kind, h, id, body, Some(&row), "replace").await
}

async fn patch_of(st: &AppState, kind: Kind, h: &HeaderMap, id: &str, b: &Bytes) -> Result<Response> {
    let body = parse_body(b)?;
    let (row, _) = one(st, kind, h, id).await?;
    check_etag(h, &row)?;
    let ops = filter::get_ci(&body, "Operations").and_then(Value::as_array).ok_or_else(|| err(StatusCode::BAD_REQUEST, Some("invalidSyntax"), "a PATCH body has `Operations`: a list of {op, path, value}"))?;
    let stored: Value = serde_json::from_str(&row.body).unwrap_or_else(|_| json!({}));
    let patched = patch::apply(&stored, ops).map_err(|e| err(StatusCode::BAD_REQUEST, Some(e.scim_type), e.detail))?;
    write(st, kind, h, id, patched, Some(&row), "patch").await
}

async fn remove(st: &AppState, kind: Kind, h: &HeaderMap, id: &str) -> Result<Response> {
    let (row, v) = one(st, kind, h, id).await?;
    check_etag(h, &row)?;
    let name = v.get(kind.name_attr()).and_then(Value::as_str).unwrap_or_default().to_owned();
    if !st.store.delete_scim(kind.as_str(), id, &audit(kind, "delete", id, &name), crate::clock::now()).await? {
        return Err(err(StatusCode::NOT_FOUND, None, format!("no {} with id `{id}`", kind.as_str())));
    }
    refresh(st).await?;
    if kind == Kind::User {
        crate::reconciler::end_departed(st).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /.search`: the query in the body (RFC 7644 §3.4.3).
fn search_query(b: &Bytes) -> Result<ListQuery> {
    let v = parse_body(b)?;
    let text = |k: &str| filter::get_ci(&v, k).map(|x| match x {
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
        other => other.as_str().map(str::to_owned).unwrap_or_default(),
    });
    let num = |k: &str| filter::get_ci(&v, k).and_then(Value::as_i64);
    Ok(ListQuery { filter: text("filter"), start_index: num("startIndex"), count: num("count"), attributes: text("attributes"), excluded_attributes: text("excludedAttributes") })
}

async fn search_users(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, b: Bytes) -> Result<Response> {
    list_of(&st, Kind::User, &h, search_query(&b)?).await
}

async fn search_groups(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, b: Bytes) -> Result<Response> {
    list_of(&st, Kind::Group, &h, search_query(&b)?).await
}

/// `POST /.search` at the root: people and groups at once.
async fn search_all(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, b: Bytes) -> Result<Response> {
    let q = search_query(&b)?;
    let base = base(&h);
    let f = q.filter.as_deref().filter(|f| !f.trim().is_empty()).map(filter::parse).transpose().map_err(|e| err(StatusCode::BAD_REQUEST, Some("invalidFilter"), e))?;
    let groups_of = groups_by_member(&st, &base).await?;
    let mut all = Vec::new();
    for kind in [Kind::User, Kind::Group] {
        all.extend(st.store.scim_resources(kind.as_str()).await?.iter().map(|r| served(kind, r, &base, &groups_of)).filter(|v| f.as_ref().is_none_or(|f| f.matches(v))));
    }
    Ok(scim(StatusCode::OK, &page(&base, all, &q)))
}

async fn list_users(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, Query(q): Query<ListQuery>) -> Result<Response> {
    list_of(&st, Kind::User, &h, q).await
}
async fn list_groups(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, Query(q): Query<ListQuery>) -> Result<Response> {
    list_of(&st, Kind::Group, &h, q).await
}
async fn create_user(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, b: Bytes) -> Result<Response> {
    write(&st, Kind::User, &h, &uuid::Uuid::new_v4().to_string(), parse_body(&b)?, None, "create").await
}
async fn create_group(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, b: Bytes) -> Result<Response> {
    write(&st, Kind::Group, &h, &uuid::Uuid::new_v4().to_string(), parse_body(&b)?, None, "create").await
}
async fn get_user(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, Path(id): Path<String>, Query(q): Query<ListQuery>) -> Result<Response> {
    get_of(&st, Kind::User, &h, &id, &q).await
}
async fn get_group(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, Path(id): Path<String>, Query(q): Query<ListQuery>) -> Result<Response> {
    get_of(&st, Kind::Group, &h, &id, &q).await
}
async fn put_user(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, Path(id): Path<String>, b: Bytes) -> Result<Response> {
    replace(&st, Kind::User, &h, &id, &b).await
}
async fn put_group(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, Path(id): Path<String>, b: Bytes) -> Result<Response> {
    replace(&st, Kind::Group, &h, &id, &b).await
}
async fn patch_user(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, Path(id): Path<String>, b: Bytes) -> Result<Response> {
    patch_of(&st, Kind::User, &h, &id, &b).await
}
async fn patch_group(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, Path(id): Path<String>, b: Bytes) -> Result<Response> {
    patch_of(&st, Kind::Group, &h, &id, &b).await
}
async fn delete_user(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    remove(&st, Kind::User, &h, &id).await
}
async fn delete_group(State(st): State<AppState>, _c: ScimCaller, h: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    remove(&st, Kind::Group, &h, &id).await
}

/// How long someone known only from signing in stays in the directory after
/// their latest sign-in. Not their session: a grant outlives the session it
/// was asked in, and leaving the directory ends access (`end_departed`).
/// Where people must go at once, SCIM's deactivation does it.
pub const SIGNED_IN_KNOWN_FOR: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

fn signed_in_since(now: sesame_core::Timestamp) -> sesame_core::Timestamp {
    sesame_core::Timestamp(now.0.saturating_sub(i64::try_from(SIGNED_IN_KNOWN_FOR.as_millis()).unwrap_or(i64::MAX)))
}

/// The file's people overlaid by the store's SCIM people and those who
/// signed in lately.
pub async fn directory_of(store: &sesame_store::Store, file: &sesame_core::Directory, roles: &sesame_core::Roles, now: sesame_core::Timestamp) -> std::result::Result<sesame_core::Directory, sesame_store::StoreError> {
    let parse = |rs: Vec<ScimRow>| rs.into_iter().map(|r| (r.id, serde_json::from_str(&r.body).unwrap_or(Value::Null))).collect::<Vec<_>>();
    let users = parse(store.scim_resources("User").await?);
    let groups = parse(store.scim_resources("Group").await?);
    let signed_in = store.signins(signed_in_since(now)).await?;
    Ok(people::directory(file, &users, &groups, &signed_in, roles))
}

/// Rebuild the directory from the file and the store when the store changed
/// (or someone's latest sign-in grew too old).
pub async fn refresh(st: &AppState) -> std::result::Result<(), sesame_store::StoreError> {
    let now = crate::clock::now();
    let stamp = (st.store.scim_stamp().await?, st.store.signin_stamp(signed_in_since(now)).await?);
    let roles = st.policy().roles.clone();
    let people = st.people();
    if people.stamp == Some(stamp) && people.roles == roles {
        return Ok(());
    }
    let directory = directory_of(&st.store, &st.settings.directory, &roles, now).await?;
    *st.people.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(People { directory, stamp: Some(stamp), roles });
    Ok(())
}

/// Every few seconds, pick up what other replicas changed.
pub async fn watch(st: AppState) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        if let Err(e) = refresh(&st).await {
            tracing::warn!(error = %e, "cannot read the people pushed through SCIM; retrying");
        }
    }
}
