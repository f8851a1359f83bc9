//! What keeps a flood from starving the store: failed sign-ins are rate
//! limited per address and per token before the store is asked again, and
//! the API as a whole has a concurrency limit and a request timeout.

use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sesame_proto::ErrorCode;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins allowed per minute, per address and per token.
pub const AUTH_FAILURES_PER_MINUTE: u32 = 30;
/// Requests handled at once; more are refused (`overloaded`), not queued.
pub const MAX_CONCURRENT_REQUESTS: usize = 512;
/// The longest one request may take; long polls wait at most 60 s.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);
/// Body sizes: what people send, and what connectors report (discoveries).
pub const USER_BODY_LIMIT: usize = 256 * 1024;
pub const CONNECTOR_BODY_LIMIT: usize = 32 * 1024 * 1024;
/// Most resources one request may name (before any integration's own limit).
pub const MAX_RESOURCES_PER_REQUEST: usize = 5_000;

/// Failed sign-ins: counted by a keyed limiter; a key over its budget is
/// refused without a store lookup until the budget refills. A token that
/// signed in lately still gets through a blocked address (people behind the
/// same address as a flood keep working); it is checked against the store
/// as always.
pub struct AuthGuard {
    failures: DefaultKeyedRateLimiter<String>,
    blocked: Mutex<HashMap<String, Instant>>,
    good: Mutex<HashMap<String, Instant>>,
}

/// How long a token that signed in passes a blocked address.
const GOOD_FOR: Duration = Duration::from_secs(600);

impl Default for AuthGuard {
    fn default() -> Self {
        AuthGuard::new(AUTH_FAILURES_PER_MINUTE)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AuthGuard {
    /// `per_minute` failed sign-ins per address and per token (`server.auth_failures_per_minute`).
    pub fn new(per_minute: u32) -> AuthGuard {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        AuthGuard { failures: RateLimiter::keyed(Quota::per_minute(per_minute)), blocked: Mutex::new(HashMap::new()), good: Mutex::new(HashMap::new()) }
    }

    /// Refuse a caller whose address or token failed too often lately,
    /// unless its token signed in lately.
    pub fn check(&self, keys: &[String]) -> Result<(), ApiError> {
        let now = Instant::now();
        let vouched = keys.iter().any(|k| lock(&self.good).get(k).is_some_and(|t| now.duration_since(*t) < GOOD_FOR));
        if vouched {
            return Ok(());
        }
        let blocked = lock(&self.blocked);
        if let Some(until) = keys.iter().filter_map(|k| blocked.get(k)).filter(|u| **u > now).max() {
            let secs = until.duration_since(now).as_secs() + 1;
            return Err(ApiError::new(ErrorCode::TooManyRequests, format!("too many failed sign-ins from this address or with this token: wait {secs} s and check the token")));
        }
        Ok(())
    }

    /// A token that signed in: it passes blocked addresses for a while.
    pub fn succeeded(&self, keys: &[String]) {
        let now = Instant::now();
        let mut good = lock(&self.good);
        if good.len() > 10_000 {
            good.retain(|_, t| now.duration_since(*t) < GOOD_FOR);
        }
        for k in keys.iter().filter(|k| k.starts_with("token:")) {
            good.insert(k.clone(), now);
        }
    }

    /// Count a failure against every key; a key over its budget is blocked.
    pub fn failed(&self, keys: &[String]) {
        let clock = DefaultClock::default();
        let mut blocked = lock(&self.blocked);
        for k in keys {
            if let Err(not_until) = self.failures.check_key(k) {
                let wait = not_until.wait_time_from(clock.now()).max(Duration::from_secs(1));
                let now = Instant::now();
                if blocked.len() > 10_000 {
                    blocked.retain(|_, u| *u > now);
                }
                blocked.insert(k.clone(), now + wait);
            }
        }
        if self.failures.len() > 100_000 {
            self.failures.retain_recent();
        }
    }
}

/// Sign-ins started without a token (`/auth/login`, the device grant): each
/// keeps a row until used or expired and calls the identity provider, so an
/// address may start a few a minute, not a flood.
pub struct SignInStarts(DefaultKeyedRateLimiter<String>);

/// Sign-ins an address may start per minute.
pub const SIGN_IN_STARTS_PER_MINUTE: u32 = 30;

impl Default for SignInStarts {
    fn default() -> Self {
        SignInStarts(RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(SIGN_IN_STARTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN))))
    }
}

impl SignInStarts {
    pub fn check(&self, who: &ClientAddr) -> Result<(), ApiError> {
        if self.0.len() > 100_000 {
            self.0.retain_recent();
        }
        self.0.check_key(&who.0).map_err(|_| {
            ApiError::new(ErrorCode::TooManyRequests, format!("more than {SIGN_IN_STARTS_PER_MINUTE} sign-ins started from this address in a minute: wait a minute"))
        })
    }
}

/// The caller's address (`unknown` when the server was not told it).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(auth_keys(parts, None).swap_remove(0)))
    }
}

/// The keys a sign-in attempt is counted under: the address, and the
/// token's hash when there is one.
pub fn auth_keys(parts: &axum::http::request::Parts, token_hash: Option<&str>) -> Vec<String> {
    let ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let mut keys = vec![format!("ip:{ip}")];
    if let Some(h) = token_hash {
        keys.push(format!("token:{h}"));
    }
    keys
}

/// The error a tower layer gave: the concurrency limit or the timeout.
pub async fn layer_error(e: tower::BoxError) -> ApiError {
    if e.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(ErrorCode::Overloaded, format!("the request took longer than {} s: retry later", REQUEST_TIMEOUT.as_secs()))
    } else if e.is::<tower::load_shed::error::Overloaded>() {
        ApiError::new(ErrorCode::Overloaded, "the server is handling as many requests as it takes: retry in a moment")
    } else {
        tracing::error!(error = %e, "request failed in a middleware layer");
        ApiError::new(ErrorCode::Internal, "the request failed; see the server log and retry")
    }
}

/// The whole server's flood limits, one budget for the API and the portal:
/// load shedding past [`MAX_CONCURRENT_REQUESTS`] at once, and
/// [`REQUEST_TIMEOUT`] per request.
pub fn guard(app: axum::Router) -> axum::Router {
    app.layer(
        tower::ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(layer_error))
            .load_shed()
            .concurrency_limit(MAX_CONCURRENT_REQUESTS)
            .timeout(REQUEST_TIMEOUT),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_failure_budget_is_refused_before_the_store() {
        let g = AuthGuard::default();
        let keys = vec!["ip:10.0.0.1".to_string()];
        for _ in 0..AUTH_FAILURES_PER_MINUTE {
            assert!(g.check(&keys).is_ok());
            g.failed(&keys);
        }
        g.failed(&keys);
        let e = g.check(&keys).unwrap_err();
        assert_eq!(e.code, ErrorCode::TooManyRequests);
        assert!(g.check(&["ip:10.0.0.2".to_string()]).is_ok(), "other addresses are not affected");
        // A token that signed in lately still passes the blocked address.
        let good = vec!["ip:10.0.0.1".to_string(), "token:abc".to_string()];
        assert!(g.check(&good).is_err());
        g.succeeded(&good);
        assert!(g.check(&good).is_ok());
    }
}
