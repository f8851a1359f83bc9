//! The IAM policy compiler (pure): access units → statements → documents
//! placed within AWS's quotas, sized as AWS sizes them. Exact ARNs only:
//! nothing is widened to a wildcard that could match another resource.
//! Every Allow carries `DateLessThan aws:CurrentTime <deadline>`, so access
//! dies at the deadline even if Sesame is down.

mod compile;
mod guardrail;
mod pack;
mod trust;

pub use compile::{compile, statements_of, AccessUnit, Effect, Statement};
pub use guardrail::{check_selection, Guardrail, DEFAULT_NAMED_RESOURCE_LIMIT};
pub use pack::{deny_after, document, pack, policy_size, Placement, Quotas, Target, TooBig};
pub use trust::{trust_policy, Federation};
