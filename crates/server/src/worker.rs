//! The job worker: claims due grant/revoke jobs with a lease and carries them
//! out through the integrations. Failures retry with capped exponential
//! backoff, forever for revocations; a failing revocation stays visible
//! (request status Revoking with its last error, audit entries, metric).

use crate::clock;
use crate::state::AppState;
use sesame_core::backoff::retry_delay;
use sesame_core::{RequestStatus, Timestamp};
use sesame_integrations::{Integration, IntegrationError};
use sesame_proto::ActionParams;
use sesame_store::{AuditDraft, Change, Job, JobKind, NewJob, RequestRow};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const SYSTEM: &str = "sesame";

pub fn params_for(r: &RequestRow) -> ActionParams {
    ActionParams {
        grant_id: r.id.clone(),
        username: r.username.clone(),
        resource_type: r.resource_type.clone(),
        resources: r.resources.clone(),
        permission: r.permission.clone(),
        custom_parameters: [(sesame_proto::REQUESTER_PARAM.to_owned(), r.requester.clone())].into(),
    }
}

pub async fn run(st: AppState, owner: String) {
    let w = &st.settings.worker;
    let lease_ms = i64::try_from(w.lease.as_millis()).unwrap_or(60_000);
    loop {
        let now = clock::now();
        let jobs = match st.store.claim_jobs(&owner, now, lease_ms, i64::from(w.concurrency)).await {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim jobs; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if jobs.is_empty() {
            // Sleep until the next job is due, a wake-up, or the poll interval.
            let mut nap = w.poll_interval;
            if let Ok(Some(next)) = st.store.next_job_at().await {
                nap = nap.min(next.since(clock::now()));
            }
            tokio::select! {
                _ = st.wake_worker.notified() => {}
                _ = tokio::time::sleep(nap) => {}
            }
            continue;
        }
        let mut set = tokio::task::JoinSet::new();
        for job in jobs {
            let st = st.clone();
            set.spawn(async move {
                let id = job.id.clone();
                if let Err(e) = run_job(&st, job).await {
                    tracing::error!(job = %id, error = %e, "job bookkeeping failed; the lease will expire and it will run again");
                }
            });
        }
        while set.join_next().await.is_some() {}
    }
}

async fn run_job(st: &AppState, job: Job) -> Result<(), sesame_store::StoreError> {
    let now = clock::now();
    let Some(r) = st.store.get_request(&job.request_id).await? else {
        return st.store.finish_job(&job.id, now).await;
    };
    let Some(integ) = st.integration(&r.integration) else {
        let err = IntegrationError::Invalid(format!("integration `{}` is no longer configured", r.integration));
        return retry(st, &job, &r, &err, now).await;
    };
    match job.kind {
        JobKind::Grant => grant(st, &job, &r, integ, now).await,
        JobKind::Revoke => revoke(st, &job, &r, integ, now).await,
        JobKind::Cleanup => cleanup(st, &job, &r, integ).await,
    }
}

fn change(r: &RequestRow, from: RequestStatus, to: RequestStatus, audit: AuditDraft) -> Change {
    Change::new(&r.id, from, to, audit)
}

async fn grant(st: &AppState, job: &Job, r: &RequestRow, integ: Arc<dyn Integration>, now: Timestamp) -> Result<(), sesame_store::StoreError> {
    if r.status != RequestStatus::Granting {
        return st.store.finish_job(&job.id, now).await;
    }
    let Some(deadline) = r.deadline else {
        return st.store.finish_job(&job.id, now).await;
    };
    if now >= deadline {
        // An earlier attempt (timed out, or its result lost) may have reached
        // the target: then the only way out is a successful revoke.
        if may_have_reached(job) {
            return revoke_unfinished_grant(st, job, r, now).await;
        }
        let reason = "the deadline passed before the grant could start";
        let mut c = change(r, RequestStatus::Granting, RequestStatus::Failed, AuditDraft::new(SYSTEM, "grant.failed", Some(&r.id), "error", json!({"error": reason})));
        c.finish_jobs = vec![job.id.clone(), JobKind::Revoke.id_for(&r.id)];
        c.failure_reason = Some(reason.into());
        let _ = st.store.apply(&c, now).await?;
        st.changed(&r.id);
        return Ok(());
    }
    let res = tokio::time::timeout(st.settings.worker.action_timeout, integ.grant_access(&params_for(r), deadline))
        .await
        .unwrap_or_else(|_| Err(IntegrationError::Unavailable("grant-access timed out".into())));
    let now = clock::now();
    match res {
        Ok(()) => {
            let mut c = change(r, RequestStatus::Granting, RequestStatus::Active, AuditDraft::new(SYSTEM, "grant.done", Some(&r.id), "ok", json!({"username": r.username, "deadline": clock::rfc3339(deadline)})));
            c.finish_jobs = vec![job.id.clone()];
            let _ = st.store.apply(&c, now).await?;
            st.changed(&r.id);
            tracing::info!(request = %r.id, username = %r.username, "granted");
            Ok(())
        }
        Err(e) if e.is_retryable() => retry(st, job, r, &e, now).await,
        Err(e) if may_have_reached(job) => {
            tracing::warn!(request = %r.id, error = %e, "grant failed after an earlier attempt that may have reached the target; revoking");
            revoke_unfinished_grant(st, job, r, now).await
        }
        Err(e) => {
            // A grant that can never succeed fails; the reconciler removes
            // anything a partial attempt left, since Failed explains nothing.
            let mut c = change(r, RequestStatus::Granting, RequestStatus::Failed, AuditDraft::new(SYSTEM, "grant.failed", Some(&r.id), "error", json!({"error": e.to_string()})));
            c.finish_jobs = vec![job.id.clone(), JobKind::Revoke.id_for(&r.id)];
            c.failure_reason = Some(e.user_message());
            let _ = st.store.apply(&c, now).await?;
            st.changed(&r.id);
            tracing::warn!(request = %r.id, error = %e, "grant failed");
            Ok(())
        }
    }
}

async fn revoke(st: &AppState, job: &Job, r: &RequestRow, integ: Arc<dyn Integration>, now: Timestamp) -> Result<(), sesame_store::StoreError> {
    match r.status {
        RequestStatus::Revoking => {}
        RequestStatus::Active => {
            let c = change(r, RequestStatus::Active, RequestStatus::Revoking, AuditDraft::new(SYSTEM, "request.expire", Some(&r.id), "ok", json!({"deadline": r.deadline.map(clock::rfc3339)})));
            if st.store.apply(&c, now).await?.is_err() {
                return st.store.defer_job(&job.id, now).await;
            }
            st.changed(&r.id);
        }
        RequestStatus::Granting => {
            // The deadline came while granting: wait for a running grant;
            // otherwise a grant that may have reached the target is revoked
            // (revoke-access is sent; a handler that never granted answers ok).
            let grant_job = JobKind::Grant.id_for(&r.id);
            if st.store.job_in_flight(&grant_job, now).await? {
                return st.store.defer_job(&job.id, now.plus(Duration::from_millis(500))).await;
            }
            let audit = AuditDraft::new(SYSTEM, "request.expire", Some(&r.id), "ok", json!({"deadline": r.deadline.map(clock::rfc3339), "while": "granting"}));
            let mut c = change(r, RequestStatus::Granting, RequestStatus::Revoking, audit);
            c.finish_jobs = vec![grant_job];
            if st.store.apply(&c, now).await?.is_err() {
                return st.store.defer_job(&job.id, now).await;
            }
            st.changed(&r.id);
        }
        _ => return st.store.finish_job(&job.id, now).await,
    }
    // With user cleanup configured, revocation disables; deletion is a
    // durable job of its own, due `user_cleanup_days` later.
    let cleanup_after = integ.settings().cleanup_delay_ms();
    let action = async {
        match cleanup_after {
            Some(_) => integ.disable_user(&params_for(r)).await,
            None => integ.revoke_access(&params_for(r)).await,
        }
    };
    let res = tokio::time::timeout(st.settings.worker.action_timeout, action)
        .await
        .unwrap_or_else(|_| Err(IntegrationError::Unavailable("revoke-access timed out".into())));
    let now = clock::now();
    match res {
        Ok(()) => {
            let late_ms = r.deadline.map(|d| now.0 - d.0);
            let detail = json!({"username": r.username, "after_deadline_ms": late_ms, "disabled_until_cleanup": cleanup_after.is_some()});
            let mut c = change(r, RequestStatus::Revoking, RequestStatus::Revoked, AuditDraft::new(SYSTEM, "revoke.done", Some(&r.id), "ok", detail));
            c.revoked_at = Some(now);
            c.finish_jobs = vec![job.id.clone()];
            if let Some(ms) = cleanup_after {
                c.insert_jobs = vec![NewJob { kind: JobKind::Cleanup, request_id: r.id.clone(), run_at: Timestamp(now.0.saturating_add(ms)) }];
            }
            let _ = st.store.apply(&c, now).await?;
            st.changed(&r.id);
            tracing::info!(request = %r.id, username = %r.username, "revoked");
            Ok(())
        }
        // Revocation never gives up: every error is retried.
        Err(e) => retry(st, job, r, &e, now).await,
    }
}

async fn cleanup(st: &AppState, job: &Job, r: &RequestRow, integ: Arc<dyn Integration>) -> Result<(), sesame_store::StoreError> {
    let res = tokio::time::timeout(st.settings.worker.action_timeout, integ.delete_user(&r.username))
        .await
        .unwrap_or_else(|_| Err(IntegrationError::Unavailable("delete-user timed out".into())));
    let now = clock::now();
    match res {
        Ok(()) => {
            let audit = AuditDraft::new(SYSTEM, "cleanup.done", Some(&r.id), "ok", json!({"username": r.username}));
            st.store.finish_job_audited(&job.id, audit, now).await?;
            tracing::info!(request = %r.id, username = %r.username, "deleted after the cleanup period");
            Ok(())
        }
        Err(e) => retry(st, job, r, &e, now).await,
    }
}

/// Whether an earlier run of this grant job may have changed the target:
/// it failed retryably (a timeout, a lost answer) or its claim ran out.
fn may_have_reached(job: &Job) -> bool {
    job.failures > 0 || job.attempts > 1
}

/// Granting → Revoking, with the revoke job due now: what an unfinished
/// grant may have left is taken away before the request can end.
async fn revoke_unfinished_grant(st: &AppState, job: &Job, r: &RequestRow, now: Timestamp) -> Result<(), sesame_store::StoreError> {
    let audit = AuditDraft::new(SYSTEM, "grant.abandoned", Some(&r.id), "error", json!({"error": "the grant did not complete; revoking what it may have left", "attempts": job.attempts}));
    let mut c = change(r, RequestStatus::Granting, RequestStatus::Revoking, audit);
    c.finish_jobs = vec![job.id.clone()];
    c.run_jobs_now = vec![JobKind::Revoke.id_for(&r.id)];
    let _ = st.store.apply(&c, now).await?;
    st.changed(&r.id);
    st.wake_worker.notify_one();
    Ok(())
}

async fn retry(st: &AppState, job: &Job, r: &RequestRow, e: &IntegrationError, now: Timestamp) -> Result<(), sesame_store::StoreError> {
    let error = &e.to_string();
    let w = &st.settings.worker;
    let failures = u32::try_from(job.failures + 1).unwrap_or(u32::MAX);
    let delay = retry_delay(failures, w.retry_base, w.retry_max);
    let action = format!("{}.retry", job.kind.as_str());
    if job.kind == JobKind::Revoke && failures >= 3 {
        tracing::error!(request = %r.id, username = %r.username, failures, error, "revocation keeps failing; retrying in {delay:?}");
    } else {
        tracing::warn!(request = %r.id, failures, error, "{} failed; retrying in {delay:?}", job.kind.as_str());
    }
    let audit = AuditDraft::new(SYSTEM, &action, Some(&r.id), "error", json!({"error": error, "failures": failures, "retry_in_ms": delay.as_millis() as u64}));
    st.store.fail_job(&job.id, &e.user_message(), now.plus(delay), audit, now).await?;
    st.changed(&r.id);
    Ok(())
}
