//! Integrations, connectors, groups, access flows and bundles made through
//! the API: stored as the JSON declaration their author sent (the
//! configuration file's shape), read with the file's by the same readers
//! (`config::check_integrations`, `config::policy`), so a definition that
//! would not load from the file is refused before it is stored. What is in
//! force is rebuilt after every change here, and every replica rebuilds it
//! when the store's definitions change (`refresh`): integrations are built
//! again (only those that changed), connectors told, groups' roles granted.

use crate::clock;
use crate::config::{self, BundleDecl, FlowDecl};
use crate::error::ApiError;
use crate::state::{AppState, Policy};
use serde_json::json;
use sesame_core::{AuditAction, AuditDraft, Outcome, Roles, User};
use sesame_integrations::registry::IntegrationDecl;
use sesame_integrations::Integration;
use sesame_proto::{ErrorCode, GroupDeclaration, SesameRole};
use sesame_store::DefinitionRow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Which kind of definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Flow,
    Bundle,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Flow => "flow",
            Kind::Bundle => "bundle",
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            Kind::Flow => "access flow",
            Kind::Bundle => "bundle",
        }
    }

    pub fn audit(self, change: Change) -> AuditAction {
        match (self, change) {
            (Kind::Flow, Change::Create) => AuditAction::FlowCreate,
            (Kind::Flow, Change::Update) => AuditAction::FlowUpdate,
            (Kind::Flow, Change::Delete) => AuditAction::FlowDelete,
            (Kind::Bundle, Change::Create) => AuditAction::BundleCreate,
            (Kind::Bundle, Change::Update) => AuditAction::BundleUpdate,
            (Kind::Bundle, Change::Delete) => AuditAction::BundleDelete,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Create,
    Update,
    Delete,
}

/// What was made through the API, read back: the file's shape for
/// integrations (with whether each is retiring), flows and bundles; ids of
/// connectors; groups with their roles.
#[derive(Debug, Default, Clone)]
pub struct Made {
    /// (where it is declared, its declaration as stored, read, retiring).
    pub integrations: Vec<(String, String, IntegrationDecl, bool)>,
    pub connectors: BTreeSet<String>,
    pub groups: Vec<GroupDeclaration>,
    pub flows: Vec<FlowDecl>,
    pub bundles: Vec<BundleDecl>,
}

/// The stored declarations, read back.
pub(crate) fn stored(rows: &[DefinitionRow]) -> Result<Made, String> {
    let mut m = Made::default();
    for r in rows {
        let read = |what: &'static str| move |e: serde_json::Error| format!("stored {what} `{}`: {e}", r.name);
        match r.kind.as_str() {
            "flow" => m.flows.push(serde_json::from_str(&r.body).map_err(read("access flow"))?),
            "bundle" => m.bundles.push(serde_json::from_str(&r.body).map_err(read("bundle"))?),
            "integration" => {
                let d: IntegrationDecl = serde_json::from_str(&r.body).map_err(read("integration"))?;
                m.integrations.push((format!("integration `{}`", r.name), r.body.clone(), d, r.retiring_since.is_some()));
            }
            "connector" => {
                m.connectors.insert(r.name.clone());
            }
            "group" => m.groups.push(serde_json::from_str(&r.body).map_err(read("group"))?),
            other => return Err(format!("a stored definition of unknown kind `{other}`")),
        }
    }
    Ok(m)
}

/// The file's `[roles]` with the roles declared groups grant. Who may
/// request: members of groups with the requester role, from either; when
/// neither names one, everybody.
pub fn roles_with(file: &Roles, groups: &[GroupDeclaration]) -> Roles {
    let mut r = file.clone();
    for g in groups {
        for role in &g.roles {
            match role {
                SesameRole::Admin => r.admins.push(g.name.clone()),
                SesameRole::Auditor => r.auditors.push(g.name.clone()),
                SesameRole::Requester => r.requesters.get_or_insert_with(Vec::new).push(g.name.clone()),
            }
        }
    }
    r
}

/// The file's declarations with `made`, checked as one (integrations are
/// not built here): what would be in force.
pub(crate) fn build(st: &AppState, made: &Made) -> Result<Policy, String> {
    let s = &st.settings;
    if let Some(c) = made.connectors.iter().find(|c| s.connectors.contains(*c)) {
        return Err(format!("connector `{c}` is declared in the configuration file: change it there"));
    }
    let connectors: BTreeSet<String> = s.connectors.iter().chain(&made.connectors).cloned().collect();
    let mut labelled: Vec<(String, &IntegrationDecl)> = s.integrations.iter().enumerate().map(|(i, d)| (format!("integrations[{i}] of the configuration file"), d)).collect();
    labelled.extend(made.integrations.iter().map(|(at, _, d, _)| (at.clone(), d)));
    config::check_integrations(&labelled, &s.worker, &connectors)?;
    let decls: Vec<IntegrationDecl> = labelled.into_iter().map(|(_, d)| d.clone()).collect();
    let all_flows: Vec<FlowDecl> = s.flow_decls.iter().chain(&made.flows).cloned().collect();
    let all_bundles: Vec<BundleDecl> = s.bundle_decls.iter().chain(&made.bundles).cloned().collect();
    let mut names = BTreeSet::new();
    if let Some(dup) = all_flows.iter().find(|f| !names.insert(f.name.clone())) {
        return Err(format!("access flow `{}` is declared twice", dup.name));
    }
    let (flows, bundles) = config::policy(&decls, &all_flows, &all_bundles)?;
    Ok(Policy {
        flows,
        bundles,
        decls,
        made: made.integrations.iter().map(|(_, body, d, _)| (d.name().to_owned(), body.clone())).collect(),
        retiring: made.integrations.iter().filter(|(.., r)| *r).map(|(_, _, d, _)| d.name().to_owned()).collect(),
        roles: roles_with(&s.roles, &made.groups),
        connectors,
        ..Policy::default()
    })
}

/// Build the integrations made through the API (reusing those whose
/// declaration did not change since `old`) beside the file's. An
/// integration that cannot be built (a secret that cannot be read) is left
/// out, and named in the error list.
pub(crate) async fn realize(st: &AppState, policy: &mut Policy, old: &Policy) -> Vec<String> {
    let mut failed = Vec::new();
    let file: BTreeSet<&str> = st.settings.integrations.iter().map(|d| d.name()).collect();
    let mut out: BTreeMap<String, Arc<dyn Integration>> = old.integrations.iter().filter(|(n, _)| file.contains(n.as_str())).map(|(n, i)| (n.clone(), i.clone())).collect();
    for d in policy.decls.iter().filter(|d| !file.contains(d.name())) {
        let name = d.name();
        if let (Some(before), Some(now), Some(built)) = (old.made.get(name), policy.made.get(name), old.integrations.get(name)) {
            if before == now {
                out.insert(name.to_owned(), built.clone());
                continue;
            }
        }
        match crate::build_one(d, &st.registry, &st.hub, st.settings.worker.action_timeout).await {
            Ok(i) => {
                out.insert(name.to_owned(), i);
            }
            Err(e) => failed.push(format!("integration `{name}`: {e}")),
        }
    }
    policy.integrations = out;
    failed
}

/// Connectors whose remote integrations differ between two policies.
fn connectors_changed(old: &Policy, new: &Policy) -> BTreeSet<String> {
    let remote = |p: &Policy| -> BTreeMap<String, (String, Option<String>)> {
        p.decls
            .iter()
            .filter_map(|d| match d {
                IntegrationDecl::Remote(r) => Some((r.name.clone(), (r.connector.clone(), p.made.get(&r.name).cloned()))),
                _ => None,
            })
            .collect()
    };
    let (a, b) = (remote(old), remote(new));
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names.into_iter().filter(|n| a.get(*n) != b.get(*n)).flat_map(|n| a.get(n).into_iter().chain(b.get(n)).map(|(c, _)| c.clone())).collect()
}

/// Rebuild what is in force from the file and the store; on store
/// definitions that no longer load (an integration was removed from the
/// file), keep what was in force and say why in the log.
pub async fn refresh(st: &AppState) -> Result<(), sesame_store::StoreError> {
    let stamp = st.store.definitions_stamp().await?;
    let old = st.policy();
    // An integration that could not be built (a secret not readable yet) is
    // tried again on every pass, not only when the definitions change.
    if old.stamp == stamp && old.unbuilt.is_empty() {
        return Ok(());
    }
    let rows = st.store.definitions().await?;
    let made = match stored(&rows) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "what was made through the API does not read; what was in force stays");
            return Ok(());
        }
    };
    let mut policy = match build(st, &made) {
        Ok(p) => p,
        Err(e) => {
            // The integrations alone still serve their grants' revocations.
            tracing::error!(error = %e, "the access flows, bundles and groups made through the API do not load with the configuration file; only the integrations and connectors made through it are in force");
            let alone = Made { integrations: made.integrations.clone(), connectors: made.connectors.clone(), ..Made::default() };
            match build(st, &alone) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "the integrations made through the API do not load with the configuration file; what was in force stays");
                    return Ok(());
                }
            }
        }
    };
    let unbuilt = realize(st, &mut policy, &old).await;
    // Said once per failure, not on every retry.
    for e in unbuilt.iter().filter(|e| !old.unbuilt.contains(e)) {
        tracing::error!(error = %e, "an integration made through the API cannot be built: it is not served until it can be (tried again every few seconds)");
    }
    policy.unbuilt = unbuilt;
    policy.stamp = stamp;
    st.hub.set_declared(policy.connectors.clone());
    let told = connectors_changed(&old, &policy);
    *st.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
    for c in told {
        st.hub.tell(&c);
    }
    Ok(())
}

/// Every few seconds, pick up what other replicas changed.
pub async fn watch(st: AppState) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        if let Err(e) = refresh(&st).await {
            tracing::warn!(error = %e, "cannot read what was made through the API; retrying");
        }
    }
}

/// Create, replace or delete a definition (admins): the result must load
/// with everything else, or nothing is stored.
pub async fn change(st: &AppState, admin: &User, kind: Kind, change: Change, name: &str, body: Option<serde_json::Value>) -> Result<serde_json::Value, ApiError> {
    let what = kind.what();
    let in_file = match kind {
        Kind::Flow => st.settings.flow_decls.iter().any(|f| f.name == name),
        Kind::Bundle => st.settings.bundle_decls.iter().any(|b| b.name == name),
    };
    if in_file {
        return Err(ApiError::new(ErrorCode::Forbidden, format!("{what} `{name}` is declared in the configuration file: change it there")));
    }
    let rows = st.store.definitions().await?;
    let mut made = stored(&rows).map_err(|e| ApiError::new(ErrorCode::Internal, e))?;
    let exists = rows.iter().any(|r| r.kind == kind.as_str() && r.name == name);
    match (change, exists) {
        (Change::Create, true) => {
            return Err(ApiError::new(ErrorCode::AlreadyExists, format!("a {what} named `{name}` exists: change it with `update`, or choose another name")))
        }
        (Change::Update | Change::Delete, false) => return Err(ApiError::new(ErrorCode::NotFound, format!("there is no {what} `{name}` made through the API"))),
        _ => {}
    }
    made.flows.retain(|f| !(kind == Kind::Flow && f.name == name));
    made.bundles.retain(|b| !(kind == Kind::Bundle && b.name == name));
    let text = match (&body, kind) {
        (Some(b), Kind::Flow) => {
            let d: FlowDecl = serde_json::from_value(b.clone()).map_err(|e| invalid(what, e))?;
            named(what, &d.name, name)?;
            made.flows.push(d);
            Some(b.to_string())
        }
        (Some(b), Kind::Bundle) => {
            let d: BundleDecl = serde_json::from_value(b.clone()).map_err(|e| invalid(what, e))?;
            named(what, &d.name, name)?;
            made.bundles.push(d);
            Some(b.to_string())
        }
        (None, _) => None,
    };
    // The whole policy must load with the change (a flow naming a bundle
    // that is being deleted, an unknown integration...).
    build(st, &made).map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("the {what} does not load: {e}")))?;
    let now = clock::now();
    let audit = AuditDraft::new(&admin.email, kind.audit(change), None, Outcome::Ok, json!({ "name": name, "definition": body }));
    let done = match (change, text) {
        (Change::Delete, _) => st.store.delete_definition(kind.as_str(), name, audit, now).await?,
        (_, Some(text)) => {
            let row = DefinitionRow { kind: kind.as_str().into(), name: name.into(), body: text, created_by: admin.email.clone(), created_at: now, updated_at: now, retiring_since: None };
            st.store.put_definition(&row, change == Change::Create, audit).await?
        }
        (_, None) => false,
    };
    if !done {
        return Err(ApiError::new(ErrorCode::InvalidState, format!("the {what} `{name}` changed meanwhile: look again and retry")));
    }
    refresh(st).await?;
    Ok(body.unwrap_or(serde_json::Value::Null))
}

fn invalid(what: &str, e: serde_json::Error) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, format!("the {what} is not a declaration Sesame reads: {e}: write it as in the configuration file's [[access_flows]] / [[bundles]]"))
}

fn named(what: &str, declared: &str, path: &str) -> Result<(), ApiError> {
    if declared != path {
        return Err(ApiError::new(ErrorCode::BadRequest, format!("the {what}'s `name` is `{declared}` but the path names `{path}`: make them the same")));
    }
    if declared.trim().is_empty() || declared.chars().any(char::is_control) || declared.chars().count() > 128 {
        return Err(ApiError::new(ErrorCode::BadRequest, format!("a {what}'s name is 1 to 128 characters without control characters: choose another")));
    }
    Ok(())
}
