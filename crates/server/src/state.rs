//! What every handler and loop shares.

use crate::config::Settings;
use crate::gateway::Hub;
use sesame_integrations::Integration;
use sesame_store::Store;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use tokio::sync::{broadcast, Notify};

/// Why a discovery failed, as the integration's status message says it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SyncError(pub String);

/// A discovery in progress (`discovery.rs`), awaited by everyone who asked
/// for it.
pub type Running = futures::future::Shared<futures::future::BoxFuture<'static, Result<usize, SyncError>>>;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    /// What builds integrations made through the API (and reads their secrets).
    pub registry: sesame_integrations::registry::Registry,
    /// Sub-integrations discovery found (`parent/child`), e.g. tagged RDS instances.
    pub children: Arc<RwLock<BTreeMap<String, Arc<dyn Integration>>>>,
    /// Wakes the worker when a job is due now.
    pub wake_worker: Arc<Notify>,
    /// When the sleeping worker looks again (epoch ms); 0 while it works.
    pub worker_wakes_at: Arc<std::sync::atomic::AtomicI64>,
    /// Ids of requests whose status changed, for `wait`.
    pub changes: broadcast::Sender<String>,
    /// The connector gateway.
    pub hub: Arc<Hub>,
    /// Discoveries running now, one per integration: a sync asked for
    /// meanwhile joins the running one.
    pub syncs: Arc<std::sync::Mutex<BTreeMap<String, Running>>>,
    /// Failed sign-ins, rate limited per address and token.
    pub auth_guard: Arc<crate::limits::AuthGuard>,
    /// Sign-ins started per address.
    pub sign_in_starts: Arc<crate::limits::SignInStarts>,
    /// Seals MFA secrets in the store.
    pub mfa_key: Arc<crate::seal::SealKey>,
    /// The integrations, connectors, groups' roles, access flows and bundles
    /// in force: the file's and those made through the API (`definitions.rs`
    /// rebuilds it when they change).
    pub policy: Arc<RwLock<Arc<Policy>>>,
    /// The people decisions read: the file's, overlaid by those pushed
    /// through SCIM (`scim::refresh` rebuilds it when they change).
    pub people: Arc<RwLock<Arc<People>>>,
    /// Every integration type's configuration as JSON Schema.
    pub integration_types: Arc<Vec<sesame_proto::IntegrationTypeView>>,
    /// Sign-in through the identity provider, when `[oidc]` is configured.
    pub sign_in: Option<Arc<crate::oidc::SignIn>>,
}

/// The directory in force, and the SCIM store's stamp it was built from.
#[derive(Debug, Default)]
pub struct People {
    pub directory: sesame_core::Directory,
    pub stamp: Option<PeopleStamp>,
    /// The roles granted to groups when it was built.
    pub roles: sesame_core::Roles,
}

/// What changes when the people in the store do: SCIM's resources, and who
/// is signed in.
pub type PeopleStamp = ((i64, i64, i64), (i64, i64));

/// What is in force from the file and the API: integrations, connectors,
/// groups' roles, access flows and bundles, as decisions read them.
#[derive(Default)]
pub struct Policy {
    pub flows: Vec<sesame_core::AccessFlow>,
    pub bundles: Vec<sesame_core::bundle::Bundle>,
    /// Every integration served: the file's and those made through the API.
    pub integrations: BTreeMap<String, Arc<dyn Integration>>,
    /// Their declarations (the file's first).
    pub decls: Vec<sesame_integrations::registry::IntegrationDecl>,
    /// The declaration each integration made through the API was built
    /// from, so an unchanged one is not built again.
    pub made: BTreeMap<String, String>,
    /// Integrations deleted while grants were live on them: served to
    /// revoke those, refused for anything new.
    pub retiring: std::collections::BTreeSet<String>,
    /// The file's `[roles]` with the roles declared groups grant.
    pub roles: sesame_core::Roles,
    /// Connectors that may register.
    pub connectors: std::collections::BTreeSet<String>,
    /// Why integrations made through the API could not be built (tried
    /// again on every refresh).
    pub unbuilt: Vec<String>,
    /// What the store's definitions were when this was built.
    pub stamp: (i64, i64),
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("flows", &self.flows.len())
            .field("bundles", &self.bundles.len())
            .field("integrations", &self.integrations.keys().collect::<Vec<_>>())
            .field("retiring", &self.retiring)
            .field("roles", &self.roles)
            .field("connectors", &self.connectors)
            .field("unbuilt", &self.unbuilt)
            .field("stamp", &self.stamp)
            .finish()
    }
}

impl AppState {
    /// The access flows and bundles in force now.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The people in force now.
    pub fn people(&self) -> Arc<People> {
        self.people.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn integration(&self, name: &str) -> Option<Arc<dyn Integration>> {
        if let Some(i) = self.policy().integrations.get(name) {
            return Some(i.clone());
        }
        self.children.read().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    /// Configured integrations, then discovered sub-integrations.
    pub fn integration_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.policy().integrations.keys().cloned().collect();
        names.extend(self.children.read().unwrap_or_else(|p| p.into_inner()).keys().cloned());
        names
    }

    /// A job was stored that is due at `at`: wake the worker if it would
    /// otherwise look too late. (The worker publishes its wake time before
    /// it reads the next due job, so a job committed meanwhile is seen by
    /// one or the other.)
    pub fn job_due_at(&self, at: sesame_core::Timestamp) {
        if at.0 < self.worker_wakes_at.load(std::sync::atomic::Ordering::SeqCst) {
            self.wake_worker.notify_one();
        }
    }

    pub fn changed(&self, request_id: &str) {
        let _ = self.changes.send(request_id.to_owned());
    }
}
