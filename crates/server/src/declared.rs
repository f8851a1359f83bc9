//! Configuration as code: the access flows, bundles and access scopes made
//! through the API, read as one declaration (`sesame export`) and brought to
//! match one (`sesame apply`): a plan of creates, updates (with the fields
//! that change) and — with `prune` — deletes; the whole result must load,
//! and it is written in one transaction with an audit entry per change, or
//! not at all. Declaring what is already there changes nothing.

use crate::clock;
use crate::config::{BundleDecl, FlowDecl};
use crate::definitions::{self, Change, Kind};
use crate::error::ApiError;
use crate::state::AppState;
use serde_json::{json, Map, Value};
use sesame_core::{AuditAction, AuditDraft, Outcome, User};
use sesame_proto::{ApplyBody, ApplyPlan, Declarations, ErrorCode, FieldChange, NewAccessScope, PlannedChange};
use sesame_store::{Declared, DefinitionRow, ScopeRow};
use std::collections::{BTreeMap, BTreeSet};

/// A declaration without its nulls: TOML and YAML have none, and a missing
/// key means the same.
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, x)| !x.is_null()).map(|(k, x)| (k, canonical(x))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// The top-level fields that differ.
fn diff(before: &Value, after: &Value) -> Vec<FieldChange> {
    let empty = Map::new();
    let (b, a) = (before.as_object().unwrap_or(&empty), after.as_object().unwrap_or(&empty));
    let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| FieldChange { field: k.clone(), before: b.get(k).cloned(), after: a.get(k).cloned() })
        .collect()
}

/// What the API made, as one declaration (sorted by name).
pub async fn current(st: &AppState) -> Result<Declarations, ApiError> {
    let mut out = Declarations::default();
    for r in st.store.definitions().await? {
        let v = canonical(serde_json::from_str(&r.body).map_err(|e| ApiError::new(ErrorCode::Internal, format!("stored {} `{}`: {e}", r.kind, r.name)))?);
        match r.kind.as_str() {
            "flow" => out.access_flows.push(v),
            "bundle" => out.bundles.push(v),
            _ => {}
        }
    }
    out.access_scopes = st.store.scopes().await?.into_iter().map(|s| NewAccessScope { name: s.name, query: s.query }).collect();
    Ok(out)
}

/// Each declaration by name, checked to read as the file's would; the file's
/// own names are refused (they are changed in the file).
fn by_name(kind: Kind, items: &[Value], in_file: &BTreeSet<&str>) -> Result<BTreeMap<String, Value>, ApiError> {
    let list = match kind {
        Kind::Flow => "access_flows",
        Kind::Bundle => "bundles",
    };
    let mut out = BTreeMap::new();
    for (i, v) in items.iter().enumerate() {
        let v = canonical(v.clone());
        let name = v.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let at = |m: String| ApiError::new(ErrorCode::BadRequest, format!("`{list}[{i}]` (`{name}`): {m}"));
        if name.trim().is_empty() || name.chars().any(char::is_control) || name.chars().count() > 128 {
            return Err(at("a name is 1 to 128 characters without control characters".into()));
        }
        let read = match kind {
            Kind::Flow => serde_json::from_value::<FlowDecl>(v.clone()).map(|_| ()),
            Kind::Bundle => serde_json::from_value::<BundleDecl>(v.clone()).map(|_| ()),
        };
        read.map_err(|e| at(format!("not a declaration Sesame reads: {e}")))?;
        if in_file.contains(name.as_str()) {
            return Err(at(format!("this {} is declared in the server's configuration file: change it there", kind.what())));
        }
        if out.insert(name.clone(), v).is_some() {
            return Err(at("declared twice".into()));
        }
    }
    Ok(out)
}

fn audit(admin: &User, action: AuditAction, name: &str, detail: Value) -> AuditDraft {
    let mut d = json!({ "name": name, "via": "apply" });
    if let (Some(o), Value::Object(extra)) = (d.as_object_mut(), detail) {
        o.extend(extra);
    }
    AuditDraft::new(&admin.email, action, None, Outcome::Ok, d)
}

/// Plan, check, and (unless a dry run) write.
pub async fn apply(st: &AppState, admin: &User, body: ApplyBody) -> Result<ApplyPlan, ApiError> {
    let file_flows: BTreeSet<&str> = st.settings.flow_decls.iter().map(|f| f.name.as_str()).collect();
    let file_bundles: BTreeSet<&str> = st.settings.bundle_decls.iter().map(|b| b.name.as_str()).collect();
    let want_flows = by_name(Kind::Flow, &body.declarations.access_flows, &file_flows)?;
    let want_bundles = by_name(Kind::Bundle, &body.declarations.bundles, &file_bundles)?;
    let mut want_scopes = BTreeMap::new();
    for (i, s) in body.declarations.access_scopes.iter().enumerate() {
        let at = |e: ApiError| ApiError::new(e.code, format!("`access_scopes[{i}]` (`{}`): {}", s.name, e.message));
        crate::scopes::check_name(&s.name).map_err(at)?;
        crate::scopes::parse_query(&s.query).map_err(at)?;
        if want_scopes.insert(s.name.clone(), s.query.trim().to_owned()).is_some() {
            return Err(ApiError::new(ErrorCode::BadRequest, format!("`access_scopes[{i}]` (`{}`): declared twice", s.name)));
        }
    }

    let now = clock::now();
    let rows = st.store.definitions().await?;
    let have = |kind: &str| -> BTreeMap<String, Value> {
        rows.iter().filter(|r| r.kind == kind).map(|r| (r.name.clone(), canonical(serde_json::from_str(&r.body).unwrap_or(Value::Null)))).collect()
    };
    let mut changes = Vec::new();
    let mut writes = Vec::new();
    let mut unchanged = 0;
    for (kind, want, have) in [(Kind::Flow, &want_flows, have("flow")), (Kind::Bundle, &want_bundles, have("bundle"))] {
        let label = match kind {
            Kind::Flow => "access_flow",
            Kind::Bundle => "bundle",
        };
        for (name, v) in want {
            let (action, fields, change) = match have.get(name) {
                None => ("create", vec![], Change::Create),
                Some(old) if old == v => {
                    unchanged += 1;
                    continue;
                }
                Some(old) => ("update", diff(old, v), Change::Update),
            };
            changes.push(PlannedChange { kind: label.into(), name: name.clone(), action: action.into(), fields });
            let row = DefinitionRow { kind: kind.as_str().into(), name: name.clone(), body: v.to_string(), created_by: admin.email.clone(), created_at: now, updated_at: now };
            writes.push((Declared::PutDefinition { row, create: change == Change::Create }, audit(admin, kind.audit(change), name, json!({ "definition": v }))));
        }
        if body.prune {
            for name in have.keys().filter(|n| !want.contains_key(*n)) {
                changes.push(PlannedChange { kind: label.into(), name: name.clone(), action: "delete".into(), fields: vec![] });
                writes.push((Declared::DeleteDefinition { kind: kind.as_str().into(), name: name.clone() }, audit(admin, kind.audit(Change::Delete), name, json!({}))));
            }
        }
    }
    let have_scopes: BTreeMap<String, String> = st.store.scopes().await?.into_iter().map(|s| (s.name, s.query)).collect();
    for (name, query) in &want_scopes {
        let (action, fields, write, act) = match have_scopes.get(name) {
            None => {
                let row = ScopeRow { name: name.clone(), query: query.clone(), created_by: admin.email.clone(), created_at: now, updated_at: now };
                ("create", vec![], Declared::CreateScope(row), AuditAction::ScopeCreate)
            }
            Some(old) if old.trim() == query => {
                unchanged += 1;
                continue;
            }
            Some(old) => {
                let f = FieldChange { field: "query".into(), before: Some(json!(old)), after: Some(json!(query)) };
                ("update", vec![f], Declared::UpdateScope { name: name.clone(), query: query.clone() }, AuditAction::ScopeUpdate)
            }
        };
        changes.push(PlannedChange { kind: "access_scope".into(), name: name.clone(), action: action.into(), fields });
        writes.push((write, audit(admin, act, name, json!({ "scope": name, "query": query }))));
    }
    if body.prune {
        for name in have_scopes.keys().filter(|n| !want_scopes.contains_key(*n)) {
            changes.push(PlannedChange { kind: "access_scope".into(), name: name.clone(), action: "delete".into(), fields: vec![] });
            writes.push((Declared::DeleteScope { name: name.clone() }, audit(admin, AuditAction::ScopeDelete, name, json!({ "scope": name }))));
        }
    }

    // The result must load with the file's: what the store keeps (not
    // declared, without prune) and what is declared.
    let keep = |kind: &str, want: &BTreeMap<String, Value>| -> Vec<Value> {
        let kept = have(kind).into_iter().filter(|(n, _)| !body.prune && !want.contains_key(n)).map(|(_, v)| v);
        kept.chain(want.values().cloned()).collect()
    };
    let flows: Vec<FlowDecl> = keep("flow", &want_flows).into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect();
    let bundles: Vec<BundleDecl> = keep("bundle", &want_bundles).into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect();
    definitions::build(st, &flows, &bundles).map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("the declaration does not load with the rest: {e}")))?;

    if body.dry_run || writes.is_empty() {
        return Ok(ApplyPlan { changes, unchanged, applied: false });
    }
    if !st.store.apply_declared(&writes, now).await? {
        return Err(ApiError::new(ErrorCode::InvalidState, "something the plan changes was changed meanwhile: nothing was applied; apply again"));
    }
    definitions::refresh(st).await?;
    Ok(ApplyPlan { changes, unchanged, applied: true })
}
