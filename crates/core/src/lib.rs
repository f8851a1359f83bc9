//! Sesame's domain, pure: no I/O, no clock reads, no randomness.
//!
//! **Invariant:** nothing in this crate performs I/O. Time arrives as a
//! [`Timestamp`] parameter; identifiers arrive from the caller.

pub mod aql;
pub mod audit;
pub mod escalation;
pub mod backoff;
pub mod bundle;
pub mod approval;
pub mod flow;
pub mod lifecycle;
pub mod policy;
pub mod model;
pub mod people;
pub mod resource_id;
pub mod status;
pub mod time;
pub mod timeframe;
pub mod username;

pub use approval::{ApprovalPart, ApprovalRefusal};
pub use flow::{decide, AccessFlow, Decision, FlowKind, Owners, Principals, RequestDraft};
pub use model::{Directory, Roles, User};
pub use audit::{AuditAction, AuditDraft, Outcome};
pub use lifecycle::{step, Durability, Event, JobKind, Step, Transition, TransitionError};
pub use status::RequestStatus;
pub use time::Timestamp;
