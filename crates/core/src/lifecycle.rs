//! The request lifecycle: the one function that decides how a request
//! changes. People (API) and jobs (worker) report [`Event`]s; [`step`] answers
//! with a [`Step`]: a status change with everything that goes with it, or what
//! the job does next. Executors apply the answer and nothing else changes a
//! request's status.
//!
//! ```text
//!             approve              granted                 revoke / deadline          revoked
//!  Pending ───────────▶ Granting ───────────▶ Active ─────────────────────▶ Revoking ───────────▶ Revoked
//!   │  │  │              │  │  │                                              ▲
//!   │  │  └─reject─▶ Rejected │  └─failed, never reached the target─▶ Failed  │
//!   │  └──withdraw─▶ Revoked  └─deadline or failure after an attempt that may ─┘
//!   └──unanswered (pending_expiry)─▶ Expired    have reached the target (only a revoke ends it)
//!
//!  PendingMFA ──requester steps up──▶ Granting (automatic flow) or Pending (approval needed)
//!      │  └──withdraw──▶ Revoked
//!      └──no step-up in time──▶ Expired
//! ```
//!
//! An extension keeps an Active request Active: its deadline and revoke job
//! move later in one compare-and-set, and a durable `extend` job grants again
//! with the new deadline so the target's own backstops (a login's `VALID
//! UNTIL`, an IAM policy's `aws:CurrentTime` condition) move with it. A
//! revoke waits while that job holds a live claim, so a late re-grant never
//! lands after the revoke.
//!
//! A grant's window starts when it becomes Active: one that lands more than
//! [`LATE_START`] after its deadline was set gets a whole window from then,
//! moved and re-granted the same way.

use crate::audit::{AuditAction, AuditDraft, Outcome};
use crate::backoff::retry_delay;
use crate::{RequestStatus, Timestamp};
use serde_json::json;
use std::time::Duration;

/// Who acts for Sesame itself in the audit log.
pub const SYSTEM: &str = "sesame";

/// The durable jobs of a request: at most one of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    Grant,
    Revoke,
    /// Delete a login that revocation disabled (user cleanup setting).
    Cleanup,
    /// End a request nobody answered (the flow's `pending_expiry`).
    Expire,
    /// Widen who may approve a request nobody answered (the flow's
    /// escalation tiers); carried out by the worker, never a status change.
    Escalate,
    /// Grant again with an extended deadline, so the target's backstops
    /// move with it; never a status change.
    Extend,
}

impl JobKind {
    pub const ALL: [JobKind; 6] = [JobKind::Grant, JobKind::Revoke, JobKind::Cleanup, JobKind::Expire, JobKind::Escalate, JobKind::Extend];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Grant => "grant",
            JobKind::Revoke => "revoke",
            JobKind::Cleanup => "cleanup",
            JobKind::Expire => "expire",
            JobKind::Escalate => "escalate",
            JobKind::Extend => "extend",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The job id for a request: one job of each kind per request, so
    /// scheduling twice is harmless.
    pub fn id_for(self, request_id: &str) -> String {
        format!("{}:{request_id}", self.as_str())
    }

    fn retry_action(self) -> AuditAction {
        match self {
            JobKind::Grant => AuditAction::GrantRetry,
            JobKind::Revoke => AuditAction::RevokeRetry,
            JobKind::Cleanup => AuditAction::CleanupRetry,
            // An expire job has no action on a target, so nothing to retry.
            JobKind::Expire => AuditAction::RequestPendingExpired,
            JobKind::Escalate => AuditAction::RequestEscalate,
            JobKind::Extend => AuditAction::ExtendRetry,
        }
    }
}

/// What the lifecycle needs to know of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    pub status: RequestStatus,
    pub username: String,
    /// How long access lasts once approved.
    pub duration: Duration,
    /// Set when the request is approved; never absent once granting.
    pub deadline: Option<Timestamp>,
}

/// How a failing job is spaced out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
}

/// What a job run knows of its own history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRun {
    pub kind: JobKind,
    /// How many times it was claimed, this claim included.
    pub attempts: i64,
    /// How many earlier runs failed.
    pub failures: i64,
    pub retry: RetryPolicy,
}

impl JobRun {
    /// An earlier run may have changed the target: it failed retryably (a
    /// timeout, a lost answer) or its claim ran out.
    pub fn may_have_reached_target(&self) -> bool {
        self.failures > 0 || self.attempts > 1
    }
}

/// Why an integration action failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionError {
    /// The full error, for the audit log.
    pub detail: String,
    /// What the requester reads.
    pub user_message: String,
    /// Where it failed (`target`, `unreachable`, `aws`, `timeout`,
    /// `handler`, `connector`, `incomplete`, `invalid`, `misconfigured`),
    /// kept in the audit entry so failures can be told apart.
    pub cause: &'static str,
    /// The target was unreachable or failed; trying again may succeed.
    pub retryable: bool,
}

/// Something that happened to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The last approval a pending request needed.
    Approved { by: String, reason: Option<String> },
    Rejected { by: String, reason: Option<String> },
    /// The requester or an admin asks to end it: withdraws a pending request,
    /// revokes an active one.
    RevokeAsked { by: String, reason: Option<String> },
    /// The grant job runs.
    GrantDue { run: JobRun },
    GrantSucceeded,
    /// The revoke job runs (at the deadline, or at once after a revoke).
    /// `grant_in_flight`: a grant or extend job holds a live claim (its
    /// action may still land on the target).
    RevokeDue { grant_in_flight: bool },
    /// Access is gone; with user cleanup the login is disabled and deleted later.
    RevokeSucceeded { cleanup_after: Option<Duration> },
    /// The cleanup job deleted the disabled login.
    CleanupSucceeded,
    /// The expire job runs: the flow's `pending_expiry` has passed (or,
    /// waiting for the requester's step-up, [`MFA_WAIT`]).
    ExpireDue,
    /// The requester proved their second factor. `approved`: the flow needs
    /// no approver; `pending_for` and `escalate_after` are the flow's.
    SteppedUp { by: String, approved: bool, pending_for: Option<Duration>, escalate_after: Option<Duration> },
    /// Someone asks for more time: the deadline moves to `until` (the
    /// caller checked the flow's limits).
    ExtendAsked { by: String, until: Timestamp, reason: Option<String> },
    /// The extend job runs.
    ExtendDue,
    /// The target holds the grant with the new deadline.
    ExtendSucceeded,
    /// A job's integration action failed.
    ActionFailed { run: JobRun, error: ActionError },
}

impl Event {
    fn verb(&self) -> &'static str {
        match self {
            Event::Approved { .. } => "approved",
            Event::Rejected { .. } => "rejected",
            Event::RevokeAsked { .. } => "revoked",
            Event::GrantDue { .. } => "granted",
            Event::GrantSucceeded => "marked granted",
            Event::RevokeDue { .. } => "revoked at its deadline",
            Event::RevokeSucceeded { .. } => "marked revoked",
            Event::CleanupSucceeded => "cleaned up",
            Event::ExpireDue => "expired",
            Event::SteppedUp { .. } => "stepped up",
            Event::ExtendAsked { .. } => "extended",
            Event::ExtendDue => "re-granted",
            Event::ExtendSucceeded => "marked extended",
            Event::ActionFailed { .. } => "marked failed",
        }
    }
}

/// A status change and everything that goes with it, applied atomically and
/// only if the request is still `from` (compare-and-set).
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub request_id: String,
    pub from: RequestStatus,
    pub to: RequestStatus,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    pub deadline: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// Jobs to schedule (kept as they are if they exist).
    pub schedule: Vec<(JobKind, Timestamp)>,
    /// Jobs that have nothing left to do.
    pub finish: Vec<JobKind>,
    /// Jobs to run now instead of later.
    pub run_now: Vec<JobKind>,
    /// Jobs that move to a new time, made again if they were done (unless
    /// a live claim holds them): the revoke and extend jobs of a grant whose
    /// window starts late.
    pub moved: Vec<(JobKind, Timestamp)>,
    /// Why the request ends Failed: shown to the requester.
    pub failure_reason: Option<String>,
    pub audit: AuditDraft,
    /// Whether the commit must reach the disk before the store answers.
    pub durability: Durability,
}

/// How soon a transition's commit must reach the disk.
///
/// Every action on a target follows a commit that reaches the disk first:
/// the claim of the job that acts (or the request's insert, which claims its
/// grant), or the credentials' "shown" mark. A store's log is written in
/// order, so that commit carries every earlier one to the disk with it.
/// What is left is the commit that only records what an action did
/// (granted, revoked): if the machine loses power before a later commit
/// reaches the disk, it is lost, the request is found where it was with its
/// job still claimed, and the job runs again when the lease runs out (grant
/// and revoke are idempotent). A process that is killed loses nothing
/// either way: the commit is in the operating system's hands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// On the disk before the store answers: anything that comes before an
    /// action, a deadline, a person's decision.
    #[default]
    OnDisk,
    /// The record of an action already done: written, and on the disk with
    /// the next commit that is.
    Recorded,
}

/// A longer deadline for an Active request, applied only if it is still
/// Active with `deadline_was` (compare-and-set): the revoke job moves to
/// `deadline` and the extend job is due now, with the audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    pub request_id: String,
    pub deadline_was: Timestamp,
    pub deadline: Timestamp,
    pub audit: AuditDraft,
}

/// A failed job, to run again.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub kind: JobKind,
    pub at: Timestamp,
    /// Failures so far, this one included.
    pub failures: u32,
    /// What the requester reads as the last error.
    pub last_error: String,
    pub audit: AuditDraft,
}

/// What follows an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Change the status.
    Change(Transition),
    /// Move an Active request's deadline.
    Extend(Extension),
    /// The job carries out its action on the target now.
    Act,
    /// The job waits until then without counting a failure.
    Defer { until: Timestamp },
    /// The job failed and runs again later.
    Retry(Retry),
    /// The job is done without a status change, with what it did.
    Finish { kind: JobKind, audit: Option<AuditDraft> },
    /// Nothing to do: the request is already where the event leads.
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a request that is {from} cannot be {event}")]
pub struct TransitionError {
    pub from: RequestStatus,
    pub event: &'static str,
}

/// How long a revoke waits for a grant still running before looking again.
pub const WAIT_FOR_GRANT: Duration = Duration::from_millis(500);

/// A grant's window starts when access becomes Active. The deadline is
/// set before anything reaches the target (approval time plus the
/// duration), so a grant that took longer than this to land (retries, a
/// slow target) gets its deadline moved when it becomes Active, and is
/// granted again so the target's own backstops move with it. A quicker
/// grant keeps its deadline: its window started at most this much early.
pub const LATE_START: Duration = Duration::from_secs(30);

/// How long a request waits for its requester's step-up when its flow sets
/// no `pending_expiry`.
pub const MFA_WAIT: Duration = Duration::from_secs(3600);

/// What a new request starts from.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    /// Its access flow approves it by itself.
    pub granted: bool,
    /// The requester steps up (MFA) before anything else.
    pub mfa_first: bool,
    pub duration: Duration,
    /// The flow's `pending_expiry`.
    pub pending_for: Option<Duration>,
    /// When the first escalation tier is reached.
    pub escalate_after: Option<Duration>,
}

/// A new request: its first status and the jobs it starts with. Granted at
/// once (automatic flow), waiting for approval, or waiting for the
/// requester's step-up.
pub struct Opening {
    pub status: RequestStatus,
    pub deadline: Option<Timestamp>,
    pub schedule: Vec<(JobKind, Timestamp)>,
    pub outcome: Outcome,
}

/// The first step of a request: `granted` when its access flow approves it
/// by itself. The deadline is set before anything reaches a target.
/// A pending request nobody answers within `pending_for` ends Expired; with
/// `escalate_after`, its first escalation tier is reached then. With
/// `mfa_first` it waits for the requester's step-up (at most `pending_for`,
/// or [`MFA_WAIT`]), and escalation starts once it is Pending.
pub fn open(s: Start, now: Timestamp) -> Opening {
    let Start { granted, mfa_first, duration, pending_for, escalate_after } = s;
    if mfa_first {
        let wait = pending_for.unwrap_or(MFA_WAIT);
        Opening { status: RequestStatus::PendingMfa, deadline: None, schedule: vec![(JobKind::Expire, now.plus(wait))], outcome: Outcome::PendingMfa }
    } else if granted {
        let deadline = now.plus(duration);
        Opening { status: RequestStatus::Granting, deadline: Some(deadline), schedule: grant_jobs(now, deadline), outcome: Outcome::AutoApproved }
    } else {
        let mut schedule = pending_for.map(|d| vec![(JobKind::Expire, now.plus(d))]).unwrap_or_default();
        schedule.extend(escalate_after.map(|d| (JobKind::Escalate, now.plus(d))));
        Opening { status: RequestStatus::Pending, deadline: None, schedule, outcome: Outcome::PendingApproval }
    }
}

fn grant_jobs(now: Timestamp, deadline: Timestamp) -> Vec<(JobKind, Timestamp)> {
    vec![(JobKind::Grant, now), (JobKind::Revoke, deadline)]
}

/// The lifecycle. Illegal events are errors, never no-ops.
pub fn step(r: &Request, event: Event, now: Timestamp) -> Result<Step, TransitionError> {
    use RequestStatus as S;
    let illegal = |event: &Event| Err(TransitionError { from: r.status, event: event.verb() });
    let change = |to: RequestStatus, audit: AuditDraft| Transition {
        request_id: r.id.clone(),
        from: r.status,
        to,
        decided_by: None,
        decision_reason: None,
        deadline: None,
        revoked_at: None,
        schedule: vec![],
        finish: vec![],
        run_now: vec![],
        moved: vec![],
        failure_reason: None,
        audit,
        durability: Durability::OnDisk,
    };
    let system = |action: AuditAction, outcome: Outcome, detail: serde_json::Value| AuditDraft::new(SYSTEM, action, Some(&r.id), outcome, detail);
    let person = |by: &str, action: AuditAction, reason: &Option<String>| AuditDraft::new(by, action, Some(&r.id), Outcome::Ok, json!({ "reason": reason }));

    Ok(match (r.status, &event) {
        (S::Pending, Event::Approved { by, reason }) => {
            let deadline = now.plus(r.duration);
            Step::Change(Transition {
                decided_by: Some(by.clone()),
                decision_reason: reason.clone(),
                deadline: Some(deadline),
                schedule: grant_jobs(now, deadline),
                finish: vec![JobKind::Expire, JobKind::Escalate],
                ..change(S::Granting, person(by, AuditAction::RequestApprove, reason))
            })
        }
        (S::Pending, Event::Rejected { by, reason }) => Step::Change(Transition {
            decided_by: Some(by.clone()),
            decision_reason: reason.clone(),
            finish: vec![JobKind::Expire, JobKind::Escalate],
            ..change(S::Rejected, person(by, AuditAction::RequestReject, reason))
        }),
        (S::Pending, Event::RevokeAsked { by, reason }) => Step::Change(Transition {
            revoked_at: Some(now),
            finish: vec![JobKind::Expire, JobKind::Escalate],
            ..change(S::Revoked, person(by, AuditAction::RequestCancel, reason))
        }),
        (S::Pending, Event::ExpireDue) => Step::Change(Transition {
            finish: vec![JobKind::Expire, JobKind::Escalate],
            failure_reason: Some("nobody approved it in time: ask again".into()),
            ..change(S::Expired, system(AuditAction::RequestPendingExpired, Outcome::Ok, json!({})))
        }),
        (S::PendingMfa, Event::SteppedUp { by, approved: true, .. }) => {
            let deadline = now.plus(r.duration);
            Step::Change(Transition {
                deadline: Some(deadline),
                schedule: grant_jobs(now, deadline),
                finish: vec![JobKind::Expire],
                ..change(S::Granting, AuditDraft::new(by, AuditAction::RequestStepUp, Some(&r.id), Outcome::AutoApproved, json!({})))
            })
        }
        (S::PendingMfa, Event::SteppedUp { by, approved: false, pending_for, escalate_after }) => Step::Change(Transition {
            schedule: escalate_after.map(|d| vec![(JobKind::Escalate, now.plus(d))]).unwrap_or_default(),
            // Without the flow's own expiry, the wait for the step-up ends here.
            finish: if pending_for.is_none() { vec![JobKind::Expire] } else { vec![] },
            ..change(S::Pending, AuditDraft::new(by, AuditAction::RequestStepUp, Some(&r.id), Outcome::PendingApproval, json!({})))
        }),
        (S::PendingMfa, Event::RevokeAsked { by, reason }) => Step::Change(Transition {
            revoked_at: Some(now),
            finish: vec![JobKind::Expire],
            ..change(S::Revoked, person(by, AuditAction::RequestCancel, reason))
        }),
        (S::PendingMfa, Event::ExpireDue) => Step::Change(Transition {
            finish: vec![JobKind::Expire],
            failure_reason: Some("the requester did not step up with MFA in time: ask again".into()),
            ..change(S::Expired, system(AuditAction::RequestPendingExpired, Outcome::Ok, json!({ "waiting_for": "mfa" })))
        }),
        (_, Event::ExpireDue) => Step::Finish { kind: JobKind::Expire, audit: None },
        (S::Active, Event::ExtendAsked { by, until, reason }) => match r.deadline {
            // Past its deadline a grant is being revoked, whatever the store says yet.
            Some(was) if now < was && *until > was => Step::Extend(Extension {
                request_id: r.id.clone(),
                deadline_was: was,
                deadline: *until,
                audit: AuditDraft::new(by, AuditAction::RequestExtend, Some(&r.id), Outcome::Ok, json!({ "reason": reason, "deadline_was": was.0, "deadline": until.0 })),
            }),
            _ => return illegal(&event),
        },
        (S::Active, Event::ExtendDue) => match r.deadline {
            Some(deadline) if now < deadline => Step::Act,
            // The deadline passed: the revoke job ends it.
            _ => Step::Finish { kind: JobKind::Extend, audit: None },
        },
        (_, Event::ExtendDue) => Step::Finish { kind: JobKind::Extend, audit: None },
        (S::Active, Event::ExtendSucceeded) => {
            let detail = json!({ "username": r.username, "deadline": r.deadline.map(|d| d.0) });
            Step::Finish { kind: JobKind::Extend, audit: Some(system(AuditAction::ExtendDone, Outcome::Ok, detail)) }
        }
        (_, Event::ExtendSucceeded) => Step::Finish { kind: JobKind::Extend, audit: None },
        // A re-grant for a request no longer Active has nothing left to do.
        (s, Event::ActionFailed { run, .. }) if run.kind == JobKind::Extend && s != S::Active => Step::Finish { kind: JobKind::Extend, audit: None },
        (S::Active, Event::RevokeAsked { by, reason }) => {
            Step::Change(Transition { run_now: vec![JobKind::Revoke], ..change(S::Revoking, person(by, AuditAction::RequestRevoke, reason)) })
        }
        (S::Revoking | S::Revoked, Event::RevokeAsked { .. }) => Step::Unchanged,

        (S::Granting, Event::GrantDue { run }) => match r.deadline {
            Some(deadline) if now < deadline => Step::Act,
            // An earlier attempt may have reached the target: only a revoke ends it.
            _ if run.may_have_reached_target() => Step::Change(abandon(change(S::Revoking, abandoned(r, run)))),
            deadline => {
                let reason = match deadline {
                    Some(_) => "the deadline passed before the grant could start",
                    None => "the request has no deadline, so it cannot be granted: ask again",
                };
                Step::Change(Transition {
                    finish: vec![JobKind::Grant, JobKind::Revoke],
                    failure_reason: Some(reason.into()),
                    ..change(S::Failed, system(AuditAction::GrantFailed, Outcome::Error, json!({ "error": reason })))
                })
            }
        },
        (_, Event::GrantDue { .. }) => Step::Finish { kind: JobKind::Grant, audit: None },
        (S::Granting, Event::GrantSucceeded) => {
            // The window starts now: a late start moves the deadline (and
            // the revoke job) and grants again with it.
            let full = now.plus(r.duration);
            match r.deadline.filter(|d| full > d.plus(LATE_START)) {
                Some(was) => {
                    let detail = json!({ "username": r.username, "deadline": full.0, "deadline_was": was.0 });
                    Step::Change(Transition {
                        deadline: Some(full),
                        finish: vec![JobKind::Grant],
                        // Lost, the revoke stays at the earlier deadline and
                        // the grant runs again.
                        moved: vec![(JobKind::Revoke, full), (JobKind::Extend, now)],
                        durability: Durability::Recorded,
                        ..change(S::Active, system(AuditAction::GrantDone, Outcome::Ok, detail))
                    })
                }
                None => {
                    let detail = json!({ "username": r.username, "deadline": r.deadline.map(|d| d.0) });
                    Step::Change(Transition {
                        finish: vec![JobKind::Grant],
                        durability: Durability::Recorded,
                        ..change(S::Active, system(AuditAction::GrantDone, Outcome::Ok, detail))
                    })
                }
            }
        }
        (S::Granting, Event::ActionFailed { run, error }) if run.kind == JobKind::Grant && !error.retryable => {
            if run.may_have_reached_target() {
                Step::Change(abandon(change(S::Revoking, abandoned(r, run))))
            } else {
                // It never reached the target: nothing to take back (the
                // reconciler removes what a partial attempt left).
                Step::Change(Transition {
                    finish: vec![JobKind::Grant, JobKind::Revoke],
                    failure_reason: Some(error.user_message.clone()),
                    ..change(S::Failed, system(AuditAction::GrantFailed, Outcome::Error, json!({ "error": error.detail, "cause": error.cause })))
                })
            }
        }
        (_, Event::ActionFailed { run, error }) if run.kind != JobKind::Grant || r.status == S::Granting => {
            // Revocation and cleanup never give up; grants retry until their deadline.
            let failures = u32::try_from(run.failures.saturating_add(1)).unwrap_or(u32::MAX);
            let delay = retry_delay(failures, run.retry.base, run.retry.max);
            let detail = json!({ "error": error.detail, "cause": error.cause, "failures": failures, "retry_in_ms": u64::try_from(delay.as_millis()).unwrap_or(u64::MAX) });
            Step::Retry(Retry {
                kind: run.kind,
                at: now.plus(delay),
                failures,
                last_error: error.user_message.clone(),
                audit: system(run.kind.retry_action(), Outcome::Error, detail),
            })
        }

        // A grant job whose request moved on (e.g. a run whose claim ran out).
        (_, Event::GrantSucceeded) => Step::Finish { kind: JobKind::Grant, audit: None },
        (_, Event::ActionFailed { run, .. }) if run.kind == JobKind::Grant => Step::Finish { kind: JobKind::Grant, audit: None },

        // A re-grant (extension) still running could land after the revoke: wait for it.
        (S::Revoking, Event::RevokeDue { grant_in_flight: true }) => Step::Defer { until: now.plus(WAIT_FOR_GRANT) },
        (S::Revoking, Event::RevokeDue { .. }) => Step::Act,
        // A revoke job that ran early (its deadline moved while it was
        // claimed) waits for the deadline.
        (S::Active, Event::RevokeDue { .. }) => match r.deadline {
            Some(d) if now < d => Step::Defer { until: d },
            _ => {
                let detail = json!({ "deadline": r.deadline.map(|d| d.0) });
                Step::Change(change(S::Revoking, system(AuditAction::RequestExpire, Outcome::Ok, detail)))
            }
        },
        // The deadline came while granting: wait for a running grant; then
        // take back whatever it may have left (a handler that never granted
        // answers revoke-access with ok).
        (S::Granting, Event::RevokeDue { grant_in_flight: true }) => Step::Defer { until: now.plus(WAIT_FOR_GRANT) },
        (S::Granting, Event::RevokeDue { grant_in_flight: false }) => {
            let detail = json!({ "deadline": r.deadline.map(|d| d.0), "while": "granting" });
            Step::Change(Transition { finish: vec![JobKind::Grant], ..change(S::Revoking, system(AuditAction::RequestExpire, Outcome::Ok, detail)) })
        }
        (_, Event::RevokeDue { .. }) => Step::Finish { kind: JobKind::Revoke, audit: None },
        (S::Revoking, Event::RevokeSucceeded { cleanup_after }) => {
            let late_ms = r.deadline.map(|d| now.0 - d.0);
            let detail = json!({ "username": r.username, "after_deadline_ms": late_ms, "disabled_until_cleanup": cleanup_after.is_some() });
            Step::Change(Transition {
                revoked_at: Some(now),
                finish: vec![JobKind::Revoke],
                schedule: cleanup_after.map(|d| vec![(JobKind::Cleanup, now.plus(d))]).unwrap_or_default(),
                durability: Durability::Recorded,
                ..change(S::Revoked, system(AuditAction::RevokeDone, Outcome::Ok, detail))
            })
        }
        (_, Event::RevokeSucceeded { .. }) => Step::Finish { kind: JobKind::Revoke, audit: None },
        (_, Event::CleanupSucceeded) => {
            Step::Finish { kind: JobKind::Cleanup, audit: Some(system(AuditAction::CleanupDone, Outcome::Ok, json!({ "username": r.username }))) }
        }
        (_, event) => return illegal(event),
    })
}

fn abandoned(r: &Request, run: &JobRun) -> AuditDraft {
    let detail = json!({ "error": "the grant did not complete; revoking what it may have left", "attempts": run.attempts });
    AuditDraft::new(SYSTEM, AuditAction::GrantAbandoned, Some(&r.id), Outcome::Error, detail)
}

/// Granting → Revoking with the revoke job due now.
fn abandon(t: Transition) -> Transition {
    Transition { finish: vec![JobKind::Grant], run_now: vec![JobKind::Revoke], ..t }
}

/// Every status change the lifecycle can make, as (from, to). The diagram
/// above draws exactly these.
pub const EDGES: [(RequestStatus, RequestStatus); 13] = [
    (RequestStatus::PendingMfa, RequestStatus::Granting),
    (RequestStatus::PendingMfa, RequestStatus::Pending),
    (RequestStatus::PendingMfa, RequestStatus::Revoked),
    (RequestStatus::PendingMfa, RequestStatus::Expired),
    (RequestStatus::Pending, RequestStatus::Granting),
    (RequestStatus::Pending, RequestStatus::Expired),
    (RequestStatus::Pending, RequestStatus::Rejected),
    (RequestStatus::Pending, RequestStatus::Revoked),
    (RequestStatus::Granting, RequestStatus::Active),
    (RequestStatus::Granting, RequestStatus::Failed),
    (RequestStatus::Granting, RequestStatus::Revoking),
    (RequestStatus::Active, RequestStatus::Revoking),
    (RequestStatus::Revoking, RequestStatus::Revoked),
];

/// Logins on a target that no request explains: what the reconciler removes.
pub fn unexplained<'a>(on_target: &'a [String], explained: &std::collections::BTreeSet<String>) -> Vec<&'a String> {
    on_target.iter().filter(|u| !explained.contains(*u)).collect()
}

#[cfg(test)]
mod tests;
