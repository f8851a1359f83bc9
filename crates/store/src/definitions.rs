//! What was made through the API (`kind` `integration`, `connector`,
//! `group`, `flow` or `bundle`), each the JSON declaration its author sent.
//! Every change is written with its audit entry in one transaction.

use crate::{AuditDraft, Result, Store};
use sesame_core::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionRow {
    pub kind: String,
    pub name: String,
    pub body: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Deleted while grants were live on it: kept for their revocation only.
    pub retiring_since: Option<Timestamp>,
}

impl Store {
    /// Every definition, by kind and name.
    pub async fn definitions(&self) -> Result<Vec<DefinitionRow>> {
        let rows = sqlx::query("SELECT kind, name, body, created_by, created_at, updated_at, retiring_since FROM definitions ORDER BY kind, name").fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(DefinitionRow {
                    kind: r.try_get("kind")?,
                    name: r.try_get("name")?,
                    body: r.try_get("body")?,
                    created_by: r.try_get("created_by")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                    retiring_since: r.try_get::<Option<i64>, _>("retiring_since")?.map(Timestamp),
                })
            })
            .collect()
    }

    /// What changes when any definition does: (count, newest change).
    pub async fn definitions_stamp(&self) -> Result<(i64, i64)> {
        let r = sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(updated_at), 0) AS at FROM definitions").fetch_one(&self.read).await?;
        Ok((r.try_get("n")?, r.try_get("at")?))
    }

    /// Create (`false` when one of that kind and name exists) or replace
    /// (`false` when none exists) a definition, with its audit entry.
    pub async fn put_definition(&self, d: &DefinitionRow, create: bool, audit: AuditDraft) -> Result<bool> {
        let q = if create {
            sqlx::query("INSERT INTO definitions (kind, name, body, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, name) DO NOTHING")
                .bind(&d.kind)
                .bind(&d.name)
                .bind(&d.body)
                .bind(&d.created_by)
                .bind(d.created_at.0)
                .bind(d.updated_at.0)
        } else {
            sqlx::query("UPDATE definitions SET body = $3, updated_at = $4, retiring_since = NULL WHERE kind = $1 AND name = $2").bind(&d.kind).bind(&d.name).bind(&d.body).bind(d.updated_at.0)
        };
        self.update_audited(q, &audit, d.updated_at).await
    }

    /// Delete a definition; `false` when there was none.
    pub async fn delete_definition(&self, kind: &str, name: &str, audit: AuditDraft, now: Timestamp) -> Result<bool> {
        let q = sqlx::query("DELETE FROM definitions WHERE kind = $1 AND name = $2").bind(kind).bind(name);
        self.update_audited(q, &audit, now).await
    }
}
