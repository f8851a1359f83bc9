//! The append-only, hash-chained audit log.

use crate::batch::{Arg, Batch};
use crate::pool::Engine;
use crate::{Result, Store};
use crate::head::{Head, HEAD, PG_LOCK};
use crate::transact::Then;
use sesame_core::audit::{chain_hash, AuditDraft, AuditFields};
use sesame_core::Timestamp;
use sqlx::{Any, Row, Transaction};

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub fields: AuditFields,
    pub prev_hash: String,
    pub hash: String,
}

/// Append inside an open transaction. The chain needs one appender at a time:
/// SQLite has one connection; PostgreSQL takes a transaction-scoped lock.
pub(crate) async fn append_in(tx: &mut Transaction<'_, Any>, engine: Engine, d: &AuditDraft, now: Timestamp) -> Result<()> {
    append_all_in(tx, engine, &[d], now).await
}

/// `drafts` in order after `head`, chained, as one `INSERT`; the head after them.
pub(crate) fn push_chain(batch: &mut Batch, head: Head, drafts: &[&AuditDraft], now: Timestamp) -> Head {
    if drafts.is_empty() {
        return head;
    }
    let Head { mut seq, mut prev } = head;
    let mut args: Vec<Arg> = Vec::with_capacity(drafts.len() * 9);
    for d in drafts {
        let fields = AuditFields {
            seq,
            at_ms: now.0,
            actor: d.actor.clone(),
            action: d.action.as_str().to_owned(),
            request_id: d.request_id.clone(),
            outcome: d.outcome.as_str().to_owned(),
            detail: d.detail.to_string(),
        };
        let hash = chain_hash(&prev, &fields);
        let prev_hash = std::mem::replace(&mut prev, hash.clone());
        args.extend([fields.seq.into(), fields.at_ms.into(), fields.actor.into(), fields.action.into(), fields.request_id.into(), fields.outcome.into(), fields.detail.into(), prev_hash.into(), hash.into()]);
        seq += 1;
    }
    let values: Vec<String> = (0..drafts.len()).map(|i| format!("(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})", i * 9 + 1, i * 9 + 2, i * 9 + 3, i * 9 + 4, i * 9 + 5, i * 9 + 6, i * 9 + 7, i * 9 + 8, i * 9 + 9)).collect();
    batch.push(format!("INSERT INTO audit (seq, at_ms, actor, action, request_id, outcome, detail, prev_hash, hash) VALUES {}", values.join(", ")), args);
    Head { seq, prev }
}

/// Append `drafts` in order, chained, in one `INSERT` (the chain's head is
/// read once), inside an open transaction.
pub(crate) async fn append_all_in(tx: &mut Transaction<'_, Any>, engine: Engine, drafts: &[&AuditDraft], now: Timestamp) -> Result<()> {
    if drafts.is_empty() {
        return Ok(());
    }
    if engine == Engine::Postgres {
        sqlx::query(PG_LOCK).execute(&mut **tx).await?;
    }
    let head = Head::from_row(&sqlx::query(&format!("SELECT {HEAD}")).fetch_one(&mut **tx).await?)?;
    let mut batch = Batch::default();
    push_chain(&mut batch, head, drafts, now);
    batch.run_in(tx, engine).await
}

impl Store {
    /// One entry on its own, in a transaction of its own (SQLite: one round
    /// trip when the writer knows the head).
    pub async fn append_audit(&self, d: AuditDraft, now: Timestamp) -> Result<()> {
        self.transact(false, None, |_, head| {
            let mut batch = Batch::default();
            let next = push_chain(&mut batch, head, &[&d], now);
            Ok(Then::Commit(batch, next, ()))
        })
        .await
    }

    /// Entries with seq > `after`, oldest first, optionally for one request.
    pub async fn list_audit(&self, after: i64, request_id: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT seq, at_ms, actor, action, request_id, outcome, detail, prev_hash, hash FROM audit \
             WHERE seq > $1 AND ($2 IS NULL OR request_id = $2) ORDER BY seq LIMIT $3",
        )
        .bind(after)
        .bind(request_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        audit_rows(&rows)
    }

    /// The newest entries first, optionally only one action, actor or
    /// request (the portal's audit page). Only the filters given are in
    /// the statement, so the indexes on actor and request serve it.
    pub async fn newest_audit(&self, action: Option<&str>, actor: Option<&str>, request_id: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        for (column, value) in [("actor", actor), ("action", action), ("request_id", request_id)] {
            if let Some(v) = value {
                values.push(v);
                conditions.push(format!("{column} = ${}", values.len()));
            }
        }
        let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let sql = format!(
            "SELECT seq, at_ms, actor, action, request_id, outcome, detail, prev_hash, hash FROM audit {filter} ORDER BY seq DESC LIMIT ${}",
            values.len() + 1
        );
        let mut q = sqlx::query(&sql);
        for v in values {
            q = q.bind(v);
        }
        let rows = q.bind(limit).fetch_all(&self.read).await?;
        audit_rows(&rows)
    }
}

fn audit_rows(rows: &[sqlx::any::AnyRow]) -> Result<Vec<AuditRow>> {
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                fields: AuditFields {
                    seq: r.try_get("seq")?,
                    at_ms: r.try_get("at_ms")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    request_id: r.try_get("request_id")?,
                    outcome: r.try_get("outcome")?,
                    detail: r.try_get("detail")?,
                },
                prev_hash: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            })
        })
        .collect()
}
