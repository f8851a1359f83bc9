//! People and groups pushed by an identity provider through SCIM: each
//! resource as JSON, unique per kind by its lower-cased userName or
//! displayName, versioned for ETags. Every change is written with its
//! audit entry in one transaction.

use crate::audit::append_in;
use crate::{AuditDraft, Result, Store};
use sesame_core::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimRow {
    pub kind: String,
    pub id: String,
    pub body: String,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A resource to write: its kind, id, unique name (lower-cased) and body;
/// a replace only if it is still at `version` (when given).
#[derive(Debug, Clone, Copy)]
pub struct ScimPut<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub name_key: &'a str,
    pub body: &'a str,
    pub version: Option<i64>,
}

/// What a write found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimWrite {
    Done(ScimRow),
    /// Another resource of the kind has that userName or displayName.
    NameTaken,
    /// No resource with that id (a replace).
    Missing,
    /// It changed since `version` was read.
    Stale,
}

const COLUMNS: &str = "kind, id, body, version, created_at, updated_at";

fn row(r: &sqlx::any::AnyRow) -> Result<ScimRow> {
    Ok(ScimRow {
        kind: r.try_get("kind")?,
        id: r.try_get("id")?,
        body: r.try_get("body")?,
        version: r.try_get("version")?,
        created_at: Timestamp(r.try_get("created_at")?),
        updated_at: Timestamp(r.try_get("updated_at")?),
    })
}

impl Store {
    /// Every resource of a kind, oldest first.
    pub async fn scim_resources(&self, kind: &str) -> Result<Vec<ScimRow>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM scim_resources WHERE kind = $1 ORDER BY created_at, id")).bind(kind).fetch_all(&self.read).await?;
        rows.iter().map(row).collect()
    }

    pub async fn scim_resource(&self, kind: &str, id: &str) -> Result<Option<ScimRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM scim_resources WHERE kind = $1 AND id = $2")).bind(kind).bind(id).fetch_optional(&self.read).await?;
        r.as_ref().map(row).transpose()
    }

    /// What changes when any resource does: (count, newest change, sum of versions).
    pub async fn scim_stamp(&self) -> Result<(i64, i64, i64)> {
        let r = sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(updated_at), 0) AS at, CAST(COALESCE(SUM(version), 0) AS BIGINT) AS v FROM scim_resources").fetch_one(&self.read).await?;
        Ok((r.try_get("n")?, r.try_get("at")?, r.try_get("v")?))
    }

    /// Create (`create`) or replace a resource, with its audit entry.
    pub async fn put_scim(&self, r: ScimPut<'_>, create: bool, audit: &AuditDraft, now: Timestamp) -> Result<ScimWrite> {
        let ScimPut { kind, id, name_key, body, version } = r;
        let mut tx = self.begin().await?;
        let taken: Option<String> = sqlx::query_scalar("SELECT id FROM scim_resources WHERE kind = $1 AND name_key = $2 AND id <> $3")
            .bind(kind)
            .bind(name_key)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            tx.rollback().await?;
            return Ok(ScimWrite::NameTaken);
        }
        let q = if create {
            sqlx::query("INSERT INTO scim_resources (kind, id, name_key, body, version, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $5, $5) ON CONFLICT (kind, id) DO NOTHING")
                .bind(kind)
                .bind(id)
                .bind(name_key)
                .bind(body)
                .bind(now.0)
        } else {
            sqlx::query("UPDATE scim_resources SET name_key = $3, body = $4, version = version + 1, updated_at = $5 WHERE kind = $1 AND id = $2 AND ($6 < 0 OR version = $6)")
                .bind(kind)
                .bind(id)
                .bind(name_key)
                .bind(body)
                .bind(now.0)
                .bind(version.unwrap_or(-1))
        };
        if q.execute(&mut *tx).await?.rows_affected() == 0 {
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM scim_resources WHERE kind = $1 AND id = $2").bind(kind).bind(id).fetch_optional(&mut *tx).await?;
            tx.rollback().await?;
            return Ok(match (create, exists) {
                (true, _) => ScimWrite::NameTaken,
                (false, Some(_)) => ScimWrite::Stale,
                (false, None) => ScimWrite::Missing,
            });
        }
        append_in(&mut tx, self.engine, audit, now).await?;
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM scim_resources WHERE kind = $1 AND id = $2")).bind(kind).bind(id).fetch_one(&mut *tx).await?;
        let stored = row(&r)?;
        tx.commit().await?;
        Ok(ScimWrite::Done(stored))
    }

    /// Delete a resource, with its audit entry; `false` when there was none.
    pub async fn delete_scim(&self, kind: &str, id: &str, audit: &AuditDraft, now: Timestamp) -> Result<bool> {
        let q = sqlx::query("DELETE FROM scim_resources WHERE kind = $1 AND id = $2").bind(kind).bind(id);
        self.update_audited(q, audit, now).await
    }
}
