//! Connecting, engine detection, migrations.

use crate::head::Known;
use crate::{Result, StoreError};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

/// Read-only SQLite connections per handle.
const READERS: u32 = 4;

/// SQLite opens read-write and creates the file unless the URL says otherwise.
fn sqlite_url(url: &str, engine: Engine) -> String {
    match engine {
        Engine::Sqlite if !url.contains("mode=") => format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' }),
        _ => url.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The store. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct Store {
    /// Writes and transactions. On SQLite one connection: one writer at a
    /// time is SQLite's nature, and queueing writers here (first come, first
    /// served) keeps them out of SQLite's busy handler, which sleeps.
    pub(crate) pool: AnyPool,
    /// Reads outside a transaction. On SQLite several read-only connections
    /// (WAL readers never wait for the writer), so a read never queues
    /// behind a write or behind the writer connection's return to the pool;
    /// on PostgreSQL the same pool as writes.
    pub(crate) read: AnyPool,
    pub(crate) engine: Engine,
    /// False on a dedicated SQLite handle: the writer is another handle's.
    owns_writer: bool,
    /// SQLite: the audit chain's head as the writer's last transaction left
    /// it, shared with the handles that share the writer.
    pub(crate) known_head: Known,
}

/// After a compare-and-set statement, in a batch written on facts it did not
/// read (SQLite's one-round-trip transaction, [`crate::transact`]): fails the
/// transaction when that statement changed no row. `changes()` is what the
/// statement before changed; the row it would insert breaks [`MOVED_ON`]'s
/// check.
pub(crate) const CHECKED: &str = "INSERT INTO temp.moved_on SELECT 1 WHERE changes() <> 1";

/// The writer's own table that [`CHECKED`] writes to: it stays empty, since
/// any row breaks its check.
const MOVED_ON: &str = "CREATE TEMP TABLE IF NOT EXISTS moved_on (found INTEGER CHECK (found IS NULL))";

impl Store {
    /// Open (creating if needed) and migrate the store at `url`:
    /// `sqlite://PATH` or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Store> {
        let store = Store::open(url, 16).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Another handle on an already migrated store with connections of its
    /// own: the worker's, so a flood of API calls never delays a revoke.
    /// On SQLite, where writes take turns whatever the handle, it shares
    /// `self`'s writer (a fair queue instead of two writers meeting in the
    /// busy handler) and has readers of its own.
    pub async fn connect_dedicated(&self, url: &str) -> Result<Store> {
        match self.engine {
            Engine::Sqlite => Ok(Store {
                pool: self.pool.clone(),
                read: Store::readers(url, &self.pool).await?,
                engine: self.engine,
                owns_writer: false,
                known_head: self.known_head.clone(),
            }),
            Engine::Postgres => Store::open(url, 4).await,
        }
    }

    /// A transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a transaction that reads and then writes could otherwise
    /// fail with SQLITE_BUSY when another connection wrote in between.
    /// On SQLite it may append to the audit log: the head the writer knew is
    /// forgotten (see [`Known`]).
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.engine {
            Engine::Sqlite => {
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                self.known_head.forget();
                tx
            }
            Engine::Postgres => self.pool.begin().await?,
        })
    }

    async fn open(url: &str, pg_connections: u32) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            return Err(StoreError::BadUrl(url.to_owned()));
        };
        let opts = AnyConnectOptions::from_str(&sqlite_url(url, engine))?;
        Ok(match engine {
            // One writer at a time is SQLite's nature; one connection makes it
            // explicit and removes SQLITE_BUSY from the picture.
            Engine::Sqlite => {
                let pool = AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    // An in-process database does not go away between uses:
                    // no ping (a round trip to SQLite's thread) before each.
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            // Every commit reaches the disk before it returns: a
                            // deadline and its revoke job survive a power cut.
                            conn.execute("PRAGMA synchronous = FULL").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute(MOVED_ON).await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await?;
                // The writer made the file and set WAL before any reader opens.
                pool.acquire().await?;
                Store { read: Store::readers(url, &pool).await?, pool, engine, owns_writer: true, known_head: Known::default() }
            }
            Engine::Postgres => {
                let pool = AnyPoolOptions::new().max_connections(pg_connections).acquire_timeout(Duration::from_secs(10)).connect_with(opts).await?;
                Store { read: pool.clone(), pool, engine, owns_writer: true, known_head: Known::default() }
            }
        })
    }

    /// SQLite connections that only read (`query_only`): a statement that
    /// writes fails on them instead of racing the writer. An in-memory
    /// database exists on its one connection only, so it reads there.
    async fn readers(url: &str, writer: &AnyPool) -> Result<AnyPool> {
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Ok(writer.clone());
        }
        let opts = AnyConnectOptions::from_str(&sqlite_url(url, Engine::Sqlite))?;
        Ok(AnyPoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(Duration::from_secs(30))
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA query_only = ON").await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?)
    }

    async fn migrate(&self) -> Result<()> {
        match self.engine {
            Engine::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.pool).await?,
            Engine::Postgres => sqlx::migrate!("./migrations/postgres").run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Close this handle's connections (a dedicated SQLite handle leaves the
    /// writer it shares open).
    pub async fn close(&self) {
        self.read.close().await;
        if self.owns_writer {
            self.pool.close().await;
        }
    }
}

impl Store {
    /// A bare pool to an existing database, without migrations (test setup,
    /// creating databases).
    pub async fn connect_raw_admin(url: &str) -> Result<sqlx::AnyPool> {
        sqlx::any::install_default_drivers();
        Ok(AnyPoolOptions::new().max_connections(2).connect(url).await?)
    }

    /// Run one statement as is. For tests and operator tooling.
    pub async fn raw_execute(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::query(sql).execute(&self.pool).await?.rows_affected())
    }
}
