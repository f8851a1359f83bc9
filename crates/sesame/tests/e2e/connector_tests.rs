//! `sesame connector` over a real socket to a real `serve`: the loop, the
//! secret staying with the connector, disconnect/reconnect, two replicas
//! with one killed mid-grant, and an old connector refused.

use crate::harness::{s, Harness, Opts, INTEGRATION_SECRET};
use serde_json::{json, Value};
use sesame_core::resource_id::join;
use std::path::PathBuf;
use std::time::Duration;

const SETUP: &str = "CREATE TABLE public.orders (id int); INSERT INTO public.orders VALUES (1);";

fn remote() -> Opts {
    Opts { remote: true, ..Default::default() }
}

async fn wait_connected(h: &Harness, admin: &str, instances: usize) {
    h.wait_until("the connector to connect", Duration::from_secs(15), || async {
        let v = h.connectors(admin).await;
        v[0]["status"] == "CONNECTED" && v[0]["instances"].as_array().map_or(0, |a| a.iter().filter(|i| i["connected"] == true).count()) >= instances
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_loop_through_a_connector_keeps_the_secret_out_of_the_control_plane() {
    let h = Harness::start(SETUP, remote()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    // A connector's token opens no people's endpoint, and a user's no connector endpoint.
    let out = std::process::Command::new(crate::harness::BIN).args(["token", "issue", "--config"]).arg(&h.config).args(["--connector", "dc-1"]).output().unwrap();
    let ctoken = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    h.cli_err(&ctoken, &["whoami"], "forbidden");
    let resp = reqwest::Client::new().post(format!("{}/api/v1/connector/poll", h.url)).bearer_auth(&dev).json(&json!({"connector_id": "dc-1", "instance_id": "x", "wait_ms": 1})).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let v = h.connectors(&admin).await;
    assert_eq!(v[0]["id"], "dc-1");
    assert_eq!(v[0]["status"], "DISCONNECTED");
    let mut conn = h.spawn_connector(1);
    wait_connected(&h, &admin, 1).await;
    let v = h.connectors(&admin).await;
    assert_eq!(v[0]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v[0]["integrations"], json!(["local-pg"]));
    h.sync(&admin);
    let r = h.request(&dev, "table", &join(&[&h.db, "public", "orders"]), "read_only", "1h", &["--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let creds = h.cli(&dev, &["access", "use", &s(&r, "id")]);
    let mut db = h.login(&s(&r, "username"), &s(&creds, "secret")).await.expect("log in as the grantee");
    sqlx::query("SELECT * FROM public.orders").execute(&mut db).await.expect("SELECT is granted");
    assert!(h.password_matches(&s(&r, "username"), &s(&creds, "secret")).await);
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &s(&r, "id"), "--wait"]), "status"), "Revoked");
    assert!(!h.role_exists(&s(&r, "username")).await);
    // The integration's secret is resolved by the connector only.
    let mut hay = std::fs::read(h.dir.join("sesame.db")).unwrap();
    hay.extend(std::fs::read(h.dir.join("sesame.db-wal")).unwrap_or_default());
    hay.extend(std::fs::read(h.dir.join("server.log")).unwrap());
    hay.extend(std::fs::read(&h.config).unwrap());
    assert!(!hay.windows(INTEGRATION_SECRET.len()).any(|w| w == INTEGRATION_SECRET.as_bytes()), "the secret reached the control plane");
    conn.kill().unwrap();
    conn.wait().unwrap();
    h.finish().await;
}

/// Every operation the control plane sends a connector, through a real one:
/// status, discovery, grant, credentials made and reset, revoke with user
/// cleanup (disable, then delete), and the reconciler's list and revoke.
#[tokio::test(flavor = "multi_thread")]
async fn every_operation_runs_through_a_real_connector() {
    let opts = Opts { settings: "user_cleanup_days = 0.00005".into(), ..remote() };
    let h = Harness::start(SETUP, opts).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    let mut conn = h.spawn_connector(1);
    wait_connected(&h, &admin, 1).await;
    h.sync(&admin);
    let status = h.cli(&admin, &["inventory", "integrations"]).to_string();
    assert!(status.contains("local-pg") && status.contains("Active"), "{status}");

    let r = h.request(&dev, "table", &join(&[&h.db, "public", "orders"]), "read_only", "1h", &["--wait"]);
    let (id, user) = (s(&r, "id"), s(&r, "username"));
    let first = s(&h.cli(&dev, &["access", "use", &id]), "secret");
    assert!(h.password_matches(&user, &first).await, "create-credentials reached the target");
    let second = s(&h.cli(&dev, &["access", "reset-credentials", &id]), "secret");
    assert!(h.password_matches(&user, &second).await && !h.password_matches(&user, &first).await, "reset-credentials replaced the password");

    // Revoke with user cleanup: disable-user now, delete-user later.
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &id, "--wait"]), "status"), "Revoked");
    let can_login: bool = sqlx::query_scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1").bind(&user).fetch_one(&h.pg).await.expect("disabled, not deleted");
    assert!(!can_login, "disable-user reached the target");
    h.wait_until("delete-user to remove the disabled login", Duration::from_secs(20), || async { !h.role_exists(&user).await }).await;

    // The reconciler lists marked logins through the connector and revokes
    // one no grant explains.
    let orphan = format!("{}orphan", h.prefix);
    sqlx::raw_sql(&format!("CREATE ROLE \"{orphan}\" LOGIN; COMMENT ON ROLE \"{orphan}\" IS 'sesame-managed:local-pg'")).execute(&h.pg).await.unwrap();
    h.wait_until("the reconciler to remove the orphan through the connector", Duration::from_secs(20), || async { !h.role_exists(&orphan).await }).await;
    let audit = h.cli(&admin, &["audit"]).to_string();
    for action in ["credentials.reset", "cleanup.done", "reconcile.revoke"] {
        assert!(audit.contains(action), "{action} missing: {audit}");
    }
    let log = std::fs::read_to_string(h.dir.join("connector-1.log")).unwrap();
    for op in ["op=ResetCredentials", "op=DisableUser", "op=DeleteUser", "op=ListManagedUsers"] {
        assert!(log.contains(op), "the connector never ran {op}: see {}", h.dir.join("connector-1.log").display());
    }
    conn.kill().unwrap();
    conn.wait().unwrap();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disconnected_connector_delays_grants_until_it_is_back() {
    let h = Harness::start(SETUP, remote()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    let mut c1 = h.spawn_connector(1);
    wait_connected(&h, &admin, 1).await;
    h.sync(&admin);
    c1.kill().unwrap();
    c1.wait().unwrap();
    h.wait_until("DISCONNECTED", Duration::from_secs(10), || async { h.connectors(&admin).await[0]["status"] == "DISCONNECTED" }).await;
    let r = h.request(&dev, "table", &join(&[&h.db, "public", "orders"]), "read_only", "1h", &[]);
    let id = s(&r, "id");
    h.wait_until("the grant to fail while disconnected", Duration::from_secs(10), || async {
        h.cli(&dev, &["requests", "show", &id])["last_error"].as_str().unwrap_or_default().contains("could not be reached")
    })
    .await;
    // The requester reads the stable message; the detail is in the audit log.
    let audit = h.cli(&admin, &["audit", "--request", &id]).to_string();
    assert!(audit.contains("not connected"), "{audit}");
    assert_eq!(s(&h.cli(&dev, &["requests", "show", &id]), "status"), "Granting");
    let mut c2 = h.spawn_connector(2);
    h.wait_until("the grant to complete after reconnecting", Duration::from_secs(15), || async {
        s(&h.cli(&dev, &["requests", "show", &id]), "status") == "Active"
    })
    .await;
    h.cli(&dev, &["requests", "revoke", &id, "--wait"]);
    c2.kill().unwrap();
    c2.wait().unwrap();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_and_one_killed_mid_grant() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/custom");
    let h = Harness::start(SETUP, remote()).await;
    // The connector also serves a custom integration whose grant takes 6 s.
    let state = h.dir.join("state.json");
    let slow = h.dir.join("slow.mjs");
    std::fs::write(
        &slow,
        format!(
            "import {{ handler as inner }} from '{}';\nexport const handler = async (e) => {{ if (e.event_type === 'grant-access') await new Promise(r => setTimeout(r, 6000)); return inner(e); }};\n",
            examples.join("stateful-handler.mjs").display()
        ),
    )
    .unwrap();
    let custom = format!(
        "\n[[integrations]]\ntype = \"custom\"\nname = \"app\"\nresource_types = [\"app\"]\ntimeout_secs = 20\n\
         custom_parameters = {{ state_file = \"{}\" }}\ntransport = {{ kind = \"exec\", command = [\"node\", \"{}\", \"{}\"] }}\n",
        state.display(),
        examples.join("lambda-exec.mjs").display(),
        slow.display()
    );
    let mut cfg = std::fs::read_to_string(h.dir.join("connector.toml")).unwrap();
    cfg.push_str(&custom);
    std::fs::write(h.dir.join("connector.toml"), cfg).unwrap();
    let mut server_cfg = std::fs::read_to_string(&h.config).unwrap();
    server_cfg.push_str(
        "\n[[integrations]]\ntype = \"remote\"\nname = \"app\"\nconnector = \"dc-1\"\n\n[[access_flows]]\nname = \"app-auto\"\nkind = \"automatic\"\n\
         integration = \"app\"\nrequesters = { groups = [\"developers\"] }\nmax_duration = \"1h\"\n",
    );
    std::fs::write(&h.config, server_cfg).unwrap();
    let mut h = h;
    h.kill_server();
    h.spawn_server();
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    let mut replicas = vec![Some(h.spawn_connector(1)), Some(h.spawn_connector(2))];
    wait_connected(&h, &admin, 2).await;
    h.cli(&admin, &["inventory", "sync", "app"]);

    let r = h.cli(&dev, &["requests", "create", "--integration", "app", "--resource-type", "app", "--resources", "alpha", "--permission", "reader", "--duration", "10m"]);
    let id = s(&r, "id");
    // Find the replica running the grant and SIGKILL it mid-grant.
    let mut busy = String::new();
    let started = std::time::Instant::now();
    while busy.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(10), "no replica took the grant");
        let v: Value = h.connectors(&admin).await;
        // The replica running this grant (not a discovery or reconciler task).
        let running_grant = |i: &&Value| i["in_flight_tasks"].as_array().is_some_and(|t| t.iter().any(|x| x == "app:grant-access"));
        if let Some(i) = v[0]["instances"].as_array().unwrap().iter().find(running_grant) {
            busy = s(i, "instance_id");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let which = (1..=2)
        .find(|n| std::fs::read_to_string(h.dir.join(format!("connector-{n}.log"))).unwrap().contains(&busy))
        .expect("the busy instance's log");
    let mut victim = replicas[which - 1].take().unwrap();
    victim.kill().unwrap();
    victim.wait().unwrap();
    // The other replica finishes the job.
    h.wait_until("the surviving replica to complete the grant", Duration::from_secs(30), || async {
        s(&h.cli(&dev, &["requests", "show", &id]), "status") == "Active"
    })
    .await;
    let st: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(st["grants"].as_object().unwrap().len(), 1, "exactly one grant: {st}");
    assert_eq!(st["grants"][&id]["resources"][0], "alpha");
    let audit = h.cli(&admin, &["audit", "--request", &id]).to_string();
    assert!(audit.contains("stopped answering"), "the lost task is visible: {audit}");
    h.cli(&dev, &["requests", "revoke", &id, "--wait"]);
    for mut r in replicas.into_iter().flatten() {
        let _ = r.kill();
        let _ = r.wait();
    }
    h.finish().await;
}

/// Is `dc-1` connected to the replica at `url`?
async fn connected_to(url: &str, admin: &str) -> bool {
    let Ok(resp) = reqwest::Client::new().get(format!("{url}/api/v1/connectors")).bearer_auth(admin).send().await else { return false };
    let v: Value = resp.json().await.unwrap_or_default();
    v[0]["status"] == "CONNECTED"
}

/// Two `serve` replicas on one PostgreSQL store and one connector given
/// both. Replica A is SIGKILLed: the connector keeps serving B, which
/// grants and revokes through it; A comes back on its address and the
/// connector registers with it again.
#[tokio::test(flavor = "multi_thread")]
async fn a_connector_serves_the_surviving_replica_and_reconnects() {
    let store = crate::harness::ScratchDb::create("ha").await;
    let store_db = &store.name;
    let store_url = format!("postgres://postgres@{}:{}/{store_db}", crate::harness::pg_host(), crate::harness::pg_port());
    let mut h = Harness::start(SETUP, Opts { store: Some(store_url), ..remote() }).await;
    let (b, b_url) = h.spawn_replica("replica-b.log");
    let a_url = h.url.clone();
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    let mut conn = h.spawn_connector_to(1, &[&a_url, &b_url]);
    for url in [&a_url, &b_url] {
        h.wait_until(&format!("the connector to register with {url}"), Duration::from_secs(15), || connected_to(url, &admin)).await;
    }
    h.sync(&admin);
    let table = join(&[&h.db, "public", "orders"]);
    let first = h.request(&dev, "table", &table, "read_only", "1h", &["--wait"]);
    assert_eq!(s(&first, "status"), "Active", "granted through A: {first}");

    // SIGKILL A; from now on the CLI talks to B.
    h.kill_server();
    h.url = b_url.clone();
    h.server = Some(b);
    let r = h.request(&dev, "table", &table, "read_only", "1h", &["--wait"]);
    assert_eq!(s(&r, "status"), "Active", "granted through B after A died: {r}");
    let creds = h.cli(&dev, &["access", "use", &s(&r, "id")]);
    assert!(h.password_matches(&s(&r, "username"), &s(&creds, "secret")).await, "the shown password is the grantee's");
    let mut db = h.login(&s(&r, "username"), &s(&creds, "secret")).await.expect("log in as the grantee");
    sqlx::query("SELECT * FROM public.orders").execute(&mut db).await.expect("SELECT is granted");
    drop(db);
    for x in [&first, &r] {
        assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &s(x, "id"), "--wait"]), "status"), "Revoked");
        assert!(!h.role_exists(&s(x, "username")).await, "revoked through B: the login is gone");
    }
    let log = std::fs::read_to_string(h.dir.join("connector-1.log")).unwrap();
    assert!(log.contains(&format!("registered with {b_url}")), "{log}");

    // A comes back where it was: the connector dials it again.
    let addr = a_url.trim_start_matches("http://");
    let (a, _) = h.spawn_replica_on("replica-a-again.log", addr);
    h.wait_until("the connector to register with A again", Duration::from_secs(20), || connected_to(&a_url, &admin)).await;
    h.url = a_url.clone();
    let again = h.request(&dev, "table", &table, "read_only", "1h", &["--wait"]);
    assert_eq!(s(&again, "status"), "Active", "granted through the restarted A: {again}");
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &s(&again, "id"), "--wait"]), "status"), "Revoked");
    let mut a = a;
    let _ = a.kill();
    let _ = a.wait();
    h.url = b_url;
    conn.kill().unwrap();
    conn.wait().unwrap();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_connector_is_refused_with_both_versions_named() {
    let h = Harness::start(SETUP, remote()).await;
    let admin = h.token("admin@example.com");
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["token", "issue", "--config"])
        .arg(&h.config)
        .args(["--connector", "dc-1"])
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let http = reqwest::Client::new();
    let reg = json!({"connector_id": "dc-1", "instance_id": "old-1", "version": "1.2.0", "integrations": [{
        "name": "local-pg", "type": "postgresql", "resource_types": ["table"], "permissions": {}, "max_username_len": 63,
        "user_prefix": h.prefix, "uses_requester_identity": false, "settings": {}}]});
    let reply: Value = http.post(format!("{}/api/v1/connector/register", h.url)).bearer_auth(&token).json(&reg).send().await.unwrap().json().await.unwrap();
    let reason = reply["refused"][0]["reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.contains("1.2.0") && reason.contains("1.5.3"), "{reply}");
    assert_eq!(h.connectors(&admin).await[0]["refused"][0]["reason"], reason.as_str());
    // Keep the old instance "connected" and ask for work: refused with the same words.
    let poll = http
        .post(format!("{}/api/v1/connector/poll", h.url))
        .bearer_auth(&token)
        .json(&json!({"connector_id": "dc-1", "instance_id": "old-1", "wait_ms": 10}));
    poll.send().await.unwrap();
    let (code, _out, err) = h.cli_raw(&admin, &["inventory", "sync", "local-pg"]);
    assert_ne!(code, 0);
    assert!(err.contains("1.2.0") && err.contains("1.5.3"), "{err}");
    // A user's token is not a connector's, and vice versa.
    let resp = http.post(format!("{}/api/v1/connector/register", h.url)).bearer_auth(&admin).json(&reg).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(h.cli_raw(&token, &["requests", "list"]).0, 2);
    h.finish().await;
}
