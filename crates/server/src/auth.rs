//! Bearer tokens bound to users. Only the SHA-256 of a token is stored.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sesame_core::User;
use sesame_proto::ErrorCode;
use sha2::{Digest, Sha256};

/// The principal of the token an identity provider pushes people with.
pub const SCIM_PRINCIPAL: &str = "scim:provisioning";

/// The cookie a browser's sign-in session travels in.
pub const SESSION_COOKIE: &str = "sesame_session";

/// What a page of Sesame's own sends with a change made on a browser
/// session. A cross-site form cannot send a header, and no other site may
/// (no CORS), so a cookie alone never changes anything.
pub const CSRF_HEADER: &str = "x-sesame-csrf";

/// The session cookie's token, if the request carries one.
pub fn cookie_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .find(|t| !t.is_empty())
}

/// The token a request presents: its bearer token, else its session cookie.
pub fn presented_token(headers: &axum::http::HeaderMap) -> Option<String> {
    let bearer = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
    bearer.or_else(|| cookie_token(headers)).map(str::to_owned)
}

/// Tokens of connectors name their principal `connector:ID`.
pub const CONNECTOR_TOKEN_PREFIX: &str = "connector:";

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new token: `ses_` and 40 random alphanumerics.
pub fn new_token() -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    let body: String = rand::rngs::OsRng.sample_iter(&Alphanumeric).take(40).map(char::from).collect();
    format!("ses_{body}")
}

/// The authenticated caller.
pub struct Caller(pub User);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let email = principal(parts, state).await?;
        person(state, &email).map(Caller)
    }
}

/// The person a principal names: never the SCIM or a connector's token;
/// someone the directory has.
pub fn person(state: &AppState, email: &str) -> Result<User, ApiError> {
    if email == SCIM_PRINCIPAL {
        return Err(ApiError::new(ErrorCode::Forbidden, "this is the SCIM token: it opens /scim/v2 only; people's endpoints need a user's token"));
    }
    if email.starts_with(CONNECTOR_TOKEN_PREFIX) {
        return Err(ApiError::new(ErrorCode::Forbidden, "this is a connector's token: people's endpoints need a user's token"));
    }
    let unauthorized = |m: &str| ApiError::new(ErrorCode::Unauthorized, m);
    state
        .people()
        .directory
        .user(email)
        .cloned()
        .ok_or_else(|| unauthorized("the token's user is no longer declared in the configuration"))
}

/// The bearer token of a request.
pub fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let unauthorized = |m: &str| ApiError::new(ErrorCode::Unauthorized, m);
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("missing bearer token: send `Authorization: Bearer TOKEN` (get one with `sesame token issue`)"))?;
    header.strip_prefix("Bearer ").map(str::trim).ok_or_else(|| unauthorized("the Authorization header must be `Bearer TOKEN`"))
}

/// Who a request's token belongs to (a user's e-mail or `connector:ID`).
/// Failed attempts count against the caller's address and the token; one
/// over its budget is refused before the store is asked.
pub async fn principal(parts: &Parts, state: &AppState) -> Result<String, ApiError> {
    principal_with(parts, state, false).await
}

/// [`principal`], for a change whose request-forgery check was made by its
/// caller (`form_checked`: a portal form's token matched the session).
pub async fn principal_with(parts: &Parts, state: &AppState, form_checked: bool) -> Result<String, ApiError> {
    let from_cookie = match parts.headers.contains_key(axum::http::header::AUTHORIZATION) {
        true => None,
        false => cookie_token(&parts.headers),
    };
    if from_cookie.is_some() && !parts.method.is_safe() && !form_checked && !parts.headers.contains_key(CSRF_HEADER) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "a change made with a browser session needs the `X-Sesame-Csrf` header (Sesame's own pages send it); scripts use `Authorization: Bearer TOKEN`",
        ));
    }
    let token = bearer(parts).ok().or(from_cookie);
    let keys = crate::limits::auth_keys(parts, token.map(token_hash).as_deref());
    state.auth_guard.check(&keys)?;
    let found = match token {
        Some(t) => state.store.user_for_token(&token_hash(t), crate::clock::now()).await?,
        None => None,
    };
    match (token, found) {
        (Some(_), Some(who)) => {
            state.auth_guard.succeeded(&keys);
            Ok(who)
        }
        (t, _) => {
            state.auth_guard.failed(&keys);
            match t {
                None => Err(bearer(parts).err().unwrap_or_else(|| ApiError::new(ErrorCode::Unauthorized, "missing bearer token"))),
                Some(_) => Err(ApiError::new(ErrorCode::Unauthorized, "unknown, expired or revoked token: issue a new one with `sesame token issue`")),
            }
        }
    }
}

/// An authenticated admin: checked before anything in the body is read.
pub struct Admin(pub User);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Caller(u) = Caller::from_request_parts(parts, state).await?;
        let c = Caller(u);
        c.require_admin()?;
        Ok(Admin(c.0))
    }
}

/// An admin or an auditor: reads the audit log and reports.
pub struct Auditor(pub User);

impl FromRequestParts<AppState> for Auditor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Caller(u) = Caller::from_request_parts(parts, state).await?;
        if !(u.admin || u.auditor) {
            return Err(ApiError::new(ErrorCode::Forbidden, "this needs an admin or an auditor (`[roles] auditors`): ask one"));
        }
        Ok(Auditor(u))
    }
}

impl Caller {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.0.admin {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::Forbidden, "this needs an admin: ask one, or use an admin's token"))
        }
    }
}
