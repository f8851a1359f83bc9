//! Access flows and bundles made through the API: stored as the JSON
//! declaration their author sent (the configuration file's shape), read
//! with the file's by the one reader (`config::policy`), so a definition
//! that would not load from the file is refused before it is stored. The
//! policy in force is rebuilt after every change here, and every replica
//! rebuilds it when the store's definitions change (`refresh`).

use crate::clock;
use crate::config::{self, BundleDecl, FlowDecl};
use crate::error::ApiError;
use crate::state::{AppState, Policy};
use serde_json::json;
use sesame_core::{AuditAction, AuditDraft, Outcome, User};
use sesame_proto::ErrorCode;
use sesame_store::DefinitionRow;
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

/// The stored declarations, read back.
pub(crate) fn stored(rows: &[DefinitionRow]) -> Result<(Vec<FlowDecl>, Vec<BundleDecl>), String> {
    let mut flows = Vec::new();
    let mut bundles = Vec::new();
    for r in rows {
        match r.kind.as_str() {
            "flow" => flows.push(serde_json::from_str(&r.body).map_err(|e| format!("stored access flow `{}`: {e}", r.name))?),
            "bundle" => bundles.push(serde_json::from_str(&r.body).map_err(|e| format!("stored bundle `{}`: {e}", r.name))?),
            other => return Err(format!("a stored definition of unknown kind `{other}`")),
        }
    }
    Ok((flows, bundles))
}

/// The file's flows and bundles followed by `flows`/`bundles`, read as one.
pub(crate) fn build(st: &AppState, flows: &[FlowDecl], bundles: &[BundleDecl]) -> Result<Policy, String> {
    let s = &st.settings;
    let all_flows: Vec<FlowDecl> = s.flow_decls.iter().chain(flows).cloned().collect();
    let all_bundles: Vec<BundleDecl> = s.bundle_decls.iter().chain(bundles).cloned().collect();
    let mut names = std::collections::BTreeSet::new();
    if let Some(dup) = all_flows.iter().find(|f| !names.insert(f.name.clone())) {
        return Err(format!("access flow `{}` is declared twice", dup.name));
    }
    let (flows, bundles) = config::policy(&s.integrations, &all_flows, &all_bundles)?;
    Ok(Policy { flows, bundles, stamp: (0, 0) })
}

/// Rebuild the policy in force from the file and the store; on a store
/// definition that no longer reads (an integration was removed from the
/// file), keep the file's policy and say why in the log.
pub async fn refresh(st: &AppState) -> Result<(), sesame_store::StoreError> {
    let stamp = st.store.definitions_stamp().await?;
    if st.policy().stamp == stamp {
        return Ok(());
    }
    let rows = st.store.definitions().await?;
    let policy = match stored(&rows).and_then(|(f, b)| build(st, &f, &b)) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "the access flows and bundles made through the API do not load; the configuration file's are in force");
            Policy { flows: st.settings.flows.clone(), bundles: st.settings.bundles.clone(), stamp: (0, 0) }
        }
    };
    *st.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Policy { stamp, ..policy });
    Ok(())
}

/// Every few seconds, pick up what other replicas changed.
pub async fn watch(st: AppState) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        if let Err(e) = refresh(&st).await {
            tracing::warn!(error = %e, "cannot read the access flows and bundles made through the API; retrying");
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
    let (mut flows, mut bundles) = stored(&rows).map_err(|e| ApiError::new(ErrorCode::Internal, e))?;
    let exists = rows.iter().any(|r| r.kind == kind.as_str() && r.name == name);
    match (change, exists) {
        (Change::Create, true) => {
            return Err(ApiError::new(ErrorCode::AlreadyExists, format!("a {what} named `{name}` exists: change it with `update`, or choose another name")))
        }
        (Change::Update | Change::Delete, false) => return Err(ApiError::new(ErrorCode::NotFound, format!("there is no {what} `{name}` made through the API"))),
        _ => {}
    }
    flows.retain(|f| !(kind == Kind::Flow && f.name == name));
    bundles.retain(|b| !(kind == Kind::Bundle && b.name == name));
    let text = match (&body, kind) {
        (Some(b), Kind::Flow) => {
            let d: FlowDecl = serde_json::from_value(b.clone()).map_err(|e| invalid(what, e))?;
            named(what, &d.name, name)?;
            flows.push(d);
            Some(b.to_string())
        }
        (Some(b), Kind::Bundle) => {
            let d: BundleDecl = serde_json::from_value(b.clone()).map_err(|e| invalid(what, e))?;
            named(what, &d.name, name)?;
            bundles.push(d);
            Some(b.to_string())
        }
        (None, _) => None,
    };
    // The whole policy must load with the change (a flow naming a bundle
    // that is being deleted, an unknown integration...).
    build(st, &flows, &bundles).map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("the {what} does not load: {e}")))?;
    let now = clock::now();
    let audit = AuditDraft::new(&admin.email, kind.audit(change), None, Outcome::Ok, json!({ "name": name, "definition": body }));
    let done = match (change, text) {
        (Change::Delete, _) => st.store.delete_definition(kind.as_str(), name, audit, now).await?,
        (_, Some(text)) => {
            let row = DefinitionRow { kind: kind.as_str().into(), name: name.into(), body: text, created_by: admin.email.clone(), created_at: now, updated_at: now };
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
