//! `sesame`: the one binary. `serve` runs the control plane (with an
//! in-process connector); the other commands are API clients, apart from
//! `token issue`, which writes to the store directly to bootstrap access.

mod bench;
mod eks;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sesame_cli::ClientOpts;
use sesame_integrations::registry::Registry;
use sesame_server::config::{self, Overrides};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "sesame", version, about = "Just-in-time access: nobody holds standing access to production")]
struct Cli {
    #[command(flatten)]
    client: ClientOpts,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// Configuration file.
    #[arg(long, env = "SESAME_CONFIG", default_value = "sesame.toml")]
    config: PathBuf,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the control plane: API, worker, reconciler, discovery.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Address to listen on (overrides the file and SESAME_LISTEN).
        #[arg(long)]
        listen: Option<String>,
        /// Store URL: sqlite://PATH or postgres://... (overrides the file and SESAME_STORE).
        #[arg(long)]
        store: Option<String>,
        /// Serve plain HTTP on a non-loopback address (without `server.tls_cert`/`tls_key`).
        /// Tokens would cross the network in the clear: only behind a TLS-terminating proxy.
        #[arg(long, env = "SESAME_INSECURE_HTTP")]
        insecure_http: bool,
    },
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Run a connector: dial out to the control plane and serve the
    /// integrations of its own configuration (secrets stay here).
    Connector {
        /// The connector's configuration file.
        #[arg(long, env = "SESAME_CONNECTOR_CONFIG", default_value = "connector.toml")]
        config: PathBuf,
        /// The control plane's URL; give every replica's (repeat the flag,
        /// or separate with commas) and the connector serves them all, so
        /// it keeps working while any one of them is up.
        #[arg(long, env = "SESAME_SERVER", value_delimiter = ',', required = true)]
        server: Vec<String>,
        /// The connector's token (`sesame token issue --connector ID`).
        #[arg(long, env = "SESAME_CONNECTOR_TOKEN", hide_env_values = true)]
        token: String,
        /// How long each poll may wait for work.
        #[arg(long, default_value = "20s")]
        poll_wait: humantime::Duration,
    },
    /// Check a configuration file and say what is wrong.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Ask for, approve, list and revoke access.
    #[command(subcommand)]
    Requests(sesame_cli::RequestsCmd),
    /// Use granted access.
    #[command(subcommand)]
    Access(sesame_cli::AccessCmd),
    /// Integrations, their resources and permissions.
    #[command(subcommand)]
    Inventory(sesame_cli::InventoryCmd),
    /// Permission boundaries on over-privileged standing AWS principals (admins).
    #[command(subcommand)]
    Boundaries(sesame_cli::BoundariesCmd),
    /// Access scopes: named AQL queries over the inventory.
    #[command(subcommand)]
    Scopes(sesame_cli::ScopesCmd),
    /// Access flows: who may ask for what, who approves, with which settings.
    #[command(subcommand)]
    Flows(sesame_cli::FlowsCmd),
    /// Bundles: named sets of access targets, requested together.
    #[command(subcommand)]
    Bundles(sesame_cli::BundlesCmd),
    /// Bring the access flows, bundles and access scopes made through the
    /// API to match a file (admins): `--dry-run` prints the plan, `--prune`
    /// deletes what it does not declare.
    Apply(sesame_cli::ApplyArgs),
    /// Write the access flows, bundles and access scopes made through the
    /// API as one declaration (admins); `apply` reads it back unchanged.
    Export(sesame_cli::ExportArgs),
    /// MFA step-up: enrol a TOTP factor, verify a code, reset (admins).
    #[command(subcommand)]
    Mfa(sesame_cli::MfaCmd),
    /// Reports: `reports access` (Review Access, admins).
    #[command(subcommand)]
    Reports(sesame_cli::ReportsCmd),
    /// The audit log.
    Audit(sesame_cli::AuditArgs),
    /// Who the token belongs to.
    Whoami,
    /// Sign in at the identity provider (device grant): prints where to go
    /// and a code, then keeps a session token in your config directory
    /// (mode 0600) that later commands use.
    Login,
    /// End the session `sesame login` kept, and remove it.
    Logout,
    /// Benchmarks against the local databases, with OpenBao side by side.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Amazon EKS: the once-per-cluster setup of access.
    #[command(subcommand)]
    Eks(eks::EksCmd),
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Issue a token for a user (or a connector) declared in the
    /// configuration; printed once.
    Issue {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long, required_unless_present_any = ["connector", "scim"], conflicts_with_all = ["connector", "scim"])]
        user: Option<String>,
        /// Issue a connector's token instead of a user's.
        #[arg(long, conflicts_with = "scim")]
        connector: Option<String>,
        /// Issue the token an identity provider pushes people with (SCIM,
        /// `/scim/v2`); it opens nothing else.
        #[arg(long)]
        scim: bool,
        #[arg(long)]
        label: Option<String>,
        /// How long it works: e.g. `90d`, `12h`, or `never`.
        #[arg(long, default_value = "90d")]
        expires_in: String,
        #[arg(long)]
        store: Option<String>,
    },
    /// Tokens: id, whose, label, created, expires, revoked (never the token).
    List {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        store: Option<String>,
    },
    /// Revoke a token by its id (from `sesame token list`); audited.
    Revoke {
        #[command(flatten)]
        config: ConfigArg,
        id: String,
        #[arg(long)]
        store: Option<String>,
    },
}

/// The actor of token changes made with the binary (store access, no API).
const OPERATOR: &str = "operator (sesame token)";

fn load(config: &ConfigArg, overrides: Overrides) -> anyhow::Result<config::Settings> {
    Ok(config::load(&config.config, Overrides::from_env().then(overrides))?)
}

/// What this binary can build: the built-in integration types and AWS.
fn registry() -> Registry {
    Registry::new().with(sesame_aws::Aws)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let json = cli.client.json;
    let client_result = match cli.cmd {
        Cmd::Serve { config, listen, store, insecure_http } => {
            let settings = load(&config, Overrides { listen, store, insecure_http })?;
            let scheme = if settings.tls.is_some() { "https" } else { "http" };
            let cfg_path = settings.path.display().to_string();
            let users: Vec<String> = settings.directory.users.iter().map(|u| u.email.clone()).collect();
            let state = sesame_server::state(settings, &registry()).await?;
            sesame_server::serve(state, |addr| {
                // The banner is for people: a closed stdout must not stop the server.
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "Sesame is listening on {scheme}://{addr}");
                let _ = writeln!(out, "Get an API token:  sesame token issue --config {cfg_path} --user EMAIL");
                let _ = writeln!(out, "Open the portal:   {scheme}://{addr}/portal   (sign in with such a token, or through your identity provider when [oidc] is set)");
                if let Some(u) = users.first() {
                    let _ = writeln!(out, "  (declared users: {})", users.join(", "));
                    let _ = writeln!(out, "Then:  export SESAME_URL={scheme}://{addr} SESAME_TOKEN=<token>; sesame whoami   # e.g. as {u}");
                }
                let _ = out.flush();
            })
            .await?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Token(TokenCmd::List { config, store }) => {
            let settings = load(&config, Overrides { listen: None, store, ..Default::default() })?;
            let store = sesame_store::Store::connect(&settings.store).await?;
            let t = |ts: Option<sesame_core::Timestamp>| ts.map(sesame_server::clock::rfc3339).unwrap_or_else(|| "-".into());
            for r in store.list_tokens().await? {
                println!(
                    "{}  {}  label={}  created={}  expires={}  revoked={}",
                    r.id,
                    r.principal,
                    r.label.as_deref().unwrap_or("-"),
                    sesame_server::clock::rfc3339(r.created_at),
                    t(r.expires_at),
                    t(r.revoked_at)
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Token(TokenCmd::Revoke { config, id, store }) => {
            let settings = load(&config, Overrides { listen: None, store, ..Default::default() })?;
            if id.len() != 12 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
                anyhow::bail!("`{id}` is not a token id: ids are the 12 hex digits `sesame token list` shows");
            }
            let store = sesame_store::Store::connect(&settings.store).await?;
            let audit = sesame_store::AuditDraft::new(OPERATOR, sesame_store::AuditAction::TokenRevoke, None, sesame_store::Outcome::Ok, serde_json::json!({"token_id": id}));
            if !store.revoke_token(&id.to_ascii_lowercase(), audit, sesame_server::clock::now()).await? {
                anyhow::bail!("no live token has id `{id}`: see `sesame token list`");
            }
            eprintln!("token {id} revoked");
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Token(TokenCmd::Issue { config, user, connector, scim, label, expires_in, store }) => {
            let settings = load(&config, Overrides { listen: None, store, ..Default::default() })?;
            let store = sesame_store::Store::connect(&settings.store).await?;
            let principal = match (user, connector) {
                _ if scim => sesame_server::scim::PRINCIPAL.to_owned(),
                (Some(user), _) => sesame_server::scim::directory_of(&store, &settings.directory, &settings.roles, sesame_server::clock::now())
                    .await?
                    .user(&user)
                    .with_context(|| format!("user `{user}` is not declared in {} nor pushed through SCIM: add it under [[users]]", settings.path.display()))?
                    .email
                    .clone(),
                (None, Some(c)) => {
                    let made = store.definitions().await?.iter().any(|d| d.kind == "connector" && d.name == c && d.retiring_since.is_none());
                    if !settings.connectors.contains(&c) && !made {
                        anyhow::bail!("connector `{c}` is not declared in {} nor made through the API: add [[connectors]] id = \"{c}\" to either", settings.path.display());
                    }
                    format!("{}{c}", sesame_server::auth::CONNECTOR_TOKEN_PREFIX)
                }
                (None, None) => anyhow::bail!("say whose token: --user EMAIL, --connector ID or --scim"),
            };
            let now = sesame_server::clock::now();
            let expires_at = match expires_in.as_str() {
                "never" => None,
                d => Some(now.plus(humantime::parse_duration(d).with_context(|| format!("`--expires-in {d}`: write e.g. `90d`, `12h` or `never`"))?)),
            };
            let token = sesame_server::auth::new_token();
            let hash = sesame_server::auth::token_hash(&token);
            let detail = serde_json::json!({"token_id": sesame_store::token_id(&hash), "principal": principal, "label": label, "expires_at": expires_at.map(sesame_server::clock::rfc3339)});
            let audit = sesame_store::AuditDraft::new(OPERATOR, sesame_store::AuditAction::TokenIssue, None, sesame_store::Outcome::Ok, detail);
            store.insert_token(&hash, &principal, label.as_deref(), expires_at, audit, now).await?;
            println!("{token}");
            eprintln!("token for {principal} (shown once; Sesame keeps only its hash)");
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Connector { config, server, token, poll_wait } => {
            let cfg = sesame_connector::config::load(&config)?;
            // `--ca-cert` (global) trusts a private CA of the control plane.
            sesame_connector::run(cfg, &registry(), server, token, poll_wait.into(), cli.client.ca_cert.clone()).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::CheckConfig { config } => {
            let s = load(&config, Overrides::default())?;
            sesame_server::build_integrations(&s, &registry()).await?;
            println!(
                "{}: ok ({} users, {} integrations, {} access flows)",
                s.path.display(),
                s.directory.users.len(),
                s.integrations.len(),
                s.flows.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Bench(b) => {
            bench::run(b).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Eks(c) => {
            return Ok(if eks::run(c).await? { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        Cmd::Requests(c) => sesame_cli::requests(&cli.client, c).await,
        Cmd::Access(c) => sesame_cli::access(&cli.client, c).await,
        Cmd::Inventory(c) => sesame_cli::inventory(&cli.client, c).await,
        Cmd::Audit(a) => sesame_cli::audit(&cli.client, a).await,
        Cmd::Boundaries(c) => sesame_cli::boundaries(&cli.client, c).await,
        Cmd::Scopes(c) => sesame_cli::scopes(&cli.client, c).await,
        Cmd::Bundles(c) => sesame_cli::bundles(&cli.client, c).await,
        Cmd::Flows(c) => sesame_cli::flows(&cli.client, c).await,
        Cmd::Apply(a) => sesame_cli::apply(&cli.client, a).await,
        Cmd::Export(a) => sesame_cli::export(&cli.client, a).await,
        Cmd::Mfa(c) => sesame_cli::mfa(&cli.client, c).await,
        Cmd::Reports(c) => sesame_cli::reports(&cli.client, c).await,
        Cmd::Whoami => sesame_cli::whoami(&cli.client).await,
        Cmd::Login => sesame_cli::login(&cli.client).await,
        Cmd::Logout => sesame_cli::logout(&cli.client).await,
    };
    match client_result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(sesame_cli::ApiFailure::StdoutClosed) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            use std::io::Write;
            // With --json, errors are JSON too: {"code", "message"} on stderr.
            let text = if json { serde_json::to_string(&e.body()).unwrap_or_else(|_| e.to_string()) } else { e.to_string() };
            let _ = writeln!(std::io::stderr(), "{text}");
            Ok(ExitCode::from(e.exit_code()))
        }
    }
}

/// Logs on stderr, filtered by `SESAME_LOG`. Colours only on a terminal;
/// `SESAME_LOG_FORMAT=json` writes one JSON object per line.
fn init_logs() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SESAME_LOG").unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("SESAME_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().flatten_event(true).init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logs();
    match run(Cli::parse()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
