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
    let orphan = format!("{}ghost_req_crash", h.prefix);
    sqlx::raw_sql(&format!("CREATE ROLE \"{orphan}\" LOGIN; GRANT SELECT ON public.orders TO \"{orphan}\""))
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
    up: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(port: u16) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let flag = up.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                let flag = flag.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect((pg_host().as_str(), pg_port())).await else { return };
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    tokio::pin!(copy);
                    loop {
                        tokio::select! {
                            _ = &mut copy => return,
                            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                                if !flag.load(Ordering::SeqCst) { return; }
                            }
                        }
                    }
                });
            }
        });
        Proxy { port, up, task }
    }

    /// Close the port and cut every connection through it.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_retries_while_the_target_is_down() {
    let proxy = Proxy::start(0).await;
    let port = proxy.port;
    let h = Harness::start(SETUP, Opts { target_port: port, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);
    let r = h.request(&dev, "table", &orders, "read_only", "3s", &["--wait"]);
    assert_eq!(s(&r, "status"), "Active");
    let id = s(&r, "id");
    let user = s(&r, "username");
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(200)).await;
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

    // The target comes back on the same address: the revocation completes.
    let _proxy2 = Proxy::start(port).await;
    h.wait_until("the revocation to succeed once the target is back", Duration::from_secs(15), || async {
        s(&h.cli(&dev, &["requests", "show", &id]), "status") == "Revoked"
    })
    .await;
    assert!(!h.role_exists(&user).await);
    h.finish().await;
}
