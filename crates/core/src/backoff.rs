//! Retry schedule for durable jobs: capped exponential backoff.

use std::time::Duration;

/// Delay before retry number `attempt` (1 = first retry): `base * 2^(attempt-1)`,
/// never more than `cap`. Retries never stop; only the spacing grows.
pub fn retry_delay(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    base.saturating_mul(1u32 << exp).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        let b = Duration::from_millis(250);
        let cap = Duration::from_secs(5);
        assert_eq!(retry_delay(1, b, cap), Duration::from_millis(250));
        assert_eq!(retry_delay(2, b, cap), Duration::from_millis(500));
        assert_eq!(retry_delay(5, b, cap), Duration::from_secs(4));
        assert_eq!(retry_delay(6, b, cap), cap);
        assert_eq!(retry_delay(u32::MAX, b, cap), cap);
    }
}
