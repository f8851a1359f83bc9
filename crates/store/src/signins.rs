//! Sign-in through an OpenID Provider: sign-ins under way (a browser's
//! `state`, a device code), kept until used or expired, and the people who
//! signed in with what their provider said of them (e-mail, name, groups).

use crate::{AuditDraft, Result, Store};
use sesame_core::Timestamp;
use sqlx::Row;

/// Someone the identity provider vouched for, and until when their session lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub email: String,
    pub subject: String,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub until: Timestamp,
}

impl Store {
    /// Keep what a sign-in under way needs, under the hash of its key.
    pub async fn put_signin_pending(&self, key_hash: &str, kind: &str, body: &str, expires_at: Timestamp, now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        // Abandoned sign-ins go as new ones come.
        sqlx::query("DELETE FROM signin_pending WHERE expires_at <= $1").bind(now.0).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO signin_pending (key, kind, body, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(key_hash)
            .bind(kind)
            .bind(body)
            .bind(expires_at.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A sign-in under way, if it has not expired (it stays).
    pub async fn signin_pending(&self, key_hash: &str, kind: &str, now: Timestamp) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT body FROM signin_pending WHERE key = $1 AND kind = $2 AND expires_at > $3")
            .bind(key_hash)
            .bind(kind)
            .bind(now.0)
            .fetch_optional(&self.read)
            .await?)
    }

    /// Take a sign-in under way: it is gone once taken, so only one taker
    /// gets it (a replayed `state` finds nothing).
    pub async fn take_signin_pending(&self, key_hash: &str, kind: &str, now: Timestamp) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM signin_pending WHERE key = $1 AND kind = $2 AND expires_at > $3")
            .bind(key_hash)
            .bind(kind)
            .bind(now.0)
            .fetch_optional(&mut *tx)
            .await?;
        let gone = sqlx::query("DELETE FROM signin_pending WHERE key = $1 AND kind = $2").bind(key_hash).bind(kind).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(body.filter(|_| gone == 1))
    }

    /// A sign-in succeeded: remember who (replacing what an earlier sign-in
    /// said) and store their session token's hash, audited, in one commit.
    pub async fn sign_in(&self, who: &SignedIn, token_hash: &str, label: &str, audit: AuditDraft, now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM signins WHERE email = $1").bind(&who.email).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO signins (email, subject, name, groups, at, until) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&who.email)
            .bind(&who.subject)
            .bind(&who.name)
            .bind(serde_json::to_string(&who.groups).unwrap_or_else(|_| "[]".into()))
            .bind(now.0)
            .bind(who.until.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO tokens (hash, user_email, label, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(&who.email)
            .bind(label)
            .bind(now.0)
            .bind(who.until.0)
            .execute(&mut *tx)
            .await?;
        crate::audit::append_in(&mut tx, self.engine, &audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The people who signed in after `since` (their latest sign-in).
    pub async fn signins(&self, since: Timestamp) -> Result<Vec<SignedIn>> {
        let rows = sqlx::query("SELECT email, subject, name, groups, until FROM signins WHERE at > $1 ORDER BY email")
            .bind(since.0)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                let groups: String = r.try_get("groups")?;
                Ok(SignedIn {
                    email: r.try_get("email")?,
                    subject: r.try_get("subject")?,
                    name: r.try_get("name")?,
                    groups: serde_json::from_str(&groups).map_err(|e| crate::StoreError::Corrupt { table: "signins", message: e.to_string() })?,
                    until: Timestamp(r.try_get("until")?),
                })
            })
            .collect()
    }

    /// What changes when [`Store::signins`] since `since` does: (how many, latest sign-in).
    pub async fn signin_stamp(&self, since: Timestamp) -> Result<(i64, i64)> {
        let r = sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(at), 0) AS at FROM signins WHERE at > $1").bind(since.0).fetch_one(&self.read).await?;
        Ok((r.try_get("n")?, r.try_get("at")?))
    }

    /// End a session: its token stops working.
    pub async fn sign_out(&self, token_hash: &str, audit: AuditDraft, now: Timestamp) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE hash = $2 AND revoked_at IS NULL").bind(now.0).bind(token_hash).execute(&mut *tx).await?.rows_affected();
        if n > 0 {
            crate::audit::append_in(&mut tx, self.engine, &audit, now).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }
}
