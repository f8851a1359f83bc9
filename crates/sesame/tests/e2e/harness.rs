//! One harness for every end-to-end test: a throwaway database on the real
//! PostgreSQL, a real `sesame serve` process on a free port, and the real
//! CLI binary as the client.

use serde_json::Value;
use sqlx::postgres::PgPool;
use sqlx::PgConnection;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_sesame");

pub use sesame_testkit::targets::{pg_admin as admin, pg_host, pg_port, suffix as rand_suffix};

/// The integration's own password (PostgreSQL trusts loopback and ignores
/// it, but Sesame resolves it): tests prove it never reaches store or logs.
pub const INTEGRATION_SECRET: &str = "integration-secret-7f3a9c1e";

/// A database of the test's own on the shared PostgreSQL, dropped (with the
/// logins named with `prefix`, if any) when the guard goes — also when the
/// test panics, so a failed run leaves nothing that later tests would find
/// (discovery lists every database on the server).
pub struct ScratchDb {
    pub name: String,
    pub prefix: Option<String>,
}

impl ScratchDb {
    pub async fn create(kind: &str) -> ScratchDb {
        let name = format!("sesame_{kind}_{}", rand_suffix(10));
        let root = admin("postgres").await;
        sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\"")).execute(&root).await.unwrap();
        root.close().await;
        ScratchDb { name, prefix: None }
    }

    async fn remove(name: &str, prefix: Option<&str>) {
        let root = admin("postgres").await;
        let roles: Vec<String> = match prefix {
            Some(p) => sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE left(rolname, length($1)) = $1")
                .bind(p)
                .fetch_all(&root)
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&root).await;
        for r in roles {
            let _ = sqlx::raw_sql(&format!("DROP OWNED BY \"{r}\"; DROP ROLE IF EXISTS \"{r}\"")).execute(&root).await;
        }
        root.close().await;
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which must not be blocked on:
        // the cleanup gets a runtime of its own on a thread of its own.
        let (name, prefix) = (self.name.clone(), self.prefix.clone());
        let t = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(ScratchDb::remove(&name, prefix.as_deref()));
        });
        let _ = t.join();
    }
}

pub struct Harness {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub db: String,
    pub prefix: String,
    pub url: String,
    pub server: Option<Child>,
    pub pg: PgPool,
    pub remote: bool,
    listen: String,
    /// Declared last: dropped after the server is killed.
    _scratch: ScratchDb,
}

pub struct Opts {
    /// Port the integration connects to (a proxy, in the target-down test).
    pub target_port: u16,
    pub extra_flows: String,
    /// Store URL; SQLite in the test's directory when `None`.
    pub store: Option<String>,
    /// Extra lines for the integration's `[integrations.settings]`.
    pub settings: String,
    /// Serve the PostgreSQL integration through `sesame connector` (id `dc-1`)
    /// instead of in-process.
    pub remote: bool,
    /// Extra lines for the server's `[server]` section (e.g. TLS).
    pub server_extra: String,
    /// Extra lines for the `[worker]` section (e.g. a short lease).
    pub worker_extra: String,
    /// Where the server listens (a free port when `None`), for a URL that
    /// must be known before it starts (an identity provider's redirect).
    pub listen: Option<String>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            target_port: pg_port(),
            extra_flows: String::new(),
            store: None,
            settings: String::new(),
            remote: false,
            server_extra: String::new(),
            worker_extra: String::new(),
            listen: None,
        }
    }
}

impl Harness {
    /// A fresh database with `setup_sql` run in it, and a server on it.
    pub async fn start(setup_sql: &str, opts: Opts) -> Harness {
        let mut scratch = ScratchDb::create("e2e").await;
        let db = scratch.name.clone();
        let pg = admin(&db).await;
        if !setup_sql.is_empty() {
            sqlx::raw_sql(setup_sql).execute(&pg).await.unwrap();
        }
        let dir = std::env::temp_dir().join(format!("sesame-e2e-{}", rand_suffix(10)));
        std::fs::create_dir_all(&dir).unwrap();
        let prefix = format!("t{}_", rand_suffix(6));
        scratch.prefix = Some(prefix.clone());
        let config = dir.join("sesame.toml");
        let (server_cfg, connector_cfg) = config_text(&db, &prefix, &opts);
        std::fs::write(&config, server_cfg).unwrap();
        std::fs::write(dir.join("connector.toml"), connector_cfg).unwrap();
        let listen = opts.listen.clone().unwrap_or_else(|| "127.0.0.1:0".into());
        let mut h = Harness { dir, config, db, prefix, url: String::new(), server: None, pg, remote: opts.remote, listen, _scratch: scratch };
        h.spawn_server();
        h
    }

    pub fn spawn_server(&mut self) {
        let (child, url) = self.spawn_replica_on("server.log", &self.listen.clone());
        self.url = url;
        self.server = Some(child);
    }

    /// Another `sesame serve` on the same configuration (and store), logging
    /// to `log` in the test's directory; returns it and its URL.
    pub fn spawn_replica(&self, log: &str) -> (Child, String) {
        self.spawn_replica_on(log, "127.0.0.1:0")
    }

    /// A replica listening on `listen` (e.g. where a killed one was).
    pub fn spawn_replica_on(&self, log: &str, listen: &str) -> (Child, String) {
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&self.config)
            .args(["--listen", listen])
            .env("SESAME_LOG", "debug,hyper=info,h2=info,tower=info")
            .env("SESAME_E2E_PG_SECRET", if self.remote { "" } else { INTEGRATION_SECRET })
            // What integrations made through the API may read (`[api_integrations]`).
            .env("SESAME_SECRET_E2E_PG", INTEGRATION_SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(self.dir.join(log)).unwrap()))
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().expect("server printed nothing; see server.log").unwrap();
        let addr = first.strip_prefix("Sesame is listening on ").unwrap_or_else(|| panic!("unexpected first line `{first}`"));
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        (child, addr.trim().to_owned())
    }

    /// Start `sesame connector` for `dc-1` with `connector.toml` (its log in
    /// `connector-{n}.log`). The integration secret lives only here.
    pub fn spawn_connector(&self, n: usize) -> Child {
        self.spawn_connector_to(n, &[&self.url])
    }

    /// A connector dialing every replica in `servers`.
    pub fn spawn_connector_to(&self, n: usize, servers: &[&str]) -> Child {
        self.spawn_connector_as(n, "dc-1", &self.dir.join("connector.toml"), servers)
    }

    /// `sesame connector` with id `id` and configuration `config`.
    pub fn spawn_connector_as(&self, n: usize, id: &str, config: &std::path::Path, servers: &[&str]) -> Child {
        let out = Command::new(BIN).args(["token", "issue", "--config"]).arg(&self.config).args(["--connector", id]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        Command::new(BIN)
            .args(["connector", "--config"])
            .arg(config)
            .args(["--server", &servers.join(","), "--token", &token, "--poll-wait", "1s"])
            .env("SESAME_LOG", "debug,hyper=info,h2=info,tower=info,reqwest=info")
            .env("SESAME_E2E_PG_SECRET", INTEGRATION_SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(self.dir.join(format!("connector-{n}.log"))).unwrap()))
            .spawn()
            .unwrap()
    }

    /// GET /api/v1/connectors as `token`.
    pub async fn connectors(&self, token: &str) -> Value {
        reqwest::Client::new().get(format!("{}/api/v1/connectors", self.url)).bearer_auth(token).send().await.unwrap().json().await.unwrap()
    }

    /// SIGKILL: no shutdown, no cleanup.
    pub fn kill_server(&mut self) {
        if let Some(mut c) = self.server.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    pub fn token(&self, user: &str) -> String {
        let out = Command::new(BIN).args(["token", "issue", "--config"]).arg(&self.config).args(["--user", user]).output().unwrap();
        assert!(out.status.success(), "token issue failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Run the CLI as the holder of `token`; returns (exit code, stdout, stderr).
    pub fn cli_raw(&self, token: &str, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(BIN).args(args).arg("--json").env("SESAME_URL", &self.url).env("SESAME_TOKEN", token).output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    /// Run the CLI and parse its JSON; panics on failure.
    pub fn cli(&self, token: &str, args: &[&str]) -> Value {
        let (code, out, err) = self.cli_raw(token, args);
        assert_eq!(code, 0, "`sesame {}` failed: {err}", args.join(" "));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    /// Run the CLI expecting a refusal with `code`: with `--json` the error
    /// is `{"code", "message"}` on stderr.
    pub fn cli_err(&self, token: &str, args: &[&str], code: &str) -> String {
        let (status, _out, err) = self.cli_raw(token, args);
        assert_ne!(status, 0, "`sesame {}` should have failed", args.join(" "));
        let body: Value = serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("--json errors are JSON ({e}): {err}"));
        assert_eq!(body["code"], code, "{err}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{err}");
        err
    }

    pub fn sync(&self, admin_token: &str) {
        self.cli(admin_token, &["inventory", "sync", "local-pg"]);
    }

    /// Create a request; `extra` e.g. `["--wait"]`.
    pub fn request(&self, token: &str, rtype: &str, resources: &str, perm: &str, duration: &str, extra: &[&str]) -> Value {
        let mut args = vec![
            "requests", "create", "--integration", "local-pg", "--resource-type", rtype, "--resources", resources, "--permission", perm,
            "--duration", duration, "--justification", "e2e test",
        ];
        args.extend_from_slice(extra);
        self.cli(token, &args)
    }

    pub async fn role_exists(&self, name: &str) -> bool {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)").bind(name).fetch_one(&self.pg).await.unwrap()
    }

    /// Does `password` match the SCRAM verifier stored for `user`? The local
    /// server trusts loopback logins, so this is how tests prove a shown
    /// password is the real one.
    pub async fn password_matches(&self, user: &str, password: &str) -> bool {
        let stored: Option<String> = sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
            .bind(user)
            .fetch_one(&self.pg)
            .await
            .unwrap();
        stored.is_some_and(|v| sesame_integrations::sql::scram::matches(password, &v))
    }

    /// Log in as a granted user with a real client connection.
    pub async fn login(&self, user: &str, password: &str) -> Result<PgConnection, sqlx::Error> {
        sesame_testkit::targets::pg_login(&self.db, user, password).await
    }

    pub async fn wait_until<F, Fut>(&self, what: &str, timeout: Duration, f: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let hint = format!("server log: {}", self.dir.join("server.log").display());
        sesame_testkit::targets::wait_until(what, &hint, timeout, f).await
    }

    /// The end of a test that passed: the server stops, its directory goes;
    /// the database and every login this test's prefix made go with the
    /// harness (as they do when a test fails).
    pub async fn finish(mut self) {
        self.kill_server();
        self.pg.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The server's configuration, and a connector's (used when `opts.remote`).
fn config_text(db: &str, prefix: &str, opts: &Opts) -> (String, String) {
    let store = opts.store.as_deref().unwrap_or("sqlite://sesame.db");
    let (port, extra_flows, settings, server_extra, worker_extra) = (opts.target_port, &opts.extra_flows, &opts.settings, &opts.server_extra, &opts.worker_extra);
    let pg = format!(
        r#"[[integrations]]
type = "postgresql"
name = "local-pg"
host = "{host}"
port = {port}
username = "postgres"
password = {{ env = "SESAME_E2E_PG_SECRET" }}
databases = ["{db}"]
user_prefix = "{prefix}"
ssl_mode = "disable"
roles = ["*reporting"]

[integrations.settings]
custom_access_details = "Ask #db-help if the login fails."
{settings}
"#,
        host = pg_host()
    );
    let connector = format!("version = 1\nid = \"dc-1\"\n\n{pg}");
    let integration = if opts.remote {
        // The control plane governs the settings of what a connector serves.
        format!("[[connectors]]\nid = \"dc-1\"\n\n[[integrations]]\ntype = \"remote\"\nname = \"local-pg\"\nconnector = \"dc-1\"\n\n[integrations.settings]\n{settings}\n")
    } else {
        pg
    };
    let server = format!(
        r#"version = 1

[server]
store = "{store}"
{server_extra}

[worker]
connector_timeout = "2s"
poll_interval = "50ms"
retry_base = "200ms"
retry_max = "1s"
reconcile_interval = "1s"
sync_interval = "1h"
{worker_extra}

[[users]]
email = "admin@example.com"
admin = true

[[users]]
email = "dev@example.com"
groups = ["developers"]

[[users]]
email = "o'brien+ops@example.com"
groups = ["developers"]

[[users]]
email = "lead@example.com"
groups = ["leads", "developers"]

[[users]]
email = "outsider@example.com"

{integration}
[[access_flows]]
name = "auto-read"
kind = "automatic"
integration = "local-pg"
requesters = {{ groups = ["developers"] }}
permissions = ["read_only"]
max_duration = "1h"
require_justification = true

[[access_flows]]
name = "approved-write"
kind = "self_serve"
integration = "local-pg"
requesters = {{ groups = ["developers"] }}
approvers = {{ groups = ["leads"] }}
permissions = ["read_write", "admin", "member"]
max_duration = "2h"
require_justification = true
{extra_flows}
"#
    );
    (server, connector)
}

/// An automatic access flow for the developers group on `integration`,
/// limited to `permissions` (none: every permission), as configuration.
pub fn automatic_flow(name: &str, integration: &str, permissions: &[&str]) -> String {
    let permissions = if permissions.is_empty() { String::new() } else { format!("permissions = {permissions:?}\n") };
    format!(
        "\n[[access_flows]]\nname = \"{name}\"\nkind = \"automatic\"\nintegration = \"{integration}\"\n\
         requesters = {{ groups = [\"developers\"] }}\n{permissions}max_duration = \"1h\"\n"
    )
}

pub fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("no string `{k}` in {v}")).to_owned()
}
