//! Wire types shared by the server, the CLI and (later) the connector: API
//! requests and responses, stable error codes, integration event payloads.

pub mod api;
pub mod audit;
pub mod cause;
pub mod connector;
pub mod declared;
pub mod error;
pub mod event;
pub mod report;
pub mod scope;
pub mod signin;

pub use api::*;
pub use cause::Cause;
pub use declared::{ApplyBody, ApplyPlan, ConnectorDeclaration, DeclarationFormat, Declarations, FieldChange, GroupDeclaration, IntegrationTypeView, PlannedChange, SesameRole};
pub use error::{ErrorBody, ErrorCode};
pub use report::AccessReportRow;
pub use signin::{DevicePollBody, DevicePollView, DeviceStartView};
pub use scope::{AccessScopeQuery, AccessScopeView, NewAccessScope, ScopeUnit, ScopeUnitsView};
pub use event::{ActionParams, Credentials, EventType, IntegrationEvent, PermissionInfo, ResourceInfo, REQUESTER_PARAM};
