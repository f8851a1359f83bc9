//! The IAM policy compiler (pure): access units → statements → documents
//! placed within AWS's quotas, sized as AWS sizes them. Exact ARNs only:
//! nothing is widened to a wildcard that could match another resource.
//! Every Allow carries `DateLessThan aws:CurrentTime <deadline>`, so access
//! dies at the deadline even if Sesame is down.

mod compile;
mod guardrail;
mod pack;

pub use compile::{compile, AccessUnit, Statement};
pub use guardrail::{check_selection, Guardrail, DEFAULT_NAMED_RESOURCE_LIMIT};
pub use pack::{document, pack, policy_size, Placement, Quotas, Target, TooBig};
