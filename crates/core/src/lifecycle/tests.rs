use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use RequestStatus as S;

const RETRY: RetryPolicy = RetryPolicy { base: Duration::from_millis(250), max: Duration::from_secs(5) };
const LEASE_MS: i64 = 3_000;

fn req(status: RequestStatus, deadline: Option<i64>) -> Request {
    Request { id: "r1".into(), status, username: "sesame_ann_r1".into(), duration: Duration::from_secs(60), deadline: deadline.map(Timestamp) }
}

fn run(kind: JobKind, attempts: i64, failures: i64) -> JobRun {
    JobRun { kind, attempts, failures, retry: RETRY }
}

fn failed(retryable: bool) -> ActionError {
    ActionError { detail: "boom at 10.0.0.1".into(), user_message: "try later".into(), cause: "unreachable", retryable }
}

fn transition(s: Step) -> Transition {
    match s {
        Step::Change(t) => t,
        other => panic!("expected a status change, got {other:?}"),
    }
}

#[test]
fn approval_sets_the_deadline_and_schedules_both_jobs_in_one_change() {
    let t = transition(step(&req(S::Pending, None), Event::Approved { by: "bob".into(), reason: None }, Timestamp(1_000)).unwrap());
    assert_eq!((t.from, t.to), (S::Pending, S::Granting));
    assert_eq!(t.deadline, Some(Timestamp(61_000)));
    assert_eq!(t.schedule, [(JobKind::Grant, Timestamp(1_000)), (JobKind::Revoke, Timestamp(61_000))]);
    assert_eq!(t.audit.action, AuditAction::RequestApprove);
    assert_eq!(t.audit.actor, "bob");
}

#[test]
fn a_grant_past_its_deadline_fails_unless_an_attempt_may_have_reached_the_target() {
    let r = req(S::Granting, Some(5_000));
    let t = transition(step(&r, Event::GrantDue { run: run(JobKind::Grant, 1, 0) }, Timestamp(5_000)).unwrap());
    assert_eq!(t.to, S::Failed);
    assert_eq!(t.finish, [JobKind::Grant, JobKind::Revoke]);
    for reached in [run(JobKind::Grant, 2, 0), run(JobKind::Grant, 1, 1)] {
        let t = transition(step(&r, Event::GrantDue { run: reached }, Timestamp(5_000)).unwrap());
        assert_eq!((t.to, t.audit.action), (S::Revoking, AuditAction::GrantAbandoned));
        assert_eq!(t.run_now, [JobKind::Revoke]);
    }
    assert_eq!(step(&r, Event::GrantDue { run: run(JobKind::Grant, 1, 0) }, Timestamp(4_999)).unwrap(), Step::Act);
}

#[test]
fn a_granting_request_without_a_deadline_never_acts() {
    let t = transition(step(&req(S::Granting, None), Event::GrantDue { run: run(JobKind::Grant, 1, 0) }, Timestamp(1)).unwrap());
    assert_eq!(t.to, S::Failed);
    assert!(t.failure_reason.unwrap().contains("no deadline"));
}

#[test]
fn the_deadline_during_granting_revokes_after_a_running_grant() {
    let r = req(S::Granting, Some(5_000));
    assert_eq!(step(&r, Event::RevokeDue { grant_in_flight: true }, Timestamp(5_000)).unwrap(), Step::Defer { until: Timestamp(5_500) });
    let t = transition(step(&r, Event::RevokeDue { grant_in_flight: false }, Timestamp(5_000)).unwrap());
    assert_eq!((t.to, t.audit.action), (S::Revoking, AuditAction::RequestExpire));
    assert_eq!(t.finish, [JobKind::Grant]);
}

#[test]
fn revocation_retries_for_ever_with_capped_backoff() {
    let r = req(S::Revoking, Some(5_000));
    for failures in [0, 3, 1_000_000] {
        match step(&r, Event::ActionFailed { run: run(JobKind::Revoke, failures + 1, failures), error: failed(false) }, Timestamp(10_000)).unwrap() {
            Step::Retry(retry) => {
                assert!(retry.at.0 > 10_000 && retry.at.0 <= 15_000, "{retry:?}");
                assert_eq!(retry.audit.action, AuditAction::RevokeRetry);
                assert_eq!(retry.last_error, "try later");
            }
            other => panic!("a revocation gave up: {other:?}"),
        }
    }
}

#[test]
fn people_cannot_move_a_request_that_moved_on() {
    for st in [S::Granting, S::Active, S::Revoked, S::Rejected, S::Failed] {
        let e = step(&req(st, Some(1)), Event::Approved { by: "bob".into(), reason: None }, Timestamp(0)).unwrap_err();
        assert_eq!(e.from, st);
    }
    let e = step(&req(S::Revoked, None), Event::Rejected { by: "bob".into(), reason: None }, Timestamp(0)).unwrap_err();
    assert_eq!(e.to_string(), "a request that is Revoked cannot be rejected");
    assert_eq!(step(&req(S::Revoking, Some(1)), Event::RevokeAsked { by: "ann".into(), reason: None }, Timestamp(0)).unwrap(), Step::Unchanged);
    assert!(step(&req(S::Granting, Some(1)), Event::RevokeAsked { by: "ann".into(), reason: None }, Timestamp(0)).is_err());
}

#[test]
fn the_reconciler_removes_exactly_what_no_request_explains() {
    let on_target = vec!["sesame_a".to_owned(), "sesame_b".to_owned(), "sesame_c".to_owned()];
    let explained = ["sesame_b".to_owned(), "sesame_z".to_owned()].into();
    assert_eq!(unexplained(&on_target, &explained), [&on_target[0], &on_target[2]]);
}

// ---- a simulated store, worker and target, driven by random events ----

#[derive(Debug, Clone, Copy)]
enum Outcome2 {
    Success,
    /// The target was unreachable; whether the action landed is unknown.
    Retryable { landed: bool },
    /// The target refused (never lands).
    Permanent,
    /// The worker died mid-action after the target changed: no report, the
    /// claim runs out.
    Lost,
}

#[derive(Debug, Clone)]
enum Op {
    Approve,
    Reject,
    AskRevoke,
    StepUp,
    Extend(i64),
    Advance(i64),
    RunDueJob(Outcome2),
    /// The machine loses power: what did not reach the disk is gone, the
    /// target keeps what it has.
    PowerCut,
}

fn outcome() -> impl Strategy<Value = Outcome2> {
    prop_oneof![
        4 => Just(Outcome2::Success),
        2 => any::<bool>().prop_map(|landed| Outcome2::Retryable { landed }),
        1 => Just(Outcome2::Permanent),
        1 => Just(Outcome2::Lost),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Approve),
        1 => Just(Op::Reject),
        1 => Just(Op::AskRevoke),
        1 => Just(Op::StepUp),
        1 => (1i64..5_000).prop_map(Op::Extend),
        3 => (0i64..6_000).prop_map(Op::Advance),
        6 => outcome().prop_map(Op::RunDueJob),
        1 => Just(Op::PowerCut),
    ]
}

#[derive(Debug, Clone)]
struct SimJob {
    run_at: i64,
    done: bool,
    attempts: i64,
    failures: i64,
    lease_until: Option<i64>,
}

struct Sim {
    now: i64,
    r: Request,
    jobs: BTreeMap<JobKind, SimJob>,
    /// The grantee's access on the target.
    on_target: bool,
    transitions: usize,
    extensions: usize,
    audit: Vec<AuditDraft>,
    /// What the store's disk holds: the state as of the last commit that
    /// reached it (a later commit's flush carries the earlier ones).
    disk: Option<Box<Disk>>,
}

#[derive(Clone)]
struct Disk {
    r: Request,
    jobs: BTreeMap<JobKind, SimJob>,
    transitions: usize,
    extensions: usize,
    audit: Vec<AuditDraft>,
}

impl Sim {
    /// A commit that reaches the disk.
    fn flush(&mut self) {
        self.disk = Some(Box::new(Disk { r: self.r.clone(), jobs: self.jobs.clone(), transitions: self.transitions, extensions: self.extensions, audit: self.audit.clone() }));
    }

    fn power_cut(&mut self) {
        let d = *self.disk.clone().expect("the request was stored");
        (self.r, self.jobs, self.transitions, self.extensions, self.audit) = (d.r, d.jobs, d.transitions, d.extensions, d.audit);
    }

    fn new(automatic: bool, mfa_first: bool, long: bool) -> Sim {
        // A short grant, so deadlines fall among retries and lost claims; a
        // long one, so grants can land later than LATE_START.
        let r = Request { duration: Duration::from_secs(if long { 45 } else { 4 }), ..req(S::Pending, None) };
        let mut s = Sim { now: 1_000, r, jobs: BTreeMap::new(), on_target: false, transitions: 0, extensions: 0, audit: vec![], disk: None };
        // Unanswered for 3 s, a pending request expires.
        let start = Start { granted: automatic, mfa_first, duration: s.r.duration, pending_for: Some(Duration::from_secs(3)), escalate_after: None };
        let o = open(start, Timestamp(s.now));
        s.r.status = o.status;
        s.r.deadline = o.deadline;
        s.schedule(&o.schedule);
        s.flush();
        s
    }

    fn schedule(&mut self, jobs: &[(JobKind, Timestamp)]) {
        for (k, at) in jobs {
            self.jobs.entry(*k).or_insert(SimJob { run_at: at.0, done: false, attempts: 0, failures: 0, lease_until: None });
        }
    }

    /// What the store does with a step, compare-and-set included.
    fn apply(&mut self, s: &Step, job: Option<JobKind>) {
        match s {
            Step::Change(t) => {
                assert_eq!(t.from, self.r.status, "a change from a status the request is not in");
                assert!(EDGES.contains(&(t.from, t.to)), "illegal transition {:?} -> {:?}", t.from, t.to);
                assert_eq!(t.audit.request_id.as_deref(), Some("r1"));
                self.r.status = t.to;
                if let Some(d) = t.deadline {
                    self.r.deadline = Some(d);
                }
                self.schedule(&t.schedule);
                for k in &t.finish {
                    if let Some(j) = self.jobs.get_mut(k) {
                        j.done = true;
                        j.lease_until = None;
                    }
                }
                for (k, at) in &t.moved {
                    let now = self.now;
                    let j = self.jobs.entry(*k).or_insert(SimJob { run_at: at.0, done: false, attempts: 0, failures: 0, lease_until: None });
                    if j.done || j.lease_until.is_none_or(|l| l < now) {
                        *j = SimJob { run_at: at.0, done: false, attempts: 0, failures: 0, lease_until: None };
                    }
                }
                for k in &t.run_now {
                    if let Some(j) = self.jobs.get_mut(k).filter(|j| !j.done) {
                        j.run_at = j.run_at.min(self.now);
                    }
                }
                self.transitions += 1;
                self.audit.push(t.audit.clone());
                if t.durability == Durability::OnDisk {
                    self.flush();
                }
                return;
            }
            Step::Extend(x) => {
                assert_eq!(self.r.status, S::Active, "only an active grant is extended");
                assert_eq!(self.r.deadline, Some(x.deadline_was), "compare-and-set on the deadline");
                self.r.deadline = Some(x.deadline);
                if let Some(j) = self.jobs.get_mut(&JobKind::Revoke).filter(|j| !j.done) {
                    j.run_at = x.deadline.0;
                }
                self.jobs.insert(JobKind::Extend, SimJob { run_at: self.now, done: false, attempts: 0, failures: 0, lease_until: None });
                self.audit.push(x.audit.clone());
                self.extensions += 1;
            }
            Step::Defer { until } => {
                let j = self.jobs.get_mut(&job.unwrap()).unwrap();
                j.run_at = until.0;
                j.lease_until = None;
            }
            Step::Retry(retry) => {
                let j = self.jobs.get_mut(&retry.kind).unwrap();
                j.failures += 1;
                j.run_at = retry.at.0;
                j.lease_until = None;
                self.audit.push(retry.audit.clone());
            }
            Step::Finish { kind, audit } => {
                let j = self.jobs.get_mut(kind).unwrap();
                j.done = true;
                j.lease_until = None;
                self.audit.extend(audit.clone());
            }
            Step::Act | Step::Unchanged => return,
        }
        // The store's other writes (extend, defer, retry, finish) reach the disk.
        self.flush();
    }

    fn person(&mut self, e: Event) {
        if let Ok(s) = step(&self.r, e, Timestamp(self.now)) {
            assert!(matches!(s, Step::Change(_) | Step::Extend(_) | Step::Unchanged), "people's events change status, the deadline, or nothing: {s:?}");
            self.apply(&s, None);
        }
    }

    fn due(&self) -> Option<JobKind> {
        self.jobs
            .iter()
            .filter(|(_, j)| !j.done && j.run_at <= self.now && j.lease_until.is_none_or(|l| l < self.now))
            .min_by_key(|(_, j)| j.run_at)
            .map(|(k, _)| *k)
    }

    /// The worker: claim the earliest due job, ask the lifecycle, act.
    fn run_due(&mut self, how: Outcome2) -> bool {
        let Some(kind) = self.due() else { return false };
        let j = self.jobs.get_mut(&kind).unwrap();
        j.attempts += 1;
        j.lease_until = Some(self.now + LEASE_MS);
        let run = JobRun { kind, attempts: j.attempts, failures: j.failures, retry: RETRY };
        // A claim reaches the disk before the job acts.
        self.flush();
        // A step may change status first (e.g. Active -> Revoking), then act.
        for _ in 0..3 {
            let event = match kind {
                JobKind::Grant => Event::GrantDue { run },
                JobKind::Revoke => {
                    // A grant or re-grant holds a live claim only when it is not
                    // done and its lease is live.
                    let live = |k: JobKind| self.jobs.get(&k).is_some_and(|g| !g.done && g.lease_until.is_some_and(|l| l >= self.now));
                    let in_flight = live(JobKind::Grant) || live(JobKind::Extend);
                    Event::RevokeDue { grant_in_flight: in_flight }
                }
                JobKind::Cleanup => {
                    self.act_and_report(kind, run, how);
                    return true;
                }
                JobKind::Expire => Event::ExpireDue,
                JobKind::Extend => Event::ExtendDue,
                JobKind::Escalate => panic!("no escalation in this simulation"),
            };
            let s = step(&self.r, event, Timestamp(self.now)).expect("job events are never illegal");
            match s {
                Step::Act => {
                    self.act_and_report(kind, run, how);
                    return true;
                }
                Step::Change(_) => self.apply(&s, Some(kind)),
                other => {
                    self.apply(&other, Some(kind));
                    return true;
                }
            }
        }
        panic!("the lifecycle kept changing status without acting")
    }

    fn act_and_report(&mut self, kind: JobKind, run: JobRun, how: Outcome2) {
        let landed = matches!(how, Outcome2::Success | Outcome2::Lost | Outcome2::Retryable { landed: true });
        if landed {
            match kind {
                JobKind::Grant | JobKind::Extend => self.on_target = true,
                JobKind::Revoke | JobKind::Cleanup => self.on_target = false,
                JobKind::Expire | JobKind::Escalate => panic!("an expire job never acts on the target"),
            }
        }
        let event = match how {
            Outcome2::Lost => return,
            Outcome2::Success => match kind {
                JobKind::Grant => Event::GrantSucceeded,
                JobKind::Revoke => Event::RevokeSucceeded { cleanup_after: None },
                JobKind::Cleanup => Event::CleanupSucceeded,
                JobKind::Extend => Event::ExtendSucceeded,
                JobKind::Expire | JobKind::Escalate => panic!("an expire job never acts on the target"),
            },
            Outcome2::Retryable { .. } => Event::ActionFailed { run, error: failed(true) },
            Outcome2::Permanent => Event::ActionFailed { run, error: failed(false) },
        };
        let s = step(&self.r, event, Timestamp(self.now)).expect("job events are never illegal");
        self.apply(&s, Some(kind));
    }

    fn check(&self) {
        if self.r.status == S::Active {
            let deadline = self.r.deadline.expect("an active grant has a deadline");
            let revoke = self.jobs.get(&JobKind::Revoke).expect("an active grant has a revoke job");
            assert!(!revoke.done && revoke.run_at <= deadline.0, "an active grant's revoke job runs by its deadline: {revoke:?}");
        }
        if self.r.status.is_final() {
            assert!(!self.on_target, "{} but access is left on the target", self.r.status);
        }
        if self.on_target {
            assert!(self.r.status.holds_access(), "access on the target that no status explains ({})", self.r.status);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Whatever people and targets do, in any order: only legal transitions,
    /// one audit entry each, and once the target answers again every grant
    /// ends revoked (nothing left on the target, nothing Active past its
    /// deadline).
    #[test]
    fn no_sequence_leaves_access_past_its_deadline(automatic in any::<bool>(), mfa_first in any::<bool>(), long in any::<bool>(), ops in proptest::collection::vec(op(), 0..60)) {
        let mut sim = Sim::new(automatic, mfa_first, long);
        for op in ops {
            match op {
                Op::Approve => sim.person(Event::Approved { by: "bob".into(), reason: None }),
                Op::Reject => sim.person(Event::Rejected { by: "bob".into(), reason: None }),
                Op::AskRevoke => sim.person(Event::RevokeAsked { by: "ann".into(), reason: None }),
                Op::StepUp => sim.person(Event::SteppedUp { by: "ann".into(), approved: automatic, pending_for: Some(Duration::from_secs(3)), escalate_after: None }),
                Op::Extend(ms) => {
                    let until = Timestamp(sim.r.deadline.map_or(sim.now, |d| d.0) + ms);
                    sim.person(Event::ExtendAsked { by: "ann".into(), until, reason: None });
                }
                // Long grants see time pass faster.
                Op::Advance(ms) => sim.now += if long { ms * 4 } else { ms },
                Op::RunDueJob(how) => { sim.run_due(how); }
                Op::PowerCut => sim.power_cut(),
            }
            sim.check();
            if let Some(d) = sim.r.deadline {
                // No job is left undone past the deadline that could have ended it.
                if sim.r.status == S::Active && sim.now > d.0 + LEASE_MS {
                    prop_assert!(sim.due().is_some(), "an active grant past its deadline with no revoke due");
                }
            }
        }
        // The target answers again: time moves on and every due job runs.
        let mut guard = 0;
        loop {
            sim.now += 60_000;
            let mut ran = false;
            while sim.run_due(Outcome2::Success) {
                ran = true;
                sim.check();
                guard += 1;
                prop_assert!(guard < 100, "jobs never settle");
            }
            if !ran && sim.jobs.values().all(|j| j.done) {
                break;
            }
            guard += 1;
            prop_assert!(guard < 100, "jobs never settle: {:?}", sim.jobs);
        }
        prop_assert!(!sim.on_target, "access left on the target ({})", sim.r.status);
        prop_assert!(!matches!(sim.r.status, S::Active | S::Granting | S::Revoking), "a request stuck {}", sim.r.status);
        let status_changes = sim.audit.iter().filter(|a| !matches!(a.action, AuditAction::GrantRetry | AuditAction::RevokeRetry | AuditAction::CleanupRetry | AuditAction::CleanupDone | AuditAction::ExtendRetry | AuditAction::ExtendDone | AuditAction::RequestExtend)).count();
        prop_assert_eq!(status_changes, sim.transitions, "one audit entry per transition");
        let extensions = sim.audit.iter().filter(|a| a.action == AuditAction::RequestExtend).count();
        prop_assert_eq!(extensions, sim.extensions, "one audit entry per extension");
    }
}

#[test]
fn an_unanswered_request_expires_and_an_answer_ends_its_expiry() {
    let start = |granted: bool, pending: Option<u64>, escalate: Option<u64>| Start {
        granted,
        mfa_first: false,
        duration: Duration::from_secs(60),
        pending_for: pending.map(Duration::from_secs),
        escalate_after: escalate.map(Duration::from_secs),
    };
    let o = open(start(false, Some(3600), None), Timestamp(1_000));
    assert_eq!((o.status, o.schedule.clone()), (S::Pending, vec![(JobKind::Expire, Timestamp(3_601_000))]));
    assert!(open(start(false, None, None), Timestamp(1_000)).schedule.is_empty(), "no expiry unless the flow sets one");
    assert!(!open(start(true, Some(1), Some(1)), Timestamp(1_000)).schedule.iter().any(|(k, _)| matches!(k, JobKind::Expire | JobKind::Escalate)));
    assert_eq!(open(start(false, None, Some(5)), Timestamp(1_000)).schedule, [(JobKind::Escalate, Timestamp(6_000))]);
    let t = transition(step(&req(S::Pending, None), Event::ExpireDue, Timestamp(3_601_000)).unwrap());
    assert_eq!((t.to, t.finish.clone(), t.audit.action), (S::Expired, vec![JobKind::Expire, JobKind::Escalate], AuditAction::RequestPendingExpired));
    assert!(t.failure_reason.unwrap().contains("ask again"));
    for answer in [Event::Approved { by: "bob".into(), reason: None }, Event::Rejected { by: "bob".into(), reason: None }, Event::RevokeAsked { by: "ann".into(), reason: None }] {
        assert!(transition(step(&req(S::Pending, None), answer, Timestamp(2_000)).unwrap()).finish.contains(&JobKind::Expire));
    }
    // Answered first: the expire job just finishes.
    assert_eq!(step(&req(S::Granting, Some(9_000)), Event::ExpireDue, Timestamp(3_601_000)).unwrap(), Step::Finish { kind: JobKind::Expire, audit: None });
}

#[test]
fn a_request_waiting_for_the_requesters_step_up_goes_on_only_after_it() {
    let start = |granted: bool, pending: Option<u64>| Start {
        granted,
        mfa_first: true,
        duration: Duration::from_secs(60),
        pending_for: pending.map(Duration::from_secs),
        escalate_after: Some(Duration::from_secs(30)),
    };
    // It waits for the step-up, not for approvers, and no tier escalates yet.
    let o = open(start(true, None), Timestamp(1_000));
    assert_eq!((o.status, o.deadline, o.outcome), (S::PendingMfa, None, crate::audit::Outcome::PendingMfa));
    assert_eq!(o.schedule, [(JobKind::Expire, Timestamp(1_000).plus(MFA_WAIT))], "an unanswered step-up ends, flow expiry or not");
    assert_eq!(open(start(false, Some(600)), Timestamp(1_000)).schedule, [(JobKind::Expire, Timestamp(601_000))]);
    let r = req(S::PendingMfa, None);
    // Nobody approves a request before its requester stepped up.
    assert!(step(&r, Event::Approved { by: "bob".into(), reason: None }, Timestamp(2_000)).is_err());
    // Automatic flow: the step-up grants, and the deadline counts from it.
    let up = |approved: bool, pending_for: Option<u64>| Event::SteppedUp { by: "ann".into(), approved, pending_for: pending_for.map(Duration::from_secs), escalate_after: Some(Duration::from_secs(30)) };
    let t = transition(step(&r, up(true, None), Timestamp(5_000)).unwrap());
    assert_eq!((t.to, t.deadline, t.schedule.clone(), t.finish.clone()), (S::Granting, Some(Timestamp(65_000)), vec![(JobKind::Grant, Timestamp(5_000)), (JobKind::Revoke, Timestamp(65_000))], vec![JobKind::Expire]));
    assert_eq!((t.audit.action, t.audit.actor.as_str()), (AuditAction::RequestStepUp, "ann"));
    // Approval needed: Pending, escalation starts now; the wait for the
    // step-up ends unless the flow expires pending requests itself.
    let t = transition(step(&r, up(false, None), Timestamp(5_000)).unwrap());
    assert_eq!((t.to, t.schedule.clone(), t.finish.clone()), (S::Pending, vec![(JobKind::Escalate, Timestamp(35_000))], vec![JobKind::Expire]));
    assert!(transition(step(&r, up(false, Some(600)), Timestamp(5_000)).unwrap()).finish.is_empty());
    // Unanswered: Expired, saying why; withdrawn: Revoked.
    let t = transition(step(&r, Event::ExpireDue, Timestamp(3_601_000)).unwrap());
    assert_eq!(t.to, S::Expired);
    assert!(t.failure_reason.unwrap().contains("MFA"));
    assert_eq!(transition(step(&r, Event::RevokeAsked { by: "ann".into(), reason: None }, Timestamp(2_000)).unwrap()).to, S::Revoked);
    // A step-up reaches only a request that waits for one.
    assert!(step(&req(S::Pending, None), up(true, None), Timestamp(2_000)).is_err());
}

#[test]
fn an_extension_moves_the_deadline_of_an_active_grant_and_grants_again() {
    let r = req(S::Active, Some(60_000));
    let ask = |until: i64| Event::ExtendAsked { by: "ann".into(), until: Timestamp(until), reason: Some("more".into()) };
    let Step::Extend(x) = step(&r, ask(120_000), Timestamp(30_000)).unwrap() else { panic!("an extension") };
    assert_eq!((x.deadline_was, x.deadline, x.audit.action), (Timestamp(60_000), Timestamp(120_000), AuditAction::RequestExtend));
    // Never shorter, never in the past, never for what is not Active.
    assert!(step(&r, ask(50_000), Timestamp(30_000)).is_err());
    assert!(step(&r, ask(60_000), Timestamp(30_000)).is_err());
    assert!(step(&r, ask(120_000), Timestamp(60_000)).is_err(), "past its deadline, a grant is not extended");
    for st in [S::Pending, S::PendingMfa, S::Granting, S::Revoking, S::Revoked] {
        assert!(step(&req(st, Some(60_000)), ask(120_000), Timestamp(30_000)).is_err(), "{st}");
    }
    // The extend job re-grants while Active and before the deadline; after,
    // or once revoking, it has nothing to do.
    assert_eq!(step(&r, Event::ExtendDue, Timestamp(30_000)).unwrap(), Step::Act);
    assert_eq!(step(&r, Event::ExtendDue, Timestamp(60_000)).unwrap(), Step::Finish { kind: JobKind::Extend, audit: None });
    assert_eq!(step(&req(S::Revoking, Some(60_000)), Event::ExtendDue, Timestamp(30_000)).unwrap(), Step::Finish { kind: JobKind::Extend, audit: None });
    let Step::Finish { audit: Some(a), .. } = step(&r, Event::ExtendSucceeded, Timestamp(31_000)).unwrap() else { panic!("finished with its audit entry") };
    assert_eq!(a.action, AuditAction::ExtendDone);
    // A failed re-grant retries while Active.
    assert!(matches!(step(&r, Event::ActionFailed { run: run(JobKind::Extend, 1, 0), error: failed(true) }, Timestamp(31_000)).unwrap(), Step::Retry(_)));
    assert!(matches!(step(&r, Event::ActionFailed { run: run(JobKind::Extend, 1, 0), error: failed(false) }, Timestamp(31_000)).unwrap(), Step::Retry(_)));
    // A revoke waits while a re-grant may still land.
    let revoking = req(S::Revoking, Some(60_000));
    assert!(matches!(step(&revoking, Event::RevokeDue { grant_in_flight: true }, Timestamp(61_000)).unwrap(), Step::Defer { .. }));
    assert_eq!(step(&revoking, Event::RevokeDue { grant_in_flight: false }, Timestamp(61_000)).unwrap(), Step::Act);
}

#[test]
fn a_grant_that_lands_late_gets_its_whole_window_from_when_it_became_active() {
    let granting = Request { duration: Duration::from_secs(3600), ..req(S::Granting, Some(3_601_000)) };
    // Landed within LATE_START of approval: the deadline stays.
    let t = transition(step(&granting, Event::GrantSucceeded, Timestamp(1_000 + 29_000)).unwrap());
    assert_eq!((t.to, t.deadline, t.moved.clone()), (S::Active, None, vec![]));
    // Landed two minutes late (retries): the window starts now, the revoke
    // job follows, and an extend job grants again so the target's backstop moves.
    let now = Timestamp(1_000 + 120_000);
    let t = transition(step(&granting, Event::GrantSucceeded, now).unwrap());
    let full = now.plus(Duration::from_secs(3600));
    assert_eq!((t.to, t.deadline), (S::Active, Some(full)));
    assert_eq!(t.moved, vec![(JobKind::Revoke, full), (JobKind::Extend, now)]);
    assert_eq!(t.audit.detail["deadline_was"], 3_601_000);
    // A revoke job claimed at the old deadline finds the request Active
    // with a later one: it waits for it.
    let active = Request { deadline: Some(full), ..req(S::Active, None) };
    assert_eq!(step(&active, Event::RevokeDue { grant_in_flight: false }, Timestamp(3_601_000)).unwrap(), Step::Defer { until: full });
    assert!(matches!(step(&active, Event::RevokeDue { grant_in_flight: false }, full).unwrap(), Step::Change(t) if t.to == S::Revoking));
}
