//! The portal's pages and forms: each reads or changes through the same
//! services as the API (`requests.rs`, `credentials.rs`), so a page can do
//! nothing the caller's token could not.

use super::{error_page, render, session_cookie, Posted, Viewer};
use crate::api::views;
use crate::auth::{token_hash, SESSION_COOKIE};
use crate::clock;
use crate::requests as svc;
use crate::state::AppState;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures::stream::Stream;
use minijinja::context;
use serde::Deserialize;
use sesame_core::RequestStatus;
use sesame_proto::CreateRequest;
use sesame_store::RequestFilter;
use std::convert::Infallible;

#[derive(Deserialize)]
pub struct ReturnTo {
    return_to: Option<String>,
}

pub async fn sign_in_page(State(st): State<AppState>, Query(q): Query<ReturnTo>) -> Response {
    let to = crate::oidc::safe_return(q.return_to.as_deref(), "/portal");
    let oidc = st.sign_in.is_some().then(|| format!("/auth/login?return_to={}", super::percent(&to)));
    render("sign_in.html", context! { return_to => to, oidc => oidc, error => None::<String> })
}

#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
    #[serde(default)]
    return_to: Option<String>,
}

/// Whether a form post came from this server's own page. Browsers say
/// where a post comes from in `Sec-Fetch-Site`; without it (older ones),
/// `Origin` must name this host (the portal's `no-referrer` policy makes
/// browsers send `Origin: null` on its own forms, so `null` alone is not
/// refused when `Sec-Fetch-Site` vouches for the post).
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match (headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()), headers.get(header::HOST).and_then(|v| v.to_str().ok())) {
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, h)| h == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Sign in with a token from `sesame token issue` (the local admin of the
/// embedded default; anyone with a token): it becomes the session cookie.
pub async fn sign_in(State(st): State<AppState>, from: crate::limits::ClientAddr, headers: HeaderMap, axum::Form(f): axum::Form<SignInForm>) -> Response {
    let to = crate::oidc::safe_return(f.return_to.as_deref(), "/portal");
    let again = |m: &str| {
        let mut r = render("sign_in.html", context! { return_to => to.clone(), oidc => None::<String>, error => m });
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        r
    };
    if !same_origin(&headers) {
        return again("this sign-in did not come from Sesame's own page");
    }
    let token = f.token.trim();
    let keys = vec![from.0, format!("token:{}", token_hash(token))];
    if let Err(e) = st.auth_guard.check(&keys) {
        return error_page(e, None);
    }
    let email = match st.store.user_for_token(&token_hash(token), clock::now()).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            st.auth_guard.failed(&keys);
            return again("unknown, expired or revoked token: issue one with `sesame token issue --user EMAIL`");
        }
        Err(e) => return error_page(e.into(), None),
    };
    if let Err(e) = crate::auth::person(&st, &email) {
        return again(&e.message);
    }
    st.auth_guard.succeeded(&keys);
    let cookie = session_cookie(&st, token, 8 * 3600, false);
    let mut r = Redirect::to(&to).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
pub struct Empty {}

/// Leave: the cookie goes (an OIDC session's token is revoked by
/// `/api/v1/auth/logout`; a pasted token stays the holder's).
pub async fn sign_out(Posted { .. }: Posted<Empty>) -> Response {
    let mut r = Redirect::to("/portal/sign-in").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// My requests, and the access I hold now.
pub async fn home(State(st): State<AppState>, v: Viewer) -> Response {
    let mine = RequestFilter { requester: Some(v.user.email.clone()), limit: Some(50), ..Default::default() };
    let held = RequestFilter { grantee: Some(v.user.email.clone()), status: Some(RequestStatus::Active), limit: Some(50), ..Default::default() };
    let (mine, held) = match (st.store.list_requests(&mine).await, st.store.list_requests(&held).await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error_page(e.into(), Some(&v)),
    };
    let mine: Vec<_> = mine.iter().map(views::request).collect();
    let held: Vec<_> = held.iter().map(views::request).collect();
    render("home.html", context! { user => v.user_view(), csrf => v.csrf, mine => mine, held => held })
}

/// What may be asked for: every integration with its resource types and permissions.
fn offers(st: &AppState) -> Vec<minijinja::Value> {
    st.integration_names()
        .into_iter()
        .filter_map(|name| {
            let d = st.integration(&name)?.descriptor();
            let types: Vec<minijinja::Value> = d
                .resource_types
                .iter()
                .map(|t| context! { name => t.name, permissions => t.permissions.iter().map(|p| p.id.clone()).collect::<Vec<_>>() })
                .collect();
            Some(context! { name => name, types => types, limit => d.limits.named_resources })
        })
        .collect()
}

/// The request form, filled in from the browse page when it comes from
/// there (`integration`, `resource_type`, a `resource` per choice).
pub async fn new_page(State(st): State<AppState>, v: Viewer, RawQuery(q): RawQuery) -> Response {
    let pairs: Vec<(String, String)> = q.as_deref().and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
    let get = |k: &str| pairs.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    let chosen: Vec<&str> = pairs.iter().filter(|(k, _)| k == "resource").map(|(_, v)| v.as_str()).collect();
    let form = (get("integration").is_some() || !chosen.is_empty()).then(|| {
        context! { integration => get("integration"), resource_type => get("resource_type"), resources => chosen.join("\n"), permission => "", duration => "1h", justification => "" }
    });
    render("new.html", context! { user => v.user_view(), csrf => v.csrf, offers => offers(&st), form => form, error => None::<String>, plan => None::<String> })
}

#[derive(Deserialize)]
pub struct NewForm {
    /// Set by the "Check first" button: plan only, nothing is asked.
    #[serde(default)]
    check: Option<String>,
    integration: String,
    resource_type: String,
    resources: String,
    permission: String,
    duration: String,
    #[serde(default)]
    justification: String,
}

/// Ask: the same checks and decision as the API; a refusal comes back on
/// the form with what to change.
pub async fn create(State(st): State<AppState>, Posted { viewer: v, form: f }: Posted<NewForm>) -> Response {
    let body = CreateRequest {
        integration: f.integration.trim().to_owned(),
        resource_type: f.resource_type.trim().to_owned(),
        resources: f.resources.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect(),
        permission: f.permission.trim().to_owned(),
        duration: f.duration.trim().to_owned(),
        justification: Some(f.justification.trim().to_owned()).filter(|j| !j.is_empty()),
        grantee: None,
    };
    let form = context! { integration => f.integration, resource_type => f.resource_type, resources => f.resources, permission => f.permission, duration => f.duration, justification => f.justification };
    let again = |error: Option<minijinja::Value>, plan: Option<minijinja::Value>| render("new.html", context! { user => v.user_view(), csrf => v.csrf, offers => offers(&st), form => form, error => error, plan => plan });
    let body = match svc::normalize(body) {
        Ok(b) => b,
        Err(e) => return refused(again(Some(context! { code => e.code.as_str(), message => e.message }), None), &e),
    };
    if f.check.is_some() {
        // The same checks and decision as asking (the guardrail included), nothing written.
        return match svc::plan(&st, &v.user, &body, clock::now()).await {
            Ok(p) => {
                let waits = p.status == RequestStatus::Pending;
                again(None, Some(context! { flow => p.flow, waits => waits, approvers => p.approvers, minutes => p.duration.as_secs() / 60 }))
            }
            Err(e) => refused(again(Some(context! { code => e.code.as_str(), message => e.message }), None), &e),
        };
    }
    match svc::create(&st, &v.user, &body).await {
        Ok(r) => Redirect::to(&format!("/portal/requests/{}", super::percent(&r.id))).into_response(),
        Err(e) => refused(again(Some(context! { code => e.code.as_str(), message => e.message }), None), &e),
    }
}

/// A page answering a refusal, with its status.
fn refused(mut page: Response, e: &crate::error::ApiError) -> Response {
    *page.status_mut() = e.status();
    page
}

/// What waits for my approval.
pub async fn inbox(State(st): State<AppState>, v: Viewer) -> Response {
    let f = RequestFilter { status: Some(RequestStatus::Pending), approver: Some(v.user.email.clone()), limit: Some(50), ..Default::default() };
    let rows = match st.store.list_requests(&f).await {
        Ok(r) => r,
        Err(e) => return error_page(e.into(), Some(&v)),
    };
    let waiting: Vec<minijinja::Value> = rows
        .iter()
        .filter(|r| r.approvers.iter().any(|a| a.eq_ignore_ascii_case(&v.user.email)))
        .map(|r| {
            let risk = st.integration(&r.integration).and_then(|i| {
                let d = i.descriptor();
                let p = d.permissions(&r.resource_type).iter().find(|p| p.id == r.permission)?.risk_level.clone();
                p.or_else(|| Some(crate::scopes::type_risk(d.permissions(&r.resource_type)).to_owned()).filter(|x| !x.is_empty()))
            });
            context! { r => views::request(r), risk => risk }
        })
        .collect();
    // What I decided before (the audit log keeps it).
    let mut decided = Vec::new();
    for action in [sesame_core::AuditAction::RequestApprove, sesame_core::AuditAction::RequestReject] {
        match st.store.newest_audit(Some(action.as_str()), Some(&v.user.email), None, 20).await {
            Ok(rows) => decided.extend(rows.iter().map(views::audit)),
            Err(e) => return error_page(e.into(), Some(&v)),
        }
    }
    decided.sort_by_key(|a| std::cmp::Reverse(a.seq));
    let decided: Vec<minijinja::Value> = decided.into_iter().take(20).map(|a| context! { at => a.at, action => a.action, request_id => a.request_id }).collect();
    render("inbox.html", context! { user => v.user_view(), csrf => v.csrf, waiting => waiting, decided => decided })
}

/// One request: its status (followed live), and what the viewer may do.
pub async fn show(State(st): State<AppState>, v: Viewer, Path(id): Path<String>) -> Response {
    let r = match svc::visible(&st, &v.user, &id).await {
        Ok(r) => r,
        Err(e) => return error_page(e, Some(&v)),
    };
    let me = &v.user.email;
    let may_approve = r.status == RequestStatus::Pending && r.approvers.iter().any(|a| a.eq_ignore_ascii_case(me)) && !r.requester.eq_ignore_ascii_case(me);
    let is_grantee = r.grantee.eq_ignore_ascii_case(me);
    let may_reveal = is_grantee && r.status == RequestStatus::Active && r.credentials_shown_at.is_none();
    let may_revoke = (is_grantee || r.requester.eq_ignore_ascii_case(me) || v.user.admin) && matches!(r.status, RequestStatus::Active | RequestStatus::Pending | RequestStatus::PendingMfa);
    let settled = r.status.is_final() || r.status == RequestStatus::Active;
    let approver_mfa = may_approve && st.policy().flows.iter().any(|f| f.name == r.flow && f.require_mfa);
    let step_up = r.status == RequestStatus::PendingMfa && r.requester.eq_ignore_ascii_case(me);
    render(
        "request.html",
        context! { user => v.user_view(), csrf => v.csrf, r => views::request(&r), may_approve, may_reveal, may_revoke, settled, approver_mfa, step_up, shown => r.credentials_shown_at.is_some() },
    )
}

/// The request's status as it changes (server-sent events): `status` events
/// carry the new status; the page reloads itself when it settles.
pub async fn events(State(st): State<AppState>, v: Viewer, Path(id): Path<String>) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Response> {
    let first = svc::visible(&st, &v.user, &id).await.map_err(|e| error_page(e, Some(&v)))?;
    let mut changes = st.changes.subscribe();
    let user = v.user.clone();
    let stream = async_stream(move |tx| async move {
        let mut last = first.status;
        if tx.send(Event::default().event("status").data(last.to_string())).await.is_err() {
            return;
        }
        loop {
            let wake = tokio::time::timeout(std::time::Duration::from_secs(15), changes.recv()).await;
            if matches!(wake, Ok(Err(tokio::sync::broadcast::error::RecvError::Closed))) {
                return;
            }
            if let Ok(Ok(changed)) = &wake {
                if changed != &id {
                    continue;
                }
            }
            let Ok(r) = svc::visible(&st, &user, &id).await else { return };
            if r.status != last {
                last = r.status;
                if tx.send(Event::default().event("status").data(last.to_string())).await.is_err() {
                    return;
                }
            }
            if last.is_final() {
                return;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A stream fed by a task: what the task sends, until it ends.
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(f(tx));
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) })
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
    /// The approver's authenticator code, when the flow asks for a step-up.
    #[serde(default)]
    code: String,
}

fn reason(f: &ReasonForm) -> Option<String> {
    Some(f.reason.trim().to_owned()).filter(|r| !r.is_empty())
}

fn back_to(id: &str) -> Response {
    Redirect::to(&format!("/portal/requests/{}", super::percent(id))).into_response()
}

pub async fn approve(State(st): State<AppState>, Path(id): Path<String>, Posted { viewer: v, form }: Posted<ReasonForm>) -> Response {
    let code = Some(form.code.trim()).filter(|c| !c.is_empty());
    match svc::decide_pending(&st, &v.user, &id, true, reason(&form), code).await {
        Ok(_) => back_to(&id),
        Err(e) => error_page(e, Some(&v)),
    }
}

pub async fn reject(State(st): State<AppState>, Path(id): Path<String>, Posted { viewer: v, form }: Posted<ReasonForm>) -> Response {
    match svc::decide_pending(&st, &v.user, &id, false, reason(&form), None).await {
        Ok(_) => back_to(&id),
        Err(e) => error_page(e, Some(&v)),
    }
}

pub async fn revoke(State(st): State<AppState>, Path(id): Path<String>, Posted { viewer: v, form }: Posted<ReasonForm>) -> Response {
    match svc::revoke(&st, &v.user, &id, reason(&form)).await {
        Ok(_) => back_to(&id),
        Err(e) => error_page(e, Some(&v)),
    }
}

/// The credentials, once: this response only (never cached); the request's
/// page afterwards says they were shown.
pub async fn reveal(State(st): State<AppState>, Path(id): Path<String>, Posted { viewer: v, .. }: Posted<Empty>) -> Response {
    let made = crate::credentials::reveal(&st, &v.user, &id).await;
    credentials_page(&st, v, &id, made).await
}

/// New credentials (the old ones stop working), shown as a reveal is.
pub async fn reset(State(st): State<AppState>, Path(id): Path<String>, Posted { viewer: v, .. }: Posted<Empty>) -> Response {
    let made = crate::credentials::reset(&st, &v.user, &id).await;
    credentials_page(&st, v, &id, made).await
}

async fn credentials_page(st: &AppState, v: Viewer, id: &str, made: Result<sesame_proto::CredentialsView, crate::error::ApiError>) -> Response {
    let c = match made {
        Ok(c) => c,
        Err(e) => return error_page(e, Some(&v)),
    };
    let r = match svc::visible(st, &v.user, id).await {
        Ok(r) => r,
        Err(e) => return error_page(e, Some(&v)),
    };
    let mut resp = render("credentials.html", context! { user => v.user_view(), csrf => v.csrf, r => views::request(&r), c => c });
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[derive(Deserialize)]
pub struct ExtendForm {
    duration: String,
    #[serde(default)]
    reason: String,
}

/// More time, within the flow's limits.
pub async fn extend(State(st): State<AppState>, Path(id): Path<String>, Posted { viewer: v, form }: Posted<ExtendForm>) -> Response {
    let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    match svc::extend(&st, &v.user, &id, form.duration.trim(), reason).await {
        Ok(_) => back_to(&id),
        Err(e) => error_page(e, Some(&v)),
    }
}

#[derive(Deserialize)]
pub struct AuditFilter {
    action: Option<String>,
    actor: Option<String>,
    request: Option<String>,
}

/// The audit log, newest first, filtered by action, actor or request
/// (admins and auditors); the whole log exports as JSON.
pub async fn audit(State(st): State<AppState>, v: Viewer, Query(q): Query<AuditFilter>) -> Response {
    if !(v.user.admin || v.user.auditor) {
        return error_page(crate::error::ApiError::new(sesame_proto::ErrorCode::Forbidden, "the audit log is for admins and auditors: ask one"), Some(&v));
    }
    let some = |x: &Option<String>| x.as_deref().map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned);
    let (action, actor, request) = (some(&q.action), some(&q.actor), some(&q.request));
    let rows = match st.store.newest_audit(action.as_deref(), actor.as_deref(), request.as_deref(), 100).await {
        Ok(r) => r,
        Err(e) => return error_page(e.into(), Some(&v)),
    };
    let entries: Vec<minijinja::Value> = rows
        .iter()
        .map(|r| {
            let a = views::audit(r);
            let mut detail = a.detail.to_string();
            if detail.chars().count() > 240 {
                detail = detail.chars().take(240).collect::<String>() + "…";
            }
            context! { seq => a.seq, at => a.at, actor => a.actor, action => a.action, request_id => a.request_id, outcome => a.outcome, detail => detail }
        })
        .collect();
    let actions: Vec<&str> = sesame_core::AuditAction::ALL.iter().map(|a| a.as_str()).collect();
    render("audit.html", context! { user => v.user_view(), csrf => v.csrf, entries => entries, actions => actions, q => context! { action => action, actor => actor, request => request } })
}

#[derive(Deserialize)]
pub struct ScopeQuery {
    q: Option<String>,
}

/// The AQL editor: the access scopes defined, and a query checked as it is
/// typed — where it does not parse (line and column, marked under the
/// line), else how many access units it selects and the first of them.
pub async fn scopes(State(st): State<AppState>, v: Viewer, Query(q): Query<ScopeQuery>) -> Response {
    let defined = match st.store.scopes().await {
        Ok(s) => s.into_iter().map(|s| context! { name => s.name, query => s.query }).collect::<Vec<_>>(),
        Err(e) => return error_page(e.into(), Some(&v)),
    };
    let query = q.q.unwrap_or_default();
    let (mut error, mut count, mut units) = (None, None, Vec::new());
    if !query.trim().is_empty() {
        match query.parse::<sesame_core::aql::Query>() {
            Err(e) => {
                let text = query.lines().nth(e.line.saturating_sub(1) as usize).unwrap_or_default().to_owned();
                let pad = " ".repeat(e.column.saturating_sub(1) as usize);
                error = Some(context! { message => e.message, line => e.line, column => e.column, text => text, pad => pad });
            }
            Ok(parsed) => match crate::scopes::units(&st, &parsed).await {
                Ok(all) => {
                    count = Some(all.len());
                    units = all.into_iter().take(50).map(|u| context! { integration => u.integration, resource_type => u.resource_type, resource => u.resource, permission => u.permission }).collect();
                }
                Err(e) => return error_page(e.into(), Some(&v)),
            },
        }
    }
    render("scopes.html", context! { user => v.user_view(), csrf => v.csrf, scopes => defined, query => query, error => error, count => count, units => units })
}

#[derive(Deserialize)]
pub struct BrowseQuery {
    integration: Option<String>,
    #[serde(rename = "type")]
    resource_type: Option<String>,
    q: Option<String>,
}

/// What may be asked for: every integration with its status, last sync and
/// error; one integration's resources (by type, searched by name or id),
/// any of which go on to the request form; for admins, the connectors.
pub async fn browse(State(st): State<AppState>, v: Viewer, Query(b): Query<BrowseQuery>) -> Response {
    let mut integrations = Vec::new();
    let policy = st.policy();
    for name in st.integration_names() {
        let Some(i) = st.integration(&name) else { continue };
        let d = i.descriptor();
        let state = match st.store.integration_state(&name).await {
            Ok(s) => s,
            Err(e) => return error_page(e.into(), Some(&v)),
        };
        integrations.push(context! {
            name => name,
            kind => d.kind.as_str(),
            status => state.as_ref().map_or("Initializing", |s| s.status.as_str()),
            message => state.as_ref().and_then(|s| s.message.clone()),
            last_sync => state.as_ref().and_then(|s| s.last_sync).map(clock::rfc3339),
            types => d.type_names(),
            made => policy.made.contains_key(&name) && !policy.retiring.contains(&name),
            retiring => policy.retiring.contains(&name),
        });
    }
    let mut chosen = None;
    if let Some(name) = b.integration.as_deref().filter(|n| !n.is_empty()) {
        let Some(i) = st.integration(name) else {
            return error_page(crate::error::ApiError::new(sesame_proto::ErrorCode::UnknownIntegration, format!("integration `{name}` does not exist")), Some(&v));
        };
        let d = i.descriptor();
        let wanted = b.resource_type.as_deref().filter(|t| !t.is_empty());
        let rows = match st.store.list_inventory(name, wanted).await {
            Ok(r) => r,
            Err(e) => return error_page(e.into(), Some(&v)),
        };
        let needle = b.q.as_deref().map(str::trim).unwrap_or_default().to_lowercase();
        let matching: Vec<_> = rows.iter().filter(|r| needle.is_empty() || r.name.to_lowercase().contains(&needle) || r.id.to_lowercase().contains(&needle)).collect();
        let resources: Vec<minijinja::Value> = matching.iter().take(200).map(|r| context! { id => r.id, name => r.name, resource_type => r.resource_type }).collect();
        let permissions: Vec<minijinja::Value> = d
            .resource_types
            .iter()
            .filter(|t| wanted.is_none_or(|w| w == t.name))
            .map(|t| context! { resource_type => t.name, permissions => t.permissions.iter().map(|p| context! { id => p.id, name => p.name, risk => p.risk_level }).collect::<Vec<_>>() })
            .collect();
        chosen = Some(context! { name => name, types => d.type_names(), resource_type => wanted, q => b.q, resources => resources, total => matching.len(), permissions => permissions });
    }
    let connectors = if v.user.admin { st.hub.views() } else { Vec::new() };
    render("browse.html", context! { user => v.user_view(), csrf => v.csrf, integrations => integrations, chosen => chosen, connectors => connectors })
}

/// The access flows and bundles in force (the file's and those made through
/// the API): what each covers, who asks, who approves, for how long.
pub async fn flows(State(st): State<AppState>, v: Viewer) -> Response {
    let policy = st.policy();
    let flows = views::flows(&policy.flows);
    let bundles: Vec<_> = policy.bundles.iter().map(views::bundle).collect();
    render("flows.html", context! { user => v.user_view(), csrf => v.csrf, flows => flows, bundles => bundles })
}

/// Two-factor: enrol an authenticator (shown once, as a QR code and the
/// secret), or step up with a code.
pub async fn mfa_page(v: Viewer) -> Response {
    render("mfa.html", context! { user => v.user_view(), csrf => v.csrf, enrolment => None::<String>, return_to => "/portal/mfa" })
}

pub async fn mfa_enroll(State(st): State<AppState>, Posted { viewer: v, .. }: Posted<Empty>) -> Response {
    let e = match crate::mfa::enroll(&st, &v.user).await {
        Ok(e) => e,
        Err(e) => return error_page(e, Some(&v)),
    };
    let qr = qrcode::QrCode::new(e.uri.as_bytes())
        .map(|c| c.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build())
        .unwrap_or_default();
    let enrolment = context! { secret => e.secret_base32, uri => e.uri, qr => minijinja::Value::from_safe_string(qr) };
    let mut r = render("mfa.html", context! { user => v.user_view(), csrf => v.csrf, enrolment => enrolment, return_to => "/portal/mfa" });
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    #[serde(default)]
    return_to: Option<String>,
}

/// A step-up: requests waiting for it move on.
pub async fn mfa_verify(State(st): State<AppState>, Posted { viewer: v, form }: Posted<CodeForm>) -> Response {
    match crate::mfa::verify(&st, &v.user, form.code.trim()).await {
        Ok(_) => Redirect::to(&crate::oidc::safe_return(form.return_to.as_deref(), "/portal")).into_response(),
        Err(e) => error_page(e, Some(&v)),
    }
}

#[derive(Deserialize)]
pub struct ReviewQuery {
    user: Option<String>,
    integration: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

/// Review Access (admins and auditors): who had what, when, why, and who
/// approved it; filtered by person, integration and time; the same rows
/// as `sesame reports access`.
pub async fn review(State(st): State<AppState>, v: Viewer, Query(q): Query<ReviewQuery>) -> Response {
    if !(v.user.admin || v.user.auditor) {
        return error_page(crate::error::ApiError::new(sesame_proto::ErrorCode::Forbidden, "Review Access is for admins and auditors: ask one"), Some(&v));
    }
    let some = |x: &Option<String>| x.as_deref().map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned);
    let f = crate::reports::AccessFilter { user: some(&q.user), integration: some(&q.integration), resource: None, since: some(&q.since), until: some(&q.until) };
    let (rows, error) = match crate::reports::access(&st, &f).await {
        Ok(rows) => (rows, None),
        Err(e) => (vec![], Some(context! { code => e.code.as_str(), message => e.message })),
    };
    let total = rows.len();
    // Newest first on the page; the API and the CLI give them all.
    let rows: Vec<_> = rows.into_iter().rev().take(200).collect();
    render("review.html", context! { user => v.user_view(), csrf => v.csrf, rows => rows, total => total, error => error, q => context! { user => f.user, integration => f.integration, since => f.since, until => f.until } })
}

#[derive(Deserialize)]
pub struct SetForm {
    /// `bundle` or `scope`.
    kind: String,
    name: String,
    duration: String,
    #[serde(default)]
    justification: String,
}

/// Ask for a bundle or an access scope: one grant per target it reaches,
/// decided and written together, as `sesame requests create --bundle/--scope`.
pub async fn ask_set(State(st): State<AppState>, Posted { viewer: v, form }: Posted<SetForm>) -> Response {
    let asked = match form.kind.as_str() {
        "bundle" => crate::bundles::Asked::Bundle(form.name.clone()),
        "scope" => crate::bundles::Asked::Scope(form.name.clone()),
        other => return error_page(crate::error::ApiError::new(sesame_proto::ErrorCode::BadRequest, format!("`{other}` is neither a bundle nor a scope")), Some(&v)),
    };
    let body = sesame_proto::BundleRequestBody { duration: form.duration.trim().to_owned(), justification: Some(form.justification.trim().to_owned()).filter(|j| !j.is_empty()) };
    match crate::bundles::create(&st, &v.user, &asked, &body).await {
        Ok((_, rows)) => match rows.first() {
            Some(r) => back_to(&r.id),
            None => Redirect::to("/portal").into_response(),
        },
        Err(e) => error_page(e, Some(&v)),
    }
}

#[derive(Deserialize)]
pub struct TypeQuery {
    #[serde(rename = "type")]
    type_name: Option<String>,
}

/// The form an integration type's JSON Schema makes (admins); `editing`:
/// the integration made through the API it changes.
fn integration_form(st: &AppState, v: &Viewer, type_name: &str, form: &std::collections::BTreeMap<String, String>, outcome: minijinja::Value, editing: Option<&str>) -> Response {
    let Some(t) = st.integration_types.iter().find(|t| t.type_name == type_name) else {
        let known: Vec<&str> = st.integration_types.iter().map(|t| t.type_name.as_str()).collect();
        return error_page(crate::error::ApiError::new(sesame_proto::ErrorCode::BadRequest, format!("`{type_name}` is not an integration type: one of `{}`", known.join("`, `"))), Some(v));
    };
    let fields = super::schema_form::fields(&t.schema);
    let types: Vec<&str> = st.integration_types.iter().map(|t| t.type_name.as_str()).collect();
    let details = form.get("access_details").cloned().unwrap_or_default();
    render(
        "integration_form.html",
        context! { user => v.user_view(), csrf => v.csrf, type_name => type_name, types => types, fields => fields, form => form, outcome => outcome, details => details, details_len => details.chars().count(), editing => editing },
    )
}

fn admins_only(v: &Viewer) -> Option<Response> {
    (!v.user.admin).then(|| error_page(crate::error::ApiError::new(sesame_proto::ErrorCode::Forbidden, "integrations are made by admins: ask one"), Some(v)))
}

/// The stored declaration of an integration made through the API.
async fn made_declaration(st: &AppState, name: &str) -> Result<serde_json::Value, crate::error::ApiError> {
    let current = crate::declared::current(st).await?;
    current.integrations.into_iter().find(|d| d.get("name").and_then(serde_json::Value::as_str) == Some(name)).ok_or_else(|| crate::declared::not_made(st, name))
}

/// Edit an integration made through the API: its declaration fills the form.
pub async fn integration_edit(State(st): State<AppState>, v: Viewer, Path(name): Path<String>) -> Response {
    if let Some(refused) = admins_only(&v) {
        return refused;
    }
    let decl = match made_declaration(&st, &name).await {
        Ok(d) => d,
        Err(e) => return error_page(e, Some(&v)),
    };
    let type_name = decl.get("type").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let Some(t) = st.integration_types.iter().find(|t| t.type_name == type_name) else {
        return error_page(crate::error::ApiError::new(sesame_proto::ErrorCode::BadRequest, format!("`{type_name}` is not an integration type")), Some(&v));
    };
    let form = super::schema_form::form_of(&super::schema_form::fields(&t.schema), &decl);
    integration_form(&st, &v, &type_name, &form, minijinja::Value::from(()), Some(&name))
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    revoke_active: Option<String>,
    #[serde(default)]
    preview: Option<String>,
}

/// Delete an integration made through the API (its live grants revoked
/// first when asked), as `sesame apply --prune` would.
pub async fn integration_delete(State(st): State<AppState>, Path(name): Path<String>, Posted { viewer: v, form }: Posted<DeleteForm>) -> Response {
    if let Some(refused) = admins_only(&v) {
        return refused;
    }
    let (revoke, preview) = (form.revoke_active.is_some(), form.preview.is_some());
    let outcome = match crate::declared::delete_integration(&st, &v.user, &name, revoke, preview).await {
        Ok(plan) if plan.applied => return Redirect::to("/portal/browse").into_response(),
        Ok(plan) => context! { applied => plan.applied, changes => plan.changes.iter().map(change_line).collect::<Vec<_>>() },
        Err(e) => context! { error => format!("{}: {}", e.code.as_str(), e.message) },
    };
    let decl = match made_declaration(&st, &name).await {
        Ok(d) => d,
        Err(e) => return error_page(e, Some(&v)),
    };
    let type_name = decl.get("type").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let fields = st.integration_types.iter().find(|t| t.type_name == type_name).map(|t| super::schema_form::fields(&t.schema)).unwrap_or_default();
    integration_form(&st, &v, &type_name, &super::schema_form::form_of(&fields, &decl), outcome, Some(&name))
}

fn change_line(c: &sesame_proto::PlannedChange) -> String {
    match &c.note {
        Some(n) => format!("{} {} {} ({n})", c.action, c.kind, c.name),
        None => format!("{} {} {}", c.action, c.kind, c.name),
    }
}

pub async fn integration_new(State(st): State<AppState>, v: Viewer, Query(q): Query<TypeQuery>) -> Response {
    if let Some(refused) = admins_only(&v) {
        return refused;
    }
    let type_name = q.type_name.unwrap_or_else(|| "postgresql".into());
    integration_form(&st, &v, &type_name, &Default::default(), minijinja::Value::from(()), None)
}

/// Preview (a dry run of `apply` with this one integration) or make it:
/// checked against its schema, the server's secret rules and everything
/// else in force, exactly as `sesame apply` checks it.
pub async fn integration_create(State(st): State<AppState>, Posted { viewer: v, form }: Posted<std::collections::BTreeMap<String, String>>) -> Response {
    if let Some(refused) = admins_only(&v) {
        return refused;
    }
    let type_name = form.get("type").cloned().unwrap_or_default();
    let editing = form.get("editing").cloned().filter(|e| !e.is_empty());
    let Some(t) = st.integration_types.iter().find(|t| t.type_name == type_name) else {
        return integration_form(&st, &v, &type_name, &form, minijinja::Value::from(()), editing.as_deref());
    };
    let fields = super::schema_form::fields(&t.schema);
    let preview = form.contains_key("preview");
    let made = super::schema_form::declaration(&type_name, &fields, &form);
    // An edit keeps what the form does not show; its name stays.
    let made = match (made, editing.as_deref()) {
        (Ok(mut d), Some(name)) => match made_declaration(&st, name).await {
            Ok(stored) => {
                d["name"] = serde_json::json!(name);
                Ok(super::schema_form::merged(&stored, &fields, d))
            }
            Err(e) => Err(e.message),
        },
        (made, _) => made,
    };
    let outcome = match made {
        Err(e) => context! { error => e },
        Ok(decl) => {
            let body = sesame_proto::ApplyBody { declarations: sesame_proto::Declarations { integrations: vec![decl], ..Default::default() }, prune: false, dry_run: preview, revoke_active: false };
            match crate::declared::apply(&st, &v.user, body).await {
                Ok(plan) => context! { applied => plan.applied, changes => plan.changes.iter().map(change_line).collect::<Vec<_>>(), unchanged => plan.unchanged },
                Err(e) => context! { error => format!("{}: {}", e.code.as_str(), e.message) },
            }
        }
    };
    integration_form(&st, &v, &type_name, &form, outcome, editing.as_deref())
}
