//! The request/grant lifecycle: one enum, one transition function.
//!
//! ```text
//! Pending --approve--> Granting --granted--> Active --revoke/expire--> Revoking --revoked--> Revoked
//!    |                     |                                              ^
//!    +--reject--> Rejected +--grant failed--> Failed                      |
//!    +--cancel--> Revoked                     (deadline while Granting) --+
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequestStatus {
    Pending,
    /// Reserved for MFA step-up (later issue).
    PendingMfa,
    Granting,
    Active,
    Revoking,
    Revoked,
    Rejected,
    Failed,
    /// Reserved: a pending request whose approval window passed (later issue).
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestEvent {
    /// An approver said yes (or the flow is automatic).
    Approve,
    Reject,
    /// The requester withdrew a request that was not granted yet.
    Cancel,
    GrantSucceeded,
    GrantFailed,
    /// Manual revoke or the deadline passed.
    RevokeStarted,
    RevokeSucceeded,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a request that is {from} cannot be {event}")]
pub struct TransitionError {
    pub from: RequestStatus,
    pub event: &'static str,
}

impl RequestStatus {
    /// The one transition function. Illegal transitions are errors, never no-ops.
    pub fn apply(self, event: RequestEvent) -> Result<RequestStatus, TransitionError> {
        use RequestEvent as E;
        use RequestStatus as S;
        let next = match (self, event) {
            (S::Pending, E::Approve) => S::Granting,
            (S::Pending, E::Reject) => S::Rejected,
            (S::Pending, E::Cancel) => S::Revoked,
            (S::Granting, E::GrantSucceeded) => S::Active,
            (S::Granting, E::GrantFailed) => S::Failed,
            (S::Granting | S::Active, E::RevokeStarted) => S::Revoking,
            (S::Revoking, E::RevokeSucceeded) => S::Revoked,
            (from, event) => return Err(TransitionError { from, event: event.verb() }),
        };
        Ok(next)
    }

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

impl RequestEvent {
    fn verb(self) -> &'static str {
        match self {
            RequestEvent::Approve => "approved",
            RequestEvent::Reject => "rejected",
            RequestEvent::Cancel => "cancelled",
            RequestEvent::GrantSucceeded => "marked granted",
            RequestEvent::GrantFailed => "marked failed",
            RequestEvent::RevokeStarted => "revoked",
            RequestEvent::RevokeSucceeded => "marked revoked",
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
    use RequestEvent as E;
    use RequestStatus as S;

    const EVENTS: [RequestEvent; 7] =
        [E::Approve, E::Reject, E::Cancel, E::GrantSucceeded, E::GrantFailed, E::RevokeStarted, E::RevokeSucceeded];

    #[test]
    fn happy_path() {
        let s = S::Pending.apply(E::Approve).unwrap();
        let s = s.apply(E::GrantSucceeded).unwrap();
        let s = s.apply(E::RevokeStarted).unwrap();
        assert_eq!(s.apply(E::RevokeSucceeded).unwrap(), S::Revoked);
    }

    #[test]
    fn final_states_accept_nothing() {
        for st in S::ALL.into_iter().filter(|s| s.is_final()) {
            for ev in EVENTS {
                assert!(st.apply(ev).is_err(), "{st} accepted {ev:?}");
            }
        }
    }

    #[test]
    fn every_reachable_state_is_named_and_parses_back() {
        for st in S::ALL {
            assert_eq!(st.as_str().parse::<S>().unwrap(), st);
        }
    }

    #[test]
    fn access_is_held_only_between_grant_start_and_revoke_end() {
        // Walk every sequence of up to 5 events from Pending: holds_access must
        // be false again once the walk reaches a final state.
        fn walk(s: S, depth: u8) {
            if s.is_final() {
                assert!(!s.holds_access());
            }
            if depth == 0 {
                return;
            }
            for ev in EVENTS {
                if let Ok(n) = s.apply(ev) {
                    walk(n, depth - 1);
                }
            }
        }
        walk(S::Pending, 5);
    }

    #[test]
    fn illegal_transition_message() {
        let e = S::Revoked.apply(E::Approve).unwrap_err();
        assert_eq!(e.to_string(), "a request that is Revoked cannot be approved");
    }
}
