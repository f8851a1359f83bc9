//! The shared database servers the tests use: where they are, admin pools
//! that fail with what to start, throwaway names, and waiting on a condition.

// Test helpers: a failure panics with what to start or where to look.
#![allow(clippy::panic)]

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::ConnectOptions;
use std::time::{Duration, Instant};

pub fn pg_host() -> String {
    std::env::var("SESAME_TEST_PG_HOST").unwrap_or_else(|_| "127.0.0.1".into())
}

pub fn pg_port() -> u16 {
    std::env::var("SESAME_TEST_PG_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(5432)
}

/// A pool as the PostgreSQL superuser on `db`.
pub async fn pg_admin(db: &str) -> PgPool {
    let opts = PgConnectOptions::new().host(&pg_host()).port(pg_port()).username("postgres").database(db);
    PgPoolOptions::new().max_connections(3).connect_with(opts).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is not reachable at {}:{}: {e}; start it with `scripts/services-up postgres`", pg_host(), pg_port())
    })
}

/// A pool as MariaDB's root.
pub async fn my_admin() -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(2)
        .connect_with(MySqlConnectOptions::new().host("127.0.0.1").port(3306).username("root"))
        .await
        .unwrap_or_else(|e| panic!("MariaDB is not reachable at 127.0.0.1:3306 as root: {e}; start it with `scripts/services-up mariadb`"))
}

/// Log in to PostgreSQL as a grantee, as a client would.
pub async fn pg_login(db: &str, user: &str, password: &str) -> Result<PgConnection, sqlx::Error> {
    PgConnectOptions::new().host(&pg_host()).port(pg_port()).username(user).password(password).database(db).disable_statement_logging().connect().await
}

/// Log in to MariaDB as a grantee (to `db`, when given), as a client would.
pub async fn my_login(db: Option<&str>, user: &str, password: &str) -> Result<MySqlConnection, sqlx::Error> {
    let mut o = MySqlConnectOptions::new().host("127.0.0.1").port(3306).username(user).password(password).disable_statement_logging();
    if let Some(db) = db {
        o = o.database(db);
    }
    o.connect().await
}

/// `n` random characters from `[a-z0-9]`, for names no other test uses.
pub fn suffix(n: usize) -> String {
    use rand::Rng;
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = rand::thread_rng();
    (0..n).map(|_| A[r.gen_range(0..A.len())] as char).collect()
}

/// Wait until `f` holds, looking every 50 ms; panics after `timeout` with
/// `what` and `hint` (e.g. where the server's log is). Returns how long it took.
pub async fn wait_until<F, Fut>(what: &str, hint: &str, timeout: Duration, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}; {hint}");
}
