//! API tokens: only their SHA-256 is stored. A token is known by the first
//! 12 hex digits of its hash (its id); it expires, and can be revoked.

use crate::{AuditDraft, Result, Store};
use sesame_core::Timestamp;
use sqlx::Row;

/// What `sesame token list` shows: never the token, never its whole hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub principal: String,
    pub label: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// The id of the token whose hash is `hash`.
pub fn token_id(hash: &str) -> String {
    hash.chars().take(12).collect()
}

impl Store {
    /// Store a token's hash, with its audit entry, in one transaction.
    pub async fn insert_token(&self, hash: &str, principal: &str, label: Option<&str>, expires_at: Option<Timestamp>, audit: AuditDraft, now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO tokens (hash, user_email, label, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(hash)
            .bind(principal)
            .bind(label)
            .bind(now.0)
            .bind(expires_at.map(|t| t.0))
            .execute(&mut *tx)
            .await?;
        crate::audit::append_in(&mut tx, self.engine, &audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The principal of a live token: not revoked, not expired at `now`.
    pub async fn user_for_token(&self, hash: &str, now: Timestamp) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT user_email FROM tokens WHERE hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)")
            .bind(hash)
            .bind(now.0)
            .fetch_optional(&self.read)
            .await?)
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenRow>> {
        let rows = sqlx::query("SELECT hash, user_email, label, created_at, expires_at, revoked_at FROM tokens ORDER BY created_at, hash").fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                let hash: String = r.try_get("hash")?;
                Ok(TokenRow {
                    id: token_id(&hash),
                    principal: r.try_get("user_email")?,
                    label: r.try_get("label")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    expires_at: r.try_get::<Option<i64>, _>("expires_at")?.map(Timestamp),
                    revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(Timestamp),
                })
            })
            .collect()
    }

    /// Revoke the live tokens whose id is `id`, with the audit entry in the
    /// same transaction. False when there was none (unknown or revoked).
    pub async fn revoke_token(&self, id: &str, audit: AuditDraft, now: Timestamp) -> Result<bool> {
        let q = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE substr(hash, 1, 12) = $2 AND revoked_at IS NULL").bind(now.0).bind(id);
        self.update_audited(q, &audit, now).await
    }
}
