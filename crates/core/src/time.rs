//! Points in time as milliseconds since the Unix epoch.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A point in time, milliseconds since 1970-01-01T00:00:00Z. The clock is read
/// at the edge of the system and passed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn millis(self) -> i64 {
        self.0
    }

    /// `self + d`, saturating at the far future.
    pub fn plus(self, d: Duration) -> Timestamp {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// How long from `earlier` to `self`; zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_and_since_round_trip() {
        let t = Timestamp(1_000);
        let later = t.plus(Duration::from_secs(2));
        assert_eq!(later, Timestamp(3_000));
        assert_eq!(later.since(t), Duration::from_secs(2));
        assert_eq!(t.since(later), Duration::ZERO);
    }
}
