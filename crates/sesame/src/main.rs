//! `sesame`: the one binary. `serve` runs the control plane (with an
//! in-process connector); the other commands are API clients, apart from
//! `token issue`, which writes to the store directly to bootstrap access.

mod bench;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sesame_cli::ClientOpts;
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
    },
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
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
    /// The audit log.
    Audit(sesame_cli::AuditArgs),
    /// Who the token belongs to.
    Whoami,
    /// Benchmarks against the local databases, with OpenBao side by side.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Issue a token for a user declared in the configuration; printed once.
    Issue {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        user: String,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        store: Option<String>,
    },
}

fn load(config: &ConfigArg, overrides: Overrides) -> anyhow::Result<config::Settings> {
    Ok(config::load(&config.config, Overrides::from_env().then(overrides))?)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let client_result = match cli.cmd {
        Cmd::Serve { config, listen, store } => {
            let settings = load(&config, Overrides { listen, store })?;
            let cfg_path = settings.path.display().to_string();
            let users: Vec<String> = settings.directory.users.iter().map(|u| u.email.clone()).collect();
            let state = sesame_server::state(settings).await?;
            sesame_server::serve(state, |addr| {
                println!("Sesame is listening on http://{addr}");
                println!("Get an API token:  sesame token issue --config {cfg_path} --user EMAIL");
                if let Some(u) = users.first() {
                    println!("  (declared users: {})", users.join(", "));
                    println!("Then:  export SESAME_URL=http://{addr} SESAME_TOKEN=<token>; sesame whoami   # e.g. as {u}");
                }
            })
            .await?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Token(TokenCmd::Issue { config, user, label, store }) => {
            let settings = load(&config, Overrides { listen: None, store })?;
            let u = settings.directory.user(&user).with_context(|| {
                format!("user `{user}` is not declared in {}: add it under [[users]]", settings.path.display())
            })?;
            let store = sesame_store::Store::connect(&settings.store).await?;
            let token = sesame_server::auth::new_token();
            store
                .insert_token(&sesame_server::auth::token_hash(&token), &u.email, label.as_deref(), sesame_server::clock::now())
                .await?;
            println!("{token}");
            eprintln!("token for {} (shown once; Sesame keeps only its hash)", u.email);
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::CheckConfig { config } => {
            let s = load(&config, Overrides::default())?;
            sesame_server::build_integrations(&s)?;
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
        Cmd::Requests(c) => sesame_cli::requests(&cli.client, c).await,
        Cmd::Access(c) => sesame_cli::access(&cli.client, c).await,
        Cmd::Inventory(c) => sesame_cli::inventory(&cli.client, c).await,
        Cmd::Audit(a) => sesame_cli::audit(&cli.client, a).await,
        Cmd::Whoami => sesame_cli::whoami(&cli.client).await,
    };
    match client_result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(2))
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SESAME_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
