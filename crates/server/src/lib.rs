//! The control plane: REST API, worker, reconciler, discovery.

pub mod api;
pub mod auth;
pub mod limits;
pub mod clock;
pub mod config;
pub mod connectors;
pub mod error;
pub mod metrics;
pub mod owners;
pub mod reconciler;
pub mod rotation;
pub mod requests;
pub mod state;
pub mod discovery;
pub mod worker;

use anyhow::Context;
use config::{IntegrationDecl, Settings};
use sesame_integrations::registry::Registry;
use sesame_integrations::Integration;
use sesame_store::Store;
use state::AppState;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{broadcast, Notify};

/// Build the integrations this process serves (the in-process connector;
/// secrets are resolved here). Remote integrations are left to the hub.
pub async fn build_integrations(settings: &Settings, registry: &Registry) -> anyhow::Result<BTreeMap<String, Arc<dyn Integration>>> {
    let mut out: BTreeMap<String, Arc<dyn Integration>> = BTreeMap::new();
    for decl in settings.integrations.iter().filter(|d| !matches!(d, IntegrationDecl::Remote(_))) {
        let inner = registry.build(decl).await.with_context(|| format!("integration `{}` in {}", decl.name(), settings.path.display()))?;
        out.insert(decl.name().to_owned(), inner);
    }
    Ok(out)
}

pub async fn state(settings: Settings, registry: &Registry) -> anyhow::Result<AppState> {
    let store = Store::connect(&settings.store).await.with_context(|| format!("opening the store `{}`", settings.store))?;
    let mut integrations = build_integrations(&settings, registry).await?;
    let hub = Arc::new(connectors::Hub::new(settings.connectors.clone(), settings.worker.connector_timeout));
    for decl in &settings.integrations {
        if let IntegrationDecl::Remote(r) = decl {
            let remote = connectors::remote::Remote {
                name: r.name.clone(),
                connector: r.connector.clone(),
                hub: hub.clone(),
                timeout: settings.worker.action_timeout,
                decl: Arc::new(r.clone()),
            };
            integrations.insert(r.name.clone(), remote.integration());
        }
    }
    let auth_guard = Arc::new(crate::limits::AuthGuard::new(settings.auth_failures_per_minute));
    Ok(AppState {
        store,
        settings: Arc::new(settings),
        integrations: Arc::new(integrations),
        children: Default::default(),
        wake_worker: Arc::new(Notify::new()),
        changes: broadcast::channel(1024).0,
        hub,
        syncs: Default::default(),
        auth_guard,
    })
}

/// Run the server until the process ends: API, worker, reconciler, discovery.
pub async fn serve(st: AppState, on_ready: impl FnOnce(std::net::SocketAddr)) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&st.settings.listen)
        .await
        .with_context(|| format!("cannot listen on `{}`: pick another with --listen or SESAME_LISTEN", st.settings.listen))?;
    let addr = listener.local_addr()?;
    // Tokens travel in every request: plain HTTP only on loopback, or knowingly.
    if st.settings.tls.is_none() && !addr.ip().is_loopback() && !st.settings.insecure_http {
        anyhow::bail!(
            "refusing plain HTTP on `{addr}`, which is not a loopback address: set `server.tls_cert` and `server.tls_key` \
             (PEM files), or pass --insecure-http when a TLS-terminating proxy sits in front"
        );
    }
    let tls = match &st.settings.tls {
        Some(t) => Some({
            // Several crypto back ends are linked (the AWS SDK brings its own): pick one.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

            axum_server::tls_rustls::RustlsConfig::from_pem_file(&t.cert, &t.key)
                .await
                .with_context(|| format!("cannot read the TLS certificate `{}` and key `{}`", t.cert.display(), t.key.display()))?
        }),
        None => None,
    };
    let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    // The worker has store connections of its own: API traffic never queues
    // in front of a revoke.
    let mut worker_state = st.clone();
    worker_state.store = Store::connect_dedicated(&st.settings.store).await.with_context(|| format!("opening the store `{}` for the worker", st.settings.store))?;
    tokio::spawn(worker::run(worker_state, owner));
    tokio::spawn(reconciler::run(st.clone()));
    tokio::spawn(discovery::run(st.clone()));
    let hub = st.hub.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            hub.reap();
        }
    });
    on_ready(addr);
    let app = api::router(st).into_make_service_with_connect_info::<std::net::SocketAddr>();
    match tls {
        Some(config) => axum_server::from_tcp_rustls(listener.into_std()?, config).serve(app).await?,
        None => axum::serve(listener, app).await?,
    }
    Ok(())
}
