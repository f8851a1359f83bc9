//! Request handling: validate, decide (pure core), record, schedule.
//! Deadlines and revoke jobs are written before any side effect.

use crate::clock;
use crate::error::ApiError;
use crate::state::AppState;
use sesame_core::approval::{self, ApprovalRefusal};
use sesame_core::flow::{Miss, Refusal};
use sesame_core::lifecycle::{self, Event, Step, TransitionError};
use sesame_core::{decide, AuditAction, AuditDraft, Decision, Outcome, RequestDraft, RequestStatus, Timestamp, User};
use sesame_proto::{CreateRequest, ErrorCode};
use sesame_store::{NewJob, NewRequest, RequestRow};
use serde_json::json;
use std::time::Duration;

pub fn new_request_id() -> String {
    new_id("req")
}

/// A fresh id: `prefix_` and 12 random characters people can read aloud.
pub fn new_id(prefix: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    let body: String = (0..12).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("{prefix}_{body}")
}

/// The grantee's login name on a target, by the integration's rule.
pub fn username_for(rule: &sesame_integrations::UsernameRule, who: &User, id: &str) -> String {
    if rule.requester_identity {
        who.email.clone()
    } else {
        sesame_core::username::derive_username(&rule.prefix, &who.email, id, rule.max_len)
    }
}

/// How a request decided by `flow` starts: its expiry, escalation and
/// requester MFA are the flow's.
pub fn start_for(st: &AppState, flow: &str, granted: bool, duration: Duration) -> lifecycle::Start {
    let policy = st.policy();
    let the_flow = policy.flows.iter().find(|f| f.name == flow);
    lifecycle::Start {
        granted,
        mfa_first: the_flow.is_some_and(|f| f.requester_mfa),
        duration,
        pending_for: the_flow.and_then(|f| f.pending_expiry),
        escalate_after: the_flow.and_then(|f| f.escalation.first()).map(|t| t.after),
    }
}

pub fn parse_duration(s: &str) -> Result<Duration, ApiError> {
    let d = humantime::parse_duration(s.trim()).map_err(|_| {
        ApiError::new(ErrorCode::InvalidDuration, format!("`{s}` is not a duration: write e.g. `30m`, `2h` or `1h 30m`"))
    })?;
    if d < Duration::from_secs(1) {
        return Err(ApiError::new(ErrorCode::InvalidDuration, format!("`{s}` is too short: ask for at least `1s`")));
    }
    Ok(d)
}

/// What a request would become, decided without writing anything.
pub struct Plan {
    pub status: RequestStatus,
    pub flow: String,
    pub approvers: Vec<String>,
    pub parts: Vec<sesame_core::ApprovalPart>,
    pub duration: Duration,
    /// How the integration names the grantee's login.
    pub username: sesame_integrations::UsernameRule,
    /// Who gets the access, when someone asked for them.
    pub grantee: Option<User>,
}

/// The resources of a request, each once, in the order given; at most
/// [`crate::limits::MAX_RESOURCES_PER_REQUEST`] before the store is asked.
pub fn normalize(mut body: CreateRequest) -> Result<CreateRequest, ApiError> {
    let max = crate::limits::MAX_RESOURCES_PER_REQUEST;
    if body.resources.len() > max * 4 {
        return Err(ApiError::new(ErrorCode::TooManyResources, format!("{} resources in one request; at most {max}: split the request", body.resources.len())));
    }
    let mut seen = std::collections::HashSet::new();
    body.resources.retain(|r| seen.insert(r.clone()));
    if body.resources.len() > max {
        return Err(ApiError::new(ErrorCode::TooManyResources, format!("{} distinct resources in one request; at most {max}: split the request", body.resources.len())));
    }
    Ok(body)
}

/// A request's grant checked against its integration and the stored
/// inventory: the integration, the resources as the inventory knows them
/// and the duration asked for.
pub struct Checked {
    pub integration: std::sync::Arc<dyn sesame_integrations::Integration>,
    pub found: Vec<sesame_store::StoredResource>,
    pub duration: Duration,
}

/// Everything about one grant that holds whoever decides: the integration
/// offers the type and permission, the resources are known, the guardrail
/// holds, the duration reads.
pub async fn check(st: &AppState, body: &CreateRequest) -> Result<Checked, ApiError> {
    let policy = st.policy();
    let parent = body.integration.split_once('/').map_or(body.integration.as_str(), |(p, _)| p);
    if policy.retiring.contains(parent) {
        return Err(ApiError::new(
            ErrorCode::UnknownIntegration,
            format!("integration `{parent}` is being deleted (its grants are being revoked): ask for access through another"),
        ));
    }
    let integ = st.integration(&body.integration).ok_or_else(|| {
        let known: Vec<&str> = policy.integrations.keys().map(String::as_str).collect();
        ApiError::new(
            ErrorCode::UnknownIntegration,
            format!("integration `{}` does not exist: known integrations are `{}`", body.integration, known.join("`, `")),
        )
    })?;
    let offer = integ.descriptor();
    if !offer.offers(&body.resource_type) {
        let types = offer.type_names();
        return Err(ApiError::new(
            ErrorCode::UnknownResourceType,
            format!("`{}` has no resource type `{}`: use one of `{}`", body.integration, body.resource_type, types.join("`, `")),
        ));
    }
    let perms: Vec<&str> = offer.permissions(&body.resource_type).iter().map(|p| p.id.as_str()).collect();
    if !perms.contains(&body.permission.as_str()) {
        return Err(ApiError::new(
            ErrorCode::UnknownPermission,
            format!("`{}` is not a permission of `{}`: use one of `{}`", body.permission, body.resource_type, perms.join("`, `")),
        ));
    }
    if body.resources.is_empty() {
        return Err(ApiError::new(ErrorCode::UnknownResource, "no resources given: name at least one resource id"));
    }
    // `tag:KEY=VALUE` and `*` select resources instead of naming them
    // (where the permission is `selectable`: aws-account integrations); the
    // rest are names the inventory knows.
    let selectable = offer.permissions(&body.resource_type).iter().any(|p| p.id == body.permission && p.selectable);
    let mut selectors = Vec::new();
    let mut named = Vec::new();
    for r in &body.resources {
        match sesame_core::policy::Selector::parse(r) {
            Some(Ok(sel)) if selectable => selectors.push(sel),
            Some(Ok(_)) => {
                return Err(ApiError::new(
                    ErrorCode::UnknownResource,
                    format!(
                        "`{r}` selects resources by tag or all of them, which `{}` does not grant for {} {}: name the resources",
                        body.integration, body.resource_type, body.permission
                    ),
                ))
            }
            Some(Err(e)) => return Err(ApiError::new(ErrorCode::UnknownResource, e)),
            None => named.push(r.clone()),
        }
    }
    let mut found = st.store.find_resources(&body.integration, &body.resource_type, &named).await?;
    if let Some(first) = named.iter().find(|id| !found.iter().any(|f| &f.id == *id)) {
        return Err(ApiError::new(
            ErrorCode::UnknownResource,
            format!(
                "`{first}` is not a known {} of `{}`: list them with `sesame inventory resources {}` (an admin can refresh with `sesame inventory sync {}`)",
                body.resource_type, body.integration, body.integration, body.integration
            ),
        ));
    }
    // The guardrail counts resources selected by name; a selector is one
    // statement however many resources it reaches.
    if let Some(limit) = offer.limits.named_resources {
        sesame_core::policy::check_selection(named.len(), limit)
            .map_err(|g| ApiError::new(ErrorCode::TooManyResources, g.to_string()))?;
    }
    // A selector is what flows read for it: its tag, never a name.
    found.extend(selectors.iter().map(|sel| sesame_store::StoredResource {
        resource_type: body.resource_type.clone(),
        id: sel.to_string(),
        name: sel.to_string(),
        metadata: sel.tag().map(|(k, v)| (format!("tag:{k}"), v.to_owned())).into_iter().collect(),
    }));
    let duration = parse_duration(&body.duration)?;
    Ok(Checked { integration: integ, found, duration })
}

/// The integration's own check of what it would grant (e.g. IAM policy
/// sizing), before anything is submitted. Trouble reaching the target does
/// not block the request: the grant job retries.
pub async fn preflight(c: &Checked, who: &User, body: &CreateRequest, now: Timestamp) -> Result<(), ApiError> {
    let probe = sesame_proto::ActionParams {
        resource_type: body.resource_type.clone(),
        resources: body.resources.clone(),
        permission: body.permission.clone(),
        custom_parameters: [(sesame_proto::REQUESTER_PARAM.to_owned(), who.email.clone())].into(),
        ..Default::default()
    };
    match c.integration.preflight(&probe, now.plus(c.duration)).await {
        Ok(()) => Ok(()),
        Err(sesame_integrations::IntegrationError::Invalid(m)) => {
            Err(ApiError::new(ErrorCode::CannotGrant, format!("`{}` cannot grant this as asked: {m}", body.integration)))
        }
        Err(e) => {
            tracing::warn!(integration = %body.integration, error = %e, "preflight failed; submitting anyway");
            Ok(())
        }
    }
}

/// Validate and decide: everything `create` does before it writes. The
/// dry-run endpoint answers with this, so warnings come before submission.
pub async fn plan(st: &AppState, who: &User, body: &CreateRequest, now: Timestamp) -> Result<Plan, ApiError> {
    may_request(st, who)?;
    let checked = check(st, body).await?;
    // Asking for someone else: they must be someone Sesame knows.
    let grantee = match body.grantee.as_deref().map(str::trim) {
        Some(g) if !g.eq_ignore_ascii_case(&who.email) => Some(st.people().directory.user(g).cloned().ok_or_else(|| {
            ApiError::new(ErrorCode::NotFound, format!("there is nobody named `{g}` in the directory: ask for someone Sesame knows, by e-mail"))
        })?),
        _ => None,
    };
    let (offer, found, duration) = (checked.integration.descriptor(), &checked.found, checked.duration);
    let requested: Vec<sesame_core::flow::RequestedResource> = found.iter().map(requested_resource).collect();
    // The access scopes flows name, evaluated on what is asked.
    let mut scope_names: Vec<String> = st.policy().flows.iter().filter_map(|f| f.access_scope.clone()).collect();
    scope_names.sort();
    scope_names.dedup();
    // A selector reaches resources nobody listed: no access scope vouches for it.
    let has_selector = requested.iter().any(|r| r.selector);
    let selected_by = match offer.permissions(&body.resource_type).iter().find(|p| p.id == body.permission) {
        Some(p) if !scope_names.is_empty() && !has_selector => crate::scopes::selecting(st, &scope_names, &body.integration, offer.kind.as_str(), found, p).await?,
        _ => Vec::new(),
    };
    let draft = RequestDraft {
        requester: who,
        grantee: grantee.as_ref(),
        bundle: None,
        integration: &body.integration,
        resource_type: &body.resource_type,
        resources: &requested,
        selected_by: &selected_by,
        permission: &body.permission,
        duration,
        justification: body.justification.as_deref(),
    };
    let people = st.people();
    let owners = crate::owners::owners_for(&offer.settings, found, &people.directory);
    let decision = decide(&draft, &st.policy().flows, &people.directory, &owners, now);
    if let Decision::Refuse(r) = &decision {
        return Err(refusal(r, who, body));
    }
    preflight(&checked, grantee.as_ref().unwrap_or(who), body, now).await?;
    match decision {
        Decision::Grant { flow } => Ok(Plan { status: RequestStatus::Granting, flow, approvers: vec![], parts: vec![], duration, username: offer.username.clone(), grantee }),
        Decision::Pending { flow, mut parts, .. } => {
            // Who gets the access never approves it either (unless the flow
            // opts in to self-approval).
            let self_ok = st.policy().flows.iter().any(|f| f.name == flow && f.self_approval);
            if let Some(g) = grantee.as_ref().filter(|_| !self_ok) {
                for p in &mut parts {
                    p.approvers.retain(|a| !a.eq_ignore_ascii_case(&g.email));
                }
                if parts.iter().any(|p| p.approvers.is_empty()) {
                    return Err(refusal(&Refusal::NoApprover { flow }, who, body));
                }
            }
            let approvers = sesame_core::approval::all_approvers(&parts);
            Ok(Plan { status: RequestStatus::Pending, flow, approvers, parts, duration, username: offer.username.clone(), grantee })
        }
        Decision::Refuse(r) => Err(refusal(&r, who, body)),
    }
}

/// Whether the person may ask for access at all (`[roles] requesters`).
pub fn may_request(st: &AppState, who: &User) -> Result<(), ApiError> {
    let policy = st.policy();
    let roles = &policy.roles;
    if roles.may_request(who) {
        return Ok(());
    }
    let groups = roles.requesters.as_deref().unwrap_or_default().join("`, `");
    Err(ApiError::new(ErrorCode::Forbidden, format!("only members of `{groups}` ask for access here (`[roles] requesters`, or groups declared with the `requester` role): ask an admin to add you")))
}

/// A stored resource (or a selector) as flows' resource scopes read it.
pub fn requested_resource(f: &sesame_store::StoredResource) -> sesame_core::flow::RequestedResource {
    sesame_core::flow::RequestedResource {
        id: f.id.clone(),
        name: f.name.clone(),
        tags: f.metadata.iter().filter_map(|(k, v)| k.strip_prefix("tag:").map(|t| (t.to_owned(), v.clone()))).collect(),
        selector: sesame_core::policy::Selector::parse(&f.id).is_some_and(|s| s.is_ok()),
    }
}

pub async fn create(st: &AppState, who: &User, body: &CreateRequest) -> Result<RequestRow, ApiError> {
    Ok(create_showing(st, who, body, false).await?.row)
}

/// Credentials asked for with the request, handed over by the grant job
/// that makes them (never stored) once the request is Active: none if the
/// grant fails, or the request moved on meanwhile.
pub type Handover = tokio::sync::oneshot::Receiver<crate::worker::Handed>;

/// A request just stored: its row as stored, its credentials to come (if
/// asked for with it), and how long its insert's commit took.
pub struct Created {
    pub row: RequestRow,
    pub handover: Option<Handover>,
    pub stored: std::time::Duration,
}

/// [`create`]; with `show`, a request granted at once also makes its
/// credentials in the grant, for the requester, who must be the grantee.
/// They are marked shown and audited in the commit that stores the request
/// (so on the disk before they exist), and handed over once Active.
pub async fn create_showing(st: &AppState, who: &User, body: &CreateRequest, show: bool) -> Result<Created, ApiError> {
    let now = clock::now();
    let Plan { status, flow, approvers, parts, duration, username: rule, grantee } = plan(st, who, body, now).await?;
    tracing::debug!(flow = %flow, "planned");
    if show && grantee.is_some() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "credentials go to the grantee, not to whoever asked for them: ask without credentials=true, and the grantee runs `sesame access use`",
        ));
    }
    let id = new_request_id();
    let username = username_for(&rule, grantee.as_ref().unwrap_or(who), &id);
    let opening = lifecycle::open(start_for(st, &flow, status == RequestStatus::Granting, duration), now);
    let jobs: Vec<NewJob> = NewJob::scheduled(&id, &opening.schedule);
    let new = NewRequest {
        id: id.clone(),
        requester: who.email.clone(),
        integration: body.integration.clone(),
        resource_type: body.resource_type.clone(),
        resources: body.resources.clone(),
        permission: body.permission.clone(),
        duration_ms: i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
        justification: body.justification.clone(),
        status: opening.status,
        flow: flow.clone(),
        approvers: approvers.clone(),
        approval_parts: parts.clone(),
        username,
        deadline: opening.deadline,
        bundle: None,
        grantee: grantee.as_ref().map(|g| g.email.clone()),
    };
    let audit = AuditDraft::new(
        &who.email,
        AuditAction::RequestCreate,
        Some(&id),
        opening.outcome,
        json!({
            "grantee": grantee.as_ref().map(|g| &g.email),
            "integration": body.integration, "resource_type": body.resource_type, "resources": body.resources,
            "permission": body.permission, "duration": body.duration, "justification": body.justification,
            "flow": flow, "approvers": approvers, "approval_parts": parts,
        }),
    );
    // The row as stored, so nobody need read it back.
    let mut row = new.stored_at(now);
    let mut handover = None;
    let started = std::time::Instant::now();
    let stored = if jobs.iter().any(|j| j.run_at <= now) {
        // Granting at once: claimed in the same commit and run here, as the
        // worker would run it (no hand-off, no second commit for the claim).
        let owner = format!("api-{}", std::process::id());
        let shown = show.then(|| AuditDraft::new(&who.email, AuditAction::CredentialsCreate, Some(&id), Outcome::Ok, json!({"username": new.username, "with_grant": true})));
        if shown.is_some() {
            (row.credentials_shown_at, row.credentials_created_at) = (Some(now), Some(now));
        }
        let claimed = st.store.insert_request_claiming(&new, &jobs, audit, now, sesame_store::Lease { owner: &owner, ms: st.settings.worker.lease_ms() }, shown).await?;
        let stored = started.elapsed();
        tracing::debug!(request = %id, "stored, grant claimed");
        for job in claimed {
            let hand = (show && job.kind == sesame_core::JobKind::Grant).then(|| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                handover = Some(rx);
                tx
            });
            let (st, row) = (st.clone(), row.clone());
            tokio::spawn(async move { crate::worker::run_claimed_on(&st, job, row, hand).await });
        }
        stored
    } else {
        st.store.insert_request(&new, &jobs, audit, now).await?;
        started.elapsed()
    };
    // The revoke at the deadline is the worker's.
    if let Some(at) = jobs.iter().map(|j| j.run_at).filter(|at| *at > now).min() {
        st.job_due_at(at);
    }
    Ok(Created { row, handover, stored })
}

fn refusal(r: &Refusal, who: &User, body: &CreateRequest) -> ApiError {
    match r {
        Refusal::NoMatchingFlow { closest } => {
            let list = |v: &[String]| format!("`{}`", v.join("`, `"));
            let why = match closest {
                None => String::new(),
                Some((f, Miss::Inactive)) => format!("; the closest, `{f}`, is inactive"),
                Some((f, Miss::Integration { covers })) => format!("; the closest, `{f}`, is for integration `{covers}`"),
                Some((f, Miss::ResourceType { covers })) => format!("; the closest, `{f}`, covers resource types {}", list(covers)),
                Some((f, Miss::Permission { covers })) => format!("; the closest, `{f}`, covers permissions {}", list(covers)),
                Some((f, Miss::Resources { outside })) => format!("; the closest, `{f}`, does not cover {}", list(outside)),
                Some((f, Miss::Scope { scope })) => format!("; the closest, `{f}`, covers what access scope `{scope}` selects, and it does not select all of this"),
                Some((f, Miss::Requester)) => format!("; `{f}` covers this, but not for you"),
                Some((f, Miss::Bundle { covers: Some(b) })) => format!("; the closest, `{f}`, covers requests for bundle `{b}` only"),
                Some((f, Miss::Bundle { covers: None })) => format!("; the closest, `{f}`, covers no bundle"),
                Some((f, Miss::RequestFor)) => match &body.grantee {
                    Some(g) if !g.trim().eq_ignore_ascii_case(&who.email) => format!("; `{f}` covers this, but does not let you ask for `{}`", g.trim()),
                    _ => format!("; `{f}` covers this, but only for others: ask for someone with --for"),
                },
            };
            ApiError::new(
                ErrorCode::NoMatchingFlow,
                format!(
                    "no access flow lets `{}` request `{}` on {} of `{}`{why}: ask an admin to add one",
                    who.email, body.permission, body.resource_type, body.integration
                ),
            )
        }
        Refusal::DurationTooLong { flow, max } => ApiError::new(
            ErrorCode::DurationTooLong,
            format!("`{}` is longer than access flow `{flow}` allows: ask for `{}` or less", body.duration, humantime::format_duration(*max)),
        ),
        Refusal::JustificationRequired { flow } => ApiError::new(
            ErrorCode::JustificationRequired,
            format!("access flow `{flow}` requires a justification: say why with --justification"),
        ),
        Refusal::NoApprover { flow } => ApiError::new(
            ErrorCode::NoApprover,
            format!("access flow `{flow}` has no approver other than you: ask an admin to add approvers"),
        ),
        Refusal::OutsideTimeframe { flow, timeframe, next } => ApiError::new(
            ErrorCode::OutsideTimeframe,
            match next {
                Some(w) => format!(
                    "access flow `{flow}` takes requests {timeframe}: ask again between {} and {}",
                    crate::clock::rfc3339(w.opens),
                    crate::clock::rfc3339(w.closes)
                ),
                None => format!("access flow `{flow}` takes requests {timeframe}, and no window opens in the next week: ask an admin"),
            },
        ),
    }
}

pub async fn get(st: &AppState, id: &str) -> Result<RequestRow, ApiError> {
    st.store
        .get_request(id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("request `{id}` does not exist: list yours with `sesame requests list`")))
}

/// The approvers of the parts nobody approved yet, for messages.
pub fn waiting_for(r: &RequestRow) -> String {
    let names: Vec<String> = approval::remaining(&r.approval_parts, &r.approvals).iter().map(|i| r.approval_parts[*i].approvers.join(" or ")).collect();
    if names.is_empty() {
        "nobody".into()
    } else {
        names.join(", and ")
    }
}

/// May `who` see request `r`? The requester, the grantee, its approvers and admins.
pub fn may_see(who: &User, r: &RequestRow) -> bool {
    who.admin
        || who.auditor
        || r.requester.eq_ignore_ascii_case(&who.email)
        || r.grantee.eq_ignore_ascii_case(&who.email)
        || r.approvers.iter().any(|a| a.eq_ignore_ascii_case(&who.email))
}

pub async fn visible(st: &AppState, who: &User, id: &str) -> Result<RequestRow, ApiError> {
    // A bundle request's id stands for its grants: read as the first.
    let r = match id.starts_with("bnd_") {
        true => st.store.bundle_requests(id).await?.into_iter().next().ok_or_else(|| {
            ApiError::new(ErrorCode::NotFound, format!("request `{id}` does not exist: list yours with `sesame requests list`"))
        })?,
        false => get(st, id).await?,
    };
    if !may_see(who, &r) {
        return Err(ApiError::new(ErrorCode::NotFound, format!("request `{id}` does not exist: list yours with `sesame requests list`")));
    }
    Ok(r)
}

fn conflict(id: &str, found: Option<RequestStatus>, what: &str) -> ApiError {
    let status = found.map(|s| s.to_string()).unwrap_or_else(|| "gone".into());
    ApiError::new(ErrorCode::InvalidState, format!("request `{id}` is {status} and cannot be {what}"))
}

/// An approver of a flow with `require_mfa` has stepped up: with `code`
/// now, or with `sesame mfa verify` within [`crate::mfa::STEP_UP_VALID`].
async fn approver_stepped_up(st: &AppState, who: &User, flow: &str, code: Option<&str>, now: Timestamp) -> Result<(), ApiError> {
    if !st.policy().flows.iter().any(|f| f.name == flow && f.require_mfa) {
        return Ok(());
    }
    if let Some(code) = code {
        crate::mfa::verify(st, who, code).await?;
        return Ok(());
    }
    if crate::mfa::stepped_up(st, who, now).await? {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::MfaRequired,
        format!(
            "access flow `{flow}` asks approvers to step up with MFA: approve with --mfa-code CODE, or run `sesame mfa verify CODE` first (it counts for {}); not enrolled? `sesame mfa enroll`",
            humantime::format_duration(crate::mfa::STEP_UP_VALID)
        ),
    ))
}

/// A request and, for a bundle's grant, every grant of its bundle request
/// (they are approved, rejected and revoked together).
async fn with_siblings(st: &AppState, r: &RequestRow) -> Result<Vec<RequestRow>, ApiError> {
    Ok(match &r.bundle {
        Some((_, group)) => st.store.bundle_requests(group).await?,
        None => vec![r.clone()],
    })
}

/// Apply one person's event to a request and its bundle siblings, all or
/// none.
async fn apply_together(st: &AppState, rows: &[RequestRow], event: &Event, what: &str, now: Timestamp) -> Result<(), ApiError> {
    let mut changes = Vec::new();
    for x in rows {
        match lifecycle::step(&crate::worker::facts(x), event.clone(), now).map_err(|e: TransitionError| conflict(&x.id, Some(e.from), what))? {
            Step::Change(t) => changes.push(t),
            _ => continue,
        }
    }
    if let Err((id, found)) = st.store.apply_all(&changes, now).await? {
        return Err(conflict(&id, found, what));
    }
    for t in &changes {
        st.changed(&t.request_id);
    }
    st.wake_worker.notify_one();
    Ok(())
}

pub async fn decide_pending(st: &AppState, who: &User, id: &str, approve: bool, reason: Option<String>, mfa_code: Option<&str>) -> Result<RequestRow, ApiError> {
    let now = clock::now();
    let r = visible(st, who, id).await?;
    let id = r.id.as_str();
    let refused = |e: ApprovalRefusal| match e {
        ApprovalRefusal::OwnRequest => ApiError::new(ErrorCode::SelfApproval, "you cannot approve or reject your own request: another approver must"),
        ApprovalRefusal::NotAnApprover => ApiError::new(
            ErrorCode::NotAnApprover,
            format!("you are not an approver of `{id}`: its approvers are `{}`", r.approvers.join("`, `")),
        ),
        ApprovalRefusal::AlreadyApproved => ApiError::new(
            ErrorCode::InvalidState,
            format!("you approved your part of `{id}` already: it waits for {}", waiting_for(&r)),
        ),
    };
    if let (RequestStatus::Active, Some(e)) = (r.status, &r.extension_asked) {
        return decide_extension(st, who, &r, e, approve, reason, mfa_code).await;
    }
    if r.status != RequestStatus::Pending {
        return Err(conflict(id, Some(r.status), if approve { "approved" } else { "rejected" }));
    }
    // A flow that opts in to self-approval (`requester_cannot_approve_self
    // = false`) lets the requester (and grantee) approve; no other does.
    let self_ok = st.policy().flows.iter().any(|f| f.name == r.flow && f.self_approval);
    let requester = if self_ok { "" } else { r.requester.as_str() };
    if !self_ok && r.grantee.eq_ignore_ascii_case(&who.email) {
        return Err(refused(ApprovalRefusal::OwnRequest));
    }
    // Who may decide is checked first; then what they sent.
    let reason_needed = || {
        let wants = st.policy().flows.iter().any(|f| f.name == r.flow && f.require_approver_reason);
        if wants && reason.as_deref().is_none_or(|x| x.trim().is_empty()) {
            return Err(ApiError::new(
                ErrorCode::ReasonRequired,
                format!("access flow `{}` asks approvers for a reason: say why with --reason", r.flow),
            ));
        }
        Ok(())
    };
    if approve {
        // Each part needs one of its approvers; until every part has one, the
        // approval is recorded and the request stays Pending.
        let progress = approval::approve(&r.approval_parts, &r.approvals, &who.email, requester).map_err(refused)?;
        reason_needed()?;
        // An approval without the step-up the flow asks for does not count.
        approver_stepped_up(st, who, &r.flow, mfa_code, now).await?;
        if !progress.complete() {
            let detail = json!({ "reason": reason, "approvals": progress.approvals, "remaining_parts": progress.remaining.iter().map(|i| &r.approval_parts[*i]).collect::<Vec<_>>() });
            for x in with_siblings(st, &r).await? {
                let audit = AuditDraft::new(&who.email, AuditAction::RequestApprovePartial, Some(&x.id), sesame_core::Outcome::Ok, detail.clone());
                if !st.store.record_approval(&x.id, &x.approvals, &progress.approvals, audit, now).await? {
                    return Err(ApiError::new(ErrorCode::InvalidState, format!("request `{}` changed while you approved it: look at it again and retry", x.id)));
                }
                st.changed(&x.id);
            }
            return get(st, id).await;
        }
    } else {
        approval::may_decide(&who.email, requester, &r.approval_parts).map_err(refused)?;
        reason_needed()?;
    }
    let what = if approve { "approved" } else { "rejected" };
    let by = who.email.clone();
    let event = if approve { Event::Approved { by, reason } } else { Event::Rejected { by, reason } };
    apply_together(st, &with_siblings(st, &r).await?, &event, what, now).await?;
    get(st, id).await
}

/// Revoke now (Active), or withdraw (Pending). Revoking what is already
/// revoking or revoked succeeds.
pub async fn revoke(st: &AppState, who: &User, id: &str, reason: Option<String>) -> Result<RequestRow, ApiError> {
    let now = clock::now();
    let r = visible(st, who, id).await?;
    let id = r.id.as_str();
    let is_requester = r.requester.eq_ignore_ascii_case(&who.email) || r.grantee.eq_ignore_ascii_case(&who.email);
    if !(is_requester || who.admin) {
        return Err(ApiError::new(ErrorCode::Forbidden, "only the requester, the grantee or an admin can revoke a request"));
    }
    // A bundle's grants are revoked together.
    let rows = with_siblings(st, &r).await?;
    if let Some(g) = rows.iter().find(|x| x.status == RequestStatus::Granting) {
        return Err(ApiError::new(ErrorCode::InvalidState, format!("request `{}` is still being granted: revoke it again in a few seconds", g.id)));
    }
    // The one named answers as a single request would (a Failed one cannot
    // be revoked); its siblings join while they hold or may get access.
    let live: Vec<RequestRow> = rows.into_iter().filter(|x| x.id == r.id || !x.status.is_final()).collect();
    apply_together(st, &live, &Event::RevokeAsked { by: who.email.clone(), reason }, "revoked", now).await?;
    get(st, id).await
}

/// More time for an Active grant, within its flow's limits: the deadline
/// and revoke job move, and the target is granted again with the new
/// deadline (its own backstops move with it).
pub async fn extend(st: &AppState, who: &User, id: &str, duration: &str, reason: Option<String>) -> Result<RequestRow, ApiError> {
    let now = clock::now();
    let r = visible(st, who, id).await?;
    if !(r.requester.eq_ignore_ascii_case(&who.email) || r.grantee.eq_ignore_ascii_case(&who.email) || who.admin) {
        return Err(ApiError::new(ErrorCode::Forbidden, "only the requester, the grantee or an admin can extend a request"));
    }
    let by = parse_duration(duration)?;
    if r.status != RequestStatus::Active {
        return Err(conflict(id, Some(r.status), "extended (only Active access is)"));
    }
    let refuse = |m: String| ApiError::new(ErrorCode::ExtensionNotAllowed, m);
    let policy = st.policy();
    let flow = policy.flows.iter().find(|f| f.name == r.flow).ok_or_else(|| refuse(format!("access flow `{}` no longer exists: ask again with `sesame requests create`", r.flow)))?;
    if flow.max_extensions == 0 {
        return Err(refuse(format!("access flow `{}` allows no extensions: ask again with `sesame requests create` when this access ends", flow.name)));
    }
    if r.extensions >= i64::from(flow.max_extensions) {
        return Err(refuse(format!("request `{id}` was extended {} times, all that access flow `{}` allows: ask again when it ends", r.extensions, flow.name)));
    }
    if by > flow.extension_max {
        return Err(refuse(format!("access flow `{}` extends by at most {}: ask for that or less", flow.name, humantime::format_duration(flow.extension_max))));
    }
    let until = r.deadline.unwrap_or(now).plus(by);
    // A self-serve flow's approvers approve the extension as they approved
    // the request; an automatic flow extends at once.
    if flow.kind == sesame_core::FlowKind::SelfServe && !who.admin {
        if let Some(e) = &r.extension_asked {
            return Err(conflict(id, Some(r.status), &format!("extended again while an extension to {} waits for approval", clock::rfc3339(e.until))));
        }
        let ask = sesame_store::ExtensionAsked { until, by: who.email.clone(), reason: reason.clone(), approvals: vec![] };
        let detail = json!({ "until": until.0, "reason": reason, "approvers": r.approvers });
        let audit = AuditDraft::new(&who.email, AuditAction::RequestExtendAsk, Some(id), sesame_core::Outcome::PendingApproval, detail);
        if !st.store.set_extension_asked(id, None, Some(&ask), audit, now).await? {
            return Err(ApiError::new(ErrorCode::InvalidState, format!("request `{id}` changed while you asked: look at it again and retry")));
        }
        st.changed(id);
        return get(st, id).await;
    }
    apply_extension(st, &r, &who.email, until, reason, now).await
}

async fn apply_extension(st: &AppState, r: &RequestRow, by: &str, until: Timestamp, reason: Option<String>, now: Timestamp) -> Result<RequestRow, ApiError> {
    let id = r.id.as_str();
    let step = lifecycle::step(&crate::worker::facts(r), Event::ExtendAsked { by: by.to_owned(), until, reason }, now)
        .map_err(|e| conflict(id, Some(e.from), "extended"))?;
    let Step::Extend(x) = step else { return Err(conflict(id, Some(r.status), "extended")) };
    if !st.store.extend(&x, now).await? {
        return Err(ApiError::new(ErrorCode::InvalidState, format!("request `{id}` changed while you extended it: look at it again and retry")));
    }
    st.changed(id);
    st.wake_worker.notify_one();
    get(st, id).await
}

/// Approve or reject the extension an Active request waits for: each part
/// of the request needs one of its approvers again (never the requester or
/// the grantee); the last approval applies it.
async fn decide_extension(st: &AppState, who: &User, r: &RequestRow, e: &sesame_store::ExtensionAsked, approve: bool, reason: Option<String>, mfa_code: Option<&str>) -> Result<RequestRow, ApiError> {
    let now = clock::now();
    let id = r.id.as_str();
    if r.grantee.eq_ignore_ascii_case(&who.email) || e.by.eq_ignore_ascii_case(&who.email) {
        return Err(ApiError::new(ErrorCode::SelfApproval, "you cannot approve or reject your own extension: another approver must"));
    }
    let not_approver = || ApiError::new(ErrorCode::NotAnApprover, format!("you are not an approver of `{id}`: its approvers are `{}`", r.approvers.join("`, `")));
    if !approve {
        approval::may_decide(&who.email, &r.requester, &r.approval_parts).map_err(|_| not_approver())?;
        let audit = AuditDraft::new(&who.email, AuditAction::RequestExtendReject, Some(id), sesame_core::Outcome::Ok, json!({ "reason": reason, "until": e.until.0 }));
        if !st.store.set_extension_asked(id, Some(e), None, audit, now).await? {
            return Err(ApiError::new(ErrorCode::InvalidState, format!("request `{id}` changed while you answered: look at it again and retry")));
        }
        st.changed(id);
        return get(st, id).await;
    }
    let progress = approval::approve(&r.approval_parts, &e.approvals, &who.email, &r.requester).map_err(|x| match x {
        ApprovalRefusal::OwnRequest => ApiError::new(ErrorCode::SelfApproval, "you cannot approve your own extension: another approver must"),
        ApprovalRefusal::NotAnApprover => not_approver(),
        ApprovalRefusal::AlreadyApproved => ApiError::new(ErrorCode::InvalidState, format!("you approved your part of the extension of `{id}` already")),
    })?;
    approver_stepped_up(st, who, &r.flow, mfa_code, now).await?;
    if !progress.complete() {
        let after = sesame_store::ExtensionAsked { approvals: progress.approvals.clone(), ..e.clone() };
        let audit = AuditDraft::new(&who.email, AuditAction::RequestApprovePartial, Some(id), sesame_core::Outcome::Ok, json!({ "extension_until": e.until.0, "approvals": progress.approvals }));
        if !st.store.set_extension_asked(id, Some(e), Some(&after), audit, now).await? {
            return Err(ApiError::new(ErrorCode::InvalidState, format!("request `{id}` changed while you approved it: look at it again and retry")));
        }
        st.changed(id);
        return get(st, id).await;
    }
    apply_extension(st, r, &who.email, e.until, reason.or_else(|| e.reason.clone()), now).await
}

/// Wait until the request leaves Granting/Revoking (or `timeout` passes).
pub async fn wait_settled(st: &AppState, id: &str, timeout: Duration) -> Result<RequestRow, ApiError> {
    let changes = st.changes.subscribe();
    let r = get(st, id).await?;
    wait_settled_from(st, r, changes, timeout).await
}

/// [`wait_settled`] from a row already read, with a subscription taken
/// before it was.
pub async fn wait_settled_from(st: &AppState, mut r: RequestRow, mut rx: tokio::sync::broadcast::Receiver<String>, timeout: Duration) -> Result<RequestRow, ApiError> {
    let until = tokio::time::Instant::now() + timeout;
    loop {
        if !matches!(r.status, RequestStatus::Granting | RequestStatus::Revoking) {
            return Ok(r);
        }
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return get(st, &r.id).await,
            msg = rx.recv() => match msg {
                // Another request changed: nothing to read again.
                Ok(changed) if changed != r.id => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return get(st, &r.id).await,
                // Ours, or too many to tell (lagged): look.
                _ => r = get(st, &r.id).await?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(resources: Vec<String>) -> CreateRequest {
        CreateRequest { integration: "i".into(), resource_type: "t".into(), resources, permission: "p".into(), duration: "1h".into(), justification: None, grantee: None }
    }

    #[test]
    fn resources_are_counted_once_and_capped() {
        let b = normalize(body(vec!["a".into(), "b".into(), "a".into(), "b".into()])).unwrap();
        assert_eq!(b.resources, ["a", "b"], "each resource once, in the order given");
        // 101 names, 100 distinct: the guardrail counts 100.
        let mut many: Vec<String> = (0..100).map(|i| format!("r{i}")).collect();
        many.push("r0".into());
        assert_eq!(normalize(body(many)).unwrap().resources.len(), 100);
        let too_many: Vec<String> = (0..crate::limits::MAX_RESOURCES_PER_REQUEST + 1).map(|i| format!("r{i}")).collect();
        assert_eq!(normalize(body(too_many)).unwrap_err().code, ErrorCode::TooManyResources);
    }
}
