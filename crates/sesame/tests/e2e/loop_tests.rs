//! The core access loop through the CLI: request, approve, log in, revoke.

use crate::harness::{s, Harness, Opts};
use sesame_core::resource_id::join;
use std::time::Duration;

const SETUP: &str = "CREATE TABLE public.orders (id int PRIMARY KEY, item text); INSERT INTO public.orders VALUES (1, 'apple');
CREATE TABLE public.payroll (id int, salary int); INSERT INTO public.payroll VALUES (1, 100);";

/// Log in as `user` and prove read_only on orders: SELECT works, INSERT and
/// other tables are denied. The session stays open.
async fn reads_orders_only(h: &Harness, user: &str, password: &str) -> sqlx::PgConnection {
    let mut conn = h.login(user, password).await.expect("the grantee logs in with the credentials shown");
    let item: String = sqlx::query_scalar("SELECT item FROM public.orders WHERE id = 1").fetch_one(&mut conn).await.unwrap();
    assert_eq!(item, "apple");
    let insert = sqlx::query("INSERT INTO public.orders VALUES (2, 'pear')").execute(&mut conn).await;
    assert!(insert.unwrap_err().to_string().contains("permission denied"), "read_only must not INSERT");
    let other = sqlx::query("SELECT * FROM public.payroll").execute(&mut conn).await;
    assert!(other.unwrap_err().to_string().contains("permission denied"), "other tables are denied");
    conn
}

#[tokio::test(flavor = "multi_thread")]
async fn automatic_flow_grants_exactly_select_and_revoke_ends_it() {
    let h = Harness::start(SETUP, Opts::default()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let tables = h.cli(&dev, &["inventory", "resources", "local-pg", "--type", "table"]);
    let ids: Vec<&str> = tables["resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    let orders = join(&[&h.db, "public", "orders"]);
    assert!(ids.contains(&orders.as_str()), "{ids:?}");

    let r = h.request(&dev, "table", &orders, "read_only", "1h", &["--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    assert_eq!(s(&r, "flow"), "auto-read");
    let id = s(&r, "id");
    let user = s(&r, "username");
    assert!(user.starts_with(&h.prefix) && user.len() <= 63, "{user}");

    // The backstop: VALID UNTIL is the deadline.
    let valid_until: String =
        sqlx::query_scalar("SELECT to_char(rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM pg_roles WHERE rolname = $1")
            .bind(&user)
            .fetch_one(&h.pg)
            .await
            .unwrap();
    assert!(s(&r, "deadline").starts_with(&valid_until), "{valid_until} vs {}", s(&r, "deadline"));

    let creds = h.cli(&dev, &["access", "use", &id]);
    let password = s(&creds, "secret");
    assert_eq!(password.len(), 32);
    assert!(h.password_matches(&user, &password).await, "the shown password is the login's password");
    let cmd = s(&creds, "connect_command");
    assert!(cmd.contains("psql") && cmd.contains(&user) && cmd.contains(&h.db), "{cmd}");
    // Shown once.
    h.cli_err(&dev, &["access", "use", &id], "credentials_already_shown");

    let mut conn = reads_orders_only(&h, &user, &password).await;

    // Revoke: the live session is terminated and the login is gone.
    let r = h.cli(&dev, &["requests", "revoke", &id, "--reason", "done", "--wait"]);
    assert_eq!(s(&r, "status"), "Revoked", "{r}");
    assert!(sqlx::query("SELECT 1").execute(&mut conn).await.is_err(), "the live session survived revocation");
    assert!(!h.role_exists(&user).await);
    assert!(h.login(&user, &password).await.is_err(), "login after revoke must fail");
    // Revoking again is fine.
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &id]), "status"), "Revoked");

    // Every step is audited, and the chain verifies.
    let audit = h.cli(&admin, &["audit"]);
    let entries = audit.as_array().unwrap();
    let actions: Vec<&str> =
        entries.iter().filter(|e| e["request_id"].as_str() == Some(&id)).map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["request.create", "grant.done", "credentials.create", "request.revoke", "revoke.done"]);
    let mut prev = sesame_core::audit::GENESIS.to_string();
    for e in entries {
        assert_eq!(s(e, "prev_hash"), prev, "broken chain at {e}");
        prev = s(e, "hash");
    }
    // Passwords never reach the audit log or the store file.
    assert!(!audit.to_string().contains(&password));
    let db_bytes = std::fs::read(h.dir.join("sesame.db")).unwrap();
    let wal = std::fs::read(h.dir.join("sesame.db-wal")).unwrap_or_default();
    let log = std::fs::read(h.dir.join("server.log")).unwrap();
    let hay = [db_bytes, wal, log].concat();
    for secret in [password.as_str(), crate::harness::INTEGRATION_SECRET] {
        assert!(!hay.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret reached the store or the log");
    }
    assert!(std::fs::read_to_string(&h.config).unwrap().contains("SESAME_E2E_PG_SECRET"), "the config holds only the reference");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn self_serve_flow_needs_another_approver() {
    let h = Harness::start(SETUP, Opts::default()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    let lead = h.token("lead@example.com");
    let outsider = h.token("outsider@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);

    // The lead is also a developer: their own request goes to other leads,
    // and there are none, so it is refused at once.
    h.cli_err(
        &lead,
        &["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", &orders,
          "--permission", "read_write", "--duration", "30m", "--justification", "x"],
        "no_approver",
    );

    let r = h.request(&dev, "table", &orders, "read_write", "30m", &[]);
    assert_eq!(s(&r, "status"), "Pending");
    let id = s(&r, "id");
    let user = s(&r, "username");
    assert!(!h.role_exists(&user).await, "nothing is granted before approval");
    h.cli_err(&dev, &["requests", "approve", &id], "self_approval");
    h.cli_err(&outsider, &["requests", "approve", &id], "not_found");
    h.cli_err(&admin, &["requests", "approve", &id], "not_an_approver");
    let to_approve = h.cli(&lead, &["requests", "list", "--scope", "to-approve"]);
    assert!(to_approve.as_array().unwrap().iter().any(|r| r["id"] == id.as_str()));
    let r = h.cli(&lead, &["requests", "approve", &id, "--reason", "ok for the incident"]);
    assert_eq!(s(&r, "decided_by"), "lead@example.com");
    h.wait_until("the grant to become Active", Duration::from_secs(10), || async {
        s(&h.cli(&dev, &["requests", "show", &id]), "status") == "Active"
    })
    .await;
    h.cli_err(&lead, &["requests", "approve", &id], "invalid_state");

    let creds = h.cli(&dev, &["access", "use", &id]);
    let mut conn = h.login(&user, &s(&creds, "secret")).await.unwrap();
    sqlx::query("INSERT INTO public.orders VALUES (3, 'plum')").execute(&mut conn).await.expect("read_write may INSERT");
    assert!(sqlx::query("DROP TABLE public.orders").execute(&mut conn).await.is_err(), "read_write may not DROP");
    // Reset: the old password stops being the password.
    let old = s(&creds, "secret");
    let new = h.cli(&dev, &["access", "reset-credentials", &id]);
    assert_ne!(s(&new, "secret"), old);
    assert!(h.password_matches(&user, &s(&new, "secret")).await);
    assert!(!h.password_matches(&user, &old).await, "the old password no longer works");
    drop(conn);

    // A rejected request never touches the target.
    let r2 = h.request(&dev, "table", &orders, "admin", "30m", &[]);
    let r2 = h.cli(&lead, &["requests", "reject", &s(&r2, "id"), "--reason", "no"]);
    assert_eq!(s(&r2, "status"), "Rejected");
    assert!(!h.role_exists(&s(&r2, "username")).await);
    // A pending request can be withdrawn.
    let r3 = h.request(&dev, "table", &orders, "admin", "30m", &[]);
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &s(&r3, "id")]), "status"), "Revoked");

    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &id, "--wait"]), "status"), "Revoked");
    assert!(!h.role_exists(&user).await);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deadline_revokes_on_time() {
    let h = Harness::start(SETUP, Opts::default()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);
    let r = h.request(&dev, "table", &orders, "read_only", "3s", &["--wait"]);
    assert_eq!(s(&r, "status"), "Active");
    let user = s(&r, "username");
    let creds = h.cli(&dev, &["access", "use", &s(&r, "id")]);
    let mut conn = h.login(&user, &s(&creds, "secret")).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut conn).await.unwrap();
    h.wait_until("the login to disappear after its deadline", Duration::from_secs(8), || async { !h.role_exists(&user).await }).await;
    assert!(sqlx::query("SELECT 1").execute(&mut conn).await.is_err(), "the session outlived the deadline");
    let r = h.cli(&dev, &["requests", "show", &s(&r, "id")]);
    assert_eq!(s(&r, "status"), "Revoked");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_names_are_quoted_everywhere() {
    let schema = "we\"ird; DROP TABLE public.keep; -- ünï🚀";
    // 62 bytes: long, but within PostgreSQL's 63-byte identifiers.
    let table = format!("t\"; DELETE FROM public.keep; {}", "x".repeat(33));
    assert!(table.len() >= 60 && table.len() <= 63);
    let q = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
    let setup = format!(
        "CREATE TABLE public.keep (id int); INSERT INTO public.keep VALUES (1);
         CREATE SCHEMA {s}; CREATE TABLE {s}.{t} (v text); INSERT INTO {s}.{t} VALUES ('hi');",
        s = q(schema),
        t = q(&table)
    );
    let h = Harness::start(&setup, Opts::default()).await;
    let admin = h.token("admin@example.com");
    let obrien = h.token("o'brien+ops@example.com");
    h.sync(&admin);
    for (rtype, id) in [("table", join(&[&h.db, schema, &table])), ("schema", join(&[&h.db, schema]))] {
        let r = h.request(&obrien, rtype, &id, "read_only", "10m", &["--wait"]);
        assert_eq!(s(&r, "status"), "Active", "{r}");
        let user = s(&r, "username");
        assert!(user.starts_with(&format!("{}o_brien_ops_", h.prefix)), "{user}");
        let creds = h.cli(&obrien, &["access", "use", &s(&r, "id")]);
        let mut conn = h.login(&user, &s(&creds, "secret")).await.unwrap();
        let v: String = sqlx::query_scalar(&format!("SELECT v FROM {}.{}", q(schema), q(&table))).fetch_one(&mut conn).await.unwrap();
        assert_eq!(v, "hi");
        assert_eq!(s(&h.cli(&obrien, &["requests", "revoke", &s(&r, "id"), "--wait"]), "status"), "Revoked");
        assert!(!h.role_exists(&user).await);
    }
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM public.keep").fetch_one(&h.pg).await.unwrap();
    assert_eq!(kept, 1, "nothing escaped its quotes");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_that_owns_objects_is_stripped_and_disabled_not_dropped() {
    let h = Harness::start("CREATE SCHEMA app; CREATE TABLE app.base (id int);", Opts::default()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    let lead = h.token("lead@example.com");
    h.sync(&admin);
    let r = h.request(&dev, "schema", &join(&[&h.db, "app"]), "admin", "30m", &[]);
    let id = s(&r, "id");
    let user = s(&r, "username");
    h.cli(&lead, &["requests", "approve", &id]);
    h.wait_until("Active", Duration::from_secs(10), || async { s(&h.cli(&dev, &["requests", "show", &id]), "status") == "Active" }).await;
    let creds = h.cli(&dev, &["access", "use", &id]);
    let mut conn = h.login(&user, &s(&creds, "secret")).await.unwrap();
    sqlx::query("CREATE TABLE app.mine (v int)").execute(&mut conn).await.expect("schema admin may create tables");
    drop(conn);
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &id, "--wait"]), "status"), "Revoked");
    // The login stays (it owns app.mine) but cannot log in and holds nothing.
    let (can_login, create_ok, select_ok): (bool, bool, bool) = sqlx::query_as(
        "SELECT rolcanlogin, has_schema_privilege($1, 'app', 'CREATE'), has_table_privilege($1, 'app.base', 'SELECT') FROM pg_roles WHERE rolname = $1",
    )
    .bind(&user)
    .fetch_one(&h.pg)
    .await
    .unwrap();
    assert!(!can_login && !create_ok && !select_ok);
    let kept: bool = sqlx::query_scalar("SELECT to_regclass('app.mine') IS NOT NULL").fetch_one(&h.pg).await.unwrap();
    assert!(kept, "the user's own table survives revocation");
    assert!(h.login(&user, &s(&creds, "secret")).await.is_err());
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn role_membership_is_granted_and_revoked() {
    let h = Harness::start(SETUP, Opts::default()).await;
    let role = format!("{}reporting", &h.db[..12]);
    sqlx::raw_sql(&format!("CREATE ROLE \"{role}\" NOLOGIN; GRANT CONNECT ON DATABASE \"{}\" TO \"{role}\"; GRANT SELECT ON public.payroll TO \"{role}\"", h.db))
        .execute(&h.pg)
        .await
        .unwrap();
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    let lead = h.token("lead@example.com");
    h.sync(&admin);
    // A role outside the integration's `roles` list is not offered, even a harmless one.
    let unlisted = format!("{}auditor", &h.db[..12]);
    sqlx::raw_sql(&format!("CREATE ROLE \"{unlisted}\" NOLOGIN")).execute(&h.pg).await.unwrap();
    h.sync(&admin);
    h.cli_err(
        &dev,
        &["requests", "create", "--integration", "local-pg", "--resource-type", "role", "--resources", &unlisted, "--permission", "member", "--duration", "30m", "--justification", "x"],
        "unknown_resource",
    );
    sqlx::raw_sql(&format!("DROP ROLE \"{unlisted}\"")).execute(&h.pg).await.unwrap();
    let r = h.request(&dev, "role", &role, "member", "30m", &[]);
    let id = s(&r, "id");
    h.cli(&lead, &["requests", "approve", &id]);
    h.wait_until("Active", Duration::from_secs(10), || async { s(&h.cli(&dev, &["requests", "show", &id]), "status") == "Active" }).await;
    let creds = h.cli(&dev, &["access", "use", &id]);
    let mut conn = h.login(&s(&r, "username"), &s(&creds, "secret")).await.unwrap();
    sqlx::query("SELECT * FROM public.payroll").execute(&mut conn).await.expect("the role's privileges apply");
    assert!(sqlx::query("SELECT * FROM public.orders").execute(&mut conn).await.is_err());
    drop(conn);
    h.cli(&dev, &["requests", "revoke", &id, "--wait"]);
    assert!(!h.role_exists(&s(&r, "username")).await);
    assert!(h.role_exists(&role).await, "the granted role itself is untouched");
    sqlx::raw_sql(&format!("DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\"")).execute(&h.pg).await.unwrap();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_loop_runs_on_a_postgresql_store() {
    let scratch = crate::harness::ScratchDb::create("e2e_store").await;
    let store_db = scratch.name.clone();
    let url = format!("postgres://postgres@{}:{}/{store_db}", crate::harness::pg_host(), crate::harness::pg_port());
    let h = Harness::start(SETUP, Opts { store: Some(url), ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let r = h.request(&dev, "table", &join(&[&h.db, "public", "orders"]), "read_only", "1h", &["--wait"]);
    assert_eq!(s(&r, "status"), "Active");
    let creds = h.cli(&dev, &["access", "use", &s(&r, "id")]);
    assert!(h.login(&s(&r, "username"), &s(&creds, "secret")).await.is_ok());
    h.cli(&dev, &["requests", "revoke", &s(&r, "id"), "--wait"]);
    assert!(h.login(&s(&r, "username"), &s(&creds, "secret")).await.is_err());
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM audit WHERE request_id = '{}'", s(&r, "id")))
        .fetch_one(&crate::harness::admin(&store_db).await)
        .await
        .unwrap();
    assert_eq!(n, 5, "create, grant, credentials, revoke, revoked: in the PostgreSQL store");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn user_cleanup_disables_at_revoke_and_deletes_later() {
    // 0.00005 days = 4.32 s.
    let opts = Opts { settings: "user_cleanup_days = 0.00005".into(), ..Default::default() };
    let h = Harness::start(SETUP, opts).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let r = h.request(&dev, "table", &join(&[&h.db, "public", "orders"]), "read_only", "1h", &["--wait"]);
    let (id, user) = (s(&r, "id"), s(&r, "username"));
    let creds = h.cli(&dev, &["access", "use", &id]);
    assert_eq!(s(&creds, "access_details"), "Ask #db-help if the login fails.");
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &id, "--wait"]), "status"), "Revoked");
    // Disabled, not deleted: the login exists, cannot log in, holds nothing;
    // and the reconciler (every second here) leaves it alone.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (can_login, select_ok): (bool, bool) =
        sqlx::query_as("SELECT rolcanlogin, has_table_privilege($1, 'public.orders', 'SELECT') FROM pg_roles WHERE rolname = $1")
            .bind(&user)
            .fetch_one(&h.pg)
            .await
            .expect("the disabled login is still there");
    assert!(!can_login && !select_ok);
    assert!(h.login(&user, &s(&creds, "secret")).await.is_err());
    h.wait_until("the cleanup job to delete the login", Duration::from_secs(15), || async { !h.role_exists(&user).await }).await;
    let audit = h.cli(&admin, &["audit", "--request", &id]).to_string();
    assert!(audit.contains("cleanup.done"), "{audit}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_rotated_and_shown_once_more() {
    // 0.00003 days = 2.6 s.
    let opts = Opts { settings: "credential_rotation_days = 0.00003".into(), ..Default::default() };
    let h = Harness::start(SETUP, opts).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let r = h.request(&dev, "table", &join(&[&h.db, "public", "orders"]), "read_only", "1h", &["--wait"]);
    let (id, user) = (s(&r, "id"), s(&r, "username"));
    let first = s(&h.cli(&dev, &["access", "use", &id]), "secret");
    assert!(h.password_matches(&user, &first).await);
    h.wait_until("a rotation", Duration::from_secs(15), || async { !h.password_matches(&user, &first).await }).await;
    let audit = h.cli(&admin, &["audit", "--request", &id]).to_string();
    assert!(audit.contains("credentials.rotate"), "{audit}");
    // The grantee sees the new credentials, once.
    let second = s(&h.cli(&dev, &["access", "use", &id]), "secret");
    assert_ne!(first, second);
    assert!(h.password_matches(&user, &second).await, "the shown password is the current one");
    h.cli_err(&dev, &["access", "use", &id], "credentials_already_shown");
    h.finish().await;
}

/// `--use` (`credentials=true`): the credentials are made with the grant
/// and come in the answer to the request, once; a request that waits for
/// an approver gets them when it is granted.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_come_with_the_grant_in_one_call_and_only_once() {
    let h = Harness::start(SETUP, Opts::default()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    let lead = h.token("lead@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);

    let r = h.request(&dev, "table", &orders, "read_only", "1h", &["--use"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    assert_eq!(r["credentials_shown"], true, "{r}");
    let (id, user) = (s(&r, "id"), s(&r, "username"));
    let creds = &r["credentials"];
    assert_eq!((s(creds, "request_id"), s(creds, "username")), (id.clone(), user.clone()), "{r}");
    let password = s(creds, "secret");
    assert_eq!(password.len(), 32);
    assert!(h.password_matches(&user, &password).await, "the shown password is the login's password");
    assert!(s(creds, "connect_command").contains(&user));
    drop(reads_orders_only(&h, &user, &password).await);
    // Shown once: the reveal refuses, and nobody else sees them again.
    h.cli_err(&dev, &["access", "use", &id], "credentials_already_shown");
    assert!(h.cli(&dev, &["requests", "show", &id]).get("credentials").is_none(), "a request's view never carries them again");

    // Audited on the disk before they were made: the entry comes before the grant's.
    let audit = h.cli(&admin, &["audit", "--request", &id]);
    let entries = audit.as_array().unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["request.create", "credentials.create", "grant.done"], "{audit}");
    assert_eq!(entries[1]["detail"]["with_grant"], true, "{audit}");
    assert!(!audit.to_string().contains(&password));
    let hay = [std::fs::read(h.dir.join("sesame.db")).unwrap(), std::fs::read(h.dir.join("sesame.db-wal")).unwrap_or_default(), std::fs::read(h.dir.join("server.log")).unwrap()].concat();
    assert!(!hay.windows(password.len()).any(|w| w == password.as_bytes()), "the password reached the store or the server's log");

    let r = h.cli(&dev, &["requests", "revoke", &id, "--wait"]);
    assert_eq!(s(&r, "status"), "Revoked", "{r}");
    assert!(h.login(&user, &password).await.is_err(), "login after revoke must fail");

    // The answer says where the server's time went (`Server-Timing`): its
    // store's commits and the target's grant, each a real duration.
    let http = reqwest::Client::new();
    let body = serde_json::json!({"integration": "local-pg", "resource_type": "table", "resources": [orders], "permission": "read_only", "duration": "5m", "justification": "timing"});
    let resp = http.post(format!("{}/api/v1/requests?credentials=true", h.url)).bearer_auth(&dev).json(&body).send().await.unwrap();
    let timing = resp.headers().get("server-timing").map(|v| v.to_str().unwrap().to_owned());
    let g: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(s(&g, "status"), "Active", "{g}");
    let timing = timing.unwrap_or_else(|| panic!("a grant with its credentials is timed: {g}"));
    let dur = |name: &str| -> f64 {
        let m = timing.split(", ").find_map(|m| m.strip_prefix(&format!("{name};dur="))).unwrap_or_else(|| panic!("no `{name}` in `{timing}`"));
        m.parse().unwrap_or_else(|_| panic!("`{m}` is not a number of ms"))
    };
    assert!(dur("store") > 0.0 && dur("target") > 0.0, "{timing}");
    h.cli(&dev, &["requests", "revoke", &s(&g, "id"), "--wait"]);

    // Waiting for an approver: the answer has no credentials; once approved
    // the CLI's `--use` makes them as `access use` would.
    let body = serde_json::json!({"integration": "local-pg", "resource_type": "table", "resources": [orders], "permission": "read_write", "duration": "30m", "justification": "fix"});
    let resp = http.post(format!("{}/api/v1/requests?credentials=true&wait=1s", h.url)).bearer_auth(&dev).json(&body).send().await.unwrap();
    assert!(resp.headers().get("server-timing").is_none(), "nothing was granted, so nothing is timed");
    let p: serde_json::Value = resp.json().await.unwrap();
    assert_eq!((s(&p, "status").as_str(), p["credentials_shown"].as_bool()), ("Pending", Some(false)), "{p}");
    assert!(p.get("credentials").is_none(), "{p}");
    h.cli(&lead, &["requests", "approve", &s(&p, "id")]);
    let creds = h.cli(&dev, &["access", "use", &s(&p, "id")]);
    let mut conn = h.login(&s(&p, "username"), &s(&creds, "secret")).await.expect("the approved grantee logs in");
    sqlx::query("INSERT INTO public.orders VALUES (3, 'plum')").execute(&mut conn).await.unwrap();
    drop(conn);

    // The CLI's `--use` on a request an approver grants later.
    let (tx, rx) = std::sync::mpsc::channel();
    let asked = {
        let args: Vec<String> = ["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", &orders, "--permission", "read_write", "--duration", "30m", "--justification", "fix", "--use"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let (url, dev) = (h.url.clone(), dev.clone());
        std::thread::spawn(move || {
            let out = std::process::Command::new(crate::harness::BIN).args(&args).arg("--json").env("SESAME_URL", url).env("SESAME_TOKEN", dev).output().unwrap();
            tx.send(out).unwrap();
        })
    };
    h.wait_until("the request to wait for its approver", Duration::from_secs(20), || async {
        h.cli(&lead, &["requests", "list", "--scope", "to-approve"]).as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    let pending = h.cli(&lead, &["requests", "list", "--scope", "to-approve"]);
    h.cli(&lead, &["requests", "approve", &s(&pending[0], "id")]);
    asked.join().unwrap();
    let out = rx.recv().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let conn = h.login(&s(&r, "username"), &s(&r["credentials"], "secret")).await;
    assert!(conn.is_ok(), "`--use` after an approval shows working credentials: {r}");
    drop(conn);
    h.finish().await;
}
