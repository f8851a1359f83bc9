//! The control plane: REST API, worker, reconciler, discovery.

pub mod api;
pub mod auth;
pub mod bundles;
pub mod limits;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod declared;
pub mod made_integrations;
pub mod definitions;
pub mod gateway;
pub mod error;
pub mod metrics;
pub mod mfa;
pub mod oidc;
pub mod seal;
pub mod owners;
pub mod portal;
pub mod reconciler;
pub mod rotation;
pub mod scim;
pub mod scopes;
pub mod reports;
pub mod requests;
pub mod retiring;
pub mod state;
pub mod discovery;
pub mod worker;

use config::{IntegrationDecl, Settings};
use sesame_integrations::registry::Registry;
use sesame_integrations::Integration;
use sesame_store::Store;
use state::AppState;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{broadcast, Notify};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("integration `{name}` in {config}: {error}")]
    Integration { name: String, config: String, error: sesame_integrations::IntegrationError },
    #[error("opening the store `{url}`: {error}")]
    Store { url: String, error: sesame_store::StoreError },
    #[error("cannot listen on `{addr}`: {error}: pick another with --listen or SESAME_LISTEN")]
    Listen { addr: String, error: std::io::Error },
    #[error(
        "refusing plain HTTP on `{0}`, which is not a loopback address: set `server.tls_cert` and `server.tls_key` \
         (PEM files), or pass --insecure-http when a TLS-terminating proxy sits in front"
    )]
    PlainHttp(std::net::SocketAddr),
    #[error("cannot read the TLS certificate `{cert}` and key `{key}`: {error}")]
    Tls { cert: String, key: String, error: std::io::Error },
    #[error("cannot read or make the MFA key `{path}`: {error}: set `server.mfa_key_file` to a file of 32 random bytes, or remove it to have one made")]
    MfaKey { path: String, error: std::io::Error },
    #[error("{0}: fix the file it names, or remove `declarations` from the configuration")]
    Declarations(String),
    #[error("sign-in (`[oidc]`): {0}")]
    Oidc(String),
    #[error("the server stopped: {0}")]
    Serve(#[from] std::io::Error),
}

/// Build the integrations this process serves (the in-process connector;
/// secrets are resolved here). Remote integrations are left to the hub.
pub async fn build_integrations(settings: &Settings, registry: &Registry) -> Result<BTreeMap<String, Arc<dyn Integration>>, StartError> {
    let mut out: BTreeMap<String, Arc<dyn Integration>> = BTreeMap::new();
    for decl in settings.integrations.iter().filter(|d| !matches!(d, IntegrationDecl::Remote(_))) {
        let inner = registry.build(decl).await.map_err(|error| StartError::Integration {
            name: decl.name().to_owned(),
            config: settings.path.display().to_string(),
            error,
        })?;
        out.insert(decl.name().to_owned(), inner);
    }
    Ok(out)
}

/// Build one integration: in this process (its secrets read here), or, for
/// a remote one, as tasks for its connector through the hub.
pub async fn build_one(
    decl: &IntegrationDecl,
    registry: &Registry,
    hub: &Arc<gateway::Hub>,
    action_timeout: std::time::Duration,
) -> Result<Arc<dyn Integration>, sesame_integrations::IntegrationError> {
    match decl {
        IntegrationDecl::Remote(r) => {
            let remote = gateway::remote::Remote { name: r.name.clone(), connector: r.connector.clone(), hub: hub.clone(), timeout: action_timeout, decl: Arc::new(r.clone()) };
            Ok(remote.integration())
        }
        other => registry.build(other).await,
    }
}

pub async fn state(settings: Settings, registry: &Registry) -> Result<AppState, StartError> {
    let store = Store::connect(&settings.store).await.map_err(|error| StartError::Store { url: settings.store.clone(), error })?;
    let hub = Arc::new(gateway::Hub::new(settings.connectors.clone(), settings.worker.connector_timeout));
    let mut integrations = BTreeMap::new();
    for decl in &settings.integrations {
        let built = build_one(decl, registry, &hub, settings.worker.action_timeout).await.map_err(|error| StartError::Integration {
            name: decl.name().to_owned(),
            config: settings.path.display().to_string(),
            error,
        })?;
        integrations.insert(decl.name().to_owned(), built);
    }
    let auth_guard = Arc::new(crate::limits::AuthGuard::new(settings.auth_failures_per_minute));
    let mfa_key = crate::seal::SealKey::load_or_create(&settings.mfa_key_file)
        .map_err(|error| StartError::MfaKey { path: settings.mfa_key_file.display().to_string(), error })?;
    // The file's flows and bundles are in force from the start; those made
    // through the API join them when the store is read.
    let policy = state::Policy {
        flows: settings.flows.clone(),
        bundles: settings.bundles.clone(),
        integrations,
        decls: settings.integrations.clone(),
        roles: settings.roles.clone(),
        connectors: settings.connectors.clone(),
        stamp: (-1, -1),
        ..Default::default()
    };
    let settings_directory = settings.directory.clone();
    let settings_roles = settings.roles.clone();
    let sign_in = match &settings.oidc {
        Some(o) => {
            let secret = registry.resolve(&o.client_secret).await.map_err(|e| StartError::Oidc(format!("`oidc.client_secret`: {}", e.0)))?;
            Some(Arc::new(oidc::SignIn::new(o.clone(), secret.trim_end().to_owned()).map_err(StartError::Oidc)?))
        }
        None => None,
    };
    let st = AppState {
        store,
        settings: Arc::new(settings),
        registry: registry.clone(),
        children: Default::default(),
        wake_worker: Arc::new(Notify::new()),
        worker_wakes_at: Default::default(),
        changes: broadcast::channel(1024).0,
        hub,
        syncs: Default::default(),
        auth_guard,
        sign_in_starts: Default::default(),
        mfa_key: Arc::new(mfa_key),
        policy: Arc::new(std::sync::RwLock::new(Arc::new(policy))),
        people: Arc::new(std::sync::RwLock::new(Arc::new(state::People { directory: settings_directory, stamp: None, roles: settings_roles }))),
        sign_in,
        integration_types: Arc::new(registry.config_schemas().into_iter().map(|(type_name, schema)| sesame_proto::IntegrationTypeView { type_name, schema }).collect()),
    };
    if let Err(e) = definitions::refresh(&st).await {
        tracing::warn!(error = %e, "cannot read what was made through the API yet; the file's are in force");
    }
    if let Err(e) = scim::refresh(&st).await {
        tracing::warn!(error = %e, "cannot read the people pushed through SCIM yet; the file's are in force");
    }
    if let Some(plan) = declared::apply_at_start(&st).await.map_err(StartError::Declarations)? {
        tracing::info!(changes = plan.changes.len(), unchanged = plan.unchanged, "applied the configuration file's `declarations`");
    }
    Ok(st)
}

/// Run the server until the process ends: API, worker, reconciler, discovery.
pub async fn serve(st: AppState, on_ready: impl FnOnce(std::net::SocketAddr)) -> Result<(), StartError> {
    let listener = tokio::net::TcpListener::bind(&st.settings.listen)
        .await
        .map_err(|error| StartError::Listen { addr: st.settings.listen.to_string(), error })?;
    let addr = listener.local_addr()?;
    // Tokens travel in every request: plain HTTP only on loopback, or knowingly.
    if st.settings.tls.is_none() && !addr.ip().is_loopback() && !st.settings.insecure_http {
        return Err(StartError::PlainHttp(addr));
    }
    let tls = match &st.settings.tls {
        Some(t) => Some({
            // Several crypto back ends are linked (the AWS SDK brings its own): pick one.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

            axum_server::tls_rustls::RustlsConfig::from_pem_file(&t.cert, &t.key)
                .await
                .map_err(|error| StartError::Tls { cert: t.cert.display().to_string(), key: t.key.display().to_string(), error })?
        }),
        None => None,
    };
    let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    // The worker has store connections of its own: API traffic never queues
    // in front of a revoke.
    let mut worker_state = st.clone();
    worker_state.store =
        st.store.connect_dedicated(&st.settings.store).await.map_err(|error| StartError::Store { url: st.settings.store.clone(), error })?;
    tokio::spawn(worker::run(worker_state, owner));
    tokio::spawn(reconciler::run(st.clone()));
    tokio::spawn(discovery::run(st.clone()));
    tokio::spawn(definitions::watch(st.clone()));
    tokio::spawn(scim::watch(st.clone()));
    let hub = st.hub.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            hub.reap();
        }
    });
    on_ready(addr);
    let app = limits::guard(api::router(st.clone()).merge(portal::router(st))).into_make_service_with_connect_info::<std::net::SocketAddr>();
    match tls {
        Some(config) => axum_server::from_tcp_rustls(listener.into_std()?, config).serve(app).await?,
        None => axum::serve(listener, app).await?,
    }
    Ok(())
}
