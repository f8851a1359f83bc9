//! API tokens: only their SHA-256 is stored.

use crate::{Result, Store};
use sesame_core::Timestamp;

impl Store {
    pub async fn insert_token(&self, hash: &str, user_email: &str, label: Option<&str>, now: Timestamp) -> Result<()> {
        sqlx::query("INSERT INTO tokens (hash, user_email, label, created_at) VALUES ($1, $2, $3, $4)")
            .bind(hash)
            .bind(user_email)
            .bind(label)
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn user_for_token(&self, hash: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT user_email FROM tokens WHERE hash = $1").bind(hash).fetch_optional(&self.pool).await?)
    }
}
