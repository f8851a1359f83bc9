//! The IAM policy compiler (pure): access units → statements → documents
//! placed within AWS's quotas, sized as AWS sizes them. Resources named by
//! name get exact ARNs only: nothing is widened to a wildcard that could
//! match another resource; a grant by tag or of every resource says so
//! (`select.rs`) and compiles to an ARN pattern with its condition.
//! Every Allow carries `DateLessThan aws:CurrentTime <deadline>`, so access
//! dies at the deadline even if Sesame is down.

mod compile;
mod guardrail;
mod pack;
mod select;
mod trust;

pub use compile::{compile, statements_of, AccessUnit, Effect, Statement};
pub use guardrail::{check_selection, Guardrail, DEFAULT_NAMED_RESOURCE_LIMIT};
pub use pack::{deny_after, document, pack, policy_size, Placement, Quotas, Target, TooBig};
pub use select::Selector;
pub use trust::{trust_policy, Federation};
