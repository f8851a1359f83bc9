//! The control plane: REST API, worker, reconciler, discovery.

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod metrics;
pub mod owners;
pub mod reconciler;
pub mod requests;
pub mod state;
pub mod sync;
pub mod worker;

use anyhow::Context;
use config::{IntegrationDecl, Settings};
use sesame_integrations::custom::Custom;
use sesame_integrations::mysql::Mysql;
use sesame_integrations::postgres::Postgres;
use sesame_integrations::redshift::Redshift;
use sesame_integrations::Integration;
use sesame_store::Store;
use state::AppState;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{broadcast, Notify};

/// Build the integrations (the in-process connector): secrets are resolved here.
pub fn build_integrations(settings: &Settings) -> anyhow::Result<BTreeMap<String, Arc<dyn Integration>>> {
    let mut out: BTreeMap<String, Arc<dyn Integration>> = BTreeMap::new();
    for decl in &settings.integrations {
        let ctx = || format!("integration `{}` in {}", decl.name(), settings.path.display());
        let integ: Arc<dyn Integration> = match decl {
            IntegrationDecl::Postgresql(c) => Arc::new(Postgres::new(c.clone()).with_context(ctx)?),
            IntegrationDecl::Mysql(c) => Arc::new(Mysql::new(c.clone()).with_context(ctx)?),
            IntegrationDecl::Redshift(c) => Arc::new(Redshift::new(c.clone()).with_context(ctx)?),
            IntegrationDecl::Custom(c) => Arc::new(Custom::with_builtin_transport(c.clone()).with_context(ctx)?),
        };
        out.insert(decl.name().to_owned(), integ);
    }
    Ok(out)
}

pub async fn state(settings: Settings) -> anyhow::Result<AppState> {
    let store = Store::connect(&settings.store).await.with_context(|| format!("opening the store `{}`", settings.store))?;
    let integrations = build_integrations(&settings)?;
    Ok(AppState {
        store,
        settings: Arc::new(settings),
        integrations: Arc::new(integrations),
        wake_worker: Arc::new(Notify::new()),
        changes: broadcast::channel(1024).0,
    })
}

/// Run the server until the process ends: API, worker, reconciler, discovery.
pub async fn serve(st: AppState, on_ready: impl FnOnce(std::net::SocketAddr)) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&st.settings.listen)
        .await
        .with_context(|| format!("cannot listen on `{}`: pick another with --listen or SESAME_LISTEN", st.settings.listen))?;
    let addr = listener.local_addr()?;
    let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    tokio::spawn(worker::run(st.clone(), owner));
    tokio::spawn(reconciler::run(st.clone()));
    tokio::spawn(sync::run(st.clone()));
    on_ready(addr);
    axum::serve(listener, api::router(st)).await?;
    Ok(())
}
