//! Configuration as code (`sesame apply`, `sesame export`): the
//! integrations, connectors, groups, access flows, bundles and access
//! scopes made through the API, declared as the configuration file writes
//! them, and the plan that brings the store to match a declaration.

use crate::NewAccessScope;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a declaration file holds: `[[integrations]]`, `[[connectors]]`,
/// `[[access_flows]]` and `[[bundles]]` as in the configuration file,
/// `[[groups]]` (name, roles) and `[[access_scopes]]` (name, query).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Declarations {
    /// As the configuration file's `[[integrations]]`, with secret
    /// references (`{ env = "…" }`), never values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub integrations: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connectors: Vec<ConnectorDeclaration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupDeclaration>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub access_flows: Vec<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub bundles: Vec<serde_json::Value>,
    #[serde(default)]
    pub access_scopes: Vec<NewAccessScope>,
}

/// A connector that may register (`sesame connector` with this id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorDeclaration {
    pub id: String,
}

/// Sesame's own roles granted to a group of the identity provider (or the
/// file): its members administer Sesame (`admin`), read audit and reports
/// (`auditor`) or may ask for access (`requester`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupDeclaration {
    pub name: String,
    #[serde(default)]
    pub roles: Vec<SesameRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SesameRole {
    Admin,
    Auditor,
    Requester,
}

/// The text formats a declaration is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclarationFormat {
    Toml,
    Yaml,
    Json,
}

impl DeclarationFormat {
    /// YAML by a `.yaml`/`.yml` name, JSON by `.json`, else TOML.
    pub fn of(path: &std::path::Path) -> DeclarationFormat {
        match path.extension().and_then(|x| x.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("yaml" | "yml") => DeclarationFormat::Yaml,
            Some("json") => DeclarationFormat::Json,
            _ => DeclarationFormat::Toml,
        }
    }
}

impl Declarations {
    /// Read a declaration; a file named as neither YAML nor JSON that reads
    /// as JSON is JSON (standard input).
    pub fn parse(text: &str, format: DeclarationFormat) -> Result<Declarations, String> {
        let shape = |e: String| format!("{e}: a declaration holds integrations, connectors, groups, access_flows, bundles and access_scopes");
        let v: serde_json::Value = match format {
            DeclarationFormat::Yaml => serde_norway::from_str(text).map_err(|e| format!("not YAML: {e}"))?,
            DeclarationFormat::Json => serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?,
            DeclarationFormat::Toml => match serde_json::from_str(text) {
                Ok(v) => v,
                Err(_) => {
                    let t: toml::Value = toml::from_str(text).map_err(|e| format!("neither JSON nor TOML (name YAML files .yaml): {e}"))?;
                    serde_json::to_value(t).map_err(|e| e.to_string())?
                }
            },
        };
        serde_json::from_value(v).map_err(|e| shape(e.to_string()))
    }

    /// As TOML, YAML or JSON text.
    pub fn write(&self, format: DeclarationFormat) -> Result<String, String> {
        match format {
            DeclarationFormat::Json => serde_json::to_string_pretty(self).map_err(|e| e.to_string()),
            DeclarationFormat::Yaml => serde_norway::to_string(self).map_err(|e| format!("cannot write YAML: {e}")),
            DeclarationFormat::Toml => {
                let v = serde_json::to_value(self).map_err(|e| e.to_string())?;
                let t: toml::Value = serde_json::from_value(v).map_err(|e| format!("cannot write TOML: {e}"))?;
                toml::to_string_pretty(&t).map_err(|e| format!("cannot write TOML: {e}"))
            }
        }
    }
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
    /// Deleting an integration that grants are still live on revokes them
    /// first (durably; the integration goes when they are revoked). Without
    /// it, such a delete is refused.
    #[serde(default)]
    pub revoke_active: bool,
}

/// One planned change: `create`, `update` (with the fields that change) or
/// `delete`, of an `integration`, `connector`, `group`, `access_flow`,
/// `bundle` or `access_scope`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlannedChange {
    pub kind: String,
    pub name: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// What else happens (an integration's live grants revoked first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
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
