//! Configuration as code (`sesame apply`, `sesame export`): the access
//! flows, bundles and access scopes made through the API, declared as the
//! configuration file writes them, and the plan that brings the store to
//! match a declaration.

use crate::NewAccessScope;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a declaration file holds: `[[access_flows]]` and `[[bundles]]` as
/// in the configuration file, `[[access_scopes]]` with `name` and `query`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Declarations {
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub access_flows: Vec<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub bundles: Vec<serde_json::Value>,
    #[serde(default)]
    pub access_scopes: Vec<NewAccessScope>,
}

/// `POST /api/v1/apply`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyBody {
    /// What the store should hold.
    #[serde(default)]
    pub declarations: Declarations,
    /// Delete what the declaration does not name (of what the API made).
    #[serde(default)]
    pub prune: bool,
    /// Plan only: change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// One planned change: `create`, `update` (with the fields that change) or
/// `delete`, of an `access_flow`, `bundle` or `access_scope`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlannedChange {
    pub kind: String,
    pub name: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldChange {
    pub field: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

/// What `apply` did (or, with `dry_run`, would do); nothing listed is
/// already as declared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApplyPlan {
    pub changes: Vec<PlannedChange>,
    pub unchanged: usize,
    pub applied: bool,
}

/// One integration type and its configuration as JSON Schema
/// (`GET /api/v1/integration-types`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntegrationTypeView {
    /// As the configuration file's `type` writes it (`postgresql`, `aws_account`…).
    #[serde(rename = "type")]
    pub type_name: String,
    /// JSON Schema (draft 2019-09); secret references carry `x-sesame-secret`.
    #[schema(value_type = Object)]
    pub schema: serde_json::Value,
}
