//! Many definitions changed at once (`sesame apply`): integrations,
//! connectors, groups, access flows, bundles and access scopes created,
//! replaced, retired or deleted in one transaction with
//! their audit entries — all of them, or none when any found the store
//! other than planned.

use crate::definitions::DefinitionRow;
use crate::scopes::ScopeRow;
use crate::{AuditDraft, Result, Store};
use sesame_core::Timestamp;

/// One change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declared {
    /// Create (`create`) or replace an access flow or bundle.
    PutDefinition { row: DefinitionRow, create: bool },
    DeleteDefinition { kind: String, name: String },
    /// Mark a definition as going once nothing live needs it (an
    /// integration whose grants are being revoked).
    Retire { kind: String, name: String },
    /// Delete a definition only if it is (still) retiring.
    DeleteRetired { kind: String, name: String },
    CreateScope(ScopeRow),
    UpdateScope { name: String, query: String },
    DeleteScope { name: String },
}

impl Store {
    /// Apply every change with its audit entry, in one transaction; `false`
    /// (nothing written) when one of them did not find what was planned.
    pub async fn apply_declared(&self, changes: &[(Declared, AuditDraft)], now: Timestamp) -> Result<bool> {
        let mut tx = self.begin().await?;
        for (c, audit) in changes {
            let q = match c {
                Declared::PutDefinition { row, create: true } => {
                    sqlx::query("INSERT INTO definitions (kind, name, body, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (kind, name) DO NOTHING")
                        .bind(&row.kind)
                        .bind(&row.name)
                        .bind(&row.body)
                        .bind(&row.created_by)
                        .bind(now.0)
                }
                Declared::PutDefinition { row, create: false } => {
                    sqlx::query("UPDATE definitions SET body = $3, updated_at = $4, retiring_since = NULL WHERE kind = $1 AND name = $2").bind(&row.kind).bind(&row.name).bind(&row.body).bind(now.0)
                }
                Declared::Retire { kind, name } => {
                    sqlx::query("UPDATE definitions SET retiring_since = $3, updated_at = $3 WHERE kind = $1 AND name = $2 AND retiring_since IS NULL").bind(kind).bind(name).bind(now.0)
                }
                Declared::DeleteRetired { kind, name } => {
                    sqlx::query("DELETE FROM definitions WHERE kind = $1 AND name = $2 AND retiring_since IS NOT NULL").bind(kind).bind(name)
                }
                Declared::DeleteDefinition { kind, name } => sqlx::query("DELETE FROM definitions WHERE kind = $1 AND name = $2").bind(kind).bind(name),
                Declared::CreateScope(s) => sqlx::query("INSERT INTO access_scopes (name, query, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT (name) DO NOTHING")
                    .bind(&s.name)
                    .bind(&s.query)
                    .bind(&s.created_by)
                    .bind(now.0),
                Declared::UpdateScope { name, query } => sqlx::query("UPDATE access_scopes SET query = $1, updated_at = $2 WHERE name = $3").bind(query).bind(now.0).bind(name),
                Declared::DeleteScope { name } => sqlx::query("DELETE FROM access_scopes WHERE name = $1").bind(name),
            };
            if q.execute(&mut *tx).await?.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            crate::audit::append_in(&mut tx, self.engine, audit, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
