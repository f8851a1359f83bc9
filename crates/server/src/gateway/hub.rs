//! Tasks queued per connector; whichever replica polls first takes them.
//! A replica that stops polling loses its tasks (they fail as retryable and
//! the durable job that asked runs them again, on another replica).

use crate::clock;
use sesame_core::Timestamp;
use sesame_integrations::registry::{min_connector_version, version_at_least};
use sesame_integrations::{Cause, IntegrationError};
use sesame_proto::connector::{ConnectorView, InstanceView, IntegrationInfo, Op, Refusal, Register, RegisterReply, Task, TaskOutcome};
use sesame_proto::ActionParams;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{oneshot, Notify};

struct Instance {
    version: String,
    last_seen: Timestamp,
}

#[derive(Default)]
struct Conn {
    instances: BTreeMap<String, Instance>,
    infos: BTreeMap<String, IntegrationInfo>,
    refused: Vec<Refusal>,
    queue: VecDeque<Task>,
}

struct Pending {
    connector: String,
    /// `integration:op`, for the views.
    what: String,
    instance: Option<String>,
    tx: oneshot::Sender<TaskOutcome>,
}

#[derive(Default)]
struct State {
    conns: BTreeMap<String, Conn>,
    pending: HashMap<String, Pending>,
}

pub struct Hub {
    /// The file's connectors and those made through the API
    /// (`definitions::refresh` keeps it current).
    declared: std::sync::RwLock<BTreeSet<String>>,
    /// An instance that has not polled for this long is gone.
    liveness: Duration,
    state: Mutex<State>,
    wake: Notify,
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("connector `{0}` is not declared: add it under [[connectors]] in the server's configuration")]
    Undeclared(String),
    #[error("instance `{0}` is not registered: register first")]
    NotRegistered(String),
    #[error("connector `{0}` already has {MAX_INSTANCES} live instances: stop some before starting more")]
    TooManyInstances(String),
}

/// Live instances one connector may have; dead ones are forgotten.
const MAX_INSTANCES: usize = 64;

impl Hub {
    pub fn new(declared: BTreeSet<String>, liveness: Duration) -> Hub {
        Hub { declared: std::sync::RwLock::new(declared), liveness, state: Mutex::new(State::default()), wake: Notify::new() }
    }

    /// The connectors that may register from now on.
    pub fn set_declared(&self, declared: BTreeSet<String>) {
        *self.declared.write().unwrap_or_else(|p| p.into_inner()) = declared;
    }

    /// What the control plane holds for a connector changed (a remote
    /// integration of its was made, changed or deleted): forget its
    /// instances and end their waiting polls, so each registers again and
    /// reports what it serves now.
    pub fn tell(&self, connector: &str) {
        if let Some(c) = self.lock().conns.get_mut(connector) {
            c.instances.clear();
        }
        self.wake.notify_waiters();
    }

    fn declared(&self) -> BTreeSet<String> {
        self.declared.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_declared(&self, id: &str) -> bool {
        self.declared().contains(id)
    }

    fn alive(&self, i: &Instance, now: Timestamp) -> bool {
        now.since(i.last_seen) <= self.liveness
    }

    pub fn register(&self, r: Register) -> Result<RegisterReply, HubError> {
        if !self.is_declared(&r.connector_id) {
            return Err(HubError::Undeclared(r.connector_id));
        }
        let mut st = self.lock();
        let conn = st.conns.entry(r.connector_id.clone()).or_default();
        // Forget instances long gone; bound the rest.
        let now = clock::now();
        let forget_after = self.liveness * 10;
        conn.instances.retain(|_, i| now.since(i.last_seen) <= forget_after);
        if !conn.instances.contains_key(&r.instance_id) && conn.instances.len() >= MAX_INSTANCES {
            return Err(HubError::TooManyInstances(r.connector_id));
        }
        let (mut accepted, mut refused) = (Vec::new(), Vec::new());
        for info in r.integrations {
            match min_connector_version(info.kind) {
                Some(min) if !version_at_least(&r.version, min) => refused.push(Refusal {
                    integration: info.name.clone(),
                    reason: format!(
                        "connector `{}` runs version {} but `{}` integrations need at least {min}: upgrade the connector",
                        r.connector_id, r.version, info.kind
                    ),
                }),
                _ => {
                    accepted.push(info.name.clone());
                    let mut info = info;
                    // A replica that could not learn the permissions yet does
                    // not erase what another replica reported.
                    if let Some(old) = conn.infos.get(&info.name) {
                        for (t, perms) in &old.permissions {
                            let slot = info.permissions.entry(t.clone()).or_default();
                            if slot.is_empty() {
                                *slot = perms.clone();
                            }
                        }
                    }
                    conn.infos.insert(info.name.clone(), info);
                }
            }
        }
        for f in &refused {
            conn.infos.remove(&f.integration);
        }
        conn.refused = refused.clone();
        conn.instances.insert(r.instance_id, Instance { version: r.version, last_seen: clock::now() });
        Ok(RegisterReply { accepted, refused })
    }

    /// Hand out queued tasks to `instance`, waiting up to `wait` for some.
    pub async fn poll(&self, connector: &str, instance: &str, wait: Duration) -> Result<Vec<Task>, HubError> {
        let wait = wait.min(self.liveness / 2);
        let until = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut st = self.lock();
                let conn = st.conns.get_mut(connector).ok_or_else(|| HubError::NotRegistered(instance.to_owned()))?;
                let inst = conn.instances.get_mut(instance).ok_or_else(|| HubError::NotRegistered(instance.to_owned()))?;
                inst.last_seen = clock::now();
                let n = conn.queue.len().min(32);
                let tasks: Vec<Task> = conn.queue.drain(..n).collect();
                for t in &tasks {
                    if let Some(p) = st.pending.get_mut(&t.task_id) {
                        p.instance = Some(instance.to_owned());
                    }
                }
                if !tasks.is_empty() {
                    return Ok(tasks);
                }
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                let mut st = self.lock();
                if let Some(i) = st.conns.get_mut(connector).and_then(|c| c.instances.get_mut(instance)) {
                    i.last_seen = clock::now();
                }
                return Ok(vec![]);
            }
        }
    }

    /// The answer to a task, accepted only from the instance holding it.
    pub fn complete(&self, connector: &str, instance: &str, task_id: &str, outcome: TaskOutcome) -> bool {
        let mut st = self.lock();
        let holder = st.pending.get(task_id).is_some_and(|p| p.connector == connector && p.instance.as_deref() == Some(instance));
        if !holder {
            return false;
        }
        if let Some(p) = st.pending.remove(task_id) {
            let _ = p.tx.send(outcome);
        }
        true
    }

    /// Forget a task nobody waits for any more: out of the queue, so no
    /// connector runs it late.
    fn abandon(&self, connector: &str, task_id: &str) {
        let mut st = self.lock();
        st.pending.remove(task_id);
        if let Some(c) = st.conns.get_mut(connector) {
            c.queue.retain(|t| t.task_id != task_id);
        }
    }

    /// Fail the tasks of instances that stopped polling, so their jobs retry elsewhere.
    pub fn reap(&self) {
        let now = clock::now();
        let mut st = self.lock();
        let mut dead: Vec<(String, String)> = Vec::new();
        for (cid, c) in &st.conns {
            for (iid, i) in &c.instances {
                if !self.alive(i, now) {
                    dead.push((cid.clone(), iid.clone()));
                }
            }
        }
        let lost: Vec<String> = st
            .pending
            .iter()
            .filter(|(_, p)| p.instance.as_ref().is_some_and(|i| dead.iter().any(|(c, d)| c == &p.connector && d == i)))
            .map(|(id, _)| id.clone())
            .collect();
        for id in lost {
            if let Some(p) = st.pending.remove(&id) {
                let message = format!(
                    "connector `{}` instance `{}` stopped answering while running the task; it will be retried",
                    p.connector,
                    p.instance.unwrap_or_default()
                );
                let cause = Some(Cause::Connector(message.clone()));
                let _ = p.tx.send(TaskOutcome::Failed { kind: sesame_proto::connector::FailureKind::Unavailable, message, cause });
            }
        }
    }

    /// Sub-integrations a connector's discovery reported (`parent/child`).
    pub fn learn(&self, connector: &str, infos: Vec<IntegrationInfo>) {
        let mut st = self.lock();
        if let Some(conn) = st.conns.get_mut(connector) {
            for i in infos {
                conn.infos.insert(i.name.clone(), i);
            }
        }
    }

    pub fn info(&self, integration: &str, connector: &str) -> Option<IntegrationInfo> {
        self.lock().conns.get(connector).and_then(|c| c.infos.get(integration).cloned())
    }

    /// Send a task to `connector` and wait for its outcome.
    pub async fn dispatch(
        &self,
        connector: &str,
        integration: &str,
        op: Op,
        params: ActionParams,
        valid_until: Option<Timestamp>,
        timeout: Duration,
    ) -> Result<sesame_proto::connector::Reply, IntegrationError> {
        let task_id = uuid::Uuid::new_v4().simple().to_string();
        let rx = {
            let now = clock::now();
            let mut st = self.lock();
            let conn = st.conns.get(connector);
            let connected = conn.is_some_and(|c| c.instances.values().any(|i| self.alive(i, now)));
            if !connected {
                return Err(IntegrationError::Unavailable(Cause::Connector(format!(
                    "connector `{connector}` is not connected: start `sesame connector` for it (it serves `{integration}`)"
                ))));
            }
            if let Some(r) = conn.and_then(|c| c.refused.iter().find(|r| r.integration == integration)) {
                return Err(IntegrationError::Misconfigured(r.reason.clone()));
            }
            if conn.is_some_and(|c| !c.infos.contains_key(integration)) {
                return Err(IntegrationError::Misconfigured(format!("connector `{connector}` does not serve `{integration}`: add it to the connector's configuration")));
            }
            let (tx, rx) = oneshot::channel();
            let what = format!("{integration}:{}", serde_json::to_value(op).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default());
            st.pending.insert(task_id.clone(), Pending { connector: connector.to_owned(), what, instance: None, tx });
            let expires_at_ms = Some(now.plus(timeout).0);
            let task = Task { task_id: task_id.clone(), integration: integration.to_owned(), op, params, valid_until_ms: valid_until.map(|t| t.0), expires_at_ms };
            if let Some(c) = st.conns.get_mut(connector) {
                c.queue.push_back(task);
            }
            rx
        };
        self.wake.notify_waiters();
        // If the caller stops waiting (its own timeout, a dropped future),
        // the task goes with it.
        struct Abandon<'a>(&'a Hub, &'a str, &'a str);
        impl Drop for Abandon<'_> {
            fn drop(&mut self) {
                self.0.abandon(self.1, self.2);
            }
        }
        let _guard = Abandon(self, connector, &task_id);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(TaskOutcome::Ok { value })) => Ok(value),
            Ok(Ok(TaskOutcome::Failed { kind, message, cause })) => Err(sesame_integrations::wire::error_of(kind, message, cause)),
            Ok(Err(_)) => Err(IntegrationError::Unavailable(Cause::Connector("the connector gateway dropped the task".into()))),
            Err(_) => Err(IntegrationError::Unavailable(Cause::timeout(format!("connector `{connector}`"), timeout))),
        }
    }

    pub fn views(&self) -> Vec<ConnectorView> {
        let now = clock::now();
        let declared = self.declared();
        let st = self.lock();
        declared
            .iter()
            .map(|id| {
                let conn = st.conns.get(id);
                let instances: Vec<InstanceView> = conn
                    .map(|c| {
                        c.instances
                            .iter()
                            .map(|(iid, i)| InstanceView {
                                instance_id: iid.clone(),
                                version: i.version.clone(),
                                last_seen: clock::rfc3339(i.last_seen),
                                connected: self.alive(i, now),
                                in_flight: st.pending.values().filter(|p| p.instance.as_deref() == Some(iid)).count(),
                                in_flight_tasks: st
                                    .pending
                                    .values()
                                    .filter(|p| p.instance.as_deref() == Some(iid))
                                    .map(|p| p.what.clone())
                                    .collect(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let newest = conn.and_then(|c| c.instances.values().max_by_key(|i| i.last_seen));
                ConnectorView {
                    id: id.clone(),
                    status: if instances.iter().any(|i| i.connected) { "CONNECTED" } else { "DISCONNECTED" }.into(),
                    last_seen: newest.map(|i| clock::rfc3339(i.last_seen)),
                    version: newest.map(|i| i.version.clone()),
                    instances,
                    integrations: conn.map(|c| c.infos.keys().cloned().collect()).unwrap_or_default(),
                    refused: conn.map(|c| c.refused.clone()).unwrap_or_default(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub_with(instance: &str) -> Hub {
        let hub = Hub::new(["dc-1".to_string()].into(), Duration::from_secs(30));
        let info: IntegrationInfo = serde_json::from_value(serde_json::json!({
            "name": "pg", "type": "postgresql", "resource_types": [], "permissions": {}, "max_username_len": 63,
            "user_prefix": "sesame_", "uses_requester_identity": false, "settings": {},
        }))
        .unwrap();
        hub.register(Register { connector_id: "dc-1".into(), instance_id: instance.into(), version: "9.9.9".into(), integrations: vec![info] }).unwrap();
        hub
    }

    #[tokio::test]
    async fn only_the_holding_instance_may_answer_a_task() {
        let hub = std::sync::Arc::new(hub_with("a"));
        hub.register(Register { connector_id: "dc-1".into(), instance_id: "b".into(), version: "9.9.9".into(), integrations: vec![] }).unwrap();
        let h = hub.clone();
        let call = tokio::spawn(async move { h.dispatch("dc-1", "pg", Op::RevokeAccess, ActionParams::default(), None, Duration::from_secs(5)).await });
        let tasks = hub.poll("dc-1", "a", Duration::from_secs(1)).await.unwrap();
        assert_eq!(tasks.len(), 1);
        assert!(tasks[0].expires_at_ms.is_some(), "the task says when the control plane stops waiting");
        let forged = TaskOutcome::Ok { value: sesame_proto::connector::Reply::Users { users: vec!["forged".into()] } };
        assert!(!hub.complete("dc-1", "b", &tasks[0].task_id, forged.clone()), "another instance answered a task it does not hold");
        assert!(!hub.complete("dc-2", "a", &tasks[0].task_id, forged), "another connector answered");
        assert!(hub.complete("dc-1", "a", &tasks[0].task_id, TaskOutcome::Ok { value: sesame_proto::connector::Reply::Done }));
        assert!(matches!(call.await.unwrap().unwrap(), sesame_proto::connector::Reply::Done), "the holder's answer, not the forged one");
    }

    /// A connector that takes a task and never answers: the caller gets a
    /// retryable timeout, typed as one, after exactly its timeout (paused
    /// time: the minute passes at once).
    #[tokio::test(start_paused = true)]
    async fn an_unanswered_task_times_out_as_a_timeout() {
        let hub = std::sync::Arc::new(hub_with("a"));
        let h = hub.clone();
        let started = tokio::time::Instant::now();
        let call = tokio::spawn(async move { h.dispatch("dc-1", "pg", Op::RevokeAccess, ActionParams::default(), None, Duration::from_secs(60)).await });
        assert_eq!(hub.poll("dc-1", "a", Duration::from_secs(1)).await.unwrap().len(), 1, "the instance took the task");
        let e = call.await.unwrap().unwrap_err();
        assert!(matches!(&e, IntegrationError::Unavailable(Cause::Timeout { after_ms: 60_000, .. })), "{e:?}");
        assert!(e.is_retryable() && e.to_string().contains("connector `dc-1` did not answer within 60 s"), "{e}");
        assert_eq!(started.elapsed(), Duration::from_secs(60));
        assert!(hub.lock().pending.is_empty(), "the timed-out task is forgotten");
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_the_caller_abandoned_is_never_handed_out() {
        let hub = hub_with("a");
        let call = hub.dispatch("dc-1", "pg", Op::GrantAccess, ActionParams::default(), Some(Timestamp(i64::MAX)), Duration::from_secs(60));
        // The worker's own timeout fires first and drops the call.
        assert!(tokio::time::timeout(Duration::from_millis(20), call).await.is_err());
        assert!(hub.poll("dc-1", "a", Duration::from_millis(10)).await.unwrap().is_empty(), "an abandoned task stayed queued");
        assert!(hub.lock().pending.is_empty());
    }

    #[test]
    fn the_instance_map_is_bounded() {
        let hub = hub_with("i0");
        for i in 1..MAX_INSTANCES {
            hub.register(Register { connector_id: "dc-1".into(), instance_id: format!("i{i}"), version: "9.9.9".into(), integrations: vec![] }).unwrap();
        }
        let e = hub.register(Register { connector_id: "dc-1".into(), instance_id: "one-too-many".into(), version: "9.9.9".into(), integrations: vec![] });
        assert!(matches!(e, Err(HubError::TooManyInstances(_))));
        // A known instance may always register again.
        assert!(hub.register(Register { connector_id: "dc-1".into(), instance_id: "i3".into(), version: "9.9.9".into(), integrations: vec![] }).is_ok());
    }
}
