//! The Kubernetes API, through kube-rs: server-side apply of a grant's
//! objects, Sesame's objects listed by label and deleted, and what
//! discovery reads (namespaces, ClusterRoles, namespaced kinds).

use super::rbac::{self, Kind, Object, EXPIRES_AT, LOGIN, MANAGED_BY, SESAME};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams};
use k8s_openapi::Resource;
use sesame_integrations::{Cause, IntegrationError};
use std::time::Duration;

/// Who Sesame's writes are by (server-side apply's field manager).
const FIELD_MANAGER: &str = "sesame";

/// Where the API server is and how to sign in to it.
pub struct Endpoint {
    /// Empty: the cluster the connector runs in (its pod's service account).
    pub server_url: Option<String>,
    /// PEM certificates to trust for `server_url` (beside the system's).
    pub certificate_authority: Option<String>,
    pub token: Option<String>,
    pub timeout: Duration,
}

pub struct Cluster {
    client: kube::Client,
}

/// One of Sesame's objects in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managed {
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    pub login: String,
    pub expires_at: Option<String>,
}

impl Managed {
    /// `Kind namespace/name` (or `Kind name`), as [`Object::describe`] says it.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    fn of(kind: &'static str, m: &ObjectMeta) -> Option<Managed> {
        Some(Managed {
            kind,
            namespace: m.namespace.clone(),
            name: m.name.clone()?,
            login: m.labels.as_ref()?.get(LOGIN)?.clone(),
            expires_at: m.annotations.as_ref().and_then(|a| a.get(EXPIRES_AT)).cloned(),
        })
    }
}

/// A Kubernetes failure as Sesame's: refused for want of rights is the
/// integration's own account's fault; the rest is worth retrying.
pub fn kube_err(what: &str, e: kube::Error) -> IntegrationError {
    match e {
        kube::Error::Api(s) if s.is_forbidden() => IntegrationError::Misconfigured(format!(
            "{what}: the Kubernetes API refused the connector's service account ({}); bind it to cluster-admin or an equivalent role",
            s.message
        )),
        kube::Error::Api(s) if s.code == 401 => {
            IntegrationError::Misconfigured(format!("{what}: the Kubernetes API does not accept the connector's credentials ({}); check `token`", s.message))
        }
        kube::Error::Api(s) => IntegrationError::Unavailable(Cause::Target {
            system: "kubernetes".into(),
            code: if s.reason.is_empty() { s.code.to_string() } else { format!("{} {}", s.code, s.reason) },
            message: format!("{what}: {}", s.message),
        }),
        other => IntegrationError::Unavailable(Cause::Unreachable { system: "kubernetes".into(), message: format!("{what}: {other}") }),
    }
}

fn config_err(e: impl std::fmt::Display) -> IntegrationError {
    IntegrationError::Misconfigured(e.to_string())
}

fn selector(login: Option<&str>) -> ListParams {
    ListParams::default().labels(&match login {
        Some(l) => format!("{MANAGED_BY}={SESAME},{LOGIN}={l}"),
        None => format!("{MANAGED_BY}={SESAME}"),
    })
}

impl Cluster {
    pub fn connect(e: &Endpoint) -> Result<Cluster, IntegrationError> {
        let mut cfg = match &e.server_url {
            None => kube::Config::incluster().map_err(|err| {
                IntegrationError::Misconfigured(format!("no `server_url`, and this is not a pod in the cluster ({err}): set `server_url` and `token`, or run the connector in the cluster"))
            })?,
            Some(url) => {
                let uri: http::Uri = url.parse().map_err(|err| config_err(format!("`server_url` `{url}` is not a URL: {err}")))?;
                // The token must not cross a network in the clear: plain HTTP
                // only to this host (a local proxy, or a test's stand-in).
                let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1"));
                if !(uri.scheme_str() == Some("https") || (uri.scheme_str() == Some("http") && loopback)) {
                    return Err(config_err(format!("`server_url` `{url}` must start with https:// (plain http only to 127.0.0.1 or localhost)")));
                }
                kube::Config::new(uri)
            }
        };
        if let Some(pem) = &e.certificate_authority {
            let certs = pem::parse_many(pem).map_err(|err| config_err(format!("`certificate_authority` is not PEM: {err}")))?;
            if certs.is_empty() {
                return Err(config_err("`certificate_authority` holds no certificate"));
            }
            cfg.root_cert = Some(certs.into_iter().map(pem::Pem::into_contents).collect());
        }
        if let Some(t) = &e.token {
            cfg.auth_info.token = Some(t.clone().into());
        }
        cfg.read_timeout = Some(e.timeout);
        cfg.write_timeout = Some(e.timeout);
        cfg.reset_reader_on_write = true;
        // A failed call fails the action at once: the durable job retries it
        // with its own backoff, within the action's time.
        cfg.default_retry = false;
        let client = kube::Client::try_from(cfg).map_err(config_err)?;
        Ok(Cluster { client })
    }

    /// The `mapRoles` of the `aws-auth` ConfigMap in `kube-system`, if any.
    pub async fn aws_auth_map_roles(&self) -> Result<Option<String>, IntegrationError> {
        let api: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(self.client.clone(), "kube-system");
        let cm = api.get_opt("aws-auth").await.map_err(|e| kube_err("cannot read the aws-auth ConfigMap", e))?;
        Ok(cm.and_then(|c| c.data).and_then(|mut d| d.remove("mapRoles")))
    }

    pub async fn version(&self) -> Result<String, IntegrationError> {
        let v = self.client.apiserver_version().await.map_err(|e| kube_err("cannot read the API server's version", e))?;
        Ok(v.git_version)
    }

    /// Create or bring up to date (server-side apply, Sesame's fields win).
    pub async fn apply(&self, o: &Object) -> Result<(), IntegrationError> {
        let pp = PatchParams::apply(FIELD_MANAGER).force();
        let what = format!("cannot apply {}", o.describe());
        match o {
            Object::ClusterRoleBinding(b) => {
                let api: Api<ClusterRoleBinding> = Api::all(self.client.clone());
                api.patch(name_of(&b.metadata), &pp, &Patch::Apply(b)).await.map(drop)
            }
            Object::RoleBinding(b) => {
                let api: Api<RoleBinding> = Api::namespaced(self.client.clone(), namespace_of(&b.metadata));
                api.patch(name_of(&b.metadata), &pp, &Patch::Apply(b)).await.map(drop)
            }
            Object::Role(r) => {
                let api: Api<Role> = Api::namespaced(self.client.clone(), namespace_of(&r.metadata));
                api.patch(name_of(&r.metadata), &pp, &Patch::Apply(r)).await.map(drop)
            }
        }
        .map_err(|e| kube_err(&what, e))
    }

    /// Sesame's objects (of one login, or all), bindings before roles.
    pub async fn managed(&self, login: Option<&str>) -> Result<Vec<Managed>, IntegrationError> {
        let lp = selector(login);
        let mut out = Vec::new();
        let crb: Api<ClusterRoleBinding> = Api::all(self.client.clone());
        let list = crb.list(&lp).await.map_err(|e| kube_err("cannot list ClusterRoleBindings", e))?;
        out.extend(list.items.iter().filter_map(|o| Managed::of(ClusterRoleBinding::KIND, &o.metadata)));
        let rb: Api<RoleBinding> = Api::all(self.client.clone());
        let list = rb.list(&lp).await.map_err(|e| kube_err("cannot list RoleBindings", e))?;
        out.extend(list.items.iter().filter_map(|o| Managed::of(RoleBinding::KIND, &o.metadata)));
        let roles: Api<Role> = Api::all(self.client.clone());
        let list = roles.list(&lp).await.map_err(|e| kube_err("cannot list Roles", e))?;
        out.extend(list.items.iter().filter_map(|o| Managed::of(Role::KIND, &o.metadata)));
        Ok(out)
    }

    /// Delete one of Sesame's objects; what is gone already is fine.
    pub async fn delete(&self, m: &Managed) -> Result<(), IntegrationError> {
        let dp = DeleteParams::default();
        let ns = m.namespace.as_deref().unwrap_or_default();
        let res = match m.kind {
            ClusterRoleBinding::KIND => Api::<ClusterRoleBinding>::all(self.client.clone()).delete(&m.name, &dp).await.map(drop),
            RoleBinding::KIND => Api::<RoleBinding>::namespaced(self.client.clone(), ns).delete(&m.name, &dp).await.map(drop),
            _ => Api::<Role>::namespaced(self.client.clone(), ns).delete(&m.name, &dp).await.map(drop),
        };
        match res {
            Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
            other => other.map_err(|e| kube_err(&format!("cannot delete {} {}", m.kind, m.name), e)),
        }
    }

    pub async fn namespaces(&self) -> Result<Vec<String>, IntegrationError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let list = api.list(&ListParams::default()).await.map_err(|e| kube_err("cannot list namespaces", e))?;
        Ok(list.items.into_iter().filter_map(|n| n.metadata.name).filter(|n| rbac::dns_label(n)).collect())
    }

    pub async fn cluster_roles(&self) -> Result<Vec<String>, IntegrationError> {
        let api: Api<ClusterRole> = Api::all(self.client.clone());
        let list = api.list(&ListParams::default()).await.map_err(|e| kube_err("cannot list ClusterRoles", e))?;
        Ok(list.items.into_iter().filter_map(|r| r.metadata.name).filter(|n| rbac::bindable_role(n)).collect())
    }

    /// Namespaced kinds the API serves that can be read (`get`), from its
    /// resource lists: the core group, then every group's preferred version.
    pub async fn namespaced_kinds(&self) -> Result<Vec<Kind>, IntegrationError> {
        let mut out = Vec::new();
        let core = self.client.list_core_api_resources("v1").await.map_err(|e| kube_err("cannot list the core API's resources", e))?;
        let mut lists = vec![(String::new(), core)];
        let groups = self.client.list_api_groups().await.map_err(|e| kube_err("cannot list the API groups", e))?;
        for g in groups.groups {
            let Some(v) = g.preferred_version.or_else(|| g.versions.first().cloned()) else { continue };
            let list = self.client.list_api_group_resources(&v.group_version).await.map_err(|e| kube_err(&format!("cannot list the resources of {}", v.group_version), e))?;
            lists.push((g.name, list));
        }
        for (group, list) in lists {
            for r in list.resources {
                // Subresources (`pods/exec`) and cluster-scoped kinds are not kinds of a namespace.
                if !r.namespaced || r.name.contains('/') || !r.verbs.iter().any(|v| v == "get") {
                    continue;
                }
                if let Some(k) = Kind::parse(&if group.is_empty() { r.name.clone() } else { format!("{}.{group}", r.name) }) {
                    if !out.contains(&k) {
                        out.push(k);
                    }
                }
            }
        }
        Ok(out)
    }
}

fn name_of(m: &ObjectMeta) -> &str {
    m.name.as_deref().unwrap_or_default()
}

fn namespace_of(m: &ObjectMeta) -> &str {
    m.namespace.as_deref().unwrap_or_default()
}
