//! Access scopes: named AQL queries. Every change is written with its audit
//! entry in one transaction.

use crate::{AuditDraft, Result, Store};
use sesame_core::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRow {
    pub name: String,
    /// The query in its canonical spelling (as `Query` prints it).
    pub query: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "name, query, created_by, created_at, updated_at";

fn row(r: &sqlx::any::AnyRow) -> Result<ScopeRow> {
    Ok(ScopeRow {
        name: r.try_get("name")?,
        query: r.try_get("query")?,
        created_by: r.try_get("created_by")?,
        created_at: Timestamp(r.try_get("created_at")?),
        updated_at: Timestamp(r.try_get("updated_at")?),
    })
}

impl Store {
    pub async fn scope(&self, name: &str) -> Result<Option<ScopeRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM access_scopes WHERE name = $1")).bind(name).fetch_optional(&self.read).await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn scopes(&self) -> Result<Vec<ScopeRow>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM access_scopes ORDER BY name")).fetch_all(&self.read).await?;
        rows.iter().map(row).collect()
    }

    /// Create a scope; `false` when one of that name exists (nothing written).
    pub async fn create_scope(&self, s: &ScopeRow, audit: AuditDraft) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(&format!("INSERT INTO access_scopes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING"))
            .bind(&s.name)
            .bind(&s.query)
            .bind(&s.created_by)
            .bind(s.created_at.0)
            .bind(s.updated_at.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        crate::audit::append_in(&mut tx, self.engine, &audit, s.created_at).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Change a scope's query; `false` when there is no such scope.
    pub async fn update_scope(&self, name: &str, query: &str, audit: AuditDraft, now: Timestamp) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE access_scopes SET query = $1, updated_at = $2 WHERE name = $3")
            .bind(query)
            .bind(now.0)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        crate::audit::append_in(&mut tx, self.engine, &audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Delete a scope; `false` when there is no such scope.
    pub async fn delete_scope(&self, name: &str, audit: AuditDraft, now: Timestamp) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM access_scopes WHERE name = $1").bind(name).execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            return Ok(false);
        }
        crate::audit::append_in(&mut tx, self.engine, &audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}
