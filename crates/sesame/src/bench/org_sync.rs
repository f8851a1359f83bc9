//! `sesame bench org-sync`: one grant of the `aws_organization` integration
//! on an OU of 1,000 accounts (on moto), killed part-way and resumed, then
//! revoked — each run a `sesame` process of its own. A recording proxy in
//! front of moto sees every Identity Center request on the wire: the
//! request rate (mean, and the most in any one-second window), the
//! assignment operations outstanding at once (creations answer
//! IN_PROGRESS, as Identity Center's do, until their status is polled), and
//! how many assignments each run created. At the end moto is asked whether
//! every account holds exactly one assignment (none twice, none missing).

use anyhow::{bail, Context};
use aws_sdk_ssoadmin::types::PrincipalType;
use clap::Args;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct OrgSyncArgs {
    /// Member accounts in the OU the grant reaches.
    #[arg(long, default_value_t = 1000)]
    accounts: usize,
    /// SIGKILL the first run once this many assignments exist (default: 40% of the accounts).
    #[arg(long)]
    kill_after: Option<usize>,
    /// A moto server to use (default: start one from `$SESAME_MOTO_VENV/bin/moto_server`).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// The Identity Center request rate the integration keeps (its limit: 20).
    #[arg(long, default_value_t = 20)]
    requests_per_second: u32,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

/// One run of the integration (a process of its own, so it can be killed).
#[derive(Args)]
pub struct OrgSyncRunArgs {
    /// The integration's configuration (JSON).
    #[arg(long)]
    config: String,
    /// `grant` or `revoke`.
    #[arg(long)]
    action: String,
    #[arg(long)]
    ou: String,
    #[arg(long)]
    requester: String,
}

const REQUESTER: &str = "bench@example.com";
const PERMISSION_SET: &str = "sesame_bench_1";
const KEY_VAR: &str = "SESAME_BENCH_AWS_KEY";

/// What the proxy saw of Identity Center.
#[derive(Default)]
struct Wire {
    /// When each Identity Center request arrived.
    requests: Vec<Instant>,
    creations: usize,
    deletions: usize,
    /// Operations answered IN_PROGRESS whose status no poll has yet seen final.
    outstanding: std::collections::BTreeSet<String>,
    max_outstanding: usize,
}

impl Wire {
    /// Forget what the last run did (its figures were read).
    fn reset(&mut self) {
        *self = Wire::default();
    }
}

struct Phase {
    name: &'static str,
    wall: Duration,
    requests: usize,
    peak_per_second: usize,
    creations: usize,
    deletions: usize,
    max_outstanding: usize,
    outcome: String,
}

impl Phase {
    fn read(name: &'static str, wall: Duration, w: &Wire, outcome: String) -> Phase {
        Phase {
            name,
            wall,
            requests: w.requests.len(),
            peak_per_second: peak_in_one_second(&w.requests),
            creations: w.creations,
            deletions: w.deletions,
            max_outstanding: w.max_outstanding,
            outcome,
        }
    }

    fn json(&self) -> Value {
        json!({
            "phase": self.name, "seconds": self.wall.as_secs_f64(), "requests": self.requests,
            "mean_per_second": self.requests as f64 / self.wall.as_secs_f64().max(1e-9),
            "peak_per_second": self.peak_per_second, "creations": self.creations, "deletions": self.deletions,
            "max_outstanding": self.max_outstanding, "outcome": self.outcome,
        })
    }
}

/// The most requests in any one-second window.
fn peak_in_one_second(times: &[Instant]) -> usize {
    let mut t = times.to_vec();
    t.sort();
    let (mut start, mut best) = (0, 0);
    for end in 0..t.len() {
        while t[end].duration_since(t[start]) >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

struct Moto(std::process::Child);
impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_moto() -> anyhow::Result<(Moto, String)> {
    let venv = std::env::var("SESAME_MOTO_VENV").map(std::path::PathBuf::from).unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/sesame-moto-venv"));
    let bin = venv.join("bin/moto_server");
    if !bin.exists() {
        bail!("{} is missing: run scripts/test once (it installs moto), or pass --endpoint-url of a running moto", bin.display());
    }
    let port = super::free_port()?;
    let child = Command::new(&bin).args(["-p", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().with_context(|| format!("cannot start {}", bin.display()))?;
    let moto = Moto(child);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok((moto, url));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("moto did not start on port {port}")
}

async fn sdk(url: &str) -> aws_config::SdkConfig {
    let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "bench");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(creds)
        .load()
        .await
}

/// The organization: an OU `Fleet` of `n` accounts; the requester in the
/// identity store. Returns the OU id.
async fn organization(url: &str, n: usize) -> anyhow::Result<String> {
    use futures::StreamExt;
    let conf = sdk(url).await;
    let org = aws_sdk_organizations::Client::new(&conf);
    org.create_organization().feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All).send().await?;
    let root = org.list_roots().send().await?.roots().first().and_then(|r| r.id()).context("moto made no root")?.to_owned();
    let ou = org.create_organizational_unit().parent_id(&root).name("Fleet").send().await?.organizational_unit().and_then(|o| o.id()).context("no OU id")?.to_owned();
    let made: Vec<anyhow::Result<()>> = futures::stream::iter(0..n)
        .map(|i| {
            let (org, root, ou) = (org.clone(), root.clone(), ou.clone());
            async move {
                let st = org.create_account().account_name(format!("fleet-{i:04}")).email(format!("fleet-{i:04}@example.com")).send().await?;
                let id = st.create_account_status().and_then(|s| s.account_id()).context("no account id")?.to_owned();
                org.move_account().account_id(id).source_parent_id(root).destination_parent_id(ou).send().await?;
                Ok(())
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    made.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    let sso = aws_sdk_ssoadmin::Client::new(&conf);
    let store = sso.list_instances().send().await?.instances().first().and_then(|i| i.identity_store_id()).context("no Identity Center instance")?.to_owned();
    let name = aws_sdk_identitystore::types::Name::builder().given_name("Bench").family_name("Person").build();
    let email = aws_sdk_identitystore::types::Email::builder().value(REQUESTER).primary(true).build();
    aws_sdk_identitystore::Client::new(&conf).create_user().identity_store_id(store).user_name(REQUESTER).display_name("Bench").name(name).emails(email).send().await?;
    Ok(ou)
}

/// A proxy to moto recording Identity Center's traffic into `wire`.
async fn proxy(moto: String, wire: Arc<Mutex<Wire>>) -> anyhow::Result<String> {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::response::IntoResponse;
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (http, moto, wire) = (http.clone(), moto.clone(), wire.clone());
        // Forwarded to the end even if the caller is killed meanwhile, so
        // what moto did is what was counted.
        let forward = tokio::spawn(async move {
            let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            if target.starts_with("SWBExternalService.") || target.starts_with("AWSIdentityStore.") {
                wire.lock().unwrap_or_else(|p| p.into_inner()).requests.push(Instant::now());
            }
            let mut req = http.request(reqwest::Method::from_bytes(method.as_str().as_bytes())?, format!("{moto}{uri}"));
            for (k, v) in &headers {
                if k != "host" && k != "content-length" {
                    req = req.header(k.as_str(), v.as_bytes());
                }
            }
            let r = req.body(body.to_vec()).send().await?;
            let status = r.status().as_u16();
            let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let mut bytes = r.bytes().await?.to_vec();
            let Some(op) = target.strip_prefix("SWBExternalService.").or_else(|| target.strip_prefix("AWSIdentityStore.")) else {
                return Ok::<_, anyhow::Error>((status, ct, bytes));
            };
            let mut w = wire.lock().unwrap_or_else(|p| p.into_inner());
            let field = match op {
                "CreateAccountAssignment" | "DescribeAccountAssignmentCreationStatus" => "AccountAssignmentCreationStatus",
                "DeleteAccountAssignment" | "DescribeAccountAssignmentDeletionStatus" => "AccountAssignmentDeletionStatus",
                _ => return Ok((status, ct, bytes)),
            };
            let mut v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let id = v[field]["RequestId"].as_str().unwrap_or_default().to_owned();
            if status == 200 && op.ends_with("AccountAssignment") {
                // Identity Center answers IN_PROGRESS; moto is done at once.
                if op.starts_with("Create") {
                    w.creations += 1;
                } else {
                    w.deletions += 1;
                }
                v[field]["Status"] = json!("IN_PROGRESS");
                bytes = v.to_string().into_bytes();
                w.outstanding.insert(id);
                w.max_outstanding = w.max_outstanding.max(w.outstanding.len());
            } else if v[field]["Status"] != "IN_PROGRESS" {
                w.outstanding.remove(&id);
            }
            Ok((status, ct, bytes))
        });
        async move {
            match forward.await {
                Ok(Ok((status, ct, bytes))) => (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), [("content-type", ct)], bytes).into_response(),
                Ok(Err(e)) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
                Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// `sesame bench org-sync-run`: what the grant job (or the revoke job) does.
pub async fn run_one(a: OrgSyncRunArgs) -> anyhow::Result<()> {
    let cfg: Value = serde_json::from_str(&a.config)?;
    let integ = sesame_aws::organization::build(&cfg, &crate::registry()).await?;
    let p = sesame_proto::ActionParams {
        grant_id: "req_bench".into(),
        username: PERMISSION_SET.into(),
        resource_type: "aws_ou".into(),
        resources: vec![a.ou],
        permission: "read_only".into(),
        custom_parameters: BTreeMap::from([(sesame_proto::REQUESTER_PARAM.to_owned(), a.requester)]),
    };
    match a.action.as_str() {
        "grant" => integ.grant_access(&p, sesame_core::Timestamp(sesame_server::clock::now().0 + 3_600_000)).await?,
        "revoke" => integ.revoke_access(&p).await?,
        other => bail!("unknown action `{other}`: use grant or revoke"),
    }
    Ok(())
}

fn spawn_run(config: &Value, action: &str, ou: &str) -> anyhow::Result<std::process::Child> {
    Ok(Command::new(std::env::current_exe()?)
        .args(["bench", "org-sync-run", "--config", &config.to_string(), "--action", action, "--ou", ou, "--requester", REQUESTER])
        .env(KEY_VAR, "testing")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?)
}

/// Every assignment of the requester, by account (read from moto itself).
async fn assignments(url: &str) -> anyhow::Result<BTreeMap<String, usize>> {
    let conf = sdk(url).await;
    let sso = aws_sdk_ssoadmin::Client::new(&conf);
    let ids = aws_sdk_identitystore::Client::new(&conf);
    let inst = sso.list_instances().send().await?;
    let i = inst.instances().first().context("no instance")?;
    let (arn, store) = (i.instance_arn().unwrap_or_default(), i.identity_store_id().unwrap_or_default());
    let attr = aws_sdk_identitystore::types::UniqueAttribute::builder()
        .attribute_path("userName")
        .attribute_value(aws_smithy_types::Document::String(REQUESTER.into()))
        .build()?;
    let user = ids.get_user_id().identity_store_id(store).alternate_identifier(aws_sdk_identitystore::types::AlternateIdentifier::UniqueAttribute(attr)).send().await?.user_id().to_owned();
    let mut out = BTreeMap::new();
    let mut pages = sso.list_account_assignments_for_principal().instance_arn(arn).principal_id(user).principal_type(PrincipalType::User).into_paginator().send();
    while let Some(page) = pages.next().await {
        for a in page?.account_assignments() {
            *out.entry(a.account_id().unwrap_or_default().to_owned()).or_default() += 1;
        }
    }
    Ok(out)
}

pub async fn run(a: OrgSyncArgs) -> anyhow::Result<()> {
    let kill_after = a.kill_after.unwrap_or(a.accounts * 2 / 5);
    if kill_after == 0 || kill_after >= a.accounts {
        bail!("--kill-after must be between 1 and --accounts - 1");
    }
    let (_moto, url) = match &a.endpoint_url {
        Some(u) => (None, u.clone()),
        None => {
            let (m, u) = start_moto().await?;
            (Some(m), u)
        }
    };
    let t = Instant::now();
    let ou = organization(&url, a.accounts).await.with_context(|| format!("cannot make the organization on moto at {url}"))?;
    let setup = t.elapsed();
    let wire = Arc::new(Mutex::new(Wire::default()));
    let via = proxy(url.clone(), wire.clone()).await?;
    let config = json!({
        "name": "fleet", "sso_region": "us-east-1", "sso_portal_url": "https://example.awsapps.com/start",
        "endpoint_url": via, "access_key_id": { "env": KEY_VAR }, "secret_access_key": { "env": KEY_VAR },
        "requests_per_second": a.requests_per_second,
    });
    let reading = |name, wall, outcome: String| {
        let mut w = wire.lock().unwrap_or_else(|p| p.into_inner());
        let p = Phase::read(name, wall, &w, outcome);
        w.reset();
        p
    };
    let mut phases = Vec::new();

    // 1. The grant, killed once `kill_after` assignments exist.
    let t = Instant::now();
    let mut child = spawn_run(&config, "grant", &ou)?;
    loop {
        if wire.lock().unwrap_or_else(|p| p.into_inner()).creations >= kill_after {
            child.kill()?;
            child.wait()?;
            break;
        }
        if let Some(s) = child.try_wait()? {
            bail!("the first run ended ({s}) before it could be killed: lower --kill-after");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Requests already on their way are answered before the figures are read.
    tokio::time::sleep(Duration::from_millis(300)).await;
    phases.push(reading("grant, killed", t.elapsed(), "SIGKILL".into()));

    // 2. The grant again: it resumes.
    let t = Instant::now();
    let status = spawn_run(&config, "grant", &ou)?.wait()?;
    phases.push(reading("grant, resumed", t.elapsed(), status.to_string()));
    if !status.success() {
        bail!("the resumed grant failed ({status})");
    }
    let held = assignments(&url).await?;
    let twice: Vec<_> = held.iter().filter(|(_, n)| **n > 1).collect();
    if held.len() != a.accounts || !twice.is_empty() {
        bail!("after the resumed grant, {} of {} accounts hold the assignment; assigned twice: {twice:?}", held.len(), a.accounts);
    }

    // 3. The revoke.
    let t = Instant::now();
    let status = spawn_run(&config, "revoke", &ou)?.wait()?;
    phases.push(reading("revoke", t.elapsed(), status.to_string()));
    let left = assignments(&url).await?;
    if !status.success() || !left.is_empty() {
        bail!("the revoke ended {status} leaving {} assignment(s)", left.len());
    }

    if a.json {
        println!("{}", json!({ "accounts": a.accounts, "kill_after": kill_after, "limit_per_second": a.requests_per_second, "setup_seconds": setup.as_secs_f64(), "phases": phases.iter().map(Phase::json).collect::<Vec<_>>() }));
        return Ok(());
    }
    println!("Identity Center sync of {} accounts on moto (organization made in {:.1} s); limits: {} requests/s, 10 outstanding creations", a.accounts, setup.as_secs_f64(), a.requests_per_second);
    println!("{:<16} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} {:>12}  outcome", "phase", "time (s)", "requests", "mean /s", "peak 1 s", "created", "deleted", "outstanding");
    for p in &phases {
        let mean = p.requests as f64 / p.wall.as_secs_f64().max(1e-9);
        println!(
            "{:<16} {:>9.1} {:>9} {:>10.1} {:>10} {:>10} {:>10} {:>12}  {}",
            p.name,
            p.wall.as_secs_f64(),
            p.requests,
            mean,
            p.peak_per_second,
            p.creations,
            p.deletions,
            p.max_outstanding,
            p.outcome
        );
    }
    println!("every account held the assignment exactly once after the resumed grant; none after the revoke");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_peak_counts_the_busiest_second() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(peak_in_one_second(&[]), 0);
        assert_eq!(peak_in_one_second(&[at(0), at(500), at(999), at(1000), at(1001), at(1400)]), 5, "500 to 1400");
        assert_eq!(peak_in_one_second(&[at(0), at(1000), at(2000)]), 1);
    }
}
