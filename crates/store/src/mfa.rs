//! TOTP factors: one per person, its secret sealed by the control plane
//! (this module never sees it in the clear). Every change is written with
//! its audit entry in one transaction.

use crate::{AuditDraft, Result, Store};
use sesame_core::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaFactor {
    pub user: String,
    /// The sealed secret, as the control plane wrote it.
    pub sealed: String,
    pub created_at: Timestamp,
    pub confirmed_at: Option<Timestamp>,
    /// The newest time step a code was accepted for.
    pub last_step: i64,
    pub stepped_up_at: Option<Timestamp>,
    /// Wrong codes since the last good one.
    pub failures: i64,
    pub failed_at: Option<Timestamp>,
}

const COLUMNS: &str = "user_email, secret, created_at, confirmed_at, last_step, stepped_up_at, CAST(failures AS BIGINT) AS failures, failed_at";

fn row(r: &sqlx::any::AnyRow) -> Result<MfaFactor> {
    let ts = |c: &str| -> Result<Option<Timestamp>> { Ok(r.try_get::<Option<i64>, _>(c)?.map(Timestamp)) };
    Ok(MfaFactor {
        user: r.try_get("user_email")?,
        sealed: r.try_get("secret")?,
        created_at: Timestamp(r.try_get("created_at")?),
        confirmed_at: ts("confirmed_at")?,
        last_step: r.try_get("last_step")?,
        stepped_up_at: ts("stepped_up_at")?,
        failures: r.try_get("failures")?,
        failed_at: ts("failed_at")?,
    })
}

impl Store {
    pub async fn mfa_factor(&self, user: &str) -> Result<Option<MfaFactor>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM mfa_factors WHERE user_email = $1")).bind(user).fetch_optional(&self.read).await?;
        r.as_ref().map(row).transpose()
    }

    /// Enrol `user` with a sealed secret, replacing an enrolment no code has
    /// confirmed yet; `false` (nothing written) when a confirmed one exists.
    pub async fn enroll_mfa(&self, user: &str, sealed: &str, audit: AuditDraft, now: Timestamp) -> Result<bool> {
        let q = sqlx::query(
            "INSERT INTO mfa_factors (user_email, secret, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_email) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, \
             last_step = 0, failures = 0, failed_at = NULL, stepped_up_at = NULL \
             WHERE mfa_factors.confirmed_at IS NULL",
        )
        .bind(user)
        .bind(sealed)
        .bind(now.0);
        self.update_audited(q, &audit, now).await
    }

    /// A good code for time step `step`: confirms the enrolment and records
    /// the step-up. Compare-and-set on the last step used, so a code counts
    /// once: `false` when this step (or a later one) was used already.
    pub async fn mfa_accepted(&self, user: &str, step: i64, audit: AuditDraft, now: Timestamp) -> Result<bool> {
        let q = sqlx::query(
            "UPDATE mfa_factors SET last_step = $1, stepped_up_at = $2, confirmed_at = COALESCE(confirmed_at, $2), failures = 0, failed_at = NULL \
             WHERE user_email = $3 AND last_step < $1",
        )
        .bind(step)
        .bind(now.0)
        .bind(user);
        self.update_audited(q, &audit, now).await
    }

    /// A wrong code: counted (to slow guessing down) with its audit entry.
    pub async fn mfa_failed(&self, user: &str, audit: AuditDraft, now: Timestamp) -> Result<bool> {
        let q = sqlx::query("UPDATE mfa_factors SET failures = failures + 1, failed_at = $1 WHERE user_email = $2").bind(now.0).bind(user);
        self.update_audited(q, &audit, now).await
    }

    /// Remove `user`'s factor (an admin's reset); `false` when there was none.
    pub async fn reset_mfa(&self, user: &str, audit: AuditDraft, now: Timestamp) -> Result<bool> {
        let q = sqlx::query("DELETE FROM mfa_factors WHERE user_email = $1").bind(user);
        self.update_audited(q, &audit, now).await
    }
}
