//! `sesame bench portal`: every portal page served by a real `serve` (in
//! this process, SQLite store) with 10,000 requests in the store, fetched
//! sequentially over loopback with a session cookie: the time from request
//! to the last byte (an upper bound of the server's rendering time), and
//! what a first load weighs (the page, its style sheet and its script).

use anyhow::Context;
use clap::Args;
use sesame_core::{AuditAction, AuditDraft, Outcome, RequestStatus, Timestamp};
use sesame_store::NewRequest;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct PortalArgs {
    /// Requests in the store.
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// Fetches of each page.
    #[arg(long, default_value_t = 300)]
    fetches: usize,
}

const ME: &str = "bench@example.com";

fn config() -> String {
    format!(
        "version = 1\n\n[server]\nstore = \"sqlite://portal-bench.db\"\n\n[worker]\nreconcile_interval = \"1h\"\nsync_interval = \"1h\"\n\n\
         [[users]]\nemail = \"{ME}\"\nadmin = true\n\n[[users]]\nemail = \"dev@example.com\"\ngroups = [\"developers\"]\n"
    )
}

/// `n` requests over the statuses a store holds after a while: mostly
/// ended, some active, some waiting for the bench user's approval.
fn seed(n: usize, now: Timestamp) -> Vec<(NewRequest, Vec<sesame_store::NewJob>, AuditDraft)> {
    (0..n)
        .map(|i| {
            let (requester, status) = match i % 10 {
                0 => ("dev@example.com", RequestStatus::Pending),
                1 | 2 => (ME, RequestStatus::Active),
                3 => (ME, RequestStatus::Expired),
                _ => (if i % 3 == 0 { "dev@example.com" } else { ME }, RequestStatus::Revoked),
            };
            let r = NewRequest {
                id: format!("req_bench{i:06}"),
                requester: requester.into(),
                integration: "orders-db".into(),
                resource_type: "table".into(),
                resources: vec![format!("orders/public/t{}", i % 50)],
                permission: if i % 4 == 0 { "read_write" } else { "read_only" }.into(),
                duration_ms: 3_600_000,
                justification: Some(format!("INC-{i}: look at an order")),
                status,
                flow: "approved-write".into(),
                approvers: vec![ME.into()],
                approval_parts: vec![],
                username: format!("sesame_bench_{i}"),
                deadline: (status == RequestStatus::Active).then_some(Timestamp(now.0 + 3_600_000)),
                bundle: None,
                grantee: None,
            };
            let audit = AuditDraft::new(requester, AuditAction::RequestCreate, Some(&r.id), Outcome::Ok, serde_json::json!({ "flow": r.flow }));
            (r, vec![], audit)
        })
        .collect()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    super::pct(sorted, p)
}

pub async fn run(a: PortalArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("sesame-bench-portal-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("sesame.toml");
    std::fs::write(&path, config())?;
    let settings = sesame_server::config::load(&path, sesame_server::config::Overrides::default())?;
    let st = sesame_server::state(settings, &crate::registry()).await?;
    let now = sesame_server::clock::now();
    for chunk in seed(a.requests, now).chunks(500) {
        st.store.insert_requests(chunk, now).await?;
    }
    let token = sesame_server::auth::new_token();
    let audit = AuditDraft::new("bench", AuditAction::TokenIssue, None, Outcome::Ok, serde_json::json!({}));
    st.store.insert_token(&sesame_server::auth::token_hash(&token), ME, Some("bench"), None, audit, now).await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(sesame_server::serve(st, move |addr| {
        let _ = tx.send(addr);
    }));
    let addr = tokio::time::timeout(Duration::from_secs(30), rx).await.context("the server did not start")??;
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let get = |p: String| http.get(format!("{base}{p}")).header(reqwest::header::COOKIE, format!("sesame_session={token}")).send();
    let asset = |p: &'static str| async move { anyhow::Ok(get(p.to_owned()).await?.bytes().await?.len()) };
    let assets = asset("/portal/assets/portal.css").await? + asset("/portal/assets/portal.js").await?;
    let pages = ["/portal", "/portal/inbox", "/portal/requests/req_bench000001", "/portal/new", "/portal/browse", "/portal/audit", "/portal/scopes?q=resource_type%20%3D%20%22postgresql-table%22"];
    println!("Portal: request -> last byte over loopback, {} requests in the store (n={} sequential per page)", a.requests, a.fetches);
    println!("{:<60} {:>8} {:>8} {:>8} {:>16}", "page", "p50 ms", "p95 ms", "max ms", "first load KB");
    for p in pages {
        let mut times = Vec::with_capacity(a.fetches);
        let mut size = 0;
        for _ in 0..a.fetches {
            let t = Instant::now();
            let r = get(p.to_owned()).await?;
            anyhow::ensure!(r.status().is_success(), "{p} answered {}", r.status());
            size = r.bytes().await?.len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let kb = (size + assets) as f64 / 1024.0;
        println!("{:<60} {:>8.2} {:>8.2} {:>8.2} {:>16.1}", p, pct(&times, 0.5), pct(&times, 0.95), times.last().copied().unwrap_or_default(), kb);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
