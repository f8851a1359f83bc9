//! The portal: Sesame's own web pages, served by `sesame serve` at
//! `/portal`. Server-rendered HTML (templates embedded in the binary,
//! escaped by default), no inline scripts and a strict
//! Content-Security-Policy; the core paths — ask, approve, reveal, revoke —
//! are plain forms that work without JavaScript (`portal.js` only follows
//! a request's status live through server-sent events).
//!
//! A browser is signed in by the session cookie (`HttpOnly`, `SameSite=Lax`,
//! `Secure` over HTTPS) that OpenID Connect sign-in sets, or, on the
//! embedded default, that pasting a token from `sesame token issue` sets.
//! Every form carries a token bound to the session (a hash of the session's
//! secret, which no other site can read), checked before anything else
//! in the form is read.

mod pages;
pub mod schema_form;

use crate::auth::{cookie_token, person, principal_with, SESSION_COOKIE};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sesame_core::User;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// What every page may load from: this server only, no inline script or
/// style, never framed, forms posted here only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The portal's routes (the flood limits are the server's, `limits::guard`).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/portal") }))
        .route("/portal", get(pages::home))
        .route("/portal/sign-in", get(pages::sign_in_page).post(pages::sign_in))
        .route("/portal/sign-out", post(pages::sign_out))
        .route("/portal/new", get(pages::new_page).post(pages::create))
        .route("/portal/inbox", get(pages::inbox))
        .route("/portal/audit", get(pages::audit))
        .route("/portal/scopes", get(pages::scopes))
        .route("/portal/browse", get(pages::browse))
        .route("/portal/flows", get(pages::flows))
        .route("/portal/review", get(pages::review))
        .route("/portal/ask-set", post(pages::ask_set))
        .route("/portal/integrations/new", get(pages::integration_new))
        .route("/portal/integrations", post(pages::integration_create))
        .route("/portal/integrations/{name}/edit", get(pages::integration_edit))
        .route("/portal/integrations/{name}/delete", post(pages::integration_delete))
        .route("/portal/mfa", get(pages::mfa_page))
        .route("/portal/mfa/enroll", post(pages::mfa_enroll))
        .route("/portal/mfa/verify", post(pages::mfa_verify))
        .route("/portal/requests/{id}", get(pages::show))
        .route("/portal/requests/{id}/events", get(pages::events))
        .route("/portal/requests/{id}/approve", post(pages::approve))
        .route("/portal/requests/{id}/reject", post(pages::reject))
        .route("/portal/requests/{id}/revoke", post(pages::revoke))
        .route("/portal/requests/{id}/credentials", post(pages::reveal))
        .route("/portal/requests/{id}/reset-credentials", post(pages::reset))
        .route("/portal/requests/{id}/extend", post(pages::extend))
        .route("/portal/assets/portal.css", get(|| async { asset("text/css", include_str!("assets/portal.css")) }))
        .route("/portal/assets/portal.js", get(|| async { asset("text/javascript", include_str!("assets/portal.js")) }))
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(state)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// Every portal response: the CSP, no framing, no sniffing, no referrer.
async fn secure_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

fn templates() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        for (name, text) in [
            ("base.html", include_str!("templates/base.html")),
            ("sign_in.html", include_str!("templates/sign_in.html")),
            ("home.html", include_str!("templates/home.html")),
            ("new.html", include_str!("templates/new.html")),
            ("inbox.html", include_str!("templates/inbox.html")),
            ("request.html", include_str!("templates/request.html")),
            ("credentials.html", include_str!("templates/credentials.html")),
            ("error.html", include_str!("templates/error.html")),
            ("audit.html", include_str!("templates/audit.html")),
            ("scopes.html", include_str!("templates/scopes.html")),
            ("browse.html", include_str!("templates/browse.html")),
            ("flows.html", include_str!("templates/flows.html")),
            ("mfa.html", include_str!("templates/mfa.html")),
            ("review.html", include_str!("templates/review.html")),
            ("ask_set.html", include_str!("templates/ask_set.html")),
            ("field_input.html", include_str!("templates/field_input.html")),
            ("integration_form.html", include_str!("templates/integration_form.html")),
        ] {
            // The templates are part of the binary: one that does not parse
            // fails every test that renders a page.
            if let Err(e) = env.add_template(name, text) {
                tracing::error!(template = name, error = %e, "a portal template does not parse");
            }
        }
        env
    })
}

/// A page, or the error page saying why not.
pub fn render(name: &str, ctx: minijinja::Value) -> Response {
    match templates().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "a portal page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered; see the server's log").into_response()
        }
    }
}

/// An API refusal as a page: its code and what to do.
pub fn error_page(e: ApiError, viewer: Option<&Viewer>) -> Response {
    let status = e.status();
    let mut r = render(
        "error.html",
        minijinja::context! { code => e.code.as_str(), message => e.message, user => viewer.map(|v| v.user_view()), csrf => viewer.map(|v| v.csrf.clone()) },
    );
    *r.status_mut() = status;
    r
}

/// The form token of a session: no other site can read the cookie it is
/// made from, so none can fill it in.
pub fn csrf_of(session_token: &str) -> String {
    let d = Sha256::digest(format!("sesame-portal-form:{session_token}").as_bytes());
    hex::encode(&d[..16])
}

/// The signed-in person looking at a page.
pub struct Viewer {
    pub user: User,
    pub csrf: String,
}

impl Viewer {
    pub fn user_view(&self) -> minijinja::Value {
        minijinja::context! { email => self.user.email, admin => self.user.admin, auditor => self.user.auditor, name => self.user.name }
    }

    async fn of(parts: &Parts, st: &AppState, form_checked: bool) -> Result<Viewer, Response> {
        let back = || {
            let to = parts.uri.path_and_query().map_or("/portal", |p| p.as_str());
            Redirect::to(&format!("/portal/sign-in?return_to={}", percent(to))).into_response()
        };
        let Some(token) = cookie_token(&parts.headers).map(str::to_owned) else { return Err(back()) };
        let email = match principal_with(parts, st, form_checked).await {
            Ok(e) => e,
            Err(e) if e.code == sesame_proto::ErrorCode::Unauthorized => return Err(back()),
            Err(e) => return Err(error_page(e, None)),
        };
        let user = person(st, &email).map_err(|e| error_page(e, None))?;
        Ok(Viewer { user, csrf: csrf_of(&token) })
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        Viewer::of(parts, st, false).await
    }
}

#[derive(Deserialize)]
struct FormToken {
    #[serde(default)]
    csrf: String,
}

/// A form posted from one of the portal's pages: the session's form token
/// is checked before anything else in it is read.
pub struct Posted<T> {
    pub viewer: Viewer,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let viewer = Viewer::of(&parts, st, true).await?;
        let bytes = axum::body::to_bytes(body, 64 * 1024).await.map_err(|_| error_page(ApiError::new(sesame_proto::ErrorCode::BadRequest, "the form is too large"), Some(&viewer)))?;
        let token: FormToken = serde_urlencoded::from_bytes(&bytes).unwrap_or(FormToken { csrf: String::new() });
        if !constant_time_eq(token.csrf.as_bytes(), viewer.csrf.as_bytes()) {
            let e = ApiError::new(sesame_proto::ErrorCode::Forbidden, "this form did not come from your Sesame session (its form token is missing or wrong): open the page again and resubmit");
            return Err(error_page(e, Some(&viewer)));
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| error_page(ApiError::new(sesame_proto::ErrorCode::BadRequest, format!("the form does not read: {e}")), Some(&viewer)))?;
        Ok(Posted { viewer, form })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A path as a query value.
pub fn percent(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The session cookie holding `token`, for `max_age` seconds.
pub fn session_cookie(st: &AppState, token: &str, max_age: i64, secure_hint: bool) -> String {
    let secure = if st.settings.tls.is_some() || secure_hint { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_template_parses_and_escapes() {
        for name in ["base.html", "sign_in.html", "home.html", "new.html", "inbox.html", "request.html", "credentials.html", "error.html", "audit.html", "scopes.html", "browse.html", "flows.html", "mfa.html", "review.html", "integration_form.html"] {
            templates().get_template(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let html = templates().get_template("error.html").unwrap().render(minijinja::context! { code => "bad_request", message => "<script>alert(1)</script>" }).unwrap();
        // Every page renders with what its handler passes (filters included).
        let r = minijinja::context! { id => "req 1/x", integration => "pg", resource_type => "table", resources => vec!["db/public/t"], permission => "read_only", duration_secs => 1800, status => "Active", requester => "a@x.io", grantee => "a@x.io", flow => "f", deadline => "2026-12-07T10:00:00Z" };
        let user = minijinja::context! { email => "a@x.io", admin => true };
        let c = minijinja::context! { username => "u", secret => "s", details => minijinja::context! { host => "h" }, connect_command => "psql" };
        for (name, ctx) in [
            ("home.html", minijinja::context! { user => user.clone(), csrf => "t", mine => vec![r.clone()], held => vec![r.clone()] }),
            ("inbox.html", minijinja::context! { user => user.clone(), csrf => "t", waiting => vec![minijinja::context! { r => r.clone(), risk => "high" }], decided => vec![minijinja::context! { at => "2026-12-07T00:00:00Z", action => "request.approve", request_id => "req_1" }] }),
            ("request.html", minijinja::context! { user => user.clone(), csrf => "t", r => r.clone(), may_approve => true, may_reveal => true, may_revoke => true, settled => false }),
            ("credentials.html", minijinja::context! { user => user.clone(), csrf => "t", r => r.clone(), c => c }),
            ("new.html", minijinja::context! { user => user.clone(), csrf => "t", offers => vec![minijinja::context! { name => "acct", limit => 100, types => Vec::<minijinja::Value>::new() }], form => None::<String>, error => None::<String>, plan => minijinja::context! { flow => "f", waits => true, approvers => vec!["b@x.io"], minutes => 30 } }),
            ("sign_in.html", minijinja::context! { return_to => "/portal", oidc => "/auth/login", error => "no" }),
            ("scopes.html", minijinja::context! { user => user.clone(), csrf => "t", scopes => vec![minijinja::context! { name => "s", query => "x = \"y\"" }], query => "x =", error => minijinja::context! { message => "m", line => 1, column => 3, text => "x =", pad => "  " }, count => None::<usize>, units => Vec::<minijinja::Value>::new() }),
            ("browse.html", minijinja::context! { user => user.clone(), csrf => "t", integrations => vec![minijinja::context! { name => "pg", kind => "postgresql", status => "Active", types => vec!["table"] }], chosen => minijinja::context! { name => "pg", types => vec!["table"], resources => vec![minijinja::context! { id => "db/public/t", name => "t", resource_type => "table" }], total => 1, permissions => vec![minijinja::context! { resource_type => "table", permissions => vec![minijinja::context! { id => "read_only", name => "Read only", risk => "low" }] }] }, connectors => vec![minijinja::context! { id => "dc-1", status => "CONNECTED", version => "1.8.0", instances => Vec::<minijinja::Value>::new(), integrations => vec!["far"] }] }),
            ("flows.html", minijinja::context! { user => user.clone(), csrf => "t", flows => vec![minijinja::context! { name => "f", active => true, trigger => "SELF_SERVE", grant_duration_in_min => 60, access_targets => vec!["pg: table (read_only)"], requestors => "group developers", approval_mode => "ANY_OF", approver_groups => vec!["group leads"], max_extensions => 1 }], bundles => vec![minijinja::context! { name => "b", access_targets => vec![minijinja::context! { integration => "pg", resource_type => "table", permissions => vec!["read_only"], resources_scopes => vec!["include_resources NAME t"] }] }] }),
            ("mfa.html", minijinja::context! { user => user.clone(), csrf => "t", return_to => "/portal/mfa", enrolment => minijinja::context! { secret => "ABC", uri => "otpauth://totp/x", qr => minijinja::Value::from_safe_string("<svg></svg>".into()) } }),
            ("review.html", minijinja::context! { user => user.clone(), csrf => "t", total => 1, error => None::<String>, q => minijinja::context! { user => "a@x.io" }, rows => vec![minijinja::context! { request_id => "req_1", user => "a@x.io", integration => "pg", resource_type => "table", resources => vec!["t"], permission => "read_only", flow => "f", justification => "why", approved_by => vec!["b@x.io"], granted_at => "2026-12-07T00:00:00Z", ended_at => None::<String>, status => "Active" }] }),
            ("integration_form.html", minijinja::context! { user => user.clone(), csrf => "t", type_name => "postgresql", types => vec!["postgresql"], fields => schema_form::fields(&sesame_integrations::config_schema::builtin()[0].1), form => std::collections::BTreeMap::from([("f.host".to_owned(), "h".to_owned())]), outcome => minijinja::context! { applied => false, changes => vec!["create integration x"] }, details => "<b>hi</b>", details_len => 9 }),
            ("audit.html", minijinja::context! { user => user.clone(), csrf => "t", actions => vec!["request.create"], q => minijinja::context! { action => "request.create" }, entries => vec![minijinja::context! { seq => 1, at => "2026-12-07T00:00:00Z", actor => "a@x.io", action => "request.create", request_id => "req 1", outcome => "ok", detail => "{}" }] }),
        ] {
            let html = templates().get_template(name).unwrap().render(ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!html.contains("<script>") || html.contains("src=\"/portal/assets/portal.js\""), "{name}: no inline script");
        }
        assert!(templates().get_template("request.html").unwrap().render(minijinja::context! { r => r, csrf => "t", settled => false }).unwrap().contains("req%201"), "ids are escaped in URLs");
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>alert"), "{html}");
    }

    #[test]
    fn the_form_token_is_bound_to_the_session() {
        assert_eq!(csrf_of("ses_a"), csrf_of("ses_a"));
        assert_ne!(csrf_of("ses_a"), csrf_of("ses_b"));
        assert!(!csrf_of("ses_a").contains("ses_a"));
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"ab"));
    }
}
