//! Nothing outlives its deadline: crashes, orphans, an unreachable target.

use crate::harness::{pg_host, pg_port, s, Harness, Opts};
use sesame_core::resource_id::join;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

const SETUP: &str = "CREATE TABLE public.orders (id int); INSERT INTO public.orders VALUES (1);";

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_then_restart_revokes_overdue_grants_and_orphans() {
    let mut h = Harness::start(SETUP, Opts::default()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);
    let mut users = Vec::new();
    for _ in 0..3 {
        let r = h.request(&dev, "table", &orders, "read_only", "3s", &["--wait"]);
        assert_eq!(s(&r, "status"), "Active");
        users.push(s(&r, "username"));
    }
    h.kill_server();
    // A login made before the crash but never recorded (as if the process
    // died between CREATE ROLE and writing the request).
    // It carries Sesame's mark (made in the same transaction as the login).
    let orphan = format!("{}ghost_req_crash", h.prefix);
    sqlx::raw_sql(&format!(
        "CREATE ROLE \"{orphan}\" LOGIN; GRANT SELECT ON public.orders TO \"{orphan}\"; COMMENT ON ROLE \"{orphan}\" IS 'sesame-managed:local-pg'"
    ))
    .execute(&h.pg)
    .await
    .unwrap();
    // A real role that merely shares the prefix (not Sesame's mark), and one
    // marked by another integration on the same server: both stay.
    let bystander = format!("{}reporting_team", h.prefix);
    let neighbour = format!("{}other_integrations", h.prefix);
    sqlx::raw_sql(&format!(
        "CREATE ROLE \"{bystander}\" LOGIN; CREATE ROLE \"{neighbour}\" LOGIN; COMMENT ON ROLE \"{neighbour}\" IS 'sesame-managed:other-pg'"
    ))
    .execute(&h.pg)
    .await
    .unwrap();
    // Let every deadline pass while nothing runs.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for u in &users {
        assert!(h.role_exists(u).await, "nothing should have revoked {u} while the server was dead");
    }
    h.spawn_server();
    let took = h
        .wait_until("overdue grants and the orphan to be revoked after restart", Duration::from_secs(5), || async {
            let mut all_gone = !h.role_exists(&orphan).await;
            for u in &users {
                all_gone &= !h.role_exists(u).await;
            }
            all_gone
        })
        .await;
    eprintln!("revoked everything {took:?} after the restart");
    assert!(h.role_exists(&bystander).await && h.role_exists(&neighbour).await, "the reconciler touched a login that is not its own");
    sqlx::raw_sql(&format!("DROP ROLE \"{bystander}\"; DROP ROLE \"{neighbour}\"")).execute(&h.pg).await.unwrap();
    let audit = h.cli(&admin, &["audit"]).to_string();
    assert!(audit.contains("reconcile.revoke") && audit.contains(&orphan), "the reconciler's action is audited");
    for r in h.cli(&dev, &["requests", "list"]).as_array().unwrap() {
        assert_eq!(s(r, "status"), "Revoked");
    }
    h.finish().await;
}

/// A TCP proxy in front of PostgreSQL that can be cut and restored.
struct Proxy {
    port: u16,
    task: tokio::task::JoinHandle<()>,
    /// Every connection made through it, so a cut ends them at once
    /// (`None` once cut: a connection accepted meanwhile ends at once too).
    conns: Arc<std::sync::Mutex<Option<Vec<tokio::task::AbortHandle>>>>,
}

impl Proxy {
    async fn start(port: u16) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns = Arc::new(std::sync::Mutex::new(Some(Vec::new())));
        let held = conns.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                let conn = tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect((pg_host().as_str(), pg_port())).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                match held.lock().unwrap().as_mut() {
                    Some(live) => live.push(conn.abort_handle()),
                    None => conn.abort(),
                }
            }
        });
        Proxy { port, task, conns }
    }

    /// Close the port and cut every connection through it, now.
    fn cut(&self) {
        self.task.abort();
        for c in self.conns.lock().unwrap().take().unwrap_or_default() {
            c.abort();
        }
    }
}

/// A harness whose PostgreSQL is reached through a proxy that can be cut:
/// the proxy, the harness, admin's and dev's tokens, and the orders table.
async fn behind_proxy() -> (Proxy, Harness, String, String, String) {
    let proxy = Proxy::start(0).await;
    let h = Harness::start(SETUP, Opts { target_port: proxy.port, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);
    (proxy, h, admin, dev, orders)
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_retries_while_the_target_is_down() {
    let (proxy, h, admin, dev, orders) = behind_proxy().await;
    let port = proxy.port;
    let r = h.request(&dev, "table", &orders, "read_only", "3s", &["--wait"]);
    assert_eq!(s(&r, "status"), "Active");
    let id = s(&r, "id");
    let user = s(&r, "username");
    proxy.cut();
    // The deadline passes while the target is unreachable: the revocation
    // fails, stays visible, and keeps being retried.
    h.wait_until("the revocation to fail at least twice", Duration::from_secs(30), || async {
        let r = h.cli(&dev, &["requests", "show", &id]);
        s(&r, "status") == "Revoking" && r["job_failures"].as_i64().unwrap_or(0) >= 2
    })
    .await;
    assert!(h.role_exists(&user).await, "the login is still there: the target was unreachable");
    let r = h.cli(&dev, &["requests", "show", &id]);
    assert!(r["last_error"].as_str().unwrap_or_default().contains("could not be reached"), "{r}");
    assert!(!r["last_error"].as_str().unwrap_or_default().contains("postgres"), "target details stay in the audit log: {r}");
    let metrics = reqwest::Client::new().get(format!("{}/metrics", h.url)).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("sesame_revocations_failing 1"), "{metrics}");
    let audit = h.cli(&admin, &["audit", "--request", &id]).to_string();
    assert!(audit.contains("revoke.retry") && audit.contains("postgres"), "{audit}");
    assert!(audit.contains(r#""cause":"unreachable""#), "the retry says where it failed: {audit}");

    // The target comes back on the same address: the revocation completes.
    let _proxy2 = Proxy::start(port).await;
    h.wait_until("the revocation to succeed once the target is back", Duration::from_secs(15), || async {
        s(&h.cli(&dev, &["requests", "show", &id]), "status") == "Revoked"
    })
    .await;
    assert!(!h.role_exists(&user).await);
    h.finish().await;
}

/// Credentials asked for with a request whose grant cannot reach the
/// target: the answer carries none, the mark made before the grant is
/// taken back (audited), and once the retried grant lands `access use`
/// makes working ones.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_asked_with_a_grant_that_fails_are_made_later() {
    let (proxy, h, admin, dev, orders) = behind_proxy().await;
    let port = proxy.port;
    proxy.cut();
    let body = serde_json::json!({"integration": "local-pg", "resource_type": "table", "resources": [orders], "permission": "read_only", "duration": "1h", "justification": "e2e"});
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/requests?credentials=true&wait=2s", h.url))
        .bearer_auth(&dev)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s(&r, "status"), "Granting", "{r}");
    assert!(r.get("credentials").is_none(), "{r}");
    let id = s(&r, "id");
    // The failed attempt takes the mark back (the answer may come while it
    // still tries to connect, with the mark still set).
    h.wait_until("the failed grant to take the shown mark back", Duration::from_secs(30), || async {
        h.cli(&dev, &["requests", "show", &id])["credentials_shown"] == false
    })
    .await;
    let audit = h.cli(&admin, &["audit", "--request", &id]).to_string();
    assert!(audit.contains("credentials.failed") && audit.contains("were not shown"), "{audit}");
    h.cli_err(&dev, &["access", "use", &id], "invalid_state");

    let _proxy2 = Proxy::start(port).await;
    h.wait_until("the retried grant to land once the target is back", Duration::from_secs(30), || async {
        s(&h.cli(&dev, &["requests", "show", &id]), "status") == "Active"
    })
    .await;
    let creds = h.cli(&dev, &["access", "use", &id]);
    let user = s(&r, "username");
    assert!(h.password_matches(&user, &s(&creds, "secret")).await, "the password made after the retry is the login's");
    h.finish().await;
}

/// Issue 9.10: a flood of API calls — bad tokens, oversized bodies, heavy
/// listings — never delays a revoke: every grant is revoked on time while it
/// lasts, the bad tokens are refused before the store, and errors stay JSON.
#[tokio::test(flavor = "multi_thread")]
async fn revokes_stay_on_time_while_the_api_is_flooded() {
    let h = Harness::start(SETUP, Opts::default()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(s(&h.request(&dev, "table", &orders, "read_only", "4s", &["--wait"]), "id"));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (served, limited, too_big) = (Arc::new(std::sync::atomic::AtomicU64::new(0)), Arc::new(std::sync::atomic::AtomicU64::new(0)), Arc::new(std::sync::atomic::AtomicU64::new(0)));
    let huge = serde_json::json!({"integration": "local-pg", "resource_type": "table", "resources": vec!["x".repeat(64); 20_000], "permission": "read_only", "duration": "1h"});
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (url, admin, stop, served, limited, too_big, huge) = (h.url.clone(), admin.clone(), stop.clone(), served.clone(), limited.clone(), too_big.clone(), huge.clone());
        tasks.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let res = match i % 3 {
                    0 => c.get(format!("{url}/api/v1/requests?scope=all")).bearer_auth(format!("ses_bad{i}")).send().await,
                    1 => c.post(format!("{url}/api/v1/requests/dry-run")).bearer_auth(&admin).json(&huge).send().await,
                    _ => c.get(format!("{url}/api/v1/audit")).bearer_auth(&admin).send().await,
                };
                let Ok(res) = res else { continue };
                let status = res.status().as_u16();
                let json = res.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
                assert!(json || status < 400, "an error that is not JSON: {status}");
                match status {
                    429 => limited.fetch_add(1, Ordering::Relaxed),
                    413 => too_big.fetch_add(1, Ordering::Relaxed),
                    _ => served.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    // Every deadline passes during the flood.
    h.wait_until("every grant revoked", Duration::from_secs(30), || async {
        ids.iter().all(|id| s(&h.cli(&dev, &["requests", "show", id]), "status") == "Revoked")
    })
    .await;
    // The flood goes on until the bad tokens have met the limiter (how long
    // that takes depends on the machine, not on Sesame).
    h.wait_until("bad tokens to be rate limited", Duration::from_secs(30), || {
        let limited = limited.clone();
        async move { limited.load(Ordering::Relaxed) > 100 }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let mut late = Vec::new();
    for id in &ids {
        let audit = h.cli(&admin, &["audit", "--request", id]);
        let done = audit.as_array().unwrap().iter().find(|e| e["action"] == "revoke.done").expect("revoke.done audited").clone();
        late.push(done["detail"]["after_deadline_ms"].as_i64().unwrap());
    }
    eprintln!("flood: {} served, {} refused as rate limited, {} refused as too large; revoke lateness ms: {late:?}", served.load(Ordering::Relaxed), limited.load(Ordering::Relaxed), too_big.load(Ordering::Relaxed));
    assert!(limited.load(Ordering::Relaxed) > 100, "bad tokens were not rate limited");
    assert!(too_big.load(Ordering::Relaxed) > 0, "oversized bodies were not refused");
    // Unflooded, lateness is ~0.1 s (the poll interval); the bound leaves room for a loaded CI machine.
    assert!(late.iter().all(|ms| *ms < 3_000), "revokes were late under the flood: {late:?}");
    h.finish().await;
}
