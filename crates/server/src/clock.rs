//! The one place the server reads the wall clock.

use sesame_core::Timestamp;

#[expect(clippy::disallowed_methods, reason = "the edge of the system reads the clock and passes it into the core")]
pub fn now() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_millis())
}

/// RFC 3339 for the API.
pub fn rfc3339(t: Timestamp) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(t.0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
