//! Sign-in through the identity provider (`[oidc]`): the browser's
//! authorization-code flow (`/auth/login` → provider → `/auth/callback`, a
//! session cookie) and the CLI's device grant (`sesame login`). Both end in
//! a Sesame session token that expires with the session; `sesame logout`
//! ends it.

use crate::auth::{token_hash, SESSION_COOKIE};
use crate::clock::{self, rfc3339};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::limits::ClientAddr;
use crate::oidc::{Identity, SignIn, SignInError, Started};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use sesame_core::{AuditAction, AuditDraft, Outcome};
use sesame_proto::{DevicePollBody, DevicePollView, DeviceStartView, ErrorCode};
use std::sync::Arc;
use std::time::Duration;

/// A browser has this long to come back from the provider.
const BROWSER_SIGN_IN: Duration = Duration::from_secs(600);
/// How long one poll waits for the person to approve.
const DEVICE_WAIT: Duration = Duration::from_secs(20);

fn provider(st: &AppState) -> Result<Arc<SignIn>, ApiError> {
    st.sign_in.clone().ok_or_else(|| {
        ApiError::new(ErrorCode::SignInNotConfigured, "sign-in through an identity provider is not configured: add [oidc] to the configuration, or use `sesame token issue`")
    })
}

fn api_error(e: SignInError) -> ApiError {
    match e {
        SignInError::Provider(m) => ApiError::new(ErrorCode::SignInUnavailable, format!("{m}; try again when the identity provider is reachable")),
        SignInError::Refused(m) => ApiError::new(ErrorCode::SignInRefused, format!("{m}; sign in again")),
        SignInError::Pending => ApiError::new(ErrorCode::SignInRefused, "the sign-in is not approved yet"),
    }
}

/// A refused sign-in is audited (who the token claimed to be is not
/// trusted, so it is not the actor) and counts against the address's
/// failed sign-ins.
async fn refused(st: &AppState, from: &ClientAddr, how: &str, e: SignInError) -> ApiError {
    if let SignInError::Refused(m) = &e {
        st.auth_guard.failed(std::slice::from_ref(&from.0));
        tracing::warn!(how, reason = %m, "sign-in refused");
        let audit = AuditDraft::new("anonymous", AuditAction::SignIn, None, Outcome::Error, json!({ "how": how, "reason": m }));
        if let Err(err) = st.store.append_audit(audit, clock::now()).await {
            tracing::error!(error = %err, "cannot audit a refused sign-in");
        }
    }
    api_error(e)
}

/// The person is who the provider says: remember what it said and give
/// them a session token (its hash stored), audited.
async fn open_session(st: &AppState, sign_in: &SignIn, who: &Identity, how: &str) -> Result<(String, sesame_core::Timestamp), ApiError> {
    let now = clock::now();
    let until = now.plus(sign_in.session());
    let token = crate::auth::new_token();
    let record = sesame_store::SignedIn {
        email: who.email.clone(),
        subject: who.subject.clone(),
        name: who.name.clone(),
        groups: who.groups.iter().cloned().collect(),
        until,
    };
    let detail = json!({ "how": how, "subject": who.subject, "groups": who.groups, "until": rfc3339(until) });
    let audit = AuditDraft::new(&who.email, AuditAction::SignIn, None, Outcome::Ok, detail);
    st.store.sign_in(&record, &token_hash(&token), &format!("sign-in ({how})"), audit, now).await?;
    // Decisions see the groups the provider sent at once, on this replica.
    if let Err(e) = crate::scim::refresh(st).await {
        tracing::warn!(error = %e, "cannot read the people signed in; they count within two seconds");
    }
    Ok((token, until))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LoginQuery {
    /// A path on this server to return to after signing in.
    return_to: Option<String>,
}

/// Start a browser sign-in: redirects to the identity provider.
#[utoipa::path(get, path = "/auth/login", security(()), params(LoginQuery), responses((status = 303, description = "to the identity provider")))]
pub async fn login(State(st): State<AppState>, from: ClientAddr, ApiQuery(q): ApiQuery<LoginQuery>) -> Result<Response, ApiError> {
    let sign_in = provider(&st)?;
    st.sign_in_starts.check(&from)?;
    let (url, state, started) = sign_in.start(crate::oidc::safe_return(q.return_to.as_deref(), "/api/v1/whoami")).await.map_err(api_error)?;
    let now = clock::now();
    let body = serde_json::to_string(&started).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    st.store.put_signin_pending(&token_hash(&state), "code", &body, now.plus(BROWSER_SIGN_IN), now).await?;
    Ok(Redirect::to(&url).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// RFC 9207: who sent the browser back.
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Where the identity provider sends the browser back: the code is
/// exchanged, the ID token checked, and a session cookie set.
#[utoipa::path(get, path = "/auth/callback", security(()), params(CallbackQuery), responses((status = 303, description = "signed in: to where the sign-in started")))]
pub async fn callback(State(st): State<AppState>, from: ClientAddr, ApiQuery(q): ApiQuery<CallbackQuery>) -> Result<Response, ApiError> {
    let sign_in = provider(&st)?;
    st.auth_guard.check(std::slice::from_ref(&from.0))?;
    if let Some(e) = q.error {
        let why = format!("the identity provider answered `{e}`{}", q.error_description.map(|d| format!(": {d}")).unwrap_or_default());
        return Err(refused(&st, &from, "browser", SignInError::Refused(why)).await);
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return Err(ApiError::new(ErrorCode::BadRequest, "the callback needs `code` and `state`: start at /auth/login"));
    };
    // The state is taken once: a replayed callback finds nothing.
    let Some(body) = st.store.take_signin_pending(&token_hash(&state), "code", clock::now()).await? else {
        return Err(refused(&st, &from, "browser", SignInError::Refused("unknown, used or expired sign-in `state`".into())).await);
    };
    let started: Started = serde_json::from_str(&body).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    if let Some(iss) = q.iss {
        if iss != sign_in.issuer() {
            return Err(refused(&st, &from, "browser", SignInError::Refused(format!("the browser came back from `{iss}`, not from the configured issuer"))).await);
        }
    }
    let who = match sign_in.finish(code, &started, clock::now()).await {
        Ok(w) => w,
        Err(e) => return Err(refused(&st, &from, "browser", e).await),
    };
    let (token, until) = open_session(&st, &sign_in, &who, "browser").await?;
    // Over HTTPS (here, or at a proxy in front) the cookie never travels in clear.
    let secure = if st.settings.tls.is_some() || sign_in.redirect_url().starts_with("https://") { "; Secure" } else { "" };
    let max_age = until.0.saturating_sub(clock::now().0) / 1000;
    let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((StatusCode::SEE_OTHER, headers, Redirect::to(&started.return_to)).into_response())
}

/// Start a device sign-in (`sesame login`): where the person goes, the code
/// they enter, and a handle to poll with.
#[utoipa::path(post, path = "/api/v1/auth/device", security(()), responses((status = 200, body = DeviceStartView)))]
pub async fn device_start(State(st): State<AppState>, from: ClientAddr) -> Result<Json<DeviceStartView>, ApiError> {
    let sign_in = provider(&st)?;
    st.sign_in_starts.check(&from)?;
    let details = sign_in.device_start().await.map_err(api_error)?;
    let handle = crate::auth::new_token().replacen("ses_", "sdv_", 1);
    let now = clock::now();
    let body = serde_json::to_string(&details).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    st.store.put_signin_pending(&token_hash(&handle), "device", &body, now.plus(details.expires_in()), now).await?;
    Ok(Json(DeviceStartView {
        handle,
        verification_uri: details.verification_uri().to_string(),
        verification_uri_complete: details.verification_uri_complete().map(|u| u.secret().clone()),
        user_code: details.user_code().secret().clone(),
        interval_secs: details.interval().as_secs().max(1),
        expires_in_secs: details.expires_in().as_secs(),
    }))
}

/// Poll a device sign-in: waits up to 20 s for the person to approve, then
/// answers `pending` (poll again) or the session token (shown once).
#[utoipa::path(post, path = "/api/v1/auth/device/token", security(()), request_body = DevicePollBody, responses((status = 200, body = DevicePollView)))]
pub async fn device_poll(State(st): State<AppState>, from: ClientAddr, ApiJson(b): ApiJson<DevicePollBody>) -> Result<Json<DevicePollView>, ApiError> {
    let sign_in = provider(&st)?;
    st.auth_guard.check(std::slice::from_ref(&from.0))?;
    let key = token_hash(&b.handle);
    let Some(body) = st.store.signin_pending(&key, "device", clock::now()).await? else {
        return Err(refused(&st, &from, "device", SignInError::Refused("unknown, used or expired device sign-in: run `sesame login` again".into())).await);
    };
    let details = serde_json::from_str(&body).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    let who = match sign_in.device_poll(&details, DEVICE_WAIT, clock::now()).await {
        Ok(w) => w,
        Err(SignInError::Pending) => return Ok(Json(DevicePollView::Pending)),
        Err(e) => {
            st.store.take_signin_pending(&key, "device", clock::now()).await?;
            return Err(refused(&st, &from, "device", e).await);
        }
    };
    // One poller gets the session: a second one with the same handle finds nothing.
    if st.store.take_signin_pending(&key, "device", clock::now()).await?.is_none() {
        return Err(ApiError::new(ErrorCode::SignInRefused, "this device sign-in was used already: run `sesame login` again"));
    }
    let (token, until) = open_session(&st, &sign_in, &who, "device").await?;
    Ok(Json(DevicePollView::SignedIn { token, email: who.email, expires_at: rfc3339(until) }))
}

/// End the caller's session (`sesame logout`): its token stops working and
/// the browser's cookie is cleared.
#[utoipa::path(post, path = "/api/v1/auth/logout", responses((status = 204, description = "signed out")))]
pub async fn logout(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = crate::auth::presented_token(&headers).ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "no session to end: you are not signed in"))?;
    let hash = token_hash(&token);
    let who = st.store.user_for_token(&hash, clock::now()).await?.ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "unknown, expired or revoked session"))?;
    let audit = AuditDraft::new(&who, AuditAction::SignOut, None, Outcome::Ok, json!({ "token": sesame_store::token_id(&hash) }));
    st.store.sign_out(&hash, audit, clock::now()).await?;
    let mut out = HeaderMap::new();
    out.insert(header::SET_COOKIE, HeaderValue::from_static("sesame_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"));
    Ok((StatusCode::NO_CONTENT, out).into_response())
}
