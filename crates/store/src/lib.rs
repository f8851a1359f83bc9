//! Persistence: SQLite (embedded default, WAL) or PostgreSQL, chosen by URL,
//! through one set of portable SQL statements and versioned migrations per
//! engine. The durable job queue lives here too.
//!
//! **Invariant:** the same test suite (`tests/store_suite.rs`) runs on both
//! engines.

mod apply;
mod batch;
mod audit;
mod head;
mod definitions;
mod inventory;
mod jobs;
mod mfa;
mod pool;
mod requests;
mod boundaries;
mod scim;
mod signins;
mod scopes;
mod tokens;
mod transact;

pub use apply::Declared;
pub use audit::AuditRow;
pub use sesame_core::{AuditAction, AuditDraft, JobKind, Outcome};
pub use inventory::{IntegrationState, IntegrationStatus, StoredResource};
pub use jobs::{Job, NewJob};
pub use pool::{Engine, Store};
pub use requests::{AccessHeld, ExtensionAsked, Lease, NewRequest, RequestFilter, RequestRow};
pub use tokens::{token_id, TokenRow};
pub use boundaries::BoundaryRow;
pub use scim::{ScimPut, ScimRow, ScimWrite};
pub use signins::SignedIn;
pub use scopes::ScopeRow;
pub use mfa::MfaFactor;
pub use definitions::DefinitionRow;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported store url `{0}`: use sqlite://PATH or postgres://...")]
    BadUrl(String),
    #[error("corrupt row in `{table}`: {message}")]
    Corrupt { table: &'static str, message: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
