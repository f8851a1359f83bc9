//! IAM Identity Center's limits, respected by queueing rather than failing:
//! at most 20 requests per second across its APIs (spaced evenly with a
//! 20% margin, so no one-second window sees more than 20), at most 10 account-assignment
//! creations outstanding, and throttling answered by waiting and retrying.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sesame_integrations::IntegrationError;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

pub const REQUESTS_PER_SECOND: u32 = 20;
pub const OUTSTANDING_CREATIONS: usize = 10;

pub struct Limiter {
    rate: DefaultDirectRateLimiter,
    creations: Semaphore,
    /// How many throttling answers were waited out (for status and tests).
    pub throttled: AtomicUsize,
    outstanding: AtomicUsize,
    /// The most creations ever outstanding at once.
    pub max_outstanding: AtomicUsize,
}

/// A creation slot: held until the assignment's status is final.
pub struct Slot<'a> {
    _permit: SemaphorePermit<'a>,
    limiter: &'a Limiter,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.limiter.outstanding.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(REQUESTS_PER_SECOND, OUTSTANDING_CREATIONS)
    }
}

impl Limiter {
    pub fn new(per_second: u32, outstanding: usize) -> Limiter {
        // Burst 1: requests are spaced 1/n s apart, plus 20%, so that the
        // jitter of a loaded host or network (a request sent tens of ms
        // late, the next ones on time) never puts n + 1 of them in one
        // second at the other end. With 10%, a test run beside three others
        // saw 21 in one second on the wire.
        let spacing = Duration::from_secs(1) * 12 / (10 * per_second.max(1));
        let quota = Quota::with_period(spacing).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
        Limiter {
            rate: RateLimiter::direct(quota.allow_burst(NonZeroU32::MIN)),
            creations: Semaphore::new(outstanding),
            throttled: AtomicUsize::new(0),
            outstanding: AtomicUsize::new(0),
            max_outstanding: AtomicUsize::new(0),
        }
    }

    /// Wait for a creation slot (at most [`OUTSTANDING_CREATIONS`] at once).
    pub async fn creation(&self) -> Result<Slot<'_>, IntegrationError> {
        let permit = self.creations.acquire().await.map_err(|_| IntegrationError::Unavailable(sesame_integrations::Cause::Connector("the Identity Center queue is closed".into())))?;
        let now = self.outstanding.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_outstanding.fetch_max(now, Ordering::SeqCst);
        Ok(Slot { _permit: permit, limiter: self })
    }

    /// Run one request in its turn; on throttling, wait and run it again.
    pub async fn call<T, E, F, Fut>(&self, what: &str, mut f: F) -> Result<T, IntegrationError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>>>,
        E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata + Send + Sync + 'static,
    {
        let mut attempt = 0u32;
        loop {
            self.rate.until_ready().await;
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) if is_throttling(&e) && attempt < 30 => {
                    attempt += 1;
                    self.throttled.fetch_add(1, Ordering::SeqCst);
                    let wait = sesame_core::backoff::retry_delay(attempt, Duration::from_millis(100), Duration::from_secs(5));
                    tracing::debug!(what, attempt, ?wait, "Identity Center throttled; waiting");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(crate::account::sdk_err(what, e)),
            }
        }
    }
}

fn is_throttling<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>) -> bool {
    let code = e.as_service_error().and_then(|s| s.code()).unwrap_or_default();
    matches!(code, "ThrottlingException" | "TooManyRequestsException" | "Throttling" | "RequestLimitExceeded")
        || e.raw_response().is_some_and(|r| r.status().as_u16() == 429)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn at_most_ten_creations_outstanding() {
        let l = Arc::new(Limiter::new(1000, 10));
        let mut tasks = Vec::new();
        for _ in 0..25 {
            let l = l.clone();
            tasks.push(tokio::spawn(async move {
                let _slot = l.creation().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(l.max_outstanding.load(Ordering::SeqCst), 10);
        assert_eq!(l.outstanding.load(Ordering::SeqCst), 0);
    }
}
