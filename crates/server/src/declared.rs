//! Configuration as code: the integrations, connectors, groups, access
//! flows, bundles and access scopes made through the API, read as one
//! declaration (`sesame export`) and brought to match one (`sesame apply`,
//! and the configuration file's `declarations` at start): a plan of
//! creates, updates (with the fields that change) and — with `prune` —
//! deletes; the whole result must load and its integrations must build, and
//! it is written in one transaction with an audit entry per change, or not
//! at all. Declaring what is already there changes nothing. An integration
//! that grants are live on is deleted only with `revoke_active`: it retires
//! (served to revoke them, refused for anything new) and goes once they are
//! revoked (`retiring.rs`).

use crate::clock;
use crate::config::{BundleDecl, FlowDecl};
use crate::definitions::{self, Made};
use crate::error::ApiError;
use crate::state::AppState;
use serde_json::{json, Map, Value};
use sesame_core::{AuditAction, AuditDraft, Outcome, User};
use sesame_integrations::registry::IntegrationDecl;
use sesame_proto::{ApplyBody, ApplyPlan, ConnectorDeclaration, Declarations, ErrorCode, FieldChange, GroupDeclaration, NewAccessScope, PlannedChange};
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

/// The kinds of definition kept in the store's `definitions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Integration,
    Connector,
    Group,
    Flow,
    Bundle,
}

impl Sort {
    const ALL: [Sort; 5] = [Sort::Integration, Sort::Connector, Sort::Group, Sort::Flow, Sort::Bundle];

    /// As the store writes it.
    fn stored(self) -> &'static str {
        match self {
            Sort::Integration => "integration",
            Sort::Connector => "connector",
            Sort::Group => "group",
            Sort::Flow => "flow",
            Sort::Bundle => "bundle",
        }
    }

    /// As a plan and the declaration's list name it.
    fn label(self) -> (&'static str, &'static str) {
        match self {
            Sort::Integration => ("integration", "integrations"),
            Sort::Connector => ("connector", "connectors"),
            Sort::Group => ("group", "groups"),
            Sort::Flow => ("access_flow", "access_flows"),
            Sort::Bundle => ("bundle", "bundles"),
        }
    }

    fn name_key(self) -> &'static str {
        match self {
            Sort::Connector => "id",
            _ => "name",
        }
    }

    fn audit(self, action: &str) -> AuditAction {
        match (self, action) {
            (Sort::Integration, "create") => AuditAction::IntegrationCreate,
            (Sort::Integration, "update") => AuditAction::IntegrationUpdate,
            (Sort::Integration, _) => AuditAction::IntegrationDelete,
            (Sort::Connector, "delete") => AuditAction::ConnectorDelete,
            (Sort::Connector, _) => AuditAction::ConnectorCreate,
            (Sort::Group, "create") => AuditAction::GroupCreate,
            (Sort::Group, "update") => AuditAction::GroupUpdate,
            (Sort::Group, _) => AuditAction::GroupDelete,
            (Sort::Flow, "create") => AuditAction::FlowCreate,
            (Sort::Flow, "update") => AuditAction::FlowUpdate,
            (Sort::Flow, _) => AuditAction::FlowDelete,
            (Sort::Bundle, "create") => AuditAction::BundleCreate,
            (Sort::Bundle, "update") => AuditAction::BundleUpdate,
            (Sort::Bundle, _) => AuditAction::BundleDelete,
        }
    }

    /// What a declaration of this kind lists.
    fn items(self, d: &Declarations) -> Result<Vec<Value>, ApiError> {
        let to = |x: Result<Value, serde_json::Error>| x.map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()));
        Ok(match self {
            Sort::Integration => d.integrations.clone(),
            Sort::Connector => d.connectors.iter().map(|c| to(serde_json::to_value(c))).collect::<Result<_, _>>()?,
            Sort::Group => d.groups.iter().map(|g| to(serde_json::to_value(g))).collect::<Result<_, _>>()?,
            Sort::Flow => d.access_flows.clone(),
            Sort::Bundle => d.bundles.clone(),
        })
    }

    /// Whether the configuration file declares one of this kind and name
    /// (changed there, not here).
    fn in_file(self, st: &AppState, name: &str) -> bool {
        let s = &st.settings;
        match self {
            Sort::Integration => s.integrations.iter().any(|d| d.name() == name),
            Sort::Connector => s.connectors.contains(name),
            Sort::Group => false,
            Sort::Flow => s.flow_decls.iter().any(|f| f.name == name),
            Sort::Bundle => s.bundle_decls.iter().any(|b| b.name == name),
        }
    }
}

/// What the API made, as one declaration (sorted by name); integrations
/// being retired are no longer declared.
pub async fn current(st: &AppState) -> Result<Declarations, ApiError> {
    let mut out = Declarations::default();
    for r in st.store.definitions().await?.into_iter().filter(|r| r.retiring_since.is_none()) {
        let v = canonical(serde_json::from_str(&r.body).map_err(|e| ApiError::new(ErrorCode::Internal, format!("stored {} `{}`: {e}", r.kind, r.name)))?);
        let bad = |e: serde_json::Error| ApiError::new(ErrorCode::Internal, format!("stored {} `{}`: {e}", r.kind, r.name));
        match r.kind.as_str() {
            "flow" => out.access_flows.push(v),
            "bundle" => out.bundles.push(v),
            "integration" => out.integrations.push(v),
            "connector" => out.connectors.push(serde_json::from_value(v).map_err(bad)?),
            "group" => out.groups.push(serde_json::from_value(v).map_err(bad)?),
            _ => {}
        }
    }
    out.access_scopes = st.store.scopes().await?.into_iter().map(|s| NewAccessScope { name: s.name, query: s.query }).collect();
    Ok(out)
}

/// Each declaration of a kind by name, checked to read as the file's would;
/// the file's own names are refused (they are changed in the file).
fn by_name(st: &AppState, sort: Sort, items: &[Value]) -> Result<BTreeMap<String, Value>, ApiError> {
    let (what, list) = sort.label();
    let mut out = BTreeMap::new();
    for (i, v) in items.iter().enumerate() {
        let v = canonical(v.clone());
        let name = v.get(sort.name_key()).and_then(Value::as_str).unwrap_or_default().to_owned();
        let at = |m: String| ApiError::new(ErrorCode::BadRequest, format!("`{list}[{i}]` (`{name}`): {m}"));
        if name.trim().is_empty() || name.chars().any(char::is_control) || name.chars().count() > 128 {
            return Err(at(format!("a {what}'s `{}` is 1 to 128 characters without control characters", sort.name_key())));
        }
        match sort {
            Sort::Integration => {
                let rules = &st.settings.api_integrations;
                crate::made_integrations::check(&v, &st.integration_types, rules).map(|_| ()).map_err(at)?;
            }
            Sort::Connector => serde_json::from_value::<ConnectorDeclaration>(v.clone()).map(|_| ()).map_err(|e| at(format!("not a connector declaration: {e}")))?,
            Sort::Group => serde_json::from_value::<GroupDeclaration>(v.clone()).map(|_| ()).map_err(|e| at(format!("not a group declaration (name, roles: admin, auditor, requester): {e}")))?,
            Sort::Flow => serde_json::from_value::<FlowDecl>(v.clone()).map(|_| ()).map_err(|e| at(format!("not a declaration Sesame reads: {e}")))?,
            Sort::Bundle => serde_json::from_value::<BundleDecl>(v.clone()).map(|_| ()).map_err(|e| at(format!("not a declaration Sesame reads: {e}")))?,
        }
        if sort.in_file(st, &name) {
            return Err(at(format!("this {what} is declared in the server's configuration file: change it there")));
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

/// What is stored of one kind: by name, the declaration and whether it is retiring.
type Have = BTreeMap<String, (Value, bool)>;

/// What a plan deletes of what is stored and not declared.
enum Prune<'a> {
    Nothing,
    All,
    /// This integration only (the portal's Delete).
    Integration(&'a str),
}

impl Prune<'_> {
    fn covers(&self, sort: Sort, name: &str) -> bool {
        match self {
            Prune::Nothing => false,
            Prune::All => true,
            Prune::Integration(n) => sort == Sort::Integration && *n == name,
        }
    }
}

/// Plan, check, and (unless a dry run) write.
pub async fn apply(st: &AppState, admin: &User, body: ApplyBody) -> Result<ApplyPlan, ApiError> {
    let prune = if body.prune { Prune::All } else { Prune::Nothing };
    plan_and_write(st, admin, &body.declarations, prune, body.revoke_active, body.dry_run).await
}

/// Delete one integration made through the API, as `apply --prune` would
/// with everything else declared as it is (and nothing else touched): refused
/// while grants are live on it unless `revoke_active`, which retires it.
pub async fn delete_integration(st: &AppState, admin: &User, name: &str, revoke_active: bool, dry_run: bool) -> Result<ApplyPlan, ApiError> {
    if !st.policy().made.contains_key(name) {
        return Err(not_made(st, name));
    }
    plan_and_write(st, admin, &Declarations::default(), Prune::Integration(name), revoke_active, dry_run).await
}

/// Why `name` cannot be changed or deleted as an integration made through the API.
pub fn not_made(st: &AppState, name: &str) -> ApiError {
    let why = match st.integration(name) {
        Some(_) => "is declared in the server's configuration file: change it there",
        None => "is not an integration made through the API",
    };
    ApiError::new(ErrorCode::NotFound, format!("integration `{name}` {why}"))
}

async fn plan_and_write(st: &AppState, admin: &User, declared: &Declarations, prune: Prune<'_>, revoke_active: bool, dry_run: bool) -> Result<ApplyPlan, ApiError> {
    let mut want: Vec<(Sort, BTreeMap<String, Value>)> = Vec::new();
    for sort in Sort::ALL {
        want.push((sort, by_name(st, sort, &sort.items(declared)?)?));
    }
    let mut want_scopes = BTreeMap::new();
    for (i, s) in declared.access_scopes.iter().enumerate() {
        let at = |e: ApiError| ApiError::new(e.code, format!("`access_scopes[{i}]` (`{}`): {}", s.name, e.message));
        crate::scopes::check_name(&s.name).map_err(at)?;
        crate::scopes::parse_query(&s.query).map_err(at)?;
        if want_scopes.insert(s.name.clone(), s.query.trim().to_owned()).is_some() {
            return Err(ApiError::new(ErrorCode::BadRequest, format!("`access_scopes[{i}]` (`{}`): declared twice", s.name)));
        }
    }

    let now = clock::now();
    let rows = st.store.definitions().await?;
    let have = |sort: Sort| -> Have {
        rows.iter()
            .filter(|r| r.kind == sort.stored())
            .map(|r| (r.name.clone(), (canonical(serde_json::from_str(&r.body).unwrap_or(Value::Null)), r.retiring_since.is_some())))
            .collect()
    };
    let mut changes = Vec::new();
    let mut writes = Vec::new();
    let mut unchanged = 0;
    // What will be stored, to check as one.
    let mut result = Made::default();
    for (sort, want) in &want {
        let (label, _) = sort.label();
        let have = have(*sort);
        for (name, v) in want {
            let (action, fields) = match have.get(name) {
                None => ("create", vec![]),
                Some((old, false)) if old == v => {
                    unchanged += 1;
                    keep(&mut result, *sort, name, v, false)?;
                    continue;
                }
                Some((old, retiring)) => {
                    let mut f = diff(old, v);
                    if *retiring {
                        f.push(FieldChange { field: "retiring".into(), before: Some(json!(true)), after: Some(json!(false)) });
                    }
                    ("update", f)
                }
            };
            keep(&mut result, *sort, name, v, false)?;
            let detail = json!({ "definition": v, "fields": fields });
            changes.push(PlannedChange { kind: label.into(), name: name.clone(), action: action.into(), fields, note: None });
            let row = DefinitionRow { kind: sort.stored().into(), name: name.clone(), body: v.to_string(), created_by: admin.email.clone(), created_at: now, updated_at: now, retiring_since: None };
            writes.push((Declared::PutDefinition { row, create: action == "create" }, audit(admin, sort.audit(action), name, detail)));
        }
        for (name, (v, retiring)) in have.iter().filter(|(n, _)| !want.contains_key(*n)) {
            if !prune.covers(*sort, name) || *retiring {
                keep(&mut result, *sort, name, v, *retiring)?;
                continue;
            }
            let live = if *sort == Sort::Integration { crate::retiring::live_on(st, name).await? } else { vec![] };
            if live.is_empty() {
                changes.push(PlannedChange { kind: label.into(), name: name.clone(), action: "delete".into(), fields: vec![], note: None });
                writes.push((Declared::DeleteDefinition { kind: sort.stored().into(), name: name.clone() }, audit(admin, sort.audit("delete"), name, json!({}))));
                continue;
            }
            if !revoke_active {
                return Err(ApiError::new(
                    ErrorCode::InvalidState,
                    format!(
                        "integration `{name}` has {} live grant(s) or request(s) (e.g. `{}`): nothing was applied; revoke them first, keep the integration, or apply with --revoke-active to revoke them and then delete it",
                        live.len(),
                        live[0]
                    ),
                ));
            }
            let note = format!("revokes {} live grant(s) or request(s) first; deleted once they are revoked", live.len());
            keep(&mut result, *sort, name, v, true)?;
            writes.push((Declared::Retire { kind: sort.stored().into(), name: name.clone() }, audit(admin, sort.audit("delete"), name, json!({ "revoke_active": live }))));
            changes.push(PlannedChange { kind: label.into(), name: name.clone(), action: "delete".into(), fields: vec![], note: Some(note) });
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
        changes.push(PlannedChange { kind: "access_scope".into(), name: name.clone(), action: action.into(), fields, note: None });
        writes.push((write, audit(admin, act, name, json!({ "scope": name, "query": query }))));
    }
    if matches!(prune, Prune::All) {
        for name in have_scopes.keys().filter(|n| !want_scopes.contains_key(*n)) {
            changes.push(PlannedChange { kind: "access_scope".into(), name: name.clone(), action: "delete".into(), fields: vec![], note: None });
            writes.push((Declared::DeleteScope { name: name.clone() }, audit(admin, AuditAction::ScopeDelete, name, json!({ "scope": name }))));
        }
    }

    // The result must load with the file's, and its integrations must build.
    let refuse = |e: String| ApiError::new(ErrorCode::BadRequest, format!("the declaration does not load with the rest: {e}"));
    let mut policy = definitions::build(st, &result).map_err(refuse)?;
    let failed = definitions::realize(st, &mut policy, &st.policy()).await;
    if !failed.is_empty() {
        return Err(refuse(failed.join("; ")));
    }

    if dry_run || writes.is_empty() {
        return Ok(ApplyPlan { changes, unchanged, applied: false });
    }
    if !st.store.apply_declared(&writes, now).await? {
        return Err(ApiError::new(ErrorCode::InvalidState, "something the plan changes was changed meanwhile: nothing was applied; apply again"));
    }
    definitions::refresh(st).await?;
    crate::scim::refresh(st).await?;
    crate::retiring::end_retired(st).await;
    Ok(ApplyPlan { changes, unchanged, applied: true })
}

/// Add one declaration (already checked) to what will be stored.
fn keep(m: &mut Made, sort: Sort, name: &str, v: &Value, retiring: bool) -> Result<(), ApiError> {
    let bad = |e: serde_json::Error| ApiError::new(ErrorCode::Internal, format!("{} `{name}`: {e}", sort.stored()));
    match sort {
        Sort::Integration => {
            let d: IntegrationDecl = serde_json::from_value(v.clone()).map_err(bad)?;
            m.integrations.push((format!("integration `{name}`"), v.to_string(), d, retiring));
        }
        Sort::Connector => {
            m.connectors.insert(name.to_owned());
        }
        Sort::Group => m.groups.push(serde_json::from_value(v.clone()).map_err(bad)?),
        Sort::Flow => m.flows.push(serde_json::from_value(v.clone()).map_err(bad)?),
        Sort::Bundle => m.bundles.push(serde_json::from_value(v.clone()).map_err(bad)?),
    }
    Ok(())
}

/// The configuration file's `declarations`, applied at start as `apply`
/// would (without pruning), by `config:FILE`.
pub async fn apply_at_start(st: &AppState) -> Result<Option<ApplyPlan>, String> {
    let Some(path) = st.settings.declarations.clone() else { return Ok(None) };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read `declarations` {}: {e}", path.display()))?;
    let d = Declarations::parse(&text, sesame_proto::DeclarationFormat::of(&path)).map_err(|e| format!("`declarations` {}: {e}", path.display()))?;
    let who = User { email: format!("config:{}", path.display()), admin: true, ..Default::default() };
    let plan = apply(st, &who, ApplyBody { declarations: d, ..Default::default() }).await.map_err(|e| format!("`declarations` {}: {}", path.display(), e.message))?;
    Ok(Some(plan))
}
