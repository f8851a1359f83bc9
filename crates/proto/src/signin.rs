//! Sign-in through the identity provider: the device grant the CLI uses.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A device sign-in started: show the person where to go and the code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct DeviceStartView {
    /// What to poll with (`POST /api/v1/auth/device/token`); secret.
    pub handle: String,
    /// Where the person signs in.
    pub verification_uri: String,
    /// The same, with the code filled in.
    pub verification_uri_complete: Option<String>,
    /// The code to enter there.
    pub user_code: String,
    /// Poll no more often than this.
    pub interval_secs: u64,
    /// The sign-in is abandoned after this.
    pub expires_in_secs: u64,
}

/// Poll a device sign-in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DevicePollBody {
    pub handle: String,
}

/// Where a device sign-in stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DevicePollView {
    /// Not approved yet: poll again after the interval.
    Pending,
    /// Signed in: the session token, shown this once.
    SignedIn {
        token: String,
        email: String,
        /// RFC 3339; the token stops working then.
        expires_at: String,
    },
}
