//! The job worker: claims due grant/revoke/cleanup jobs with a lease, asks the
//! lifecycle ([`sesame_core::lifecycle::step`]) what each one does, carries
//! out the action through its integration and applies what the lifecycle
//! answers. Failures retry with capped exponential backoff, forever for
//! revocations; a failing revocation stays visible (request status Revoking
//! with its last error, audit entries, metric).

use crate::clock;
use crate::state::AppState;
use sesame_core::lifecycle::{self, ActionError, Event, JobRun, Request, RetryPolicy, Step};
use sesame_core::{JobKind, RequestStatus, Timestamp};
use sesame_integrations::IntegrationError;
use sesame_proto::ActionParams;
use sesame_store::{Job, RequestRow};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub fn params_for(r: &RequestRow) -> ActionParams {
    ActionParams {
        grant_id: r.id.clone(),
        username: r.username.clone(),
        resource_type: r.resource_type.clone(),
        resources: r.resources.clone(),
        permission: r.permission.clone(),
        // The identity the access is for: the grantee's.
        custom_parameters: [(sesame_proto::REQUESTER_PARAM.to_owned(), r.grantee.clone())].into(),
    }
}

pub async fn run(st: AppState, owner: String) {
    let w = &st.settings.worker;
    let lease_ms = w.lease_ms();
    loop {
        let now = clock::now();
        st.worker_wakes_at.store(0, Ordering::SeqCst);
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
            st.worker_wakes_at.store(clock::now().plus(nap).0, Ordering::SeqCst);
            if let Ok(Some(next)) = st.store.next_job_at().await {
                nap = nap.min(next.since(clock::now()));
            }
            st.worker_wakes_at.store(clock::now().plus(nap).0, Ordering::SeqCst);
            tokio::select! {
                _ = st.wake_worker.notified() => {}
                _ = tokio::time::sleep(nap) => {}
            }
            continue;
        }
        let mut set = tokio::task::JoinSet::new();
        for job in jobs {
            let st = st.clone();
            set.spawn(async move { run_claimed(&st, job).await });
        }
        while set.join_next().await.is_some() {}
    }
}

/// Run a job this process holds the lease of (claimed by the worker, or by
/// the API in the commit that created its request).
pub async fn run_claimed(st: &AppState, job: Job) {
    run_logged(st, job, None, None).await
}

/// [`run_claimed`] for a job whose request's row the caller has just
/// committed (the API's claim with the insert): it is not read back. With
/// `hand`, the grant also makes the credentials and hands them over once
/// the request is Active (see [`crate::requests::create_showing`]).
pub async fn run_claimed_on(st: &AppState, job: Job, row: RequestRow, hand: Option<Hand>) {
    run_logged(st, job, Some(row), hand).await
}

/// Where a grant's credentials go when its requester asked for them with it.
pub type Hand = tokio::sync::oneshot::Sender<Handed>;

/// Credentials made with the grant, and where the job's time went: the
/// target's action, and the rest of the job (the commit that records it
/// Active, the lifecycle's steps).
#[derive(Debug)]
pub struct Handed {
    pub credentials: sesame_proto::Credentials,
    pub target: Duration,
    pub rest: Duration,
}

async fn run_logged(st: &AppState, job: Job, known: Option<RequestRow>, hand: Option<Hand>) {
    let id = job.id.clone();
    if let Err(e) = run_job(st, job, known, hand).await {
        tracing::error!(job = %id, error = %e, "job bookkeeping failed; the lease will expire and it will run again");
    }
}

async fn run_job(st: &AppState, job: Job, known: Option<RequestRow>, hand: Option<Hand>) -> Result<(), sesame_store::StoreError> {
    let Some(hand) = hand else { return run_job_on(st, job, known, None).await.map(|_| ()) };
    let request = job.request_id.clone();
    let mut made = None;
    let started = std::time::Instant::now();
    let settled = run_job_on(st, job, known, Some(&mut made)).await;
    let took = started.elapsed();
    // Shown only if the request is now Active and its requester still waits.
    let why = match (&settled, made) {
        (Ok(Some(RequestStatus::Active)), Some((credentials, target))) => match hand.send(Handed { credentials, target, rest: took.saturating_sub(target) }) {
            Ok(()) => return settled.map(|_| ()),
            Err(_) => "the requester stopped waiting before the grant was done",
        },
        (_, Some(_)) => "the request moved on while it was being granted",
        (_, None) => "the grant did not make them",
    };
    // Never shown: the mark goes, so `access use` makes new ones.
    let now = clock::now();
    st.store.clear_credentials_shown(&request, None).await?;
    let detail = serde_json::json!({ "error": format!("the credentials asked for with the request were not shown: {why}") });
    let audit = sesame_core::AuditDraft::new(lifecycle::SYSTEM, sesame_core::AuditAction::CredentialsFailed, Some(&request), sesame_core::Outcome::Error, detail);
    st.store.append_audit(audit, now).await?;
    settled.map(|_| ())
}

/// Run one job; `made` (a grant's credentials asked for with the request)
/// is filled when the grant made them, with how long the target took. Returns the status the job moved its
/// request to, if it moved it.
async fn run_job_on(st: &AppState, job: Job, known: Option<RequestRow>, made: Option<&mut Option<(sesame_proto::Credentials, Duration)>>) -> Result<Option<RequestStatus>, sesame_store::StoreError> {
    let now = clock::now();
    let row = match known.filter(|r| r.id == job.request_id) {
        Some(r) => r,
        None => match st.store.get_request(&job.request_id).await? {
            Some(r) => r,
            None => return st.store.finish_job(&job.id, now).await.map(|()| None),
        },
    };
    let w = &st.settings.worker;
    let run = JobRun { kind: job.kind, attempts: job.attempts, failures: job.failures, retry: RetryPolicy { base: w.retry_base, max: w.retry_max } };
    let mut r = facts(&row);
    // Ask the lifecycle whether to act; a step may change the status first
    // (Active -> Revoking at the deadline) and is then asked again.
    loop {
        let event = match job.kind {
            JobKind::Grant => Event::GrantDue { run },
            JobKind::Revoke => {
                // A grant, or an extension's re-grant, that may still land.
                let grant = st.store.job_in_flight(&JobKind::Grant.id_for(&r.id), now).await?;
                let extend = st.store.job_in_flight(&JobKind::Extend.id_for(&r.id), now).await?;
                Event::RevokeDue { grant_in_flight: grant || extend }
            }
            JobKind::Extend => Event::ExtendDue,
            JobKind::Cleanup => break,
            JobKind::Expire => Event::ExpireDue,
            JobKind::Escalate => return escalate(st, &job, &row, now).await.map(|()| None),
        };
        match lifecycle::step(&r, event, now) {
            Ok(Step::Act) => break,
            Ok(Step::Change(t)) => {
                if st.store.apply(&t, now).await?.is_err() {
                    // Someone else moved it meanwhile: look again soon.
                    return st.store.defer_job(&job.id, now).await.map(|()| None);
                }
                st.changed(&r.id);
                if t.to != RequestStatus::Revoking || job.kind != JobKind::Revoke {
                    st.wake_worker.notify_one();
                    return Ok(Some(t.to));
                }
                r.status = t.to;
            }
            Ok(other) => return execute(st, &job, &r, other, now).await,
            Err(e) => {
                tracing::error!(request = %r.id, error = %e, "job for a request in the wrong status; finishing it");
                return st.store.finish_job(&job.id, now).await.map(|()| None);
            }
        }
    }
    let Some(integ) = st.integration(&row.integration) else {
        let err = IntegrationError::Invalid(format!("integration `{}` is no longer configured", row.integration));
        return settle(st, &job, &r, Event::ActionFailed { run, error: action_error(&err, true) }).await;
    };
    let params = params_for(&row);
    let timeout = w.action_timeout;
    let timed_out = |what: &str| IntegrationError::Unavailable(sesame_integrations::Cause::timeout(what, timeout));
    let cleanup_after = integ.descriptor().settings.cleanup_delay_ms();
    let result = match job.kind {
        JobKind::Grant | JobKind::Extend => {
            // Granting again is idempotent: an extension's re-grant carries
            // the new deadline to the target's backstops.
            let deadline = r.deadline.unwrap_or(now);
            tracing::debug!(request = %r.id, "granting");
            let started = std::time::Instant::now();
            let res = match made {
                Some(made) if job.kind == JobKind::Grant => tokio::time::timeout(timeout, integ.grant_with_credentials(&params, deadline))
                    .await
                    .unwrap_or_else(|_| Err(timed_out("grant-access")))
                    .map(|c| *made = Some((c, started.elapsed()))),
                _ => tokio::time::timeout(timeout, integ.grant_access(&params, deadline)).await.unwrap_or_else(|_| Err(timed_out("grant-access"))),
            };
            res.map(|()| if job.kind == JobKind::Grant { Event::GrantSucceeded } else { Event::ExtendSucceeded })
        }
        JobKind::Revoke => {
            // With user cleanup configured, revocation disables; deletion is a
            // durable job of its own, due `user_cleanup_days` later.
            let action = async {
                match cleanup_after {
                    Some(_) => integ.disable_user(&params).await,
                    None => integ.revoke_access(&params).await,
                }
            };
            let res = tokio::time::timeout(timeout, action).await.unwrap_or_else(|_| Err(timed_out("revoke-access")));
            res.map(|()| Event::RevokeSucceeded { cleanup_after: cleanup_after.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))) })
        }
        JobKind::Cleanup => {
            let res = tokio::time::timeout(timeout, integ.delete_user(&row.username)).await.unwrap_or_else(|_| Err(timed_out("delete-user")));
            res.map(|()| Event::CleanupSucceeded)
        }
        // The lifecycle never asks an expire job to act.
        JobKind::Expire | JobKind::Escalate => return st.store.finish_job(&job.id, now).await.map(|()| None),
    };
    tracing::debug!(request = %r.id, ok = result.is_ok(), "action done");
    let event = result.unwrap_or_else(|e| {
        tracing::warn!(request = %r.id, job = job.kind.as_str(), error = %e, "integration action failed");
        Event::ActionFailed { run, error: action_error(&e, e.is_retryable()) }
    });
    settle(st, &job, &r, event).await
}

/// A pending request's escalation job: add the approvers of every tier
/// reached, then wait for the next tier (the job is deferred to it) or end.
async fn escalate(st: &AppState, job: &Job, row: &RequestRow, now: Timestamp) -> Result<(), sesame_store::StoreError> {
    let policy = st.policy();
    let flow = policy.flows.iter().find(|f| f.name == row.flow);
    let people = st.people();
    let (Some(flow), Some(requester), RequestStatus::Pending) = (flow, people.directory.user(&row.requester), row.status) else {
        return st.store.finish_job(&job.id, now).await;
    };
    let (n, next) = sesame_core::escalation::reached(&flow.escalation, now.since(row.created_at));
    if let Some(parts) = sesame_core::escalation::widen(&row.approval_parts, &flow.escalation, n, &people.directory, requester) {
        let added: Vec<String> = sesame_core::approval::all_approvers(&parts).into_iter().filter(|a| !row.approvers.contains(a)).collect();
        let detail = serde_json::json!({ "tier": n, "added_approvers": added });
        let audit = sesame_core::AuditDraft::new(lifecycle::SYSTEM, sesame_core::AuditAction::RequestEscalate, Some(&row.id), sesame_core::Outcome::Ok, detail);
        if !st.store.widen_approvers(&row.id, &row.approval_parts, &parts, audit, now).await? {
            // Answered or widened meanwhile: look again soon.
            return st.store.defer_job(&job.id, now).await;
        }
        tracing::info!(request = %row.id, tier = n, "escalated");
        st.changed(&row.id);
    }
    match next {
        Some(after) => st.store.defer_job(&job.id, row.created_at.plus(after)).await,
        None => st.store.finish_job(&job.id, now).await,
    }
}

/// One grant of a bundle request failed (or may have half-landed and is
/// being revoked): its siblings are taken back — Active ones revoked,
/// pending ones withdrawn, ones still being granted have their revoke job
/// brought forward (it waits for a grant in flight, then revokes).
async fn roll_back_bundle(st: &AppState, failed: &str, now: Timestamp) -> Result<(), sesame_store::StoreError> {
    let Some(row) = st.store.get_request(failed).await? else { return Ok(()) };
    let Some((bundle, group)) = row.bundle.clone() else { return Ok(()) };
    let why = format!("bundle request {group} ({bundle}): grant {failed} failed, so its grants are rolled back together");
    for x in st.store.bundle_requests(&group).await?.into_iter().filter(|x| x.id != failed) {
        match x.status {
            RequestStatus::Granting => {
                let detail = serde_json::json!({ "bundle": bundle, "bundle_request": group, "failed": failed });
                let audit = sesame_core::AuditDraft::new(lifecycle::SYSTEM, sesame_core::AuditAction::BundleRollback, Some(&x.id), sesame_core::Outcome::Ok, detail);
                st.store.revoke_now(&x.id, audit, now).await?;
            }
            RequestStatus::Active | RequestStatus::Pending | RequestStatus::PendingMfa => {
                let event = Event::RevokeAsked { by: lifecycle::SYSTEM.into(), reason: Some(why.clone()) };
                if let Ok(Step::Change(t)) = lifecycle::step(&facts(&x), event, now) {
                    // Moved on meanwhile: its own path ends it.
                    let _ = st.store.apply(&t, now).await?;
                }
            }
            _ => continue,
        }
        tracing::warn!(request = %x.id, failed, "bundle grant rolled back");
        st.changed(&x.id);
    }
    st.wake_worker.notify_one();
    Ok(())
}

/// The lifecycle's view of a stored request.
pub fn facts(r: &RequestRow) -> Request {
    Request {
        id: r.id.clone(),
        status: r.status,
        username: r.username.clone(),
        duration: Duration::from_millis(u64::try_from(r.duration_ms).unwrap_or(0)),
        deadline: r.deadline,
    }
}

fn action_error(e: &IntegrationError, retryable: bool) -> ActionError {
    ActionError { detail: e.to_string(), user_message: e.user_message(), cause: e.cause(), retryable }
}

/// Report what the action did and carry out what the lifecycle answers.
async fn settle(st: &AppState, job: &Job, r: &Request, event: Event) -> Result<Option<RequestStatus>, sesame_store::StoreError> {
    let now = clock::now();
    match lifecycle::step(r, event, now) {
        Ok(s) => execute(st, job, r, s, now).await,
        Err(e) => {
            tracing::error!(request = %r.id, error = %e, "job result for a request in the wrong status; finishing it");
            st.store.finish_job(&job.id, now).await.map(|()| None)
        }
    }
}

/// Apply one step of a job's request; the status it moved the request to.
async fn execute(st: &AppState, job: &Job, r: &Request, s: Step, now: Timestamp) -> Result<Option<RequestStatus>, sesame_store::StoreError> {
    match s {
        Step::Change(t) => {
            if st.store.apply(&t, now).await?.is_err() {
                return st.store.defer_job(&job.id, now).await.map(|()| None);
            }
            match t.to {
                RequestStatus::Active => tracing::info!(request = %r.id, username = %r.username, "granted"),
                RequestStatus::Revoked => tracing::info!(request = %r.id, username = %r.username, "revoked"),
                RequestStatus::Failed => tracing::warn!(request = %r.id, reason = ?t.failure_reason, "grant failed"),
                RequestStatus::Revoking => tracing::warn!(request = %r.id, "revoking what an unfinished grant may have left"),
                _ => {}
            }
            st.changed(&r.id);
            if !t.run_now.is_empty() {
                st.wake_worker.notify_one();
            }
            // A bundle's grants succeed or are rolled back together.
            if t.from == RequestStatus::Granting && matches!(t.to, RequestStatus::Failed | RequestStatus::Revoking) {
                roll_back_bundle(st, &r.id, now).await?;
            }
            Ok(Some(t.to))
        }
        Step::Retry(retry) => {
            let (failures, at) = (retry.failures, retry.at);
            if job.kind == JobKind::Revoke && failures >= 3 {
                tracing::error!(request = %r.id, username = %r.username, failures, "revocation keeps failing; retrying at {}", clock::rfc3339(at));
            }
            st.store.retry_job(&r.id, &retry, now).await?;
            st.changed(&r.id);
            Ok(None)
        }
        Step::Defer { until } => st.store.defer_job(&job.id, until).await.map(|()| None),
        Step::Finish { audit: Some(audit), .. } => {
            st.store.finish_job_audited(&job.id, audit, now).await?;
            tracing::info!(request = %r.id, job = job.kind.as_str(), "done");
            Ok(None)
        }
        // People extend a grant, never a job.
        Step::Finish { audit: None, .. } | Step::Unchanged | Step::Act | Step::Extend(_) => st.store.finish_job(&job.id, now).await.map(|()| None),
    }
}
