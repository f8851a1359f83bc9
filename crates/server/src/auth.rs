//! Bearer tokens bound to users. Only the SHA-256 of a token is stored.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sesame_core::User;
use sesame_proto::ErrorCode;
use sha2::{Digest, Sha256};

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
        let unauthorized = |m: &str| ApiError::new(ErrorCode::Unauthorized, m);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unauthorized("missing bearer token: send `Authorization: Bearer TOKEN` (get one with `sesame token issue`)"))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer TOKEN`"))?;
        let email = state
            .store
            .user_for_token(&token_hash(token.trim()))
            .await?
            .ok_or_else(|| unauthorized("unknown or revoked token: issue a new one with `sesame token issue`"))?;
        let user = state
            .settings
            .directory
            .user(&email)
            .cloned()
            .ok_or_else(|| unauthorized("the token's user is no longer declared in the configuration"))?;
        Ok(Caller(user))
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
