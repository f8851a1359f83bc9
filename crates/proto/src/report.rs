//! Review Access: who held what, when, why, and who approved it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One grant that reached its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccessReportRow {
    pub request_id: String,
    /// Who held the access (the requester).
    pub user: String,
    pub integration: String,
    pub resource_type: String,
    pub resources: Vec<String>,
    pub permission: String,
    /// The access flow that decided.
    pub flow: String,
    /// Why, in the requester's words.
    pub justification: Option<String>,
    /// Who approved (empty: the flow granted it at once).
    pub approved_by: Vec<String>,
    pub approval_reason: Option<String>,
    /// When the grant reached the target.
    pub granted_at: String,
    /// When the revoke was done; absent while the access lasts.
    pub ended_at: Option<String>,
    /// The request's status now.
    pub status: String,
}
