//! A PostgreSQL cluster of its own with `scram-sha-256` on host connections:
//! the shared local server trusts loopback, where neither a shown password
//! nor `VALID UNTIL` is ever checked. Here both are (issue 10.8).

use sesame_integrations::registry::Registry;
use crate::attacks::grant;
use crate::targets::tag;
use sesame_core::Timestamp;
use sesame_integrations::postgres::PostgresConfig;
use sesame_integrations::Integration;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};
use std::process::Command;

const ADMIN_PASSWORD: &str = "Adm1n-Scram-Only";

struct Cluster {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
}

/// Run a PostgreSQL tool as the `postgres` user (initdb refuses root).
fn as_postgres(bin: &Path, args: &[&str]) -> std::process::Output {
    let root = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false);
    let out = if root { Command::new("runuser").args(["-u", "postgres", "--"]).arg(bin).args(args).output() } else { Command::new(bin).args(args).output() };
    out.unwrap_or_else(|e| panic!("cannot run {}: {e}; install the PostgreSQL server (apt-get install postgresql)", bin.display()))
}

impl Cluster {
    fn start() -> Cluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).max())
            .expect("no PostgreSQL server binaries under /usr/lib/postgresql: install postgresql (initdb and pg_ctl are needed)");
        let dir = std::env::temp_dir().join(format!("sesame-scram-{}", tag()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pw"), ADMIN_PASSWORD).unwrap();
        let _ = Command::new("chown").args(["-R", "postgres"]).arg(&dir).output();
        let data = dir.join("data");
        let out = as_postgres(
            &bin.join("initdb"),
            &["-D", &data.display().to_string(), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile", &dir.join("pw").display().to_string()],
        );
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let opts = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", dir.display());
        let out = as_postgres(&bin.join("pg_ctl"), &["-D", &data.display().to_string(), "-o", &opts, "-l", &dir.join("pg.log").display().to_string(), "-w", "start"]);
        assert!(out.status.success(), "pg_ctl start failed: {}", String::from_utf8_lossy(&out.stderr));
        Cluster { dir, port, bin }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"), &["-D", &self.dir.join("data").display().to_string(), "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[allow(clippy::disallowed_methods)]
fn now() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_millis())
}

async fn login(port: u16, user: &str, password: &str) -> Result<sqlx::PgConnection, sqlx::Error> {
    PgConnectOptions::new().host("127.0.0.1").port(port).username(user).password(password).database("postgres").disable_statement_logging().connect().await
}

#[tokio::test(flavor = "multi_thread")]
async fn shown_passwords_and_valid_until_are_what_the_server_checks() {
    let c = Cluster::start();
    let mut admin = login(c.port, "postgres", ADMIN_PASSWORD).await.expect("the cluster's own admin signs in with SCRAM");
    sqlx::raw_sql("CREATE TABLE public.t (id int); INSERT INTO public.t VALUES (1)").execute(&mut admin).await.unwrap();
    let cfg: PostgresConfig = serde_json::from_value(serde_json::json!({
        "name": "scram", "host": "127.0.0.1", "port": c.port, "username": "postgres", "password": {"file": c.dir.join("pw").display().to_string()},
        "databases": ["postgres"], "user_prefix": "sc_", "ssl_mode": "disable",
    }))
    .unwrap();
    let pg = Registry::new().postgres(cfg).await.unwrap();
    assert!(pg.get_status().await.unwrap().healthy);

    // The shown password works, and only it.
    let p = grant("sc_a_1", "table", "postgres/public/t", "read_only");
    pg.grant_access(&p, Timestamp(4_102_444_800_000)).await.unwrap();
    let c1 = pg.create_credentials(&p).await.unwrap();
    let mut conn = login(c.port, "sc_a_1", &c1.secret).await.expect("the shown password signs in");
    sqlx::raw_sql("SELECT * FROM public.t").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    assert!(login(c.port, "sc_a_1", "not-the-password").await.is_err(), "a wrong password signed in");
    // Reset: the old password fails, the new one works.
    let c2 = pg.reset_credentials(&p).await.unwrap();
    assert!(login(c.port, "sc_a_1", &c1.secret).await.is_err(), "the old password still signs in");
    assert!(login(c.port, "sc_a_1", &c2.secret).await.is_ok());
    // Revoke: the login fails.
    pg.revoke_access(&p).await.unwrap();
    assert!(login(c.port, "sc_a_1", &c2.secret).await.is_err(), "a revoked login signs in");

    // VALID UNTIL is the backstop: past it, the right password fails, even
    // with Sesame doing nothing.
    let p = grant("sc_b_2", "table", "postgres/public/t", "read_only");
    pg.grant_access(&p, Timestamp(now().0 + 2_000)).await.unwrap();
    let c3 = pg.create_credentials(&p).await.unwrap();
    assert!(login(c.port, "sc_b_2", &c3.secret).await.is_ok(), "before the deadline");
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert!(login(c.port, "sc_b_2", &c3.secret).await.is_err(), "a login past VALID UNTIL signed in");
    pg.revoke_access(&p).await.unwrap();
}
