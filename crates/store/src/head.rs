//! The audit chain's head: where the next entry goes. SQLite's one writer
//! also keeps it between its transactions ([`Known`]), so a write that
//! appends need not read it first.

use crate::Result;
use sesame_core::audit::GENESIS;
use sqlx::Row;
use std::sync::{Arc, Mutex, MutexGuard};

/// The lock that keeps one appender at a time on PostgreSQL (SQLite has one
/// writer).
pub(crate) const PG_LOCK: &str = "SELECT pg_advisory_xact_lock(73570001)";

/// The chain's head, as columns of a `SELECT` (NULL when the log is empty).
pub(crate) const HEAD: &str = "(SELECT seq FROM audit ORDER BY seq DESC LIMIT 1) AS head_seq, (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1) AS head_hash";

/// Where the next entry goes: its seq and the hash it chains to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) seq: i64,
    pub(crate) prev: String,
}

impl Head {
    /// From a row that holds [`HEAD`]'s columns.
    pub(crate) fn from_row(r: &sqlx::any::AnyRow) -> Result<Head> {
        Ok(match (r.try_get::<Option<i64>, _>("head_seq")?, r.try_get::<Option<String>, _>("head_hash")?) {
            (Some(seq), Some(hash)) => Head { seq: seq + 1, prev: hash },
            _ => Head { seq: 1, prev: GENESIS.to_owned() },
        })
    }
}

/// The head as the last commit of [`crate::Store::transact`] left it, shared
/// by the handles on one SQLite writer; unknown at first, and again after
/// any other write transaction (which may append) or a failed one.
///
/// A copy that is wrong can only be behind (the log is append-only), and
/// then the entry written from it takes a `seq` already taken: the primary
/// key refuses it, the transaction fails whole and is made again from the
/// head read under the write lock. So a stale copy costs a round trip, and
/// never forks the chain (another process appending to the same file
/// included).
#[derive(Debug, Clone, Default)]
pub(crate) struct Known(Arc<Mutex<Option<Head>>>);

impl Known {
    fn slot(&self) -> MutexGuard<'_, Option<Head>> {
        // Nothing can be left half-changed in an Option: a poisoned lock is as good.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The head, if known; unknown until [`Known::set`] again.
    pub(crate) fn take(&self) -> Option<Head> {
        self.slot().take()
    }

    pub(crate) fn set(&self, head: Head) {
        *self.slot() = Some(head);
    }

    pub(crate) fn forget(&self) {
        *self.slot() = None;
    }
}
