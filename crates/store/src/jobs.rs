//! The durable job queue: claim with a lease, finish, or fail and retry later.

use crate::pool::Engine;
use crate::{Result, Store, StoreError};
use sesame_core::lifecycle::Retry;
use sesame_core::{JobKind, Timestamp};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: JobKind,
    pub request_id: String,
    pub run_at: Timestamp,
}

impl NewJob {
    /// The jobs a request starts with, from the lifecycle's schedule.
    pub fn scheduled(request_id: &str, schedule: &[(JobKind, Timestamp)]) -> Vec<NewJob> {
        schedule.iter().map(|(kind, run_at)| NewJob { kind: *kind, request_id: request_id.to_owned(), run_at: *run_at }).collect()
    }

    pub fn id(&self) -> String {
        self.kind.id_for(&self.request_id)
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub request_id: String,
    pub run_at: Timestamp,
    /// How many times it was claimed, this claim included.
    pub attempts: i64,
    pub failures: i64,
}

/// A claimed job, from `RETURNING id, kind, request_id, run_at, attempts, failures`.
pub(crate) fn job_of(r: &sqlx::any::AnyRow) -> Result<Job> {
    let kind: String = r.try_get("kind")?;
    Ok(Job {
        id: r.try_get("id")?,
        kind: JobKind::parse(&kind).ok_or_else(|| StoreError::Corrupt { table: "jobs", message: format!("unknown kind `{kind}`") })?,
        request_id: r.try_get("request_id")?,
        run_at: Timestamp(r.try_get("run_at")?),
        attempts: r.try_get("attempts")?,
        failures: r.try_get("failures")?,
    })
}

/// A new job, unless one with its id exists.
pub(crate) const INSERT_JOB: &str = "INSERT INTO jobs (id, kind, request_id, run_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING";

impl Store {
    /// Claim up to `limit` due jobs for `owner` until `now + lease_ms`. A job
    /// whose lease ran out (its worker died) is due again.
    pub async fn claim_jobs(&self, owner: &str, now: Timestamp, lease_ms: i64, limit: i64) -> Result<Vec<Job>> {
        let lock = match self.engine {
            Engine::Postgres => "FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE done_at IS NULL AND run_at <= $3 \
             AND (lease_until IS NULL OR lease_until < $3) ORDER BY run_at LIMIT $4 {lock}) \
             RETURNING id, kind, request_id, run_at, attempts, failures"
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(now.0 + lease_ms)
            .bind(now.0)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job_of).collect()
    }

    /// The job of `request_id` failed: record why, release the lease and run
    /// it again when the lifecycle said, with its audit entry, atomically.
    pub async fn retry_job(&self, request_id: &str, r: &Retry, now: Timestamp) -> Result<()> {
        let (id, error, retry_at, audit) = (r.kind.id_for(request_id), &r.last_error, r.at, &r.audit);
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE jobs SET failures = failures + 1, last_error = $1, run_at = $2, lease_owner = NULL, lease_until = NULL \
             WHERE id = $3 AND done_at IS NULL",
        )
        .bind(error)
        .bind(retry_at.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        crate::audit::append_in(&mut tx, self.engine, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finish a job that turned out to have nothing to do.
    pub async fn finish_job(&self, id: &str, now: Timestamp) -> Result<()> {
        self.finish_job_with(id, None, now).await
    }

    /// Finish a job and record what it did, atomically.
    pub async fn finish_job_audited(&self, id: &str, audit: crate::AuditDraft, now: Timestamp) -> Result<()> {
        self.finish_job_with(id, Some(audit), now).await
    }

    async fn finish_job_with(&self, id: &str, audit: Option<crate::AuditDraft>, now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE jobs SET done_at = $1, lease_owner = NULL, lease_until = NULL WHERE id = $2 AND done_at IS NULL")
            .bind(now.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Some(audit) = audit {
            crate::audit::append_in(&mut tx, self.engine, &audit, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Give a claimed job back without counting a failure (e.g. it must wait
    /// for another job of the same request).
    pub async fn defer_job(&self, id: &str, run_at: Timestamp) -> Result<()> {
        sqlx::query("UPDATE jobs SET run_at = $1, lease_owner = NULL, lease_until = NULL WHERE id = $2 AND done_at IS NULL")
            .bind(run_at.0)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Is the job unfinished and held by a live lease?
    pub async fn job_in_flight(&self, id: &str, now: Timestamp) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE id = $1 AND done_at IS NULL AND lease_until IS NOT NULL AND lease_until >= $2",
        )
        .bind(id)
        .bind(now.0)
        .fetch_one(&self.read)
        .await?;
        Ok(n > 0)
    }

    /// Earliest run time of any unfinished job, to know how long to sleep.
    pub async fn next_job_at(&self) -> Result<Option<Timestamp>> {
        let t: Option<i64> = sqlx::query_scalar("SELECT MIN(run_at) FROM jobs WHERE done_at IS NULL").fetch_one(&self.read).await?;
        Ok(t.map(Timestamp))
    }

    /// Revoke jobs failing right now: (request id, failures, last error).
    pub async fn failing_revocations(&self) -> Result<Vec<(String, i64, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT request_id, failures, last_error FROM jobs WHERE kind = 'revoke' AND done_at IS NULL AND failures > 0",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("request_id")?, r.try_get("failures")?, r.try_get("last_error")?))).collect()
    }
}
