//! The write transaction that reads first and then commits a [`Batch`].
//!
//! sqlx runs SQLite on a thread of its own, and every statement sent there
//! is a round trip (two thread wake-ups) that costs more than the statement.
//! So on SQLite [`Store::transact`] sends `BEGIN` with its read and `COMMIT`
//! with its writes: two round trips for a whole transaction. When the
//! writer knows the audit chain's head ([`crate::head::Known`]) and the
//! facts need not be read (none, or a compare-and-set checks them:
//! [`CHECKED`]), it is one: `BEGIN`, the writes and `COMMIT` together; if
//! that fails (the facts were not as hoped, the head was stale), it is
//! rolled back and made the two-round-trip way. On PostgreSQL (one statement
//! per message) the same statements run one after another.

use crate::batch::{bound, Arg, Batch};
use crate::head::{Head, HEAD, PG_LOCK};
use crate::pool::Engine;
use crate::{Result, Store};
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Executor};

pub(crate) use crate::pool::CHECKED;

/// What a write transaction does once it has read: commit a batch that
/// leaves the audit chain's head at the [`Head`] given, or write nothing;
/// either way it answers `T`.
pub(crate) enum Then<T> {
    Commit(Batch, Head, T),
    Abandon(T),
}

/// What a write transaction is given of its facts.
pub(crate) enum Read<'r> {
    /// It asked for none.
    Nothing,
    /// Read under the write lock.
    Row(&'r AnyRow),
    /// Not read: taken to be as hoped, and checked by the batch itself,
    /// which follows its compare-and-set with [`CHECKED`] (see [`Facts`]).
    Hoped,
}

/// SQLite's one writer in a transaction it begins and ends itself (so
/// `BEGIN` and `COMMIT` travel with the statements beside them). It goes
/// back to the pool only once its transaction ended and it waits for the
/// disk on every commit again (`synchronous = FULL`); otherwise (an error,
/// a call given up half-way) it is closed, which rolls back whatever it
/// left open.
pub(crate) struct Writer {
    conn: PoolConnection<Any>,
    /// Its commits do not wait for the disk (`synchronous = NORMAL`) until
    /// it is released.
    relaxed: bool,
    clean: bool,
}

impl Writer {
    /// The writer; with `relaxed`, its first statement sets
    /// `synchronous = NORMAL` (see [`Writer::first`]).
    pub(crate) async fn take(pool: &sqlx::AnyPool, relaxed: bool) -> Result<Writer> {
        Ok(Writer { conn: pool.acquire().await?, relaxed, clean: false })
    }

    /// What goes before the first statement.
    pub(crate) fn first(&self) -> &'static str {
        if self.relaxed {
            "PRAGMA synchronous = NORMAL;\n"
        } else {
            ""
        }
    }

    pub(crate) fn conn(&mut self) -> &mut PoolConnection<Any> {
        &mut self.conn
    }

    /// Hand it back: at once, or (relaxed) once it waits for the disk again,
    /// which the caller does not wait for (the next writer does).
    pub(crate) fn release(mut self) {
        if !self.relaxed {
            self.keep();
            return;
        }
        tokio::spawn(async move {
            if self.conn.execute("PRAGMA synchronous = FULL").await.is_ok() {
                self.keep();
            }
        });
    }

    /// It may go back to the pool when dropped.
    fn keep(&mut self) {
        self.clean = true;
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.clean {
            self.conn.close_on_drop();
        }
    }
}

/// What a write transaction reads before it writes: `SELECT` columns (that
/// return one row) and their arguments. Given [`Read::Hoped`] instead, the
/// batch must check them itself (a compare-and-set followed by
/// [`CHECKED`]): SQLite then skips reading them.
pub(crate) struct Facts<'a> {
    pub columns: &'a str,
    pub args: Vec<Arg>,
}

impl Store {
    /// One write transaction that appends to the audit log: `facts` (if
    /// any) read under the write lock, then what `then` makes of them and
    /// of the chain's head committed — with `relaxed`, without waiting for
    /// the disk. `then` may be asked twice (see the module's notes); only
    /// the last answer's batch is committed.
    pub(crate) async fn transact<T>(&self, relaxed: bool, facts: Option<Facts<'_>>, then: impl Fn(Read<'_>, Head) -> Result<Then<T>>) -> Result<T> {
        match self.engine {
            Engine::Sqlite => {
                let mut w = Writer::take(&self.pool, relaxed).await?;
                if let Some(head) = self.known_head.take() {
                    // BEGIN, the writes and COMMIT: one round trip.
                    let read = if facts.is_some() { Read::Hoped } else { Read::Nothing };
                    match then(read, head)? {
                        Then::Commit(batch, next, t) => {
                            let (sql, args) = batch.joined(&format!("{}BEGIN IMMEDIATE;\n", w.first()), "COMMIT");
                            match bound(&sql, args).execute(&mut **w.conn()).await {
                                Ok(_) => {
                                    self.known_head.set(next);
                                    w.release();
                                    return Ok(t);
                                }
                                Err(e) => {
                                    tracing::debug!(error = %e, "write on what the writer knew refused; reading first");
                                    // Nothing of it stays. (ROLLBACK fails only when BEGIN
                                    // never ran: then nothing is open.)
                                    let _ = w.conn().execute("ROLLBACK").await;
                                }
                            }
                        }
                        Then::Abandon(t) => {
                            // Nothing was sent (the head is read again next time).
                            w.release();
                            return Ok(t);
                        }
                    }
                }
                // BEGIN, the facts and the head: one round trip.
                let (columns, args) = facts.map_or((String::new(), vec![]), |f| (format!("{}, ", f.columns), f.args));
                let sql = format!("{}BEGIN IMMEDIATE;\nSELECT {columns}{HEAD}", w.first());
                let row = bound(&sql, args).fetch_all(&mut **w.conn()).await?.into_iter().next().ok_or(sqlx::Error::RowNotFound)?;
                let read = if columns.is_empty() { Read::Nothing } else { Read::Row(&row) };
                let out = match then(read, Head::from_row(&row)?)? {
                    // The writes and COMMIT: one more.
                    Then::Commit(batch, next, t) => {
                        let (sql, args) = batch.joined("", "COMMIT");
                        bound(&sql, args).execute(&mut **w.conn()).await?;
                        self.known_head.set(next);
                        t
                    }
                    Then::Abandon(t) => {
                        w.conn().execute("ROLLBACK").await?;
                        t
                    }
                };
                w.release();
                Ok(out)
            }
            Engine::Postgres => {
                let mut tx = self.begin().await?;
                if relaxed {
                    sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
                }
                // Rows first, the chain's lock last, as every appender does.
                let row = match facts {
                    Some(f) => Some(bound(&format!("SELECT {}", f.columns), f.args).fetch_one(&mut *tx).await?),
                    None => None,
                };
                sqlx::query(PG_LOCK).execute(&mut *tx).await?;
                let head = Head::from_row(&sqlx::query(&format!("SELECT {HEAD}")).fetch_one(&mut *tx).await?)?;
                Ok(match then(row.as_ref().map_or(Read::Nothing, Read::Row), head)? {
                    Then::Commit(batch, _, t) => {
                        batch.run_in(&mut tx, self.engine).await?;
                        tx.commit().await?;
                        t
                    }
                    Then::Abandon(t) => {
                        tx.rollback().await?;
                        t
                    }
                })
            }
        }
    }
}
