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
    Advance(i64),
    RunDueJob(Outcome2),
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
        3 => (0i64..6_000).prop_map(Op::Advance),
        6 => outcome().prop_map(Op::RunDueJob),
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
    audit: Vec<AuditDraft>,
}

impl Sim {
    fn new(automatic: bool) -> Sim {
        // A short grant, so deadlines fall among retries and lost claims.
        let r = Request { duration: Duration::from_secs(4), ..req(S::Pending, None) };
        let mut s = Sim { now: 1_000, r, jobs: BTreeMap::new(), on_target: false, transitions: 0, audit: vec![] };
        // Unanswered for 3 s, a pending request expires.
        let o = open(automatic, s.r.duration, Some(Duration::from_secs(3)), None, Timestamp(s.now));
        s.r.status = o.status;
        s.r.deadline = o.deadline;
        s.schedule(&o.schedule);
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
                for k in &t.run_now {
                    if let Some(j) = self.jobs.get_mut(k).filter(|j| !j.done) {
                        j.run_at = j.run_at.min(self.now);
                    }
                }
                self.transitions += 1;
                self.audit.push(t.audit.clone());
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
            Step::Act | Step::Unchanged => {}
        }
    }

    fn person(&mut self, e: Event) {
        if let Ok(s) = step(&self.r, e, Timestamp(self.now)) {
            assert!(matches!(s, Step::Change(_) | Step::Unchanged), "people's events change status or nothing: {s:?}");
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
        // A step may change status first (e.g. Active -> Revoking), then act.
        for _ in 0..3 {
            let event = match kind {
                JobKind::Grant => Event::GrantDue { run },
                JobKind::Revoke => {
                    let grant = self.jobs.get(&JobKind::Grant);
                    // Another run of the grant holds a live claim only when it is
                    // a different claim; here the grant job is never running
                    // concurrently unless its lease is live and it is not done.
                    let in_flight = grant.is_some_and(|g| !g.done && g.lease_until.is_some_and(|l| l >= self.now));
                    Event::RevokeDue { grant_in_flight: in_flight }
                }
                JobKind::Cleanup => {
                    self.act_and_report(kind, run, how);
                    return true;
                }
                JobKind::Expire => Event::ExpireDue,
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
                JobKind::Grant => self.on_target = true,
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
    fn no_sequence_leaves_access_past_its_deadline(automatic in any::<bool>(), ops in proptest::collection::vec(op(), 0..60)) {
        let mut sim = Sim::new(automatic);
        for op in ops {
            match op {
                Op::Approve => sim.person(Event::Approved { by: "bob".into(), reason: None }),
                Op::Reject => sim.person(Event::Rejected { by: "bob".into(), reason: None }),
                Op::AskRevoke => sim.person(Event::RevokeAsked { by: "ann".into(), reason: None }),
                Op::Advance(ms) => sim.now += ms,
                Op::RunDueJob(how) => { sim.run_due(how); }
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
        let status_changes = sim.audit.iter().filter(|a| !matches!(a.action, AuditAction::GrantRetry | AuditAction::RevokeRetry | AuditAction::CleanupRetry | AuditAction::CleanupDone)).count();
        prop_assert_eq!(status_changes, sim.transitions, "one audit entry per transition");
    }
}

#[test]
fn an_unanswered_request_expires_and_an_answer_ends_its_expiry() {
    let o = open(false, Duration::from_secs(60), Some(Duration::from_secs(3600)), None, Timestamp(1_000));
    assert_eq!((o.status, o.schedule.clone()), (S::Pending, vec![(JobKind::Expire, Timestamp(3_601_000))]));
    assert!(open(false, Duration::from_secs(60), None, None, Timestamp(1_000)).schedule.is_empty(), "no expiry unless the flow sets one");
    assert!(!open(true, Duration::from_secs(60), Some(Duration::from_secs(1)), Some(Duration::from_secs(1)), Timestamp(1_000)).schedule.iter().any(|(k, _)| matches!(k, JobKind::Expire | JobKind::Escalate)));
    assert_eq!(open(false, Duration::from_secs(60), None, Some(Duration::from_secs(5)), Timestamp(1_000)).schedule, [(JobKind::Escalate, Timestamp(6_000))]);
    let t = transition(step(&req(S::Pending, None), Event::ExpireDue, Timestamp(3_601_000)).unwrap());
    assert_eq!((t.to, t.finish.clone(), t.audit.action), (S::Expired, vec![JobKind::Expire, JobKind::Escalate], AuditAction::RequestPendingExpired));
    assert!(t.failure_reason.unwrap().contains("ask again"));
    for answer in [Event::Approved { by: "bob".into(), reason: None }, Event::Rejected { by: "bob".into(), reason: None }, Event::RevokeAsked { by: "ann".into(), reason: None }] {
        assert!(transition(step(&req(S::Pending, None), answer, Timestamp(2_000)).unwrap()).finish.contains(&JobKind::Expire));
    }
    // Answered first: the expire job just finishes.
    assert_eq!(step(&req(S::Granting, Some(9_000)), Event::ExpireDue, Timestamp(3_601_000)).unwrap(), Step::Finish { kind: JobKind::Expire, audit: None });
}
