//! The statuses of a request. How one changes into another is
//! [`crate::lifecycle::step`]'s to decide.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequestStatus {
    Pending,
    /// Waiting for the requester's MFA step-up (the flow's `requester_mfa`).
    PendingMfa,
    Granting,
    Active,
    Revoking,
    Revoked,
    Rejected,
    Failed,
    /// Nobody answered in time (the flow's `pending_expiry`), or the
    /// requester did not step up in time.
    Expired,
}

impl RequestStatus {
    /// Statuses in which a login on a target is explained by this grant.
    pub fn holds_access(self) -> bool {
        matches!(self, RequestStatus::Granting | RequestStatus::Active | RequestStatus::Revoking)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestStatus::Revoked | RequestStatus::Rejected | RequestStatus::Failed | RequestStatus::Expired
        )
    }

    pub const ALL: [RequestStatus; 9] = [
        RequestStatus::Pending,
        RequestStatus::PendingMfa,
        RequestStatus::Granting,
        RequestStatus::Active,
        RequestStatus::Revoking,
        RequestStatus::Revoked,
        RequestStatus::Rejected,
        RequestStatus::Failed,
        RequestStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "Pending",
            RequestStatus::PendingMfa => "PendingMFA",
            RequestStatus::Granting => "Granting",
            RequestStatus::Active => "Active",
            RequestStatus::Revoking => "Revoking",
            RequestStatus::Revoked => "Revoked",
            RequestStatus::Rejected => "Rejected",
            RequestStatus::Failed => "Failed",
            RequestStatus::Expired => "Expired",
        }
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown request status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for RequestStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::EDGES;
    use RequestStatus as S;

    #[test]
    fn final_states_have_no_way_out() {
        for st in S::ALL.into_iter().filter(|s| s.is_final()) {
            assert!(!EDGES.iter().any(|(from, _)| *from == st), "{st} has a way out");
        }
    }

    #[test]
    fn every_state_is_named_and_parses_back() {
        for st in S::ALL {
            assert_eq!(st.as_str().parse::<S>().unwrap(), st);
        }
    }

    #[test]
    fn access_is_held_only_between_grant_start_and_revoke_end() {
        for (from, to) in EDGES {
            if to.is_final() {
                assert!(!to.holds_access());
            }
            // Access can only appear by approval (Pending -> Granting), or
            // by the requester's step-up in a flow that approves by itself.
            if !from.holds_access() && to.holds_access() {
                assert!(matches!((from, to), (S::Pending | S::PendingMfa, S::Granting)), "{from} -> {to}");
            }
        }
    }
}
