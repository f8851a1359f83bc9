//! The connector protocol: a connector dials OUT to the control plane over
//! HTTP — it registers, long-polls for tasks, and posts results. No inbound
//! port on the connector.

use crate::event::{ActionParams, Credentials, PermissionInfo, ResourceInfo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The type of an integration, as configuration and connectors spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IntegrationKind {
    Postgresql,
    Mysql,
    Redshift,
    Custom,
    AwsAccount,
    AwsOrganization,
    /// A Kubernetes cluster on AWS (EKS): RBAC bindings per grant.
    Eks,
    /// Served by a connector elsewhere (the control plane's view of it).
    Remote,
}

impl IntegrationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Postgresql => "postgresql",
            IntegrationKind::Mysql => "mysql",
            IntegrationKind::Redshift => "redshift",
            IntegrationKind::Custom => "custom",
            IntegrationKind::AwsAccount => "aws-account",
            IntegrationKind::AwsOrganization => "aws-organization",
            IntegrationKind::Eks => "eks",
            IntegrationKind::Remote => "remote",
        }
    }

    pub fn is_aws(self) -> bool {
        matches!(self, IntegrationKind::AwsAccount | IntegrationKind::AwsOrganization)
    }
}

impl std::fmt::Display for IntegrationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a connector serves, as the control plane needs to know it (no
/// configuration, no secrets).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntegrationInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: IntegrationKind,
    pub resource_types: Vec<String>,
    pub permissions: BTreeMap<String, Vec<PermissionInfo>>,
    pub max_username_len: usize,
    pub user_prefix: String,
    pub uses_requester_identity: bool,
    #[serde(default)]
    pub named_resource_limit: Option<usize>,
    /// The integration's settings block (rotation, cleanup, owners...).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Register {
    pub connector_id: String,
    /// One per running process; replicas share `connector_id`.
    pub instance_id: String,
    pub version: String,
    pub integrations: Vec<IntegrationInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Refusal {
    pub integration: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterReply {
    pub accepted: Vec<String>,
    pub refused: Vec<Refusal>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Poll {
    pub connector_id: String,
    pub instance_id: String,
    /// How long the control plane may hold the poll open.
    pub wait_ms: u64,
}

/// One action on one integration, the seed's events plus what the control
/// plane's own loops need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    GetStatus,
    ListResources,
    ListResourcesTags,
    GrantAccess,
    RevokeAccess,
    CreateCredentials,
    ResetCredentials,
    DeleteCredentials,
    DisableUser,
    DeleteUser,
    ListManagedUsers,
    /// Permission boundaries: params.resource_type = `role`|`user`,
    /// params.resources = [name]; for set-boundary params.permission is the
    /// boundary ARN (empty: remove it).
    GetBoundary,
    SetBoundary,
    /// Would a grant fit (params as for grant-access, deadline in valid_until_ms)?
    Preflight,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Task {
    pub task_id: String,
    pub integration: String,
    pub op: Op,
    #[schema(value_type = Object)]
    pub params: ActionParams,
    /// The grant's deadline (grant-access only; a grant without one is refused).
    pub valid_until_ms: Option<i64>,
    /// When the control plane stops waiting for the answer: a connector that
    /// gets the task later drops it instead of running it late.
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Tasks {
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Unavailable,
    Invalid,
    Misconfigured,
}

/// What get-status answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub healthy: bool,
    #[serde(default)]
    pub message: String,
}

/// What `list-resources` returns: resources of every type, and the
/// permissions each resource type offers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Discovery {
    pub resources: Vec<ResourceInfo>,
    pub permissions: BTreeMap<String, Vec<PermissionInfo>>,
    /// Sub-integrations found while discovering (RDS instances tagged for
    /// auto-discovery), each served by the parent's `child`.
    #[serde(default)]
    pub children: Vec<Child>,
}

/// A sub-integration: named `<parent>/<id>`, described by `info` when it
/// could be built, else by `error` (which says what to fix).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Child {
    pub name: String,
    /// The resource it comes from (e.g. the RDS instance ARN).
    pub source: String,
    pub info: Option<IntegrationInfo>,
    pub error: Option<String>,
}

/// What an operation answered, one shape per kind of answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// Done; nothing to return (grant, revoke, delete, boundary set, ...).
    Done,
    Status(StatusReport),
    Discovery(Discovery),
    Tags { tags: BTreeMap<String, BTreeMap<String, String>> },
    Credentials(Credentials),
    Users { users: Vec<String> },
    Boundary { arn: String, boundary: Option<String> },
}

impl Reply {
    /// The kind of answer, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Done => "done",
            Reply::Status(_) => "status",
            Reply::Discovery(_) => "discovery",
            Reply::Tags { .. } => "tags",
            Reply::Credentials(_) => "credentials",
            Reply::Users { .. } => "users",
            Reply::Boundary { .. } => "boundary",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TaskOutcome {
    Ok {
        #[schema(value_type = Object)]
        value: Reply,
    },
    Failed {
        kind: FailureKind,
        message: String,
        /// Why, when `kind` is `unavailable` (connectors before 1.8 send none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        cause: Option<crate::Cause>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskResult {
    pub connector_id: String,
    pub instance_id: String,
    pub task_id: String,
    #[serde(flatten)]
    pub outcome: TaskOutcome,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstanceView {
    pub instance_id: String,
    pub version: String,
    pub last_seen: String,
    pub connected: bool,
    /// Tasks handed to this instance and not answered yet.
    pub in_flight: usize,
    /// What they are: `integration:op`, e.g. `app:grant-access`.
    pub in_flight_tasks: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConnectorView {
    pub id: String,
    /// CONNECTED when at least one instance polled recently, else DISCONNECTED.
    pub status: String,
    pub last_seen: Option<String>,
    pub version: Option<String>,
    pub instances: Vec<InstanceView>,
    pub integrations: Vec<String>,
    pub refused: Vec<Refusal>,
}
