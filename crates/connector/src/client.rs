//! The connector loop: register, long-poll, execute, report, with every
//! control-plane replica it is given. Reconnects by itself, forever.

use sesame_integrations::registry::Registry;
use sesame_integrations::wire;
use crate::config::ConnectorConfig;
use sesame_integrations::Integration;
use sesame_proto::connector::{IntegrationInfo, Poll, Register, RegisterReply, TaskOutcome, TaskResult, Tasks};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

struct Conn {
    http: reqwest::Client,
    server: String,
    token: String,
    id: String,
    instance: String,
}

/// Why the connector stopped, or why one exchange with the control plane failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("cannot read the CA certificate `{path}`: {error}")]
    CaCert { path: String, error: std::io::Error },
    #[error("integration `{name}`: {error}")]
    Integration { name: String, error: sesame_integrations::IntegrationError },
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("{path}: HTTP {status}: {body}")]
    Refused { path: String, status: reqwest::StatusCode, body: String },
    #[error("the control plane answered something unexpected: {0}")]
    Reply(#[from] serde_json::Error),
}

impl Conn {
    async fn post<B: serde::Serialize, R: serde::de::DeserializeOwned>(&self, path: &str, body: &B, timeout: Duration) -> Result<R, ConnectorError> {
        let resp = self
            .http
            .post(format!("{}{path}", self.server))
            .bearer_auth(&self.token)
            .timeout(timeout)
            .json(body)
            .send()
            .await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            return Err(ConnectorError::Refused { path: path.to_owned(), status, body: String::from_utf8_lossy(&bytes).into_owned() });
        }
        Ok(serde_json::from_slice(&bytes)?)
    }
}

async fn info(name: &str, integ: &dyn Integration) -> IntegrationInfo {
    // What custom and EKS integrations offer is learnt from list-resources.
    use sesame_proto::connector::IntegrationKind;
    if matches!(integ.descriptor().kind, IntegrationKind::Custom | IntegrationKind::Eks) {
        for attempt in 0..3u64 {
            match integ.list_resources().await {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(integration = name, error = %e, attempt, "cannot learn the permissions yet");
                    tokio::time::sleep(Duration::from_millis(300 * (attempt + 1))).await;
                }
            }
        }
    }
    integ.descriptor().info(name)
}

/// The integration a task names: one of ours, or a sub-integration
/// (`parent/child`) that its parent's discovery built.
pub fn lookup(integrations: &BTreeMap<String, Arc<dyn Integration>>, name: &str) -> Option<Arc<dyn Integration>> {
    if let Some(i) = integrations.get(name) {
        return Some(i.clone());
    }
    let (parent, child) = name.split_once('/')?;
    integrations.get(parent)?.child(child)
}

/// Run until the process is stopped, serving every control-plane replica in
/// `servers` at once: each replica queues its own tasks, so a connector
/// registered with all of them serves whichever survives.
pub async fn run(
    cfg: ConnectorConfig,
    registry: &Registry,
    servers: Vec<String>,
    token: String,
    poll_wait: Duration,
    ca_cert: Option<std::path::PathBuf>,
) -> Result<(), ConnectorError> {
    let mut http = reqwest::Client::builder();
    if let Some(path) = &ca_cert {
        let pem = std::fs::read(path).map_err(|error| ConnectorError::CaCert { path: path.display().to_string(), error })?;
        http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
    }
    let http = http.build()?;
    let mut integrations: BTreeMap<String, Arc<dyn Integration>> = BTreeMap::new();
    for d in &cfg.integrations {
        integrations.insert(d.name().to_owned(), registry.build(d).await.map_err(|error| ConnectorError::Integration { name: d.name().to_owned(), error })?);
    }
    let integrations = Arc::new(integrations);
    let instance = uuid::Uuid::new_v4().simple().to_string();
    tracing::info!(connector = %cfg.id, %instance, version = VERSION, servers = ?servers, "connector starting");
    let mut sessions = tokio::task::JoinSet::new();
    sessions.spawn(expire_forever(integrations.clone(), Duration::from_secs(cfg.expiry_every_secs)));
    for server in servers {
        let conn = Arc::new(Conn { http: http.clone(), server: server.trim_end_matches('/').to_owned(), token: token.clone(), id: cfg.id.clone(), instance: instance.clone() });
        sessions.spawn(session(conn, integrations.clone(), poll_wait));
    }
    // Sessions never end; a panicking one is a bug worth stopping for.
    while let Some(ended) = sessions.join_next().await {
        if let Err(e) = ended {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    Ok(())
}

/// Register with one control-plane replica and serve its tasks; when it
/// goes away, keep dialing until it (or whatever answers at its URL) is back.
async fn session(conn: Arc<Conn>, integrations: Arc<BTreeMap<String, Arc<dyn Integration>>>, poll_wait: Duration) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let mut infos = Vec::new();
        for (name, i) in integrations.iter() {
            infos.push(info(name, i.as_ref()).await);
        }
        let reg = Register { connector_id: conn.id.clone(), instance_id: conn.instance.clone(), version: VERSION.into(), integrations: infos };
        match conn.post::<_, RegisterReply>("/api/v1/connector/register", &reg, Duration::from_secs(30)).await {
            Ok(reply) => {
                backoff = Duration::from_millis(200);
                for r in &reply.refused {
                    tracing::error!(integration = %r.integration, reason = %r.reason, "the control plane refuses this integration");
                }
                tracing::info!(accepted = ?reply.accepted, "registered with {}", conn.server);
            }
            Err(e) => {
                tracing::warn!(server = %conn.server, error = %e, "cannot register; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        }
        // Long-poll until something goes wrong, then register again.
        loop {
            let poll = Poll { connector_id: conn.id.clone(), instance_id: conn.instance.clone(), wait_ms: poll_wait.as_millis() as u64 };
            let tasks = match conn.post::<_, Tasks>("/api/v1/connector/poll", &poll, poll_wait + Duration::from_secs(10)).await {
                Ok(t) => t.tasks,
                Err(e) => {
                    tracing::warn!(server = %conn.server, error = %e, "poll failed; registering again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            };
            for task in tasks {
                let (conn, integrations) = (conn.clone(), integrations.clone());
                tokio::spawn(async move {
                    tracing::debug!(server = %conn.server, integration = %task.integration, op = ?task.op, task = %task.task_id, "running a task");
                    let outcome = match lookup(&integrations, &task.integration) {
                        Some(i) => wire::execute(i.as_ref(), &task, now()).await,
                        None => wire::failure(&sesame_integrations::IntegrationError::Misconfigured(format!(
                            "connector `{}` does not serve `{}`",
                            conn.id, task.integration
                        ))),
                    };
                    report(&conn, &task.task_id, outcome).await;
                });
            }
        }
    }
}

/// The backstop for targets that cannot expire access by themselves: on
/// the connector's own clock, whether or not any control plane answers,
/// remove what is past its deadline. The control plane's revoke still
/// runs (and finds it gone: revoking what is gone succeeds).
async fn expire_forever(integrations: Arc<BTreeMap<String, Arc<dyn Integration>>>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for (name, i) in integrations.iter() {
            match i.expire(now()).await {
                Ok(removed) if !removed.is_empty() => tracing::warn!(integration = %name, ?removed, "removed access past its deadline"),
                Ok(_) => {}
                Err(e) => tracing::warn!(integration = %name, error = %e, "cannot remove access past its deadline; trying again"),
            }
        }
    }
}

/// The connector's clock, read here at its edge.
#[expect(clippy::disallowed_methods, reason = "the connector process is an edge: it reads its own clock")]
fn now() -> sesame_core::Timestamp {
    sesame_core::Timestamp(chrono::Utc::now().timestamp_millis())
}

async fn report(conn: &Conn, task_id: &str, outcome: TaskOutcome) {
    let r = TaskResult { connector_id: conn.id.clone(), instance_id: conn.instance.clone(), task_id: task_id.to_owned(), outcome };
    for attempt in 0..5u32 {
        match conn.post::<_, serde_json::Value>("/api/v1/connector/result", &r, Duration::from_secs(10)).await {
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(task = task_id, error = %e, attempt, "cannot report a result; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt + 1))).await;
            }
        }
    }
    tracing::error!(task = task_id, "gave up reporting a result; the control plane will retry the job");
}
