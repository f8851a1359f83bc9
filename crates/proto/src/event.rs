//! The integration contract of the seed's custom integrations: event names and
//! payloads, unchanged, so the same handlers work here.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventType {
    GetStatus,
    ListResources,
    ListResourcesTags,
    GrantAccess,
    RevokeAccess,
    CreateCredentials,
    ResetCredentials,
    DeleteCredentials,
}

/// `{ "event_type": ..., "params": {...} }` as a custom integration receives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntegrationEvent {
    pub event_type: EventType,
    pub params: ActionParams,
}

/// The `custom_parameters` key under which the control plane passes the
/// requester's identity (e-mail) to built-in integrations that deliver access
/// to the person (federated roles, Identity Center). Custom integrations
/// replace `custom_parameters` with their own, so it never reaches them.
pub const REQUESTER_PARAM: &str = "sesame:requester";

/// The params of every event. For get-status and list-resources only
/// `resource_type` and `custom_parameters` are meaningful.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionParams {
    pub grant_id: String,
    pub username: String,
    pub resource_type: String,
    pub resources: Vec<String>,
    pub permission: String,
    #[serde(default)]
    pub custom_parameters: BTreeMap<String, String>,
}

impl ActionParams {
    /// The requester, as the control plane passed it ([`REQUESTER_PARAM`]).
    pub fn requester(&self) -> Option<&str> {
        self.custom_parameters.get(REQUESTER_PARAM).map(String::as_str).filter(|s| !s.is_empty())
    }
}

/// One resource of `list-resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceInfo {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// One permission of `list-resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PermissionInfo {
    pub id: String,
    pub name: String,
    /// `low`, `medium`, `high` or `critical`, when the integration says
    /// (AQL's `permission_risk_level`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<String>,
    /// Granted on selected resources too — `*` (every resource of the type)
    /// and `tag:KEY=VALUE` — not only on resources named one by one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub selectable: bool,
}

/// Credentials made for a grantee: shown once, never stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Credentials {
    pub username: String,
    pub secret: String,
    /// Everything else the grantee needs: host, port, database...
    #[serde(default)]
    pub details: BTreeMap<String, String>,
    /// A ready command line that connects, when the integration has one.
    pub connect_command: Option<String>,
}
