//! Permission boundaries Sesame put, with the boundary each principal had
//! before: what lifting restores comes from here, never from the principal.

use crate::{AuditDraft, Result, Store};
use sesame_core::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundaryRow {
    pub integration: String,
    pub principal_type: String,
    pub name: String,
    /// The principal's ARN.
    pub arn: String,
    pub boundary_arn: String,
    /// Restored on lift; `None`: the principal had no boundary.
    pub previous_arn: Option<String>,
    pub put_by: String,
    pub put_at: Timestamp,
}

const COLUMNS: &str = "integration, principal_type, name, arn, boundary_arn, previous_arn, put_by, put_at";

fn row(r: &sqlx::any::AnyRow) -> Result<BoundaryRow> {
    Ok(BoundaryRow {
        integration: r.try_get("integration")?,
        principal_type: r.try_get("principal_type")?,
        name: r.try_get("name")?,
        arn: r.try_get("arn")?,
        boundary_arn: r.try_get("boundary_arn")?,
        previous_arn: r.try_get("previous_arn")?,
        put_by: r.try_get("put_by")?,
        put_at: Timestamp(r.try_get("put_at")?),
    })
}

impl Store {
    pub async fn boundary(&self, integration: &str, principal_type: &str, name: &str) -> Result<Option<BoundaryRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM boundaries WHERE integration = $1 AND principal_type = $2 AND name = $3"))
            .bind(integration)
            .bind(principal_type)
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn boundaries(&self, integration: &str) -> Result<Vec<BoundaryRow>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM boundaries WHERE integration = $1 ORDER BY principal_type, name"))
            .bind(integration)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(row).collect()
    }

    /// Record a boundary Sesame is about to put. A principal restricted
    /// before keeps its first `previous_arn`: restricting again never makes
    /// Sesame's own boundary the one to restore.
    pub async fn record_boundary(&self, b: &BoundaryRow) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE boundaries SET boundary_arn = $1, put_by = $2, put_at = $3, arn = $4 WHERE integration = $5 AND principal_type = $6 AND name = $7")
            .bind(&b.boundary_arn)
            .bind(&b.put_by)
            .bind(b.put_at.0)
            .bind(&b.arn)
            .bind(&b.integration)
            .bind(&b.principal_type)
            .bind(&b.name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            sqlx::query(&format!("INSERT INTO boundaries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
                .bind(&b.integration)
                .bind(&b.principal_type)
                .bind(&b.name)
                .bind(&b.arn)
                .bind(&b.boundary_arn)
                .bind(&b.previous_arn)
                .bind(&b.put_by)
                .bind(b.put_at.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forget a restriction (it was lifted, or its put failed), with its
    /// audit entry when given, in one transaction.
    pub async fn forget_boundary(&self, integration: &str, principal_type: &str, name: &str, audit: Option<AuditDraft>, now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM boundaries WHERE integration = $1 AND principal_type = $2 AND name = $3")
            .bind(integration)
            .bind(principal_type)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if let Some(a) = audit {
            crate::audit::append_in(&mut tx, self.engine, &a, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
