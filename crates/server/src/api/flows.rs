//! Access flows as configured: what each covers, who asks, who approves
//! and with which settings.

use crate::auth::{Admin, Caller};
use crate::definitions::{self, Change, Kind};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use sesame_core::flow::{ApprovalMode, ScopeBy};
use sesame_core::{AccessFlow, FlowKind};
use sesame_proto::{AccessFlowView, ErrorCode};

fn target(f: &AccessFlow) -> String {
    if let Some(b) = &f.bundle {
        return format!("bundle {b}");
    }
    if let Some(s) = &f.access_scope {
        return format!("access scope {s}");
    }
    let all = |v: &[String], what: &str| if v.is_empty() { format!("every {what}") } else { v.join(", ") };
    let mut t = format!("{}: {} ({})", f.integration, all(&f.resource_types, "type"), all(&f.permissions, "permission"));
    for s in &f.resource_scopes {
        let by = match &s.by {
            ScopeBy::Name => "NAME".to_owned(),
            ScopeBy::Id => "APONO_ID".to_owned(),
            ScopeBy::Tag { key } => format!("TAG {key}"),
        };
        t.push_str(&format!("; {} {by} {}", if s.include { "include_resources" } else { "exclude_resources" }, s.values.join(", ")));
    }
    t
}

/// One view per flow name: a flow with several targets is several entries
/// in the settings, one per target.
fn views(flows: &[AccessFlow]) -> Vec<AccessFlowView> {
    let mut out: Vec<AccessFlowView> = Vec::new();
    for f in flows {
        if let Some(v) = out.iter_mut().find(|v| v.name == f.name) {
            v.access_targets.push(target(f));
            continue;
        }
        let rf = &f.request_for;
        let request_for = [(rf.own, "self"), (rf.others, "others"), (rf.direct_reports, "direct_reports")].iter().filter(|(on, _)| *on).map(|(_, n)| (*n).to_owned()).collect();
        let self_serve = f.kind == FlowKind::SelfServe;
        out.push(AccessFlowView {
            name: f.name.clone(),
            active: f.active,
            trigger: if self_serve { "SELF_SERVE" } else { "AUTOMATIC" }.into(),
            grant_duration_in_min: f.max_duration.as_secs() / 60,
            access_targets: vec![target(f)],
            requestors: f.requestors.to_string(),
            request_for,
            approval_mode: if !self_serve { String::new() } else if f.approver_policy.mode == ApprovalMode::AllOf { "ALL_OF".into() } else { "ANY_OF".into() },
            approver_groups: if self_serve { f.approver_policy.groups.iter().map(|g| g.to_string()).collect() } else { vec![] },
            timeframe: f.timeframe.as_ref().map(|t| t.to_string()),
            pending_expiry_secs: f.pending_expiry.map(|d| d.as_secs()),
            escalation_tiers: f.escalation.len(),
            justification_required: f.require_justification,
            require_approver_reason: f.require_approver_reason,
            require_mfa: f.require_mfa,
            requester_mfa: f.requester_mfa,
            max_extensions: f.max_extensions,
            extension_duration_in_min: f.extension_max.as_secs() / 60,
            labels: f.labels.clone(),
        });
    }
    out
}

/// Access flows, as configured.
#[utoipa::path(get, path = "/api/v1/access-flows", responses((status = 200, body = Vec<AccessFlowView>)))]
pub async fn list(State(st): State<AppState>, _c: Caller) -> Result<Json<Vec<AccessFlowView>>, ApiError> {
    Ok(Json(views(&st.policy().flows)))
}

/// One access flow.
#[utoipa::path(get, path = "/api/v1/access-flows/{name}", params(("name" = String, Path)), responses((status = 200, body = AccessFlowView)))]
pub async fn show(State(st): State<AppState>, _c: Caller, ApiPath(name): ApiPath<String>) -> Result<Json<AccessFlowView>, ApiError> {
    views(&st.policy().flows)
        .into_iter()
        .find(|v| v.name == name)
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("there is no access flow `{name}`: see `sesame flows list`")))
}

/// Create an access flow (admins): the configuration file's
/// `[[access_flows]]` declaration as JSON. It must load with everything
/// else (declared integrations, bundles, approvers), or nothing is stored.
#[utoipa::path(post, path = "/api/v1/access-flows", request_body = Object, responses((status = 200, body = AccessFlowView)))]
pub async fn create(State(st): State<AppState>, Admin(admin): Admin, ApiJson(body): ApiJson<serde_json::Value>) -> Result<Json<AccessFlowView>, ApiError> {
    let name = body.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_owned();
    definitions::change(&st, &admin, Kind::Flow, Change::Create, &name, Some(body)).await?;
    show(State(st), Caller(admin), ApiPath(name)).await
}

/// Replace an access flow made through the API (admins).
#[utoipa::path(put, path = "/api/v1/access-flows/{name}", params(("name" = String, Path)), request_body = Object, responses((status = 200, body = AccessFlowView)))]
pub async fn update(State(st): State<AppState>, Admin(admin): Admin, ApiPath(name): ApiPath<String>, ApiJson(body): ApiJson<serde_json::Value>) -> Result<Json<AccessFlowView>, ApiError> {
    definitions::change(&st, &admin, Kind::Flow, Change::Update, &name, Some(body)).await?;
    show(State(st), Caller(admin), ApiPath(name)).await
}

/// Delete an access flow made through the API (admins). Requests it
/// decided keep their course.
#[utoipa::path(delete, path = "/api/v1/access-flows/{name}", params(("name" = String, Path)), responses((status = 200, body = Object)))]
pub async fn delete(State(st): State<AppState>, Admin(admin): Admin, ApiPath(name): ApiPath<String>) -> Result<Json<serde_json::Value>, ApiError> {
    definitions::change(&st, &admin, Kind::Flow, Change::Delete, &name, None).await?;
    Ok(Json(serde_json::json!({ "deleted": name })))
}
