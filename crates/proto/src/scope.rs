//! Access scopes on the wire: a name and an AQL query, and the access units
//! (resource × permission) a scope selects from the inventory now.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An access scope as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccessScopeView {
    pub name: String,
    /// The AQL query, in its canonical spelling.
    pub query: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Create an access scope (the field names of the seed product's
/// `apono_access_scope`: `name`, `query`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccessScope {
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    /// AQL, e.g. `resource_type = "aws-account-s3-bucket" and resource_tag["env"] = "prd"`.
    pub query: String,
}

/// Change an access scope's query.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessScopeQuery {
    pub query: String,
}

/// One access unit a scope selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScopeUnit {
    pub integration: String,
    pub resource_type: String,
    /// Sesame's id of the resource.
    pub resource: String,
    pub resource_name: String,
    pub permission: String,
}

/// What a scope selects from the inventory now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScopeUnitsView {
    pub scope: String,
    pub query: String,
    pub units: Vec<ScopeUnit>,
}
