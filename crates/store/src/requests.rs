//! Requests (one grant each) and their status changes. Every change happens in
//! one transaction together with the jobs it schedules and its audit entry.

use crate::audit::append_in;
use sesame_core::AuditDraft;
use crate::batch::Batch;
use crate::transact::{Facts, Read, Then, Writer, CHECKED};
use crate::jobs::NewJob;
use sesame_core::lifecycle::{Durability, Transition};
use crate::pool::Engine;
use crate::{Result, Store, StoreError};
use sesame_core::{JobKind, RequestStatus, Timestamp};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct NewRequest {
    pub id: String,
    pub requester: String,
    pub integration: String,
    pub resource_type: String,
    pub resources: Vec<String>,
    pub permission: String,
    pub duration_ms: i64,
    pub justification: Option<String>,
    pub status: RequestStatus,
    pub flow: String,
    pub approvers: Vec<String>,
    /// Who must approve what (recorded when the request is made).
    pub approval_parts: Vec<sesame_core::ApprovalPart>,
    pub username: String,
    /// Set when the request is granted at once (automatic flow).
    pub deadline: Option<Timestamp>,
    /// One grant of a request for this bundle: (bundle name, group id).
    pub bundle: Option<(String, String)>,
    /// Who gets the access when not the requester.
    pub grantee: Option<String>,
}

impl NewRequest {
    /// The row [`Store::insert_request`] writes for it at `now`, so its
    /// writer need not read it back.
    pub fn stored_at(&self, now: Timestamp) -> RequestRow {
        RequestRow {
            id: self.id.clone(),
            requester: self.requester.clone(),
            integration: self.integration.clone(),
            resource_type: self.resource_type.clone(),
            resources: self.resources.clone(),
            permission: self.permission.clone(),
            duration_ms: self.duration_ms,
            justification: self.justification.clone(),
            status: self.status,
            flow: self.flow.clone(),
            approvers: self.approvers.clone(),
            approval_parts: self.approval_parts.clone(),
            approvals: vec![],
            decided_by: None,
            decision_reason: None,
            username: self.username.clone(),
            created_at: now,
            deadline: self.deadline,
            revoked_at: None,
            credentials_shown_at: None,
            credentials_created_at: None,
            job_failures: 0,
            last_error: None,
            extensions: 0,
            bundle: self.bundle.clone(),
            grantee: self.grantee.clone().unwrap_or_else(|| self.requester.clone()),
            extension_asked: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RequestRow {
    pub id: String,
    pub requester: String,
    pub integration: String,
    pub resource_type: String,
    pub resources: Vec<String>,
    pub permission: String,
    pub duration_ms: i64,
    pub justification: Option<String>,
    pub status: RequestStatus,
    pub flow: String,
    pub approvers: Vec<String>,
    /// Who must approve what; one part of everybody in `approvers` for
    /// requests made before parts existed.
    pub approval_parts: Vec<sesame_core::ApprovalPart>,
    /// Who approved so far (a part each, or more).
    pub approvals: Vec<String>,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    pub username: String,
    pub created_at: Timestamp,
    pub deadline: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub credentials_shown_at: Option<Timestamp>,
    /// When the current credentials were made (for rotation).
    pub credentials_created_at: Option<Timestamp>,
    /// Failures and last error of the newest unfinished job, if any.
    pub job_failures: i64,
    pub last_error: Option<String>,
    /// How many times the grant was extended.
    pub extensions: i64,
    /// One grant of a request for this bundle: (bundle name, group id).
    pub bundle: Option<(String, String)>,
    /// Who gets the access: the requester, or whom they asked for.
    pub grantee: String,
    /// An extension waiting for approval.
    pub extension_asked: Option<ExtensionAsked>,
}

/// An extension of Active access that its flow's approvers must approve.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExtensionAsked {
    pub until: Timestamp,
    pub by: String,
    pub reason: Option<String>,
    /// Who approved so far (a part each, as for the request).
    #[serde(default)]
    pub approvals: Vec<String>,
}

/// A request that held access, and for how long (`Store::access_held`).
#[derive(Debug, Clone)]
pub struct AccessHeld {
    pub request: RequestRow,
    pub granted_at: Timestamp,
    /// When the revoke was done; `None` while the access lasts.
    pub ended_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    /// Requests this person made or gets the access of.
    pub requester: Option<String>,
    /// Requests whose access this person gets.
    pub grantee: Option<String>,
    pub status: Option<RequestStatus>,
    pub integration: Option<String>,
    /// Requests this person is among the approvers of.
    pub approver: Option<String>,
    pub limit: Option<i64>,
}

const COLUMNS: &str = "r.id, r.requester, r.integration, r.resource_type, r.resources, r.permission, r.duration_ms, \
    r.justification, r.status, r.flow, r.approvers, r.approval_parts, r.approvals, r.decided_by, r.decision_reason, r.username, r.created_at, \
    r.deadline, r.revoked_at, r.credentials_shown_at, r.credentials_created_at, CAST(r.extensions AS BIGINT) AS extensions, r.bundle, r.bundle_request, COALESCE(r.grantee, r.requester) AS grantee, r.extension_asked, \
    (SELECT COALESCE(MAX(j.failures), 0) FROM jobs j WHERE j.request_id = r.id AND j.done_at IS NULL) AS job_failures, \
    COALESCE((SELECT j.last_error FROM jobs j WHERE j.request_id = r.id AND j.done_at IS NULL AND j.last_error IS NOT NULL \
     ORDER BY j.failures DESC LIMIT 1), r.failure_reason) AS last_error";

/// A LIKE pattern that matches the stored approver list (JSON) holding
/// `email` as one whole entry, whatever the case (compared lower-cased on
/// both sides): the e-mail as JSON writes it, quotes included, with LIKE's
/// own `%`, `_` and `\` escaped.
fn approver_pattern(email: &str) -> String {
    let quoted = serde_json::to_string(&email.to_lowercase()).unwrap_or_default();
    let mut p = String::from("%");
    for c in quoted.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn list_json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn row_to_request(row: &AnyRow) -> Result<RequestRow> {
    let corrupt = |m: String| StoreError::Corrupt { table: "requests", message: m };
    let list = |col: &str| -> Result<Vec<String>> {
        let raw: String = row.try_get(col)?;
        serde_json::from_str(&raw).map_err(|e| corrupt(format!("{col}: {e}")))
    };
    let ts = |col: &str| -> Result<Option<Timestamp>> { Ok(row.try_get::<Option<i64>, _>(col)?.map(Timestamp)) };
    let status: String = row.try_get("status")?;
    Ok(RequestRow {
        id: row.try_get("id")?,
        requester: row.try_get("requester")?,
        integration: row.try_get("integration")?,
        resource_type: row.try_get("resource_type")?,
        resources: list("resources")?,
        permission: row.try_get("permission")?,
        duration_ms: row.try_get("duration_ms")?,
        justification: row.try_get("justification")?,
        status: status.parse().map_err(|e| corrupt(format!("{e}")))?,
        flow: row.try_get("flow")?,
        approvers: list("approvers")?,
        approval_parts: match row.try_get::<Option<String>, _>("approval_parts")? {
            Some(raw) => serde_json::from_str(&raw).map_err(|e| corrupt(format!("approval_parts: {e}")))?,
            None => vec![sesame_core::ApprovalPart { resources: list("resources")?, approvers: list("approvers")? }],
        },
        approvals: match row.try_get::<Option<String>, _>("approvals")? {
            Some(raw) => serde_json::from_str(&raw).map_err(|e| corrupt(format!("approvals: {e}")))?,
            None => vec![],
        },
        decided_by: row.try_get("decided_by")?,
        decision_reason: row.try_get("decision_reason")?,
        username: row.try_get("username")?,
        created_at: Timestamp(row.try_get("created_at")?),
        deadline: ts("deadline")?,
        revoked_at: ts("revoked_at")?,
        credentials_shown_at: ts("credentials_shown_at")?,
        credentials_created_at: ts("credentials_created_at")?,
        job_failures: row.try_get("job_failures")?,
        last_error: row.try_get("last_error")?,
        extensions: row.try_get("extensions")?,
        bundle: match (row.try_get::<Option<String>, _>("bundle")?, row.try_get::<Option<String>, _>("bundle_request")?) {
            (Some(b), Some(g)) => Some((b, g)),
            _ => None,
        },
        grantee: row.try_get("grantee")?,
        extension_asked: match row.try_get::<Option<String>, _>("extension_asked")? {
            Some(raw) => Some(serde_json::from_str(&raw).map_err(|e| corrupt(format!("extension_asked: {e}")))?),
            None => None,
        },
    })
}

/// A status change inside an open transaction (compare-and-set on `from`):
/// `Err` with the status found when the request moved on.
/// The request's status under the write lock (PostgreSQL: locked for
/// update), as a column of a `SELECT`.
fn status_column(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "(SELECT status FROM requests WHERE id = $1) AS status",
        Engine::Postgres => "(SELECT status FROM requests WHERE id = $1 FOR UPDATE) AS status",
    }
}

/// Whether the request is in `c.from`; if not, the status it is in.
fn found_in(row: &AnyRow, c: &Transition) -> Result<std::result::Result<(), Option<RequestStatus>>> {
    let status: Option<String> = row.try_get("status")?;
    Ok(match status.as_deref() {
        Some(s) if s == c.from.as_str() => Ok(()),
        s => Err(s.and_then(|s| s.parse().ok())),
    })
}

/// Inside an open transaction: `c` if the request is still in `c.from`.
async fn apply_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, engine: Engine, c: &Transition, now: Timestamp) -> Result<Result<(), Option<RequestStatus>>> {
    let row = sqlx::query(&format!("SELECT {}", status_column(engine))).bind(&c.request_id).fetch_one(&mut **tx).await?;
    if let Err(found) = found_in(&row, c)? {
        return Ok(Err(found));
    }
    let mut batch = Batch::default();
    push_change(&mut batch, c, now, false);
    batch.run_in(tx, engine).await?;
    append_in(tx, engine, &c.audit, now).await?;
    Ok(Ok(()))
}

/// The statements of a transition found applicable (or, `checked`, taken to
/// be: the status's compare-and-set is then followed by [`CHECKED`]): the
/// status (still compared), then its jobs.
fn push_change(b: &mut Batch, c: &Transition, now: Timestamp, checked: bool) {
    b.push(
        "UPDATE requests SET status = $1, updated_at = $2, \
         decided_by = COALESCE($3, decided_by), decision_reason = COALESCE($4, decision_reason), \
         deadline = COALESCE($5, deadline), revoked_at = COALESCE($6, revoked_at), \
         failure_reason = COALESCE($8, failure_reason) \
         WHERE id = $7 AND status = $9",
        vec![
            c.to.as_str().into(),
            now.0.into(),
            (&c.decided_by).into(),
            (&c.decision_reason).into(),
            c.deadline.map(|d| d.0).into(),
            c.revoked_at.map(|d| d.0).into(),
            (&c.request_id).into(),
            (&c.failure_reason).into(),
            c.from.as_str().into(),
        ],
    );
    if checked {
        b.push(CHECKED, vec![]);
    }
    for (kind, run_at) in &c.schedule {
        push_job(b, &NewJob { kind: *kind, request_id: c.request_id.clone(), run_at: *run_at });
    }
    for kind in &c.finish {
        b.push(
            "UPDATE jobs SET done_at = $1, lease_owner = NULL, lease_until = NULL WHERE id = $2 AND done_at IS NULL",
            vec![now.0.into(), kind.id_for(&c.request_id).into()],
        );
    }
    for kind in &c.run_now {
        b.push("UPDATE jobs SET run_at = $1 WHERE id = $2 AND done_at IS NULL AND run_at > $1", vec![now.0.into(), kind.id_for(&c.request_id).into()]);
    }
    for (kind, at) in &c.moved {
        push_move(b, *kind, &c.request_id, *at, now);
    }
}

/// A new job, unless it exists.
fn push_job(b: &mut Batch, j: &NewJob) {
    b.push(crate::jobs::INSERT_JOB, vec![j.id().into(), j.kind.as_str().into(), (&j.request_id).into(), j.run_at.0.into()]);
}

/// A job due at `at` from now on: made if missing, made again (with a
/// clean history) if done; one that holds a live claim keeps it.
fn push_move(b: &mut Batch, kind: JobKind, request_id: &str, at: Timestamp, now: Timestamp) {
    b.push(
        "UPDATE jobs SET run_at = $1, done_at = NULL, attempts = 0, failures = 0, last_error = NULL \
         WHERE id = $2 AND (done_at IS NOT NULL OR lease_until IS NULL OR lease_until < $3)",
        vec![at.0.into(), kind.id_for(request_id).into(), now.0.into()],
    );
    push_job(b, &NewJob { kind, request_id: request_id.to_owned(), run_at: at });
}

/// The request and its jobs; with `shown`, its credentials marked shown
/// and made at `now`.
fn push_request(b: &mut Batch, r: &NewRequest, jobs: &[NewJob], now: Timestamp, claim: Option<&Claim<'_>>, shown: bool) {
    b.push(
        "INSERT INTO requests (id, requester, integration, resource_type, resources, permission, duration_ms, \
         justification, status, flow, approvers, username, created_at, deadline, updated_at, approval_parts, approvals, bundle, bundle_request, grantee, \
         credentials_shown_at, credentials_created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $13, $15, '[]', $16, $17, $18, $19, $19)",
        vec![
            (&r.id).into(),
            (&r.requester).into(),
            (&r.integration).into(),
            (&r.resource_type).into(),
            list_json(&r.resources).into(),
            (&r.permission).into(),
            r.duration_ms.into(),
            (&r.justification).into(),
            r.status.as_str().into(),
            (&r.flow).into(),
            list_json(&r.approvers).into(),
            (&r.username).into(),
            now.0.into(),
            r.deadline.map(|d| d.0).into(),
            serde_json::to_string(&r.approval_parts).unwrap_or_else(|_| "[]".into()).into(),
            r.bundle.as_ref().map(|(b, _)| b.clone()).into(),
            r.bundle.as_ref().map(|(_, g)| g.clone()).into(),
            (&r.grantee).into(),
            shown.then_some(now.0).into(),
        ],
    );
    if jobs.is_empty() {
        return;
    }
    let rows: Vec<String> = (0..jobs.len()).map(|i| format!("(${}, ${}, ${}, ${}, ${}, ${}, ${})", i * 7 + 1, i * 7 + 2, i * 7 + 3, i * 7 + 4, i * 7 + 5, i * 7 + 6, i * 7 + 7)).collect();
    let mut args = Vec::with_capacity(jobs.len() * 7);
    for j in jobs {
        let taken = claim.filter(|c| c.takes(j));
        args.extend([
            j.id().into(),
            j.kind.as_str().into(),
            (&j.request_id).into(),
            j.run_at.0.into(),
            taken.map(|c| c.owner.to_owned()).into(),
            taken.map(|c| c.until).into(),
            i64::from(taken.is_some()).into(),
        ]);
    }
    b.push(format!("INSERT INTO jobs (id, kind, request_id, run_at, lease_owner, lease_until, attempts) VALUES {} ON CONFLICT (id) DO NOTHING", rows.join(", ")), args);
}

/// The request, its jobs and its audit entries, inside an open transaction.
async fn insert_request_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, engine: Engine, r: &NewRequest, jobs: &[NewJob], audit: &AuditDraft, now: Timestamp) -> Result<()> {
    let mut batch = Batch::default();
    push_request(&mut batch, r, jobs, now, None, false);
    batch.run_in(tx, engine).await?;
    append_in(tx, engine, audit, now).await
}

/// Who holds a claim, and for how long (ms).
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub owner: &'a str,
    pub ms: i64,
}

/// Who takes a new request's due jobs in the commit that stores it.
struct Claim<'a> {
    owner: &'a str,
    until: i64,
    now: Timestamp,
}

impl Claim<'_> {
    fn takes(&self, j: &NewJob) -> bool {
        j.run_at <= self.now
    }
}

impl Store {
    /// Record a new request, the jobs it starts with and its audit entry.
    pub async fn insert_request(&self, r: &NewRequest, jobs: &[NewJob], audit: AuditDraft, now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_request_in(&mut tx, self.engine, r, jobs, &audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Record the grants of one bundle request — each with its jobs and
    /// audit entry — in one transaction: all of them or none.
    pub async fn insert_requests(&self, rs: &[(NewRequest, Vec<NewJob>, AuditDraft)], now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        for (r, jobs, audit) in rs {
            insert_request_in(&mut tx, self.engine, r, jobs, audit, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The grants of one bundle request, in the order they were made.
    pub async fn bundle_requests(&self, group: &str) -> Result<Vec<RequestRow>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM requests r WHERE r.bundle_request = $1 ORDER BY r.id"))
            .bind(group)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(row_to_request).collect()
    }

    /// Status changes of several requests (a bundle's grants) in one
    /// transaction, each compare-and-set: all of them, or none and the
    /// first request found elsewhere with its status.
    pub async fn apply_all(&self, cs: &[Transition], now: Timestamp) -> Result<Result<(), (String, Option<RequestStatus>)>> {
        let mut tx = self.begin().await?;
        for c in cs {
            if let Err(found) = apply_in(&mut tx, self.engine, c, now).await? {
                tx.rollback().await?;
                return Ok(Err((c.request_id.clone(), found)));
            }
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Bring a request's revoke job forward to now (a bundle rolled back
    /// while this grant was still being made), with the audit entry; the
    /// lifecycle then takes it from Granting to Revoking once no grant runs.
    pub async fn revoke_now(&self, id: &str, audit: AuditDraft, now: Timestamp) -> Result<bool> {
        let q = sqlx::query("UPDATE jobs SET run_at = $1 WHERE id = $2 AND done_at IS NULL AND run_at > $1")
            .bind(now.0)
            .bind(JobKind::Revoke.id_for(id));
        self.update_audited(q, &audit, now).await
    }

    /// [`Store::insert_request`], and in the same commit claim for the
    /// lease's owner those of its jobs that are due now, as [`Store::claim_jobs`] would:
    /// the process that took the request runs its grant at once, under the
    /// same lease (if it dies, the lease runs out and a worker runs the job).
    /// With `shown` (its audit entry), the credentials go to the requester
    /// with the grant: they are marked shown in this commit, on the disk
    /// before they are made, so they are shown at most once and always
    /// audited.
    pub async fn insert_request_claiming(
        &self,
        r: &NewRequest,
        jobs: &[NewJob],
        audit: AuditDraft,
        now: Timestamp,
        lease: Lease<'_>,
        shown: Option<AuditDraft>,
    ) -> Result<Vec<crate::Job>> {
        let claim = Claim { owner: lease.owner, until: now.0 + lease.ms, now };
        let audits: Vec<&AuditDraft> = std::iter::once(&audit).chain(shown.as_ref()).collect();
        self.transact(false, None, |_, head| {
            let mut batch = Batch::default();
            push_request(&mut batch, r, jobs, now, Some(&claim), shown.is_some());
            let next = crate::audit::push_chain(&mut batch, head, &audits, now);
            Ok(Then::Commit(batch, next, ()))
        })
        .await?;
        // The jobs are new: those due now were written claimed, as a claim
        // would leave them (first attempt, no failure).
        Ok(jobs
            .iter()
            .filter(|j| claim.takes(j))
            .map(|j| crate::Job { id: j.id(), kind: j.kind, request_id: j.request_id.clone(), run_at: j.run_at, attempts: 1, failures: 0 })
            .collect())
    }

    /// Apply a transition the lifecycle decided, if the request is still in
    /// `c.from`: the status, the jobs and the audit entry in one transaction.
    /// Returns the status found when it was not (nothing is written then).
    /// The only way a request's status changes.
    ///
    /// A transition that only records what an action did
    /// ([`Durability::Recorded`]) is committed without waiting for the disk;
    /// the next commit that waits carries it there.
    pub async fn apply(&self, c: &Transition, now: Timestamp) -> Result<Result<(), Option<RequestStatus>>> {
        let facts = Facts { columns: status_column(self.engine), args: vec![(&c.request_id).into()] };
        self.transact(c.durability == Durability::Recorded, Some(facts), |read, head| {
            let hoped = match read {
                Read::Row(row) => match found_in(row, c)? {
                    Ok(()) => false,
                    Err(found) => return Ok(Then::Abandon(Err(found))),
                },
                Read::Hoped => true,
                Read::Nothing => return Ok(Then::Abandon(Err(None))),
            };
            let mut batch = Batch::default();
            push_change(&mut batch, c, now, hoped);
            let next = crate::audit::push_chain(&mut batch, head, &[&c.audit], now);
            Ok(Then::Commit(batch, next, Ok(())))
        })
        .await
    }

    /// Extend an Active grant (compare-and-set on its status and deadline):
    /// the new deadline, the revoke job moved to it, the extend job due now
    /// (a fresh one: an earlier extension's is done), and the audit entry, in
    /// one transaction. False when the request moved on.
    pub async fn extend(&self, x: &sesame_core::lifecycle::Extension, now: Timestamp) -> Result<bool> {
        let mut tx = self.begin().await?;
        let q = sqlx::query("UPDATE requests SET deadline = $1, extensions = extensions + 1, extension_asked = NULL, updated_at = $2 WHERE id = $3 AND status = 'Active' AND deadline = $4")
            .bind(x.deadline.0)
            .bind(now.0)
            .bind(&x.request_id)
            .bind(x.deadline_was.0);
        if q.execute(&mut *tx).await?.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE jobs SET run_at = $1 WHERE id = $2 AND done_at IS NULL")
            .bind(x.deadline.0)
            .bind(JobKind::Revoke.id_for(&x.request_id))
            .execute(&mut *tx)
            .await?;
        let mut batch = Batch::default();
        push_move(&mut batch, JobKind::Extend, &x.request_id, now, now);
        batch.run_in(&mut tx, self.engine).await?;
        append_in(&mut tx, self.engine, &x.audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ask for (`after` Some) or answer (`after` None, or new approvals) an
    /// extension of an Active request: compare-and-set on what was seen,
    /// with its audit entry. False when the request moved on or someone
    /// answered meanwhile.
    pub async fn set_extension_asked(&self, id: &str, seen: Option<&ExtensionAsked>, after: Option<&ExtensionAsked>, audit: AuditDraft, now: Timestamp) -> Result<bool> {
        let json = |e: Option<&ExtensionAsked>| e.map(|e| serde_json::to_string(e).unwrap_or_default());
        let q = sqlx::query("UPDATE requests SET extension_asked = $1, updated_at = $2 WHERE id = $3 AND status = 'Active' AND COALESCE(extension_asked, '') = COALESCE($4, '')")
            .bind(json(after))
            .bind(now.0)
            .bind(id)
            .bind(json(seen));
        self.update_audited(q, &audit, now).await
    }

    /// Record one approval of a still-pending request that does not complete
    /// it: compare-and-set on the approvals seen, with its audit entry.
    /// False when the request moved on or someone approved meanwhile.
    pub async fn record_approval(&self, id: &str, seen: &[String], after: &[String], audit: AuditDraft, now: Timestamp) -> Result<bool> {
        let q = sqlx::query("UPDATE requests SET approvals = $1, updated_at = $2 WHERE id = $3 AND status = 'Pending' AND COALESCE(approvals, '[]') = $4")
            .bind(list_json(after))
            .bind(now.0)
            .bind(id)
            .bind(list_json(seen));
        self.update_audited(q, &audit, now).await
    }

    /// Widen who may approve a pending request (escalation): compare-and-set
    /// on the parts it had (a request from before parts were stored has none,
    /// and is read as one part of its approvers), with the audit entry.
    /// False when it moved on.
    pub async fn widen_approvers(
        &self,
        id: &str,
        seen: &[sesame_core::ApprovalPart],
        parts: &[sesame_core::ApprovalPart],
        audit: AuditDraft,
        now: Timestamp,
    ) -> Result<bool> {
        let json = |p: &[sesame_core::ApprovalPart]| serde_json::to_string(p).unwrap_or_else(|_| "[]".into());
        let approvers = sesame_core::approval::all_approvers(parts);
        let q = sqlx::query("UPDATE requests SET approval_parts = $1, approvers = $2, updated_at = $3 WHERE id = $4 AND status = 'Pending' AND COALESCE(approval_parts, $5) = $5")
            .bind(json(parts))
            .bind(list_json(&approvers))
            .bind(now.0)
            .bind(id)
            .bind(json(seen));
        self.update_audited(q, &audit, now).await
    }

    /// A conditional update and, when it changed something, its audit entry:
    /// one transaction. False when nothing matched.
    pub(crate) async fn update_audited<'q>(&self, q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>, audit: &AuditDraft, now: Timestamp) -> Result<bool> {
        let mut tx = self.begin().await?;
        if q.execute(&mut *tx).await?.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        append_in(&mut tx, self.engine, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn get_request(&self, id: &str) -> Result<Option<RequestRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM requests r WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(row_to_request).transpose()
    }

    pub async fn list_requests(&self, f: &RequestFilter) -> Result<Vec<RequestRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM requests r WHERE ($1 IS NULL OR r.requester = $1 OR r.grantee = $1) AND ($2 IS NULL OR r.status = $2) \
             AND ($3 IS NULL OR r.integration = $3) AND ($5 IS NULL OR COALESCE(r.grantee, r.requester) = $5) \
             AND ($6 IS NULL OR LOWER(r.approvers) LIKE $6 ESCAPE '\\') ORDER BY r.created_at DESC, r.id LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(&f.requester)
            .bind(f.status.map(|s| s.as_str()))
            .bind(&f.integration)
            .bind(f.limit.unwrap_or(1000))
            .bind(&f.grantee)
            .bind(f.approver.as_deref().map(approver_pattern))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(row_to_request).collect()
    }

    /// Every request whose grant reached its target (`grant.done` in the
    /// audit log), with when it did and when its revoke was done (none while
    /// it lasts), oldest grant first; by grantee (who held it) and
    /// integration if given.
    pub async fn access_held(&self, requester: Option<&str>, integration: Option<&str>) -> Result<Vec<AccessHeld>> {
        let sql = format!(
            "SELECT {COLUMNS}, \
             (SELECT MIN(a.at_ms) FROM audit a WHERE a.request_id = r.id AND a.action = 'grant.done') AS granted_at, \
             (SELECT MIN(a.at_ms) FROM audit a WHERE a.request_id = r.id AND a.action = 'revoke.done') AS ended_at \
             FROM requests r WHERE ($1 IS NULL OR COALESCE(r.grantee, r.requester) = $1) AND ($2 IS NULL OR r.integration = $2) \
             AND EXISTS (SELECT 1 FROM audit a WHERE a.request_id = r.id AND a.action = 'grant.done') \
             ORDER BY granted_at, r.id"
        );
        let rows = sqlx::query(&sql).bind(requester).bind(integration).fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(AccessHeld {
                    request: row_to_request(r)?,
                    granted_at: Timestamp(r.try_get::<Option<i64>, _>("granted_at")?.unwrap_or_default()),
                    ended_at: r.try_get::<Option<i64>, _>("ended_at")?.map(Timestamp),
                })
            })
            .collect()
    }

    /// Login names that some request on `integration` explains right now:
    /// granting, active, revoking, or disabled and waiting for cleanup.
    pub async fn usernames_holding_access(&self, integration: &str) -> Result<Vec<String>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT r.username FROM requests r WHERE r.integration = $1 AND (r.status IN ('Granting', 'Active', 'Revoking') \
             OR EXISTS (SELECT 1 FROM jobs j WHERE j.request_id = r.id AND j.kind = 'cleanup' AND j.done_at IS NULL))",
        )
        .bind(integration)
        .fetch_all(&self.read)
        .await?;
        Ok(rows)
    }

    /// Active requests on `integration` whose credentials were made before `older_than`.
    pub async fn credentials_due_for_rotation(&self, integration: &str, older_than: Timestamp) -> Result<Vec<RequestRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM requests r WHERE r.integration = $1 AND r.status = 'Active' \
             AND r.credentials_created_at IS NOT NULL AND r.credentials_created_at <= $2 ORDER BY r.credentials_created_at"
        ))
        .bind(integration)
        .bind(older_than.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(row_to_request).collect()
    }

    /// New credentials were made: record when; `shown` false lets the grantee
    /// fetch them once more (after a rotation).
    pub async fn credentials_made(&self, id: &str, shown: bool, audit: AuditDraft, now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE requests SET credentials_created_at = $1, \
             credentials_shown_at = CASE WHEN $2 = 1 THEN COALESCE(credentials_shown_at, $1) ELSE NULL END WHERE id = $3",
        )
        .bind(now.0)
        .bind(i64::from(shown))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        append_in(&mut tx, self.engine, &audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Undo [`Store::mark_credentials_shown`] when making them failed:
    /// not shown, and made when they were made before (`made_before`).
    pub async fn clear_credentials_shown(&self, id: &str, made_before: Option<Timestamp>) -> Result<()> {
        sqlx::query("UPDATE requests SET credentials_shown_at = NULL, credentials_created_at = $1 WHERE id = $2")
            .bind(made_before.map(|t| t.0))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Mark the credentials of a request as shown and made now, before they
    /// are made; false when they were shown already. Only one caller wins
    /// (compare-and-set), and the commit does not wait for the disk: the
    /// credentials reach their grantee only after their audit entry's
    /// commit, which does, and carries this one with it.
    pub async fn mark_credentials_shown(&self, id: &str, now: Timestamp) -> Result<bool> {
        const SQL: &str = "UPDATE requests SET credentials_shown_at = $1, credentials_created_at = $1 WHERE id = $2 AND credentials_shown_at IS NULL";
        let n = match self.engine {
            Engine::Postgres => {
                let mut tx = self.begin().await?;
                sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
                let n = sqlx::query(SQL).bind(now.0).bind(id).execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                n
            }
            Engine::Sqlite => {
                let mut w = Writer::take(&self.pool, true).await?;
                let sql = format!("{}{SQL} RETURNING id", w.first());
                let n = sqlx::query(&sql).bind(now.0).bind(id).fetch_all(&mut **w.conn()).await?.len();
                w.release();
                n as u64
            }
        };
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    async fn synchronous(pool: &sqlx::AnyPool) -> i64 {
        sqlx::query("PRAGMA synchronous").fetch_one(pool).await.unwrap().get::<i64, _>(0)
    }

    /// The writer waits for the disk again after a recorded commit, and is
    /// never handed on otherwise.
    #[tokio::test]
    async fn a_relaxed_writer_goes_back_to_full_or_is_closed() {
        let path = std::env::temp_dir().join(format!("sesame-relaxed-{}.db", uuid::Uuid::new_v4()));
        let store = Store::connect(&format!("sqlite://{}", path.display())).await.unwrap();
        const FULL: i64 = 2;
        const NORMAL: i64 = 1;
        assert_eq!(synchronous(&store.pool).await, FULL);
        let mut w = Writer::take(&store.pool, true).await.unwrap();
        let sql = format!("{}PRAGMA synchronous", w.first());
        // (`fetch_one` through the Any driver sees only the first statement's result.)
        let rows = sqlx::query(&sql).fetch_all(&mut **w.conn()).await.unwrap();
        assert_eq!(rows.first().map(|r| r.get::<i64, _>(0)), Some(NORMAL));
        w.release();
        assert_eq!(synchronous(&store.pool).await, FULL);
        // Dropped before it was released (an error, a cancelled call): the
        // connection is closed and the next one is opened with FULL.
        let mut w = Writer::take(&store.pool, true).await.unwrap();
        sqlx::query(&format!("{}BEGIN IMMEDIATE", w.first())).execute(&mut **w.conn()).await.unwrap();
        drop(w);
        assert_eq!(synchronous(&store.pool).await, FULL);
        // ... and what it left open was rolled back: the next writer writes.
        store.raw_execute("CREATE TABLE after_drop (x INTEGER)").await.unwrap();
        store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
