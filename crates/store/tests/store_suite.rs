//! The store suite: every test runs on SQLite and on PostgreSQL.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sesame_core::lifecycle::{self, ActionError, Event, JobRun, Request, RetryPolicy, Step, Transition};
use sesame_core::{AuditAction, AuditDraft, JobKind, Outcome, RequestStatus, Timestamp};
use sesame_store::{Lease, NewJob, NewRequest, RequestFilter, ScimPut, ScimWrite, SignedIn, Store, StoredResource};
use std::time::Duration;

fn pg_admin_url() -> String {
    std::env::var("SESAME_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

async fn sqlite() -> Store {
    let dir = std::env::temp_dir().join(format!("sesame-store-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    Store::connect(&format!("sqlite://{}", dir.join("s.db").display())).await.unwrap()
}

async fn postgres() -> (Store, String) {
    let db = format!("sesame_store_{}", uuid::Uuid::new_v4().simple());
    let admin = Store::connect_raw_admin(&format!("{}/postgres", pg_admin_url())).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is not reachable at {}: {e}; start it with `scripts/services-up postgres`", pg_admin_url())
    });
    sqlx::query(&format!("CREATE DATABASE {db}")).execute(&admin).await.unwrap();
    (Store::connect(&format!("{}/{db}", pg_admin_url())).await.unwrap(), db)
}

async fn drop_db(store: Store, db: String) {
    store.close().await;
    let admin = Store::connect_raw_admin(&format!("{}/postgres", pg_admin_url())).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&admin).await.unwrap();
}

/// Drops a test's PostgreSQL database when the test ends, also when it
/// panics: a database left behind is found by later discovery tests.
struct DropDb(String);

impl Drop for DropDb {
    fn drop(&mut self) {
        let db = self.0.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(admin) = Store::connect_raw_admin(&format!("{}/postgres", pg_admin_url())).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&admin).await;
                }
            });
        })
        .join();
    }
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::sqlite().await).await
            }
            #[tokio::test]
            async fn postgres() {
                let (store, db) = super::postgres().await;
                let _drop = super::DropDb(db.clone());
                super::$name(store.clone()).await;
                super::drop_db(store, db).await;
            }
        }
    };
}

fn req(id: &str, status: RequestStatus) -> NewRequest {
    NewRequest {
        id: id.into(),
        requester: "o'brien+ops@x.io".into(),
        integration: "pg".into(),
        resource_type: "table".into(),
        resources: vec!["app/public/t\"; DROP".into()],
        permission: "read_only".into(),
        duration_ms: 60_000,
        justification: Some("ticket 1".into()),
        status,
        flow: "auto".into(),
        approvers: vec!["boss@x.io".into()],
        approval_parts: vec![sesame_core::ApprovalPart { resources: vec![], approvers: vec!["boss@x.io".into()] }],
        username: format!("sesame_{id}"),
        deadline: None,
        bundle: None,
        grantee: None,
    }
}

fn audit(action: AuditAction, id: &str) -> AuditDraft {
    AuditDraft::new("ann@x.io", action, Some(id), Outcome::Ok, serde_json::json!({"k": "v"}))
}

/// What the lifecycle decides for a request in `status` on `event`.
fn step(id: &str, status: RequestStatus, deadline: Option<i64>, event: Event, now: i64) -> Step {
    let r = Request { id: id.into(), status, username: format!("sesame_{id}"), duration: Duration::from_millis(999_995), deadline: deadline.map(Timestamp) };
    lifecycle::step(&r, event, Timestamp(now)).unwrap()
}

fn change(s: Step) -> Transition {
    match s {
        Step::Change(t) => t,
        other => panic!("expected a status change, got {other:?}"),
    }
}

async fn request_round_trip(s: Store) {
    let r = req("r1", RequestStatus::Pending);
    s.insert_request(&r, &[], audit(AuditAction::RequestCreate, "r1"), Timestamp(10)).await.unwrap();
    let got = s.get_request("r1").await.unwrap().unwrap();
    // What the writer returns without reading back is what was stored.
    assert_eq!(format!("{:?}", r.stored_at(Timestamp(10))), format!("{got:?}"));
    assert_eq!(got.requester, r.requester);
    assert_eq!(got.resources, r.resources);
    assert_eq!(got.status, RequestStatus::Pending);
    assert_eq!(got.created_at, Timestamp(10));
    assert!(s.get_request("nope").await.unwrap().is_none());
    let mine = s
        .list_requests(&RequestFilter { requester: Some(r.requester.clone()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    let none = s.list_requests(&RequestFilter { status: Some(RequestStatus::Active), ..Default::default() }).await.unwrap();
    assert!(none.is_empty());
    // Among the approvers: the whole e-mail, any case; LIKE's `_` and `%`
    // in an address are literal, and one address never matches inside another.
    let mut hostile = req("r1c", RequestStatus::Pending);
    hostile.approvers = vec!["A_B%ops@x.io".into(), "lead\\\"q@x.io".into()];
    s.insert_request(&hostile, &[], audit(AuditAction::RequestCreate, "r1c"), Timestamp(12)).await.unwrap();
    let approving = |who: &str| {
        let f = RequestFilter { approver: Some(who.into()), ..Default::default() };
        let s = s.clone();
        async move { s.list_requests(&f).await.unwrap().into_iter().map(|r| r.id).collect::<Vec<_>>() }
    };
    assert_eq!(approving("boss@x.io").await, ["r1"]);
    assert_eq!(approving("BOSS@X.IO").await, ["r1"], "any case");
    assert_eq!(approving("a_b%ops@x.io").await, ["r1c"]);
    assert_eq!(approving("lead\\\"q@x.io").await, ["r1c"], "quotes and backslashes as stored");
    for miss in ["axb%ops@x.io", "a_bxops@x.io", "%", "_", "oss@x.io", "b@x.io", "ops@x.io"] {
        assert!(approving(miss).await.is_empty(), "`{miss}` approves nothing");
    }
    // Jobs must belong to a request (foreign keys survive the migrations).
    assert!(s.raw_execute("INSERT INTO jobs (id, kind, request_id, run_at) VALUES ('x', 'grant', 'nope', 0)").await.is_err());
    // Custom integrations share one username (the requester's) across grants.
    let mut again = req("r1b", RequestStatus::Pending);
    again.username = r.username.clone();
    s.insert_request(&again, &[], audit(AuditAction::RequestCreate, "r1b"), Timestamp(11)).await.unwrap();
}
both!(request_round_trip);

async fn status_change_is_compare_and_set(s: Store) {
    s.insert_request(&req("r2", RequestStatus::Pending), &[], audit(AuditAction::RequestCreate, "r2"), Timestamp(1)).await.unwrap();
    let approve = change(step("r2", RequestStatus::Pending, None, Event::Approved { by: "boss@x.io".into(), reason: Some("ok".into()) }, 5));
    assert!(s.apply(&approve, Timestamp(5)).await.unwrap().is_ok());
    // Applying the same change again finds the request already Granting.
    assert_eq!(s.apply(&approve, Timestamp(6)).await.unwrap(), Err(Some(RequestStatus::Granting)));
    // A request that does not exist is found nowhere; nothing is written
    // (the audit log holds the insert and the approval only).
    let mut ghost = approve.clone();
    ghost.request_id = "ghost".into();
    assert_eq!(s.apply(&ghost, Timestamp(6)).await.unwrap(), Err(None));
    assert_eq!(s.list_audit(0, Some("r2"), 10).await.unwrap().len(), 2);
    assert!(s.list_audit(0, Some("ghost"), 10).await.unwrap().is_empty());
    let got = s.get_request("r2").await.unwrap().unwrap();
    assert_eq!(got.deadline, Some(Timestamp(1_000_000)));
    assert_eq!(got.decided_by.as_deref(), Some("boss@x.io"));
    assert_eq!(s.usernames_holding_access("pg").await.unwrap(), vec!["sesame_r2".to_string()]);
    // Only the grant job is due now.
    let jobs = s.claim_jobs("w1", Timestamp(10), 30_000, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, JobKind::Grant);
    // Leased: nobody else gets it until the lease runs out.
    assert!(s.claim_jobs("w2", Timestamp(11), 30_000, 10).await.unwrap().is_empty());
    assert!(s.job_in_flight(&jobs[0].id, Timestamp(11)).await.unwrap());
    let again = s.claim_jobs("w2", Timestamp(30_011), 30_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    // Failure: retried later, error visible on the request.
    let run = JobRun { kind: JobKind::Grant, attempts: again[0].attempts, failures: again[0].failures, retry: RetryPolicy { base: Duration::from_millis(9_988), max: Duration::from_secs(60) } };
    let error = ActionError { detail: "connection refused at 10.0.0.1".into(), user_message: "connection refused".into(), cause: "unreachable", retryable: true };
    let Step::Retry(retry) = step("r2", RequestStatus::Granting, Some(1_000_000), Event::ActionFailed { run, error }, 30_012) else { panic!("a grant that failed retryably is retried") };
    assert_eq!(retry.at, Timestamp(40_000));
    s.retry_job("r2", &retry, Timestamp(30_012)).await.unwrap();
    let got = s.get_request("r2").await.unwrap().unwrap();
    assert_eq!(got.job_failures, 1);
    assert_eq!(got.last_error.as_deref(), Some("connection refused"));
    assert!(s.claim_jobs("w1", Timestamp(39_999), 30_000, 10).await.unwrap().is_empty());
    assert_eq!(s.next_job_at().await.unwrap(), Some(Timestamp(40_000)));
    let granted = change(step("r2", RequestStatus::Granting, Some(1_000_000), Event::GrantSucceeded, 40_001));
    assert!(s.apply(&granted, Timestamp(40_001)).await.unwrap().is_ok());
    let done = change(step("r2", RequestStatus::Active, Some(1_000_000), Event::RevokeAsked { by: "ann@x.io".into(), reason: None }, 40_001));
    assert!(s.apply(&done, Timestamp(40_001)).await.unwrap().is_ok());
    let due = s.claim_jobs("w1", Timestamp(40_002), 30_000, 10).await.unwrap();
    let mut kinds: Vec<JobKind> = due.iter().map(|j| j.kind).collect();
    kinds.sort();
    // The grant landed 40 s after approval: its window moved, with a
    // re-grant (finished without acting, as the request is Revoking); the
    // revoke job was brought forward.
    assert_eq!(kinds, [JobKind::Revoke, JobKind::Extend], "the revoke job was brought forward");
    let got = s.get_request("r2").await.unwrap().unwrap();
    assert_eq!(got.decided_by.as_deref(), Some("boss@x.io"), "COALESCE keeps earlier fields");
    assert_eq!(got.job_failures, 0);
}
both!(status_change_is_compare_and_set);

async fn a_failed_request_keeps_its_reason(s: Store) {
    s.insert_request(&req("r9", RequestStatus::Granting), &[], audit(AuditAction::RequestCreate, "r9"), Timestamp(1)).await.unwrap();
    let run = JobRun { kind: JobKind::Grant, attempts: 1, failures: 0, retry: RetryPolicy { base: Duration::from_secs(1), max: Duration::from_secs(1) } };
    let error = ActionError { detail: "LimitExceeded".into(), user_message: "the grant does not fit IAM's quotas".into(), cause: "invalid", retryable: false };
    let c = change(step("r9", RequestStatus::Granting, Some(100), Event::ActionFailed { run, error }, 2));
    assert!(s.apply(&c, Timestamp(2)).await.unwrap().is_ok());
    let got = s.get_request("r9").await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Failed);
    assert_eq!(got.last_error.as_deref(), Some("the grant does not fit IAM's quotas"), "the requester reads why");
}
both!(a_failed_request_keeps_its_reason);

async fn credentials_are_shown_once_and_their_age_is_kept(s: Store) {
    s.insert_request(&req("c1", RequestStatus::Active), &[], audit(AuditAction::RequestCreate, "c1"), Timestamp(1)).await.unwrap();
    assert!(s.mark_credentials_shown("c1", Timestamp(10)).await.unwrap());
    assert!(!s.mark_credentials_shown("c1", Timestamp(11)).await.unwrap(), "shown once");
    let got = s.get_request("c1").await.unwrap().unwrap();
    assert_eq!((got.credentials_shown_at, got.credentials_created_at), (Some(Timestamp(10)), Some(Timestamp(10))));
    // Making them failed: not shown, and as old as before.
    s.clear_credentials_shown("c1", None).await.unwrap();
    let got = s.get_request("c1").await.unwrap().unwrap();
    assert_eq!((got.credentials_shown_at, got.credentials_created_at), (None, None));
    assert!(s.mark_credentials_shown("c1", Timestamp(20)).await.unwrap());
    // Rotation: due once older than the cut-off; new ones may be fetched once more.
    assert!(s.credentials_due_for_rotation("pg", Timestamp(19)).await.unwrap().is_empty());
    assert_eq!(s.credentials_due_for_rotation("pg", Timestamp(20)).await.unwrap().len(), 1);
    s.credentials_made("c1", false, audit(AuditAction::CredentialsRotate, "c1"), Timestamp(30)).await.unwrap();
    let got = s.get_request("c1").await.unwrap().unwrap();
    assert_eq!((got.credentials_shown_at, got.credentials_created_at), (None, Some(Timestamp(30))));
    assert!(s.mark_credentials_shown("c1", Timestamp(31)).await.unwrap(), "rotated ones are shown once more");
}
both!(credentials_are_shown_once_and_their_age_is_kept);

async fn boundaries_remember_the_first_previous(s: Store) {
    let row = |boundary: &str, previous: Option<&str>| sesame_store::BoundaryRow {
        integration: "acct".into(),
        principal_type: "role".into(),
        name: "ops-admin".into(),
        arn: "arn:aws:iam::1:role/ops-admin".into(),
        boundary_arn: boundary.into(),
        previous_arn: previous.map(str::to_owned),
        put_by: "admin@x.io".into(),
        put_at: Timestamp(1),
    };
    s.record_boundary(&row("arn:b1", Some("arn:team"))).await.unwrap();
    // Restricting again: the principal now reports Sesame's own boundary; the first memory stays.
    s.record_boundary(&row("arn:b2", Some("arn:b1"))).await.unwrap();
    let got = s.boundary("acct", "role", "ops-admin").await.unwrap().unwrap();
    assert_eq!((got.boundary_arn.as_str(), got.previous_arn.as_deref()), ("arn:b2", Some("arn:team")));
    assert_eq!(s.boundaries("acct").await.unwrap().len(), 1);
    s.forget_boundary("acct", "role", "ops-admin", Some(audit(AuditAction::BoundaryLift, "-")), Timestamp(2)).await.unwrap();
    assert!(s.boundary("acct", "role", "ops-admin").await.unwrap().is_none());
}
both!(boundaries_remember_the_first_previous);

async fn audit_chain_verifies_and_is_append_only(s: Store) {
    for i in 0..5 {
        s.append_audit(audit(AuditAction::ALL[i as usize], &format!("a{i}")), Timestamp(i)).await.unwrap();
    }
    let rows = s.list_audit(0, None, 100).await.unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0].prev_hash, sesame_core::audit::GENESIS);
    sesame_core::audit::verify_chain(rows.iter().map(|r| (&r.fields, r.prev_hash.as_str(), r.hash.as_str()))).unwrap();
    assert!(s.raw_execute("UPDATE audit SET actor = 'eve' WHERE seq = 2").await.is_err());
    assert!(s.raw_execute("DELETE FROM audit WHERE seq = 2").await.is_err());
    assert_eq!(s.list_audit(3, None, 100).await.unwrap().len(), 2);
    // Newest first, filtered by action, actor and request.
    let newest = s.newest_audit(None, None, None, 2).await.unwrap();
    assert_eq!(newest.iter().map(|r| r.fields.seq).collect::<Vec<_>>(), [5, 4]);
    let action = AuditAction::ALL[1].as_str();
    let one = s.newest_audit(Some(action), None, None, 10).await.unwrap();
    assert_eq!((one.len(), one[0].fields.action.as_str()), (1, action));
    let actor = rows[2].fields.actor.clone();
    assert!(s.newest_audit(None, Some(&actor), None, 10).await.unwrap().iter().all(|r| r.fields.actor == actor));
    assert!(s.newest_audit(None, None, Some("no-such-request"), 10).await.unwrap().is_empty());
}
both!(audit_chain_verifies_and_is_append_only);

async fn concurrent_audit_appends_keep_one_chain(s: Store) {
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.append_audit(audit(AuditAction::ALL[i as usize], &format!("c{i}")), Timestamp(i)).await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rows = s.list_audit(0, None, 100).await.unwrap();
    assert_eq!(rows.len(), 20);
    sesame_core::audit::verify_chain(rows.iter().map(|r| (&r.fields, r.prev_hash.as_str(), r.hash.as_str()))).unwrap();
}
both!(concurrent_audit_appends_keep_one_chain);

async fn tokens_and_inventory(s: Store) {
    let h1 = "a1".repeat(32);
    let h2 = "b2".repeat(32);
    s.insert_token(&h1, "ann@x.io", Some("laptop"), None, audit(AuditAction::TokenIssue, "-"), Timestamp(1)).await.unwrap();
    s.insert_token(&h2, "bob@x.io", None, Some(Timestamp(100)), audit(AuditAction::TokenIssue, "-"), Timestamp(1)).await.unwrap();
    assert_eq!(s.user_for_token(&h1, Timestamp(5)).await.unwrap().as_deref(), Some("ann@x.io"));
    assert_eq!(s.user_for_token("h3", Timestamp(5)).await.unwrap(), None);
    // Expiry.
    assert_eq!(s.user_for_token(&h2, Timestamp(99)).await.unwrap().as_deref(), Some("bob@x.io"));
    assert_eq!(s.user_for_token(&h2, Timestamp(100)).await.unwrap(), None, "an expired token is refused");
    // Revocation, by id, audited; twice is a no-op.
    let list = s.list_tokens().await.unwrap();
    assert_eq!(list.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), [&h1[..12], &h2[..12]]);
    assert!(list.iter().all(|t| !h1.starts_with(&t.id) || t.label.as_deref() == Some("laptop")));
    let before = s.list_audit(0, None, 1000).await.unwrap().len();
    assert!(s.revoke_token(&h1[..12], audit(AuditAction::TokenRevoke, "-"), Timestamp(6)).await.unwrap());
    assert!(!s.revoke_token(&h1[..12], audit(AuditAction::TokenRevoke, "-"), Timestamp(7)).await.unwrap());
    assert_eq!(s.list_audit(0, None, 1000).await.unwrap().len(), before + 1);
    assert_eq!(s.user_for_token(&h1, Timestamp(8)).await.unwrap(), None, "a revoked token is refused");
    assert_eq!(s.list_tokens().await.unwrap()[0].revoked_at, Some(Timestamp(6)));
    let res = vec![
        StoredResource { resource_type: "database".into(), id: "app".into(), name: "app".into(), metadata: Default::default() },
        StoredResource { resource_type: "table".into(), id: "app/s/t".into(), name: "t".into(), metadata: Default::default() },
    ];
    s.replace_inventory("pg", &res, Timestamp(7)).await.unwrap();
    assert_eq!(s.list_inventory("pg", None).await.unwrap(), res);
    assert_eq!(s.list_inventory("pg", Some("table")).await.unwrap().len(), 1);
    let found = s.find_resources("pg", "table", &["app/s/t".into(), "app/s/u".into()]).await.unwrap();
    assert_eq!(found, vec![res[1].clone()]);
    assert_eq!(s.integration_state("pg").await.unwrap().unwrap().last_sync, Some(Timestamp(7)));
    s.set_integration_status("pg", sesame_store::IntegrationStatus::Error, Some("down")).await.unwrap();
    let st = s.integration_state("pg").await.unwrap().unwrap();
    assert_eq!((st.status, st.message.as_deref(), st.last_sync), (sesame_store::IntegrationStatus::Error, Some("down"), Some(Timestamp(7))));
}
both!(tokens_and_inventory);

async fn concurrent_claims_never_hand_out_a_job_twice(s: Store) {
    for i in 0..30 {
        let id = format!("c{i}");
        let j = NewJob { kind: JobKind::Revoke, request_id: id.clone(), run_at: Timestamp(0) };
        s.insert_request(&req(&id, RequestStatus::Active), &[j], audit(AuditAction::RequestCreate, &id), Timestamp(0)).await.unwrap();
    }
    let mut tasks = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..10 {
                got.extend(s.claim_jobs(&format!("w{w}"), Timestamp(1), 60_000, 3).await.unwrap().into_iter().map(|j| j.id));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(n, 30);
    assert_eq!(all.len(), 30);
}
both!(concurrent_claims_never_hand_out_a_job_twice);

async fn jobs_finish_defer_and_fail_in_sight(s: Store) {
    let revoke = NewJob { kind: JobKind::Revoke, request_id: "j1".into(), run_at: Timestamp(0) };
    s.insert_request(&req("j1", RequestStatus::Revoking), &[revoke], audit(AuditAction::RequestCreate, "j1"), Timestamp(0)).await.unwrap();
    // Deferred: the lease is given back, no failure counted, due later.
    let job = s.claim_jobs("w1", Timestamp(1), 60_000, 10).await.unwrap().remove(0);
    s.defer_job(&job.id, Timestamp(500)).await.unwrap();
    assert!(!s.job_in_flight(&job.id, Timestamp(2)).await.unwrap(), "a deferred job is not held");
    assert!(s.claim_jobs("w2", Timestamp(499), 60_000, 10).await.unwrap().is_empty(), "not before its new time");
    let job = s.claim_jobs("w2", Timestamp(500), 60_000, 10).await.unwrap().remove(0);
    assert_eq!((job.attempts, job.failures), (2, 0));
    // A failing revocation is in sight (metrics, `sesame requests`) until it succeeds.
    assert!(s.failing_revocations().await.unwrap().is_empty());
    let run = JobRun { kind: JobKind::Revoke, attempts: job.attempts, failures: job.failures, retry: RetryPolicy { base: Duration::from_secs(1), max: Duration::from_secs(60) } };
    let error = ActionError { detail: "connection refused".into(), user_message: "the target could not be reached".into(), cause: "unreachable", retryable: true };
    let Step::Retry(retry) = step("j1", RequestStatus::Revoking, Some(0), Event::ActionFailed { run, error }, 501) else { panic!("a failed revoke is retried") };
    s.retry_job("j1", &retry, Timestamp(501)).await.unwrap();
    assert_eq!(s.failing_revocations().await.unwrap(), vec![("j1".to_string(), 1, Some("the target could not be reached".to_string()))]);
    // Finished with its audit entry, atomically; finishing again is harmless.
    let job = s.claim_jobs("w1", retry.at, 60_000, 10).await.unwrap().remove(0);
    let before = s.list_audit(0, Some("j1"), 100).await.unwrap().len();
    s.finish_job_audited(&job.id, audit(AuditAction::RevokeDone, "j1"), retry.at).await.unwrap();
    let entries = s.list_audit(0, Some("j1"), 100).await.unwrap();
    assert_eq!(entries.len(), before + 1);
    assert_eq!(entries.last().unwrap().fields.action, "revoke.done");
    assert!(s.failing_revocations().await.unwrap().is_empty(), "a finished job is no longer failing");
    assert_eq!(s.next_job_at().await.unwrap(), None);
    s.finish_job(&job.id, retry.at).await.unwrap();
    // A job with nothing to do is finished without an entry.
    let grant = NewJob { kind: JobKind::Grant, request_id: "j2".into(), run_at: Timestamp(0) };
    s.insert_request(&req("j2", RequestStatus::Granting), &[grant], audit(AuditAction::RequestCreate, "j2"), Timestamp(0)).await.unwrap();
    let job = s.claim_jobs("w1", Timestamp(1), 60_000, 10).await.unwrap().remove(0);
    s.finish_job(&job.id, Timestamp(2)).await.unwrap();
    assert!(s.claim_jobs("w1", Timestamp(120_000), 60_000, 10).await.unwrap().is_empty(), "a finished job never runs again");
    assert_eq!(s.list_audit(0, Some("j2"), 100).await.unwrap().len(), 1, "only the creation");
}
both!(jobs_finish_defer_and_fail_in_sight);

async fn one_approval_of_several_is_compare_and_set(s: Store) {
    s.insert_request(&req("a1", RequestStatus::Pending), &[], audit(AuditAction::RequestCreate, "a1"), Timestamp(0)).await.unwrap();
    let first = vec!["boss@x.io".to_string()];
    assert!(s.record_approval("a1", &[], &first, audit(AuditAction::RequestApprovePartial, "a1"), Timestamp(1)).await.unwrap());
    // Someone who saw no approvals loses the race: nothing is written.
    let other = vec!["dba@x.io".to_string()];
    assert!(!s.record_approval("a1", &[], &other, audit(AuditAction::RequestApprovePartial, "a1"), Timestamp(2)).await.unwrap());
    assert_eq!(s.get_request("a1").await.unwrap().unwrap().approvals, first);
    let both = vec!["boss@x.io".to_string(), "dba@x.io".to_string()];
    assert!(s.record_approval("a1", &first, &both, audit(AuditAction::RequestApprovePartial, "a1"), Timestamp(3)).await.unwrap());
    assert_eq!(s.get_request("a1").await.unwrap().unwrap().approvals, both);
    let partial = s.list_audit(0, Some("a1"), 100).await.unwrap().iter().filter(|e| e.fields.action == "request.approve.partial").count();
    assert_eq!(partial, 2, "one entry per recorded approval, none for the lost race");
    // Not once the request has moved on.
    let reject = change(step("a1", RequestStatus::Pending, None, Event::Rejected { by: "boss@x.io".into(), reason: None }, 4));
    assert!(s.apply(&reject, Timestamp(4)).await.unwrap().is_ok());
    assert!(!s.record_approval("a1", &both, &both, audit(AuditAction::RequestApprovePartial, "a1"), Timestamp(5)).await.unwrap());
}
both!(one_approval_of_several_is_compare_and_set);

/// The worker's own handle sees what the API's handle wrote, and the other
/// way round; each reads at once what it has just written itself (reads run
/// on other connections than writes on SQLite).
async fn a_dedicated_handle_shares_the_store(url: &str, s: Store) {
    let worker = s.connect_dedicated(url).await.unwrap();
    s.insert_request(&req("d1", RequestStatus::Pending), &[], audit(AuditAction::RequestCreate, "d1"), Timestamp(0)).await.unwrap();
    assert_eq!(worker.get_request("d1").await.unwrap().unwrap().status, RequestStatus::Pending);
    assert_eq!(s.get_request("d1").await.unwrap().unwrap().status, RequestStatus::Pending);
    worker.insert_request(&req("d2", RequestStatus::Pending), &[], audit(AuditAction::RequestCreate, "d2"), Timestamp(1)).await.unwrap();
    assert_eq!(s.get_request("d2").await.unwrap().unwrap().status, RequestStatus::Pending);
    assert_eq!(worker.get_request("d2").await.unwrap().unwrap().status, RequestStatus::Pending);
    worker.close().await;
}

#[tokio::test]
async fn a_dedicated_handle_shares_the_store_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("sesame-store-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("s.db").display());
    a_dedicated_handle_shares_the_store(&url, Store::connect(&url).await.unwrap()).await;
}

#[tokio::test]
async fn a_dedicated_handle_shares_the_store_on_postgres() {
    let (store, db) = postgres().await;
    a_dedicated_handle_shares_the_store(&format!("{}/{db}", pg_admin_url()), store.clone()).await;
    drop_db(store, db).await;
}

/// A sign-in under way is taken once; a replay finds nothing; an expired
/// one is gone. A sign-in records who and their session token in one
/// commit; people are listed by their latest sign-in; sign-out ends a
/// session, and a session's token expires with it.
async fn sign_ins_are_used_once_and_last_their_session(s: Store) {
    s.put_signin_pending("h1", "code", "{\"nonce\":\"n'1\"}", Timestamp(1_000), Timestamp(0)).await.unwrap();
    s.put_signin_pending("h2", "device", "{}", Timestamp(50), Timestamp(0)).await.unwrap();
    assert_eq!(s.signin_pending("h1", "device", Timestamp(1)).await.unwrap(), None, "the kind is part of the key");
    assert_eq!(s.signin_pending("h2", "device", Timestamp(1)).await.unwrap().as_deref(), Some("{}"), "a device code stays while polled");
    assert_eq!(s.take_signin_pending("h1", "code", Timestamp(2)).await.unwrap().as_deref(), Some("{\"nonce\":\"n'1\"}"));
    assert_eq!(s.take_signin_pending("h1", "code", Timestamp(3)).await.unwrap(), None, "a replayed state finds nothing");
    assert_eq!(s.take_signin_pending("h2", "device", Timestamp(60)).await.unwrap(), None, "expired");

    let who = SignedIn { email: "ann@x.io".into(), subject: "sub-1".into(), name: Some("Ann O'Neil".into()), groups: vec!["eng".into(), "a\"b".into()], until: Timestamp(10_000) };
    assert_eq!(s.signin_stamp(Timestamp(0)).await.unwrap().0, 0);
    s.sign_in(&who, "tokhash1", "oidc browser session", audit(AuditAction::SignIn, ""), Timestamp(5)).await.unwrap();
    assert_eq!(s.user_for_token("tokhash1", Timestamp(6)).await.unwrap().as_deref(), Some("ann@x.io"));
    assert_eq!(s.signins(Timestamp(4)).await.unwrap(), vec![who.clone()]);
    assert_eq!(s.signin_stamp(Timestamp(4)).await.unwrap(), (1, 5));
    assert!(s.signins(Timestamp(5)).await.unwrap().is_empty(), "signed in at 5, not after");
    // Signing in again replaces what the provider said before.
    let again = SignedIn { groups: vec!["ops".into()], until: Timestamp(20_000), ..who.clone() };
    s.sign_in(&again, "tokhash2", "oidc device session", audit(AuditAction::SignIn, ""), Timestamp(7)).await.unwrap();
    assert_eq!(s.signins(Timestamp(0)).await.unwrap(), vec![again]);
    assert_eq!(s.signin_stamp(Timestamp(0)).await.unwrap(), (1, 7));
    assert_eq!(s.user_for_token("tokhash2", Timestamp(20_001)).await.unwrap(), None, "the session token expires with it");
    assert!(s.sign_out("tokhash1", audit(AuditAction::SignOut, ""), Timestamp(9)).await.unwrap());
    assert!(!s.sign_out("tokhash1", audit(AuditAction::SignOut, ""), Timestamp(9)).await.unwrap(), "once");
    assert_eq!(s.user_for_token("tokhash1", Timestamp(10)).await.unwrap(), None);
    assert_eq!(s.user_for_token("tokhash2", Timestamp(10)).await.unwrap().as_deref(), Some("ann@x.io"), "other sessions go on");
}
both!(sign_ins_are_used_once_and_last_their_session);

/// Every public function of the store is called somewhere in this suite.
#[test]
fn every_store_function_is_in_the_suite() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let suite = include_str!("store_suite.rs");
    let mut missing = Vec::new();
    let mut seen = 0;
    for e in std::fs::read_dir(&src).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for rest in text.split("pub async fn ").skip(1) {
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            seen += 1;
            if !suite.contains(&format!(".{name}(")) && !suite.contains(&format!("::{name}(")) {
                missing.push(name);
            }
        }
    }
    assert!(seen > 30, "read only {seen} store functions from {}", src.display());
    assert!(missing.is_empty(), "store functions no test calls: {missing:?}");
}

/// A request granted at once: inserted with its grant job claimed in the
/// same commit, under a lease like a worker's claim.
async fn a_request_can_be_inserted_with_its_due_jobs_claimed(s: Store) {
    let jobs = [
        NewJob { kind: JobKind::Grant, request_id: "i1".into(), run_at: Timestamp(10) },
        NewJob { kind: JobKind::Revoke, request_id: "i1".into(), run_at: Timestamp(60_010) },
    ];
    let claimed = s.insert_request_claiming(&req("i1", RequestStatus::Granting), &jobs, audit(AuditAction::RequestCreate, "i1"), Timestamp(10), Lease { owner: "api-1", ms: 30_000 }, None).await.unwrap();
    assert_eq!(claimed.len(), 1, "only the job due now: {claimed:?}");
    assert_eq!((claimed[0].kind, claimed[0].attempts, claimed[0].failures), (JobKind::Grant, 1, 0));
    assert!(s.job_in_flight(&claimed[0].id, Timestamp(11)).await.unwrap(), "held under its lease");
    assert!(s.claim_jobs("w1", Timestamp(11), 30_000, 10).await.unwrap().is_empty(), "no worker takes it meanwhile");
    assert_eq!(s.get_request("i1").await.unwrap().unwrap().status, RequestStatus::Granting);
    assert_eq!(s.list_audit(0, Some("i1"), 10).await.unwrap().len(), 1);
    // The claimer died: when the lease runs out, a worker runs it again.
    let again = s.claim_jobs("w1", Timestamp(30_011), 30_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id.as_str(), again[0].attempts), (claimed[0].id.as_str(), 2));
    // Nothing due: nothing claimed.
    let later = [NewJob { kind: JobKind::Grant, request_id: "i2".into(), run_at: Timestamp(99) }];
    assert!(s.insert_request_claiming(&req("i2", RequestStatus::Granting), &later, audit(AuditAction::RequestCreate, "i2"), Timestamp(10), Lease { owner: "api-1", ms: 30_000 }, None).await.unwrap().is_empty());
    // Credentials asked for with the request: marked shown and audited in
    // the same commit, after the request's own entry, on one chain.
    let jobs = [NewJob { kind: JobKind::Grant, request_id: "i3".into(), run_at: Timestamp(10) }];
    let shown = audit(AuditAction::CredentialsCreate, "i3");
    assert_eq!(s.insert_request_claiming(&req("i3", RequestStatus::Granting), &jobs, audit(AuditAction::RequestCreate, "i3"), Timestamp(10), Lease { owner: "api-1", ms: 30_000 }, Some(shown)).await.unwrap().len(), 1);
    let r = s.get_request("i3").await.unwrap().unwrap();
    assert_eq!((r.credentials_shown_at, r.credentials_created_at), (Some(Timestamp(10)), Some(Timestamp(10))));
    assert!(!s.mark_credentials_shown("i3", Timestamp(11)).await.unwrap(), "shown already: a reveal is refused");
    let entries = s.list_audit(0, Some("i3"), 10).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.fields.action.as_str()).collect();
    assert_eq!(actions, ["request.create", "credentials.create"]);
    let rows = s.list_audit(0, None, 1000).await.unwrap();
    sesame_core::audit::verify_chain(rows.iter().map(|r| (&r.fields, r.prev_hash.as_str(), r.hash.as_str()))).unwrap();
    // The grant did not show them: the mark goes, a reveal may make them.
    s.clear_credentials_shown("i3", None).await.unwrap();
    assert!(s.mark_credentials_shown("i3", Timestamp(12)).await.unwrap());
}
both!(a_request_can_be_inserted_with_its_due_jobs_claimed);

/// SQLite's writer writes on the chain's head it knew: when another process
/// appended to the same file meanwhile, that head is stale. The write made
/// on it is refused whole (its seq is taken) and made again on the head
/// read under the write lock: one chain, no entry lost or doubled. A
/// compare-and-set written on facts not read is refused the same way when
/// they are not as hoped, and nothing of it stays.
#[tokio::test]
async fn a_stale_audit_head_never_forks_the_chain_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("sesame-store-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("s.db").display());
    let (a, b) = (Store::connect(&url).await.unwrap(), Store::connect(&url).await.unwrap());
    let lease = Lease { owner: "api-1", ms: 30_000 };
    let due = |id: &str| [NewJob { kind: JobKind::Grant, request_id: id.into(), run_at: Timestamp(10) }];
    // `a` reads the head once, then writes on what it knows.
    for id in ["h1", "h2"] {
        a.insert_request_claiming(&req(id, RequestStatus::Granting), &due(id), audit(AuditAction::RequestCreate, id), Timestamp(10), lease, None).await.unwrap();
    }
    // Another process appends: `a`'s head is behind by two.
    b.append_audit(audit(AuditAction::TokenIssue, "b1"), Timestamp(11)).await.unwrap();
    b.insert_request(&req("b2", RequestStatus::Pending), &[], audit(AuditAction::RequestCreate, "b2"), Timestamp(11)).await.unwrap();
    let granted = |id: &str| change(step(id, RequestStatus::Granting, Some(1_000_000), Event::GrantSucceeded, 12));
    assert!(a.apply(&granted("h1"), Timestamp(12)).await.unwrap().is_ok(), "made again on the head read");
    a.insert_request_claiming(&req("h3", RequestStatus::Granting), &due("h3"), audit(AuditAction::RequestCreate, "h3"), Timestamp(13), lease, None).await.unwrap();
    // On facts not as hoped (h1 is Active now): refused, nothing written.
    assert_eq!(a.apply(&granted("h1"), Timestamp(14)).await.unwrap(), Err(Some(RequestStatus::Active)));
    assert!(a.apply(&granted("h2"), Timestamp(14)).await.unwrap().is_ok());
    b.append_audit(audit(AuditAction::TokenIssue, "b3"), Timestamp(15)).await.unwrap();
    let rows = a.list_audit(0, None, 100).await.unwrap();
    let seqs: Vec<i64> = rows.iter().map(|r| r.fields.seq).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>(), "every entry once, in one run of seqs");
    let per_request: Vec<(&str, &str)> = rows.iter().map(|r| (r.fields.request_id.as_deref().unwrap_or_default(), r.fields.action.as_str())).collect();
    assert_eq!(per_request.iter().filter(|(id, _)| *id == "h1").count(), 2, "h1: created and granted once: {per_request:?}");
    sesame_core::audit::verify_chain(rows.iter().map(|r| (&r.fields, r.prev_hash.as_str(), r.hash.as_str()))).unwrap();
    for (id, status) in [("h1", RequestStatus::Active), ("h2", RequestStatus::Active), ("h3", RequestStatus::Granting), ("b2", RequestStatus::Pending)] {
        assert_eq!(b.get_request(id).await.unwrap().unwrap().status, status, "{id}");
    }
    a.close().await;
    b.close().await;
}

both!(access_scopes_are_created_changed_and_deleted_with_their_audit);

/// Scopes: names are unique, a change keeps who made it first, and each
/// change writes its audit entry in the same transaction.
async fn access_scopes_are_created_changed_and_deleted_with_their_audit(s: Store) {
    use sesame_store::ScopeRow;
    let scope_audit = |a: AuditAction| AuditDraft::new("ann@x.io", a, None, Outcome::Ok, serde_json::json!({"scope": "prod's \"dbs\""}));
    let row = ScopeRow {
        name: "prod's \"dbs\"".into(),
        query: r#"resource_name contains "prod""#.into(),
        created_by: "ann@x.io".into(),
        created_at: Timestamp(10),
        updated_at: Timestamp(10),
    };
    assert!(s.create_scope(&row, scope_audit(AuditAction::ScopeCreate)).await.unwrap());
    let again = ScopeRow { query: "x".into(), ..row.clone() };
    assert!(!s.create_scope(&again, scope_audit(AuditAction::ScopeCreate)).await.unwrap(), "the name is taken");
    assert_eq!(s.scope(&row.name).await.unwrap(), Some(row.clone()));
    assert!(s.update_scope(&row.name, r#"resource_name contains "prd""#, scope_audit(AuditAction::ScopeUpdate), Timestamp(20)).await.unwrap());
    assert!(!s.update_scope("nope", "x", scope_audit(AuditAction::ScopeUpdate), Timestamp(20)).await.unwrap());
    let changed = s.scopes().await.unwrap();
    assert_eq!(changed, vec![ScopeRow { query: r#"resource_name contains "prd""#.into(), updated_at: Timestamp(20), ..row.clone() }]);
    assert!(s.delete_scope(&row.name, scope_audit(AuditAction::ScopeDelete), Timestamp(30)).await.unwrap());
    assert!(!s.delete_scope(&row.name, scope_audit(AuditAction::ScopeDelete), Timestamp(30)).await.unwrap());
    assert!(s.scopes().await.unwrap().is_empty());
    let actions: Vec<String> = s.list_audit(0, None, 100).await.unwrap().into_iter().map(|a| a.fields.action).collect();
    assert_eq!(actions, ["scope.create", "scope.update", "scope.delete"], "one entry per change that happened");
}

both!(access_held_is_read_from_the_grants_and_revokes_done);

/// Who held access: requests whose grant was done, from then until their
/// revoke was done; a request never granted is not in it.
async fn access_held_is_read_from_the_grants_and_revokes_done(s: Store) {
    for (id, requester) in [("h1", "ann@x.io"), ("h2", "bob@x.io"), ("h3", "ann@x.io")] {
        let mut r = req(id, RequestStatus::Granting);
        r.requester = requester.into();
        s.insert_request(&r, &[], audit(AuditAction::RequestCreate, id), Timestamp(1)).await.unwrap();
    }
    s.append_audit(audit(AuditAction::GrantDone, "h2"), Timestamp(20)).await.unwrap();
    s.append_audit(audit(AuditAction::GrantDone, "h1"), Timestamp(10)).await.unwrap();
    s.append_audit(audit(AuditAction::RevokeDone, "h1"), Timestamp(30)).await.unwrap();
    let held = s.access_held(None, None).await.unwrap();
    let got: Vec<(&str, i64, Option<i64>)> = held.iter().map(|h| (h.request.id.as_str(), h.granted_at.0, h.ended_at.map(|t| t.0))).collect();
    assert_eq!(got, [("h1", 10, Some(30)), ("h2", 20, None)], "h3 never reached its target");
    let anns = s.access_held(Some("ann@x.io"), Some("pg")).await.unwrap();
    assert_eq!(anns.iter().map(|h| h.request.id.as_str()).collect::<Vec<_>>(), ["h1"]);
    assert!(s.access_held(None, Some("other")).await.unwrap().is_empty());
}

both!(escalation_widens_approvers_compare_and_set);

/// Escalation widens the parts of a pending request it saw, and only those:
/// a request that moved on, or parts that changed meanwhile, are left alone.
async fn escalation_widens_approvers_compare_and_set(s: Store) {
    use sesame_core::ApprovalPart;
    let mut r = req("e1", RequestStatus::Pending);
    r.approval_parts = vec![ApprovalPart { resources: vec!["t".into()], approvers: vec!["lead@x.io".into()] }];
    r.approvers = vec!["lead@x.io".into()];
    s.insert_request(&r, &[], audit(AuditAction::RequestCreate, "e1"), Timestamp(0)).await.unwrap();
    let wider = vec![ApprovalPart { resources: vec!["t".into()], approvers: vec!["cto@x.io".into(), "lead@x.io".into()] }];
    assert!(s.widen_approvers("e1", &r.approval_parts, &wider, audit(AuditAction::RequestEscalate, "e1"), Timestamp(1)).await.unwrap());
    let got = s.get_request("e1").await.unwrap().unwrap();
    assert_eq!((got.approval_parts, got.approvers), (wider.clone(), vec!["cto@x.io".to_string(), "lead@x.io".to_string()]));
    assert!(!s.widen_approvers("e1", &r.approval_parts, &wider, audit(AuditAction::RequestEscalate, "e1"), Timestamp(2)).await.unwrap(), "it saw parts that are gone");
    let reject = change(step("e1", RequestStatus::Pending, None, Event::Rejected { by: "lead@x.io".into(), reason: None }, 3));
    assert!(s.apply(&reject, Timestamp(3)).await.unwrap().is_ok());
    assert!(!s.widen_approvers("e1", &wider, &wider, audit(AuditAction::RequestEscalate, "e1"), Timestamp(4)).await.unwrap(), "not once answered");
    let escalations = s.list_audit(0, Some("e1"), 100).await.unwrap().iter().filter(|e| e.fields.action == "request.escalate").count();
    assert_eq!(escalations, 1);
    // A request stored before parts existed is read as one part of its
    // approvers, and widens from what was read.
    s.insert_request(&req("e2", RequestStatus::Pending), &[], audit(AuditAction::RequestCreate, "e2"), Timestamp(0)).await.unwrap();
    s.raw_execute("UPDATE requests SET approval_parts = NULL WHERE id = 'e2'").await.unwrap();
    let read = s.get_request("e2").await.unwrap().unwrap().approval_parts;
    let wider: Vec<ApprovalPart> = read.iter().map(|p| ApprovalPart { approvers: [p.approvers.clone(), vec!["cto@x.io".into()]].concat(), ..p.clone() }).collect();
    assert!(s.widen_approvers("e2", &read, &wider, audit(AuditAction::RequestEscalate, "e2"), Timestamp(1)).await.unwrap());
    assert_eq!(s.get_request("e2").await.unwrap().unwrap().approval_parts, wider);
}

both!(an_extension_moves_deadline_and_revoke_job_and_grants_again);

/// An extension moves an Active grant's deadline and its revoke job, makes
/// the extend job due now (again, for a second extension), counts itself,
/// and is refused for a request that moved on or a deadline it did not see.
async fn an_extension_moves_deadline_and_revoke_job_and_grants_again(s: Store) {
    let mut r = req("x1", RequestStatus::Active);
    r.deadline = Some(Timestamp(60_000));
    let jobs = [NewJob { kind: JobKind::Revoke, request_id: "x1".into(), run_at: Timestamp(60_000) }];
    s.insert_request(&r, &jobs, audit(AuditAction::RequestCreate, "x1"), Timestamp(0)).await.unwrap();
    let ext = |was: i64, until: i64, now: i64| match step("x1", RequestStatus::Active, Some(was), Event::ExtendAsked { by: "ann@x.io".into(), until: Timestamp(until), reason: None }, now) {
        Step::Extend(x) => x,
        other => panic!("{other:?}"),
    };
    assert!(s.extend(&ext(60_000, 90_000, 10_000), Timestamp(10_000)).await.unwrap());
    let got = s.get_request("x1").await.unwrap().unwrap();
    assert_eq!((got.deadline, got.extensions), (Some(Timestamp(90_000)), 1));
    // Only the extend job is due now; the revoke job waits for the new deadline.
    let due = s.claim_jobs("w", Timestamp(10_001), 1_000, 10).await.unwrap();
    assert_eq!(due.iter().map(|j| j.kind).collect::<Vec<_>>(), [JobKind::Extend]);
    s.finish_job(&due[0].id, Timestamp(10_002)).await.unwrap();
    assert!(s.claim_jobs("w", Timestamp(89_999), 1_000, 10).await.unwrap().is_empty(), "the revoke job moved to the new deadline");
    // A second extension revives the finished extend job.
    assert!(!s.extend(&ext(60_000, 120_000, 20_000), Timestamp(20_000)).await.unwrap(), "it saw a deadline that moved");
    assert!(s.extend(&ext(90_000, 120_000, 20_000), Timestamp(20_000)).await.unwrap());
    let due = s.claim_jobs("w", Timestamp(20_001), 1_000, 10).await.unwrap();
    assert_eq!((due.len(), due[0].kind, due[0].attempts), (1, JobKind::Extend, 1));
    assert_eq!(s.get_request("x1").await.unwrap().unwrap().extensions, 2);
    let revoke = change(step("x1", RequestStatus::Active, Some(120_000), Event::RevokeAsked { by: "ann@x.io".into(), reason: None }, 30_000));
    assert!(s.apply(&revoke, Timestamp(30_000)).await.unwrap().is_ok());
    assert!(!s.extend(&ext(120_000, 150_000, 30_001), Timestamp(30_001)).await.unwrap(), "not once revoking");
    let n = s.list_audit(0, Some("x1"), 100).await.unwrap().iter().filter(|e| e.fields.action == "request.extend").count();
    assert_eq!(n, 2, "one audit entry per extension");
}

both!(a_grant_that_lands_late_moves_its_revoke_job_and_grants_again);

/// A grant that became Active long after approval: its deadline and revoke
/// job move to a whole window from then, and an extend job is due now.
async fn a_grant_that_lands_late_moves_its_revoke_job_and_grants_again(s: Store) {
    let mut r = req("l1", RequestStatus::Granting);
    r.deadline = Some(Timestamp(1_000_000));
    let jobs = [NewJob { kind: JobKind::Revoke, request_id: "l1".into(), run_at: Timestamp(1_000_000) }];
    s.insert_request(&r, &jobs, audit(AuditAction::RequestCreate, "l1"), Timestamp(5)).await.unwrap();
    let late = change(step("l1", RequestStatus::Granting, Some(1_000_000), Event::GrantSucceeded, 200_000));
    assert!(s.apply(&late, Timestamp(200_000)).await.unwrap().is_ok());
    let got = s.get_request("l1").await.unwrap().unwrap();
    assert_eq!((got.status, got.deadline), (RequestStatus::Active, Some(Timestamp(200_000 + 999_995))));
    let due = s.claim_jobs("w", Timestamp(200_001), 1_000, 10).await.unwrap();
    assert_eq!(due.iter().map(|j| j.kind).collect::<Vec<_>>(), [JobKind::Extend], "the re-grant is due now");
    s.finish_job(&due[0].id, Timestamp(200_002)).await.unwrap();
    assert!(s.claim_jobs("w", Timestamp(1_199_994), 1_000, 10).await.unwrap().is_empty(), "the revoke job moved to the new deadline");
    assert_eq!(s.claim_jobs("w", Timestamp(1_199_995), 1_000, 10).await.unwrap()[0].kind, JobKind::Revoke);
}

both!(scim_resources_are_unique_by_name_versioned_and_audited);

/// SCIM resources: unique per kind by name (another kind may share it), a
/// replace bumps the version, a missing one is said, every change audited.
async fn scim_resources_are_unique_by_name_versioned_and_audited(s: Store) {
    let a = |id: &str| AuditDraft::new("scim", AuditAction::ScimChange, None, Outcome::Ok, serde_json::json!({ "id": id }));
    let stamp = s.scim_stamp().await.unwrap();
    let put = |id: &'static str, key: &'static str, body: &'static str, create: bool, now: i64| {
        let s = s.clone();
        async move { s.put_scim(ScimPut { kind: "User", id, name_key: key, body, version: None }, create, &a(id), Timestamp(now)).await.unwrap() }
    };
    let ScimWrite::Done(u) = put("u1", "ann@x.io", r#"{"userName":"Ann@x.io"}"#, true, 10).await else { panic!("created") };
    assert_eq!((u.version, u.created_at, u.updated_at), (1, Timestamp(10), Timestamp(10)));
    assert_eq!(put("u2", "ann@x.io", "{}", true, 11).await, ScimWrite::NameTaken, "userName is unique");
    assert_eq!(put("u1", "other", "{}", true, 11).await, ScimWrite::NameTaken, "so is the id");
    assert!(matches!(s.put_scim(ScimPut { kind: "Group", id: "g1", name_key: "ann@x.io", body: "{}", version: None }, true, &a("g1"), Timestamp(12)).await.unwrap(), ScimWrite::Done(_)), "per kind");
    let ScimWrite::Done(u) = put("u1", "ann@x.io", r#"{"userName":"ann@x.io","active":false}"#, false, 20).await else { panic!("replaced") };
    assert_eq!((u.version, u.created_at, u.updated_at, u.body.contains("false")), (2, Timestamp(10), Timestamp(20), true));
    assert_eq!(put("nope", "x", "{}", false, 21).await, ScimWrite::Missing);
    // A replace of what was read at version 1 finds version 2: refused.
    let stale = ScimPut { kind: "User", id: "u1", name_key: "ann@x.io", body: "{}", version: Some(1) };
    assert_eq!(s.put_scim(stale, false, &a("u1"), Timestamp(22)).await.unwrap(), ScimWrite::Stale);
    assert!(matches!(s.put_scim(ScimPut { version: Some(2), ..stale }, false, &a("u1"), Timestamp(23)).await.unwrap(), ScimWrite::Done(r) if r.version == 3));
    assert_ne!(s.scim_stamp().await.unwrap(), stamp);
    assert_eq!(s.scim_resources("User").await.unwrap().len(), 1);
    assert_eq!(s.scim_resource("User", "u1").await.unwrap().unwrap().version, 3);
    assert!(s.delete_scim("User", "u1", &a("u1"), Timestamp(30)).await.unwrap());
    assert!(!s.delete_scim("User", "u1", &a("u1"), Timestamp(31)).await.unwrap());
    assert!(s.scim_resource("User", "u1").await.unwrap().is_none());
    let n = s.list_audit(0, None, 100).await.unwrap().iter().filter(|e| e.fields.action == "scim.change").count();
    assert_eq!(n, 5, "creates, replaces and delete audited; refusals not");
}

both!(declared_changes_apply_all_or_nothing);

/// `apply`: flows, bundles and scopes changed in one transaction with an
/// audit entry each; one change that finds the store otherwise undoes all.
async fn declared_changes_apply_all_or_nothing(s: Store) {
    use sesame_store::{Declared, DefinitionRow, ScopeRow};
    let a = |n: &str| AuditDraft::new("admin@x.io", AuditAction::FlowCreate, None, Outcome::Ok, serde_json::json!({ "name": n }));
    let def = |kind: &str, name: &str| DefinitionRow { kind: kind.into(), name: name.into(), body: "{}".into(), created_by: "admin@x.io".into(), created_at: Timestamp(1), updated_at: Timestamp(1), retiring_since: None };
    let scope = ScopeRow { name: "s1".into(), query: "resource = \"x\"".into(), created_by: "admin@x.io".into(), created_at: Timestamp(1), updated_at: Timestamp(1) };
    let first = [
        (Declared::PutDefinition { row: def("flow", "f1"), create: true }, a("f1")),
        (Declared::PutDefinition { row: def("bundle", "b1"), create: true }, a("b1")),
        (Declared::CreateScope(scope.clone()), a("s1")),
    ];
    assert!(s.apply_declared(&first, Timestamp(2)).await.unwrap());
    assert_eq!((s.definitions().await.unwrap().len(), s.scopes().await.unwrap().len()), (2, 1));
    // The second op finds nothing to update: the first is undone too.
    let bad = [
        (Declared::UpdateScope { name: "s1".into(), query: "resource = \"y\"".into() }, a("s1")),
        (Declared::PutDefinition { row: def("flow", "missing"), create: false }, a("missing")),
    ];
    assert!(!s.apply_declared(&bad, Timestamp(3)).await.unwrap());
    assert_eq!(s.scope("s1").await.unwrap().unwrap().query, "resource = \"x\"", "all or nothing");
    let gone = [
        (Declared::DeleteDefinition { kind: "flow".into(), name: "f1".into() }, a("f1")),
        (Declared::DeleteScope { name: "s1".into() }, a("s1")),
        (Declared::PutDefinition { row: DefinitionRow { body: "{\"a\":1}".into(), ..def("bundle", "b1") }, create: false }, a("b1")),
    ];
    assert!(s.apply_declared(&gone, Timestamp(4)).await.unwrap());
    let defs = s.definitions().await.unwrap();
    assert_eq!((defs.len(), defs[0].body.as_str(), defs[0].updated_at), (1, "{\"a\":1}", Timestamp(4)));
    assert!(s.scopes().await.unwrap().is_empty());
    assert_eq!(s.list_audit(0, None, 100).await.unwrap().len(), 6, "one entry per applied change, none for the undone");
    // Retired once (the stamp moves); declared again, it is no longer retiring.
    let retire = [(Declared::Retire { kind: "bundle".into(), name: "b1".into() }, a("b1"))];
    assert!(s.apply_declared(&retire, Timestamp(5)).await.unwrap());
    assert_eq!(s.definitions().await.unwrap()[0].retiring_since, Some(Timestamp(5)));
    assert_eq!(s.definitions_stamp().await.unwrap(), (1, 5));
    assert!(!s.apply_declared(&retire, Timestamp(6)).await.unwrap(), "already retiring");
    let back = [(Declared::PutDefinition { row: def("bundle", "b1"), create: false }, a("b1"))];
    assert!(s.apply_declared(&back, Timestamp(7)).await.unwrap());
    assert_eq!(s.definitions().await.unwrap()[0].retiring_since, None);
    // Only what is still retiring is deleted as retired.
    let sweep = [(Declared::DeleteRetired { kind: "bundle".into(), name: "b1".into() }, a("b1"))];
    assert!(!s.apply_declared(&sweep, Timestamp(8)).await.unwrap(), "declared again: kept");
    assert!(s.apply_declared(&retire, Timestamp(9)).await.unwrap());
    assert!(s.apply_declared(&sweep, Timestamp(10)).await.unwrap());
    assert!(s.definitions().await.unwrap().is_empty());
}

both!(an_mfa_factor_is_enrolled_confirmed_used_once_and_reset);

/// One factor per person: replaced until a code confirms it, then kept; a
/// time step counts once; wrong codes are counted; an admin resets it.
async fn an_mfa_factor_is_enrolled_confirmed_used_once_and_reset(s: Store) {
    let who = "o'brien+ops@x.io";
    let a = |action| AuditDraft::new(who, action, None, Outcome::Ok, serde_json::json!({}));
    assert!(s.mfa_factor(who).await.unwrap().is_none());
    assert!(s.enroll_mfa(who, "sealed-1", a(AuditAction::MfaEnroll), Timestamp(1)).await.unwrap());
    assert!(s.enroll_mfa(who, "sealed-2", a(AuditAction::MfaEnroll), Timestamp(2)).await.unwrap(), "an unconfirmed enrolment is replaced");
    assert!(s.mfa_failed(who, a(AuditAction::MfaVerify), Timestamp(3)).await.unwrap());
    let f = s.mfa_factor(who).await.unwrap().unwrap();
    assert_eq!((f.sealed.as_str(), f.confirmed_at, f.failures, f.failed_at), ("sealed-2", None, 1, Some(Timestamp(3))));
    assert!(s.mfa_accepted(who, 100, a(AuditAction::MfaVerify), Timestamp(4)).await.unwrap());
    assert!(!s.mfa_accepted(who, 100, a(AuditAction::MfaVerify), Timestamp(5)).await.unwrap(), "a step counts once");
    assert!(!s.mfa_accepted(who, 99, a(AuditAction::MfaVerify), Timestamp(5)).await.unwrap(), "and no earlier one after it");
    let f = s.mfa_factor(who).await.unwrap().unwrap();
    assert_eq!((f.confirmed_at, f.stepped_up_at, f.last_step, f.failures), (Some(Timestamp(4)), Some(Timestamp(4)), 100, 0));
    assert!(!s.enroll_mfa(who, "sealed-3", a(AuditAction::MfaEnroll), Timestamp(6)).await.unwrap(), "a confirmed factor is kept");
    assert_eq!(s.mfa_factor(who).await.unwrap().unwrap().sealed, "sealed-2");
    assert!(s.reset_mfa(who, a(AuditAction::MfaReset), Timestamp(7)).await.unwrap());
    assert!(!s.reset_mfa(who, a(AuditAction::MfaReset), Timestamp(8)).await.unwrap());
    assert!(s.enroll_mfa(who, "sealed-4", a(AuditAction::MfaEnroll), Timestamp(9)).await.unwrap(), "after a reset, enrol again");
    let actions: Vec<String> = s.list_audit(0, None, 100).await.unwrap().iter().map(|e| e.fields.action.clone()).collect();
    assert_eq!(actions.iter().filter(|a| a.starts_with("mfa.")).count(), 6, "every change audited, refusals not: {actions:?}");
}

both!(a_bundles_grants_are_written_and_changed_together);

/// A bundle request's grants: written in one transaction, read as a group,
/// changed all or none (one that moved on stops them all), and a grant
/// still being made has its revoke job brought forward.
async fn a_bundles_grants_are_written_and_changed_together(s: Store) {
    let grant = |id: &str| {
        let mut r = req(id, RequestStatus::Pending);
        r.bundle = Some(("month-end".into(), "bnd_1".into()));
        let jobs = vec![NewJob { kind: JobKind::Expire, request_id: id.into(), run_at: Timestamp(10_000) }];
        (r, jobs, audit(AuditAction::RequestCreate, id))
    };
    s.insert_requests(&[grant("b1"), grant("b2")], Timestamp(0)).await.unwrap();
    let group = s.bundle_requests("bnd_1").await.unwrap();
    assert_eq!(group.iter().map(|r| (r.id.as_str(), r.bundle.clone())).collect::<Vec<_>>(), [("b1", Some(("month-end".to_string(), "bnd_1".to_string()))), ("b2", Some(("month-end".to_string(), "bnd_1".to_string())))]);
    assert!(s.bundle_requests("bnd_2").await.unwrap().is_empty());
    let approve = |id: &str| change(step(id, RequestStatus::Pending, None, Event::Approved { by: "boss@x.io".into(), reason: None }, 5));
    // b2 moved on: neither is approved.
    let reject = change(step("b2", RequestStatus::Pending, None, Event::Rejected { by: "boss@x.io".into(), reason: None }, 4));
    let mut both = vec![approve("b1"), approve("b2")];
    s.apply(&reject, Timestamp(4)).await.unwrap().unwrap();
    assert_eq!(s.apply_all(&both, Timestamp(5)).await.unwrap(), Err(("b2".to_string(), Some(RequestStatus::Rejected))));
    assert_eq!(s.get_request("b1").await.unwrap().unwrap().status, RequestStatus::Pending, "all or none");
    both.truncate(1);
    s.apply_all(&both, Timestamp(5)).await.unwrap().unwrap();
    assert_eq!(s.get_request("b1").await.unwrap().unwrap().status, RequestStatus::Granting);
    // The revoke job, due at the deadline, is brought forward and audited.
    assert!(s.revoke_now("b1", audit(AuditAction::BundleRollback, "b1"), Timestamp(6)).await.unwrap());
    let due = s.claim_jobs("w", Timestamp(6), 1_000, 10).await.unwrap();
    assert!(due.iter().any(|j| j.kind == JobKind::Revoke && j.request_id == "b1"), "{due:?}");
    assert!(!s.revoke_now("b2", audit(AuditAction::BundleRollback, "b2"), Timestamp(7)).await.unwrap(), "nothing to bring forward");
}

both!(an_extension_waits_for_approval_compare_and_set);

/// An extension asked of an Active request is recorded once, answered by
/// compare-and-set on what was seen, and cleared when it is applied.
async fn an_extension_waits_for_approval_compare_and_set(s: Store) {
    use sesame_store::ExtensionAsked;
    let mut r = req("w1", RequestStatus::Active);
    r.deadline = Some(Timestamp(60_000));
    s.insert_request(&r, &[], audit(AuditAction::RequestCreate, "w1"), Timestamp(0)).await.unwrap();
    let ask = ExtensionAsked { until: Timestamp(90_000), by: "ann@x.io".into(), reason: Some("more".into()), approvals: vec![] };
    assert!(s.set_extension_asked("w1", None, Some(&ask), audit(AuditAction::RequestExtendAsk, "w1"), Timestamp(1)).await.unwrap());
    assert!(!s.set_extension_asked("w1", None, Some(&ask), audit(AuditAction::RequestExtendAsk, "w1"), Timestamp(2)).await.unwrap(), "one at a time");
    assert_eq!(s.get_request("w1").await.unwrap().unwrap().extension_asked, Some(ask.clone()));
    let approved = ExtensionAsked { approvals: vec!["boss@x.io".into()], ..ask.clone() };
    assert!(s.set_extension_asked("w1", Some(&ask), Some(&approved), audit(AuditAction::RequestApprovePartial, "w1"), Timestamp(3)).await.unwrap());
    assert!(!s.set_extension_asked("w1", Some(&ask), None, audit(AuditAction::RequestExtendReject, "w1"), Timestamp(4)).await.unwrap(), "it saw an answer that is gone");
    let x = match step("w1", RequestStatus::Active, Some(60_000), Event::ExtendAsked { by: "boss@x.io".into(), until: Timestamp(90_000), reason: None }, 5) {
        Step::Extend(x) => x,
        other => panic!("{other:?}"),
    };
    assert!(s.extend(&x, Timestamp(5)).await.unwrap());
    let got = s.get_request("w1").await.unwrap().unwrap();
    assert_eq!((got.extension_asked, got.deadline), (None, Some(Timestamp(90_000))), "applied: nothing waits");
}

both!(definitions_are_created_replaced_and_deleted_with_their_audit);

/// Flows and bundles made through the API: one per kind and name, replaced
/// and deleted only when there, each change audited; the stamp moves.
async fn definitions_are_created_replaced_and_deleted_with_their_audit(s: Store) {
    use sesame_store::DefinitionRow;
    let a = |action| AuditDraft::new("admin@x.io", action, None, Outcome::Ok, serde_json::json!({}));
    assert_eq!(s.definitions_stamp().await.unwrap(), (0, 0));
    let row = |kind: &str, body: &str, at: i64| DefinitionRow { kind: kind.into(), name: "o'brien \"ops\"".into(), body: body.into(), created_by: "admin@x.io".into(), created_at: Timestamp(at), updated_at: Timestamp(at), retiring_since: None };
    assert!(s.put_definition(&row("flow", "{\"a\":1}", 10), true, a(AuditAction::FlowCreate)).await.unwrap());
    assert!(!s.put_definition(&row("flow", "{\"a\":2}", 11), true, a(AuditAction::FlowCreate)).await.unwrap(), "one of a kind and name");
    assert!(s.put_definition(&row("bundle", "{}", 12), true, a(AuditAction::BundleCreate)).await.unwrap(), "a bundle may share a flow's name");
    assert!(s.put_definition(&row("flow", "{\"a\":3}", 13), false, a(AuditAction::FlowUpdate)).await.unwrap());
    assert!(!s.put_definition(&row("nothing", "{}", 13), false, a(AuditAction::FlowUpdate)).await.unwrap(), "nothing to replace");
    let all = s.definitions().await.unwrap();
    assert_eq!(all.iter().map(|d| (d.kind.as_str(), d.body.as_str(), d.created_at.0, d.updated_at.0)).collect::<Vec<_>>(), [("bundle", "{}", 12, 12), ("flow", "{\"a\":3}", 10, 13)]);
    assert_eq!(s.definitions_stamp().await.unwrap(), (2, 13));
    assert!(s.delete_definition("flow", "o'brien \"ops\"", a(AuditAction::FlowDelete), Timestamp(14)).await.unwrap());
    assert!(!s.delete_definition("flow", "o'brien \"ops\"", a(AuditAction::FlowDelete), Timestamp(15)).await.unwrap());
    assert_eq!(s.definitions_stamp().await.unwrap(), (1, 12));
    let n = s.list_audit(0, None, 100).await.unwrap().iter().filter(|e| e.fields.action.starts_with("flow.") || e.fields.action.starts_with("bundle.")).count();
    assert_eq!(n, 4, "every change audited, refusals not");
}
