//! Discovered resources of each integration and its last known status.

use crate::{Result, Store, StoreError};
use sesame_core::Timestamp;
use sqlx::Row;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResource {
    pub resource_type: String,
    pub id: String,
    pub name: String,
    pub metadata: BTreeMap<String, String>,
}

/// What the last discovery of an integration found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationStatus {
    /// Reachable and discovered (a message may still say what is not served).
    Active,
    /// The last discovery failed; the message says why.
    Error,
}

impl IntegrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationStatus::Active => "Active",
            IntegrationStatus::Error => "Error",
        }
    }

    fn parse(s: &str) -> Option<IntegrationStatus> {
        [IntegrationStatus::Active, IntegrationStatus::Error].into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct IntegrationState {
    pub name: String,
    pub status: IntegrationStatus,
    pub message: Option<String>,
    pub last_sync: Option<Timestamp>,
}

impl Store {
    /// Replace the inventory of one integration with a fresh discovery.
    pub async fn replace_inventory(&self, integration: &str, resources: &[StoredResource], now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM resources WHERE integration = $1").bind(integration).execute(&mut *tx).await?;
        for r in resources {
            sqlx::query(
                "INSERT INTO resources (integration, resource_type, id, name, metadata) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (integration, resource_type, id) DO NOTHING",
            )
            .bind(integration)
            .bind(&r.resource_type)
            .bind(&r.id)
            .bind(&r.name)
            .bind(serde_json::to_string(&r.metadata).unwrap_or_else(|_| "{}".into()))
            .execute(&mut *tx)
            .await?;
        }
        upsert_state(&mut tx, integration, IntegrationStatus::Active, None, Some(now)).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_integration_status(&self, integration: &str, status: IntegrationStatus, message: Option<&str>) -> Result<()> {
        let mut tx = self.begin().await?;
        upsert_state(&mut tx, integration, status, message, None).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn integration_state(&self, integration: &str) -> Result<Option<IntegrationState>> {
        let row = sqlx::query("SELECT name, status, message, last_sync FROM integration_state WHERE name = $1")
            .bind(integration)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| {
            let status: String = r.try_get("status")?;
            Ok(IntegrationState {
                name: r.try_get("name")?,
                status: IntegrationStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt { table: "integration_state", message: format!("unknown status `{status}`") })?,
                message: r.try_get("message")?,
                last_sync: r.try_get::<Option<i64>, _>("last_sync")?.map(Timestamp),
            })
        })
        .transpose()
    }

    pub async fn list_inventory(&self, integration: &str, resource_type: Option<&str>) -> Result<Vec<StoredResource>> {
        let rows = sqlx::query(
            "SELECT resource_type, id, name, metadata FROM resources WHERE integration = $1 \
             AND ($2 IS NULL OR resource_type = $2) ORDER BY resource_type, id",
        )
        .bind(integration)
        .bind(resource_type)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let meta: String = r.try_get("metadata")?;
                Ok(StoredResource {
                    resource_type: r.try_get("resource_type")?,
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    metadata: serde_json::from_str(&meta)
                        .map_err(|e| StoreError::Corrupt { table: "resources", message: e.to_string() })?,
                })
            })
            .collect()
    }

    /// The inventory entries of `ids` (as `resource_type`) that exist.
    pub async fn find_resources(&self, integration: &str, resource_type: &str, ids: &[String]) -> Result<Vec<StoredResource>> {
        let mut found = Vec::new();
        for id in ids {
            let row = sqlx::query("SELECT resource_type, id, name, metadata FROM resources WHERE integration = $1 AND resource_type = $2 AND id = $3")
                .bind(integration)
                .bind(resource_type)
                .bind(id)
                .fetch_optional(&self.read)
                .await?;
            if let Some(r) = row {
                let meta: String = r.try_get("metadata")?;
                found.push(StoredResource {
                    resource_type: r.try_get("resource_type")?,
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    metadata: serde_json::from_str(&meta)
                        .map_err(|e| StoreError::Corrupt { table: "resources", message: e.to_string() })?,
                });
            }
        }
        Ok(found)
    }
}

async fn upsert_state(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    name: &str,
    status: IntegrationStatus,
    message: Option<&str>,
    last_sync: Option<Timestamp>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO integration_state (name, status, message, last_sync) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET status = $2, message = $3, last_sync = COALESCE($4, integration_state.last_sync)",
    )
    .bind(name)
    .bind(status.as_str())
    .bind(message)
    .bind(last_sync.map(|t| t.0))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
