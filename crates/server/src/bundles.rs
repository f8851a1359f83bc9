//! Requests for a bundle: the bundle's targets expanded over the stored
//! inventory into grants (one per integration, type and permission), each
//! checked as a single request's grant would be, the guardrail counted
//! across all of them, one decision by the flows that name the bundle, and
//! every grant written in one transaction. Approval, revocation and roll
//! back act on all of them (`requests.rs`, `worker.rs`).

use crate::clock;
use crate::error::ApiError;
use crate::requests::{self, Checked};
use crate::state::AppState;
use serde_json::json;
use sesame_core::bundle::{self, Bundle, BundleTarget, Part};
use sesame_core::flow::{Miss, Refusal};
use sesame_core::lifecycle;
use sesame_core::{decide, AuditAction, AuditDraft, Decision, Owners, RequestDraft, RequestStatus, Timestamp, User};
use sesame_proto::{BundleRequestBody, CreateRequest, ErrorCode};
use sesame_store::{NewJob, NewRequest, RequestRow};

pub fn find(st: &AppState, name: &str) -> Result<Bundle, ApiError> {
    let policy = st.policy();
    policy.bundles.iter().find(|b| b.name == name).cloned().ok_or_else(|| {
        let known: Vec<&str> = policy.bundles.iter().map(|b| b.name.as_str()).collect();
        ApiError::new(ErrorCode::NotFound, format!("there is no bundle `{name}`: known bundles are `{}`", known.join("`, `")))
    })
}

/// The grants a bundle asks for now: its integration targets over the
/// stored inventory, its access scopes evaluated, merged.
pub async fn expand(st: &AppState, b: &Bundle) -> Result<Vec<Part>, ApiError> {
    let mut parts = Vec::new();
    for t in &b.targets {
        match t {
            BundleTarget::Integration { integration, resource_type, permissions, scopes } => {
                let inventory: Vec<_> = st.store.list_inventory(integration, Some(resource_type)).await?.iter().map(requests::requested_resource).collect();
                // What it selects now, granted by name — or, where the
                // target can select by itself, by the same tag or as `*`.
                let selectors = bundle::target_selectors(scopes);
                for mut p in bundle::integration_parts(integration, resource_type, permissions, scopes, &inventory) {
                    if let Some(sels) = selectors.as_ref().filter(|_| crate::scopes::selectable(st, &p)) {
                        p.resources = sels.iter().map(ToString::to_string).collect();
                    }
                    parts.push(p);
                }
            }
            BundleTarget::Scope { name } => {
                let row = st.store.scope(name).await?.ok_or_else(|| {
                    ApiError::new(ErrorCode::CannotGrant, format!("bundle `{}` names access scope `{name}`, which does not exist: ask an admin to create it", b.name))
                })?;
                let q: sesame_core::aql::Query = row.query.parse().map_err(|e| ApiError::new(ErrorCode::InvalidQuery, format!("access scope `{name}`: {e}")))?;
                parts.extend(crate::scopes::grants(st, &q).await?);
            }
        }
    }
    let parts = bundle::merge(parts);
    if parts.is_empty() {
        return Err(ApiError::new(
            ErrorCode::UnknownResource,
            format!("bundle `{}` selects no resource in the inventory now: an admin can refresh it with `sesame inventory sync`", b.name),
        ));
    }
    Ok(parts)
}

/// What a request of several grants asks for: a bundle, or what an access
/// scope selects (then it is a bundle request of one access-scope target).
#[derive(Debug, Clone)]
pub enum Asked {
    Bundle(String),
    Scope(String),
}

impl Asked {
    /// As messages name it.
    fn label(&self) -> String {
        match self {
            Asked::Bundle(b) => format!("bundle `{b}`"),
            Asked::Scope(s) => format!("access scope `{s}`"),
        }
    }
}

/// What a bundle request would become.
pub struct BundlePlan {
    pub bundle: String,
    pub parts: Vec<(Part, Checked)>,
    pub plan: requests::Plan,
}

fn body_of(p: &Part, b: &BundleRequestBody) -> CreateRequest {
    CreateRequest {
        integration: p.integration.clone(),
        resource_type: p.resource_type.clone(),
        resources: p.resources.clone(),
        permission: p.permission.clone(),
        duration: b.duration.clone(),
        justification: b.justification.clone(),
        grantee: None,
    }
}

/// Validate and decide a bundle request; nothing written.
pub async fn plan(st: &AppState, who: &User, asked: &Asked, body: &BundleRequestBody, now: Timestamp) -> Result<BundlePlan, ApiError> {
    requests::may_request(st, who)?;
    let label = asked.label();
    // A scope request is covered by the flows whose target is that scope,
    // as if the scope selected a request for every unit it selects.
    let (b, selected) = match asked {
        Asked::Bundle(name) => (find(st, name)?, vec![]),
        Asked::Scope(name) => {
            if st.store.scope(name).await?.is_none() {
                return Err(ApiError::new(ErrorCode::NotFound, format!("there is no access scope `{name}`: see `sesame scopes list`")));
            }
            (Bundle { name: format!("access scope {name}"), targets: vec![BundleTarget::Scope { name: name.clone() }] }, vec![name.clone()])
        }
    };
    let duration = requests::parse_duration(&body.duration)?;
    let draft = RequestDraft {
        requester: who,
        grantee: None,
        bundle: matches!(asked, Asked::Bundle(_)).then_some(b.name.as_str()),
        integration: "",
        resource_type: "",
        resources: &[],
        selected_by: &selected,
        permission: "",
        duration,
        justification: body.justification.as_deref(),
    };
    // Who may ask, first (approvers wait for the owners of what it selects).
    let people = st.people();
    let dir = &people.directory;
    if let Decision::Refuse(r) = decide(&draft, &st.policy().flows, dir, &Owners::default(), now) {
        if !matches!(r, Refusal::NoApprover { .. }) {
            return Err(refusal(&r, who, &label, &body.duration));
        }
    }
    // Each grant is checked as a single request's would be; the guardrail
    // counts the AWS resources selected by name across all the grants of
    // the request — between integrations and within the bundle, as the
    // seed's table says (a bundle's targets are granted by name here, so
    // every resource they select counts).
    let mut checked = Vec::new();
    let mut named = 0usize;
    let grants = expand(st, &b).await?;
    for p in &grants {
        let c = requests::check(st, &body_of(p, body)).await?;
        if let Some(limit) = c.integration.descriptor().limits.named_resources {
            named += p.resources.iter().filter(|r| sesame_core::policy::Selector::parse(r).is_none()).count();
            sesame_core::policy::check_selection(named, limit).map_err(|g| {
                ApiError::new(ErrorCode::TooManyResources, format!("{label} selects too much, across its AWS grants: {g}"))
            })?;
        }
        requests::preflight(&c, who, &body_of(p, body), now).await?;
        checked.push((p.clone(), c));
    }
    // Every grant of a bundle request shares the flow's decision, with each
    // integration's owners for its resources; the login rule is each
    // integration's own (read when writing).
    let owners = Owners::across(checked.iter().map(|(p, c)| (p.integration.clone(), crate::owners::owners_for(&c.integration.descriptor().settings, &c.found, dir))).collect(), dir);
    let (status, flow, approvers, parts) = match decide(&draft, &st.policy().flows, dir, &owners, now) {
        Decision::Grant { flow } => (RequestStatus::Granting, flow, vec![], vec![]),
        Decision::Pending { flow, approvers, parts } => (RequestStatus::Pending, flow, approvers, parts),
        Decision::Refuse(r) => return Err(refusal(&r, who, &label, &body.duration)),
    };
    let Some(username) = checked.first().map(|(_, c)| c.integration.descriptor().username.clone()) else {
        return Err(ApiError::new(ErrorCode::UnknownResource, format!("{label} selects nothing to grant now")));
    };
    let plan = requests::Plan { status, flow, approvers, parts, duration, username, grantee: None };
    Ok(BundlePlan { bundle: b.name.clone(), parts: checked, plan })
}

fn refusal(r: &Refusal, who: &User, label: &str, duration: &str) -> ApiError {
    match r {
        Refusal::NoMatchingFlow { closest } => {
            let why = match closest {
                Some((f, Miss::Requester)) => format!("; `{f}` covers it, but not for you"),
                Some((f, Miss::Inactive)) => format!("; `{f}` covers it and is inactive"),
                Some((f, Miss::Bundle { covers: Some(b) })) if format!("bundle `{b}`") != label => format!("; the closest, `{f}`, covers bundle `{b}`"),
                _ => String::new(),
            };
            ApiError::new(ErrorCode::NoMatchingFlow, format!("no access flow lets `{}` request {label}{why}: ask an admin to add one", who.email))
        }
        Refusal::DurationTooLong { flow, max } => ApiError::new(
            ErrorCode::DurationTooLong,
            format!("`{duration}` is longer than access flow `{flow}` allows: ask for `{}` or less", humantime::format_duration(*max)),
        ),
        Refusal::JustificationRequired { flow } => {
            ApiError::new(ErrorCode::JustificationRequired, format!("access flow `{flow}` requires a justification: say why with --justification"))
        }
        Refusal::NoApprover { flow } => ApiError::new(ErrorCode::NoApprover, format!("access flow `{flow}` has no approver other than you: ask an admin to add approvers")),
        Refusal::OutsideTimeframe { flow, timeframe, next } => ApiError::new(
            ErrorCode::OutsideTimeframe,
            match next {
                Some(w) => format!("access flow `{flow}` takes requests {timeframe}: ask again between {} and {}", clock::rfc3339(w.opens), clock::rfc3339(w.closes)),
                None => format!("access flow `{flow}` takes requests {timeframe}, and no window opens in the next week: ask an admin"),
            },
        ),
    }
}


/// Make a bundle request: every grant, its jobs and audit entry in one
/// transaction, all with the same status and deadline.
pub async fn create(st: &AppState, who: &User, asked: &Asked, body: &BundleRequestBody) -> Result<(String, Vec<RequestRow>), ApiError> {
    let now = clock::now();
    let BundlePlan { bundle, parts, plan } = plan(st, who, asked, body, now).await?;
    let group = requests::new_id("bnd");
    let opening = lifecycle::open(requests::start_for(st, &plan.flow, plan.status == RequestStatus::Granting, plan.duration), now);
    let mut rows = Vec::new();
    for (p, c) in &parts {
        let id = requests::new_request_id();
        let username = requests::username_for(&c.integration.descriptor().username, who, &id);
        let jobs: Vec<NewJob> = NewJob::scheduled(&id, &opening.schedule);
        let new = NewRequest {
            id: id.clone(),
            requester: who.email.clone(),
            integration: p.integration.clone(),
            resource_type: p.resource_type.clone(),
            resources: p.resources.clone(),
            permission: p.permission.clone(),
            duration_ms: i64::try_from(c.duration.as_millis()).unwrap_or(i64::MAX),
            justification: body.justification.clone(),
            status: opening.status,
            flow: plan.flow.clone(),
            approvers: plan.approvers.clone(),
            approval_parts: plan.parts.clone(),
            username,
            deadline: opening.deadline,
            bundle: Some((bundle.clone(), group.clone())),
            grantee: None,
        };
        let audit = AuditDraft::new(
            &who.email,
            AuditAction::RequestCreate,
            Some(&id),
            opening.outcome,
            json!({
                "bundle": bundle, "bundle_request": group, "integration": p.integration, "resource_type": p.resource_type,
                "resources": p.resources, "permission": p.permission, "duration": body.duration, "justification": body.justification,
                "flow": plan.flow, "approvers": plan.approvers, "approval_parts": plan.parts,
            }),
        );
        rows.push((new, jobs, audit));
    }
    st.store.insert_requests(&rows, now).await?;
    st.wake_worker.notify_one();
    if let Some(at) = rows.iter().flat_map(|(_, j, _)| j.iter().map(|j| j.run_at)).filter(|at| *at > now).min() {
        st.job_due_at(at);
    }
    Ok((group, rows.iter().map(|(n, _, _)| n.stored_at(now)).collect()))
}

/// The grants of a bundle request, for whoever may see one of them.
pub async fn group(st: &AppState, who: &User, group: &str) -> Result<Vec<RequestRow>, ApiError> {
    let rows = st.store.bundle_requests(group).await?;
    if rows.is_empty() || !rows.iter().any(|r| requests::may_see(who, r)) {
        return Err(ApiError::new(ErrorCode::NotFound, format!("bundle request `{group}` does not exist: list yours with `sesame requests list`")));
    }
    Ok(rows)
}

/// Wait until no grant of the group is Granting or Revoking (or `timeout`).
pub async fn wait_settled(st: &AppState, group: &str, timeout: std::time::Duration) -> Result<Vec<RequestRow>, ApiError> {
    let until = tokio::time::Instant::now() + timeout;
    loop {
        let rows = st.store.bundle_requests(group).await?;
        if !rows.iter().any(|r| matches!(r.status, RequestStatus::Granting | RequestStatus::Revoking)) || tokio::time::Instant::now() >= until {
            return Ok(rows);
        }
        let mut rx = st.changes.subscribe();
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), rx.recv()).await;
    }
}
