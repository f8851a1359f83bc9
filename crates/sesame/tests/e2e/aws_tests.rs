//! The aws-account integration through the server, against moto: the
//! guardrail warns before submission (dry run), a grant makes a per-grant
//! IAM user, revoke removes it.

use crate::harness::{s, Harness, Opts};
use std::path::PathBuf;
use std::time::Duration;

// moto and its fixtures, as the AWS crate's own tests use them.
use crate::aws_common::fixture;

/// A moto server of the test's own, and its URL.
async fn start_moto() -> (crate::aws_common::Moto, String) {
    let m = crate::aws_common::moto(None).await;
    let url = m.url.clone();
    (m, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_account_through_the_server_with_the_guardrail_before_submission() {
    let (_moto, url) = start_moto().await;
    fixture(&url, &["buckets", "data", "101"]);
    let dir = key_files();
    // No managed policies per user: a grant must fit the 2,048-character inline policy.
    let extra = acct_config(&url, &dir).replace("resource_types = [\"s3_bucket\"]", "resource_types = [\"s3_bucket\"]\nmanaged_policies_per_principal = 0");
    let h = Harness::start("", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    let v = h.cli(&admin, &["inventory", "sync", "acct"]);
    assert_eq!(v[0]["resources"], 101, "{v}");
    let all: Vec<String> = (0..101).map(|i| format!("data-{i:03}")).collect();
    let create = |resources: &str, extra: &[&str]| {
        let mut a = vec!["requests", "create", "--integration", "acct", "--resource-type", "s3_bucket", "--resources", resources, "--permission", "read_only", "--duration", "30m"];
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let args = create(&all.join(","), &["--dry-run"]);
    let err = h.cli_err(&dev, &args.iter().map(String::as_str).collect::<Vec<_>>(), "too_many_resources");
    assert!(err.contains("101 AWS resources are selected by name; the limit is 100"), "{err}");
    // Within the guardrail but too big for the principal's policy quotas: the
    // dry run sizes the policies as the grant would, and says what would fit.
    for extra in [&["--dry-run"][..], &[]] {
        let args = create(&all[..100].join(","), extra);
        let err = h.cli_err(&dev, &args.iter().map(String::as_str).collect::<Vec<_>>(), "cannot_grant");
        assert!(err.contains("managed_policies_per_principal") && err.contains("per-grant role delivery"), "{err}");
    }
    let args = create(&all[..10].join(","), &["--dry-run"]);
    let v = h.cli(&dev, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!((s(&v, "status").as_str(), s(&v, "flow").as_str()), ("Granting", "acct-read"));
    assert!(h.cli(&admin, &["requests", "list", "--scope", "all"]).as_array().unwrap().is_empty(), "a refused request and a dry run write nothing");
    // The portal warns before submission, in the page and from the server.
    let plan = serde_json::json!({ "phase": "guardrail", "url": h.url, "shots": crate::portal_tests::shots(), "requester": dev, "integration": "acct", "resource_type": "s3_bucket", "resources": all });
    let out = crate::portal_tests::browser(plan);
    let live = out["live"].as_str().unwrap_or_default();
    assert!(live.contains("101 resources are selected by name") && live.contains("at most 100"), "the page's own warning: {out}");
    let checked = s(&out, "checked");
    assert!(checked.contains("too_many_resources") && checked.contains("101 AWS resources are selected by name; the limit is 100"), "{out}");
    assert_eq!(out["live_within"], false, "{out}");
    assert!(s(&out, "plan").contains("granted at once") && s(&out, "plan").contains("acct-read"), "{out}");
    assert_eq!(out["violations"], serde_json::json!([]), "axe-core on the warned form");
    assert!(h.cli(&admin, &["requests", "list", "--scope", "all"]).as_array().unwrap().is_empty(), "checking in the portal asks nothing");

    let args = create("data-001,data-002", &["--wait"]);
    let r = h.cli(&dev, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let users: Vec<String> = serde_json::from_str(&fixture(&url, &["iam-users"])).unwrap();
    assert_eq!(users, vec![s(&r, "username")]);
    // A per-grant-looking user no grant explains: the reconciler removes it, and only it.
    fixture(&url, &["orphan-user", "sesame_orphan_left_by_a_crash"]);
    h.wait_until("the reconciler removes the orphan", Duration::from_secs(20), || async {
        let users: Vec<String> = serde_json::from_str(&fixture(&url, &["iam-users"])).unwrap();
        users == vec![s(&r, "username")]
    })
    .await;
    let audit = h.cli(&admin, &["audit"]).to_string();
    assert!(audit.contains("reconcile.revoke") && audit.contains("sesame_orphan_left_by_a_crash"), "{audit}");
    let creds = h.cli(&dev, &["access", "use", &s(&r, "id")]);
    assert!(s(&creds, "username").starts_with("AKIA") || !s(&creds, "username").is_empty());
    assert!(s(&creds, "connect_command").contains("aws s3 ls s3://data-001/"));
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &s(&r, "id"), "--wait"]), "status"), "Revoked");
    let users: Vec<String> = serde_json::from_str(&fixture(&url, &["iam-users"])).unwrap();
    assert!(users.is_empty(), "revoke leaves no IAM user: {users:?}");

    // Permission boundaries on a standing role: admins only, audited, lifted back.
    let w: serde_json::Value = serde_json::from_str(fixture(&url, &["standing"]).trim()).unwrap();
    let ro = w["read_only"].as_str().unwrap();
    h.cli_err(&dev, &["boundaries", "put", "acct", "--role", "break-glass", "--policy", ro], "forbidden");
    let v = h.cli(&admin, &["boundaries", "put", "acct", "--role", "break-glass", "--policy", ro]);
    assert_eq!((v[0]["name"].as_str(), v[0]["boundary_arn"].as_str()), (Some("break-glass"), Some(ro)), "{v}");
    let err = h.cli_err(&admin, &["boundaries", "lift", "acct", "--role", "ops-admin"], "unknown_resource");
    assert!(err.contains("Sesame did not restrict `ops-admin`"), "{err}");
    let v = h.cli(&admin, &["boundaries", "lift", "acct", "--role", "break-glass"]);
    assert_eq!(v, serde_json::json!([]));

    // Issue 9.9: `ops-admin` had the team boundary. Restricted, it tags
    // itself to choose what comes back (and is restricted again): lifting
    // restores what Sesame recorded, not what the role's tags say.
    let team = w["team"].as_str().unwrap();
    let boundary = || serde_json::from_str::<Option<String>>(fixture(&url, &["role-boundary", "ops-admin"]).trim()).unwrap();
    assert_eq!(boundary().as_deref(), Some(team));
    h.cli(&admin, &["boundaries", "put", "acct", "--role", "ops-admin", "--policy", ro]);
    fixture(&url, &["self-tag-role", "ops-admin", "arn:aws:iam::aws:policy/AdministratorAccess"]);
    let v = h.cli(&admin, &["boundaries", "put", "acct", "--role", "ops-admin", "--policy", ro]);
    assert_eq!(v[0]["previous_boundary_arn"].as_str(), Some(team), "restricting again keeps the first memory: {v}");
    assert_eq!(boundary().as_deref(), Some(ro));
    h.cli(&admin, &["boundaries", "lift", "acct", "--role", "ops-admin"]);
    assert_eq!(boundary().as_deref(), Some(team), "the role's own tags chose the boundary to restore");

    let audit = h.cli(&admin, &["audit"]);
    let actions: Vec<(&str, &str)> = audit.as_array().unwrap().iter().filter(|e| e["action"].as_str().unwrap_or_default().starts_with("boundary.")).map(|e| (e["action"].as_str().unwrap(), e["outcome"].as_str().unwrap())).collect();
    assert_eq!(actions, [("boundary.put", "ok"), ("boundary.lift", "error"), ("boundary.lift", "ok"), ("boundary.put", "ok"), ("boundary.put", "ok"), ("boundary.lift", "ok")]);
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// An aws-account integration `acct` on moto, and an automatic read flow.
fn acct_config(url: &str, dir: &std::path::Path) -> String {
    format!(
        r#"
[[integrations]]
type = "aws_account"
name = "acct"
region = "us-east-1"
endpoint_url = "{url}"
resource_types = ["s3_bucket"]
access_key_id = {{ file = "{kid}" }}
secret_access_key = {{ file = "{sec}" }}
{flow_acct_read}"#,
        flow_acct_read = crate::harness::automatic_flow("acct-read", "acct", &["read_only"]),
        kid = dir.join("key-id").display(),
        sec = dir.join("secret").display()
    )
}

/// SIGKILL with an AWS grant active; its deadline passes while nothing
/// runs; after the restart the per-grant IAM user is gone.
#[tokio::test(flavor = "multi_thread")]
async fn an_aws_grant_is_revoked_after_a_crash_past_its_deadline() {
    let (_moto, url) = start_moto().await;
    fixture(&url, &["buckets", "crash", "2"]);
    let dir = key_files();
    let mut h = Harness::start("", Opts { extra_flows: acct_config(&url, &dir), ..Default::default() }).await;
    let dev = h.token("dev@example.com");
    h.cli(&h.token("admin@example.com"), &["inventory", "sync", "acct"]);
    let r = h.cli(&dev, &["requests", "create", "--integration", "acct", "--resource-type", "s3_bucket", "--resources", "crash-000,crash-001", "--permission", "read_only", "--duration", "3s", "--justification", "crash", "--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let users = || serde_json::from_str::<Vec<String>>(&fixture(&url, &["iam-users"])).unwrap();
    assert_eq!(users(), vec![s(&r, "username")]);
    h.kill_server();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(users(), vec![s(&r, "username")], "nothing revoked it while the server was dead");
    h.spawn_server();
    h.wait_until("the overdue AWS grant to be revoked after restart", Duration::from_secs(15), || async { users().is_empty() }).await;
    assert_eq!(s(&h.cli(&dev, &["requests", "show", &s(&r, "id")]), "status"), "Revoked");
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A directory with the integration's AWS key id and secret as files
/// (`key-id`, `secret`), referenced by `{ file = ... }` in the config.
/// The `org` integration on moto at `url`, its keys in `dir`, and `extra` lines.
fn org_config(url: &str, dir: &std::path::Path, extra: &str) -> String {
    format!(
        "\n[[integrations]]\ntype = \"aws_organization\"\nname = \"org\"\nsso_region = \"us-east-1\"\nsso_portal_url = \"https://example.awsapps.com/start\"\n\
         endpoint_url = \"{url}\"\naccess_key_id = {{ file = \"{}\" }}\nsecret_access_key = {{ file = \"{}\" }}\n{extra}",
        dir.join("key-id").display(),
        dir.join("secret").display()
    )
}

fn key_files() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sesame-aws-{}", crate::harness::rand_suffix(8)));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("key-id"), "testing").unwrap();
    std::fs::write(dir.join("secret"), "testing").unwrap();
    dir
}

/// An aws-account integration `aws` on moto that discovers RDS instances,
/// with the keys in `dir` by reference and `rds` lines of its own.
fn rds_account(url: &str, prefix: &str, dir: &std::path::Path, rds: &str) -> String {
    format!(
        r#"
[[integrations]]
type = "aws_account"
name = "aws"
region = "us-east-1"
endpoint_url = "{url}"
resource_types = ["rds_instance"]
user_prefix = "{prefix}"
access_key_id = {{ file = "{kid}" }}
secret_access_key = {{ file = "{sec}" }}
connector_id = "local"
{rds}
"#,
        kid = dir.join("key-id").display(),
        sec = dir.join("secret").display(),
    )
}

async fn mariadb_login(user: &str, password: &str) -> Result<sqlx::MySqlConnection, sqlx::Error> {
    use sqlx::ConnectOptions;
    let mut o = sqlx::mysql::MySqlConnectOptions::new().host("127.0.0.1").port(3306).username(user).database("test");
    if !password.is_empty() {
        o = o.password(password);
    }
    o.connect().await
}

/// RDS auto-discovery: tagged instances become sub-integrations served by
/// the database integrations; a wrongly tagged one says which tag is wrong;
/// a grant on the MariaDB one makes a login that works until revoke.
#[tokio::test(flavor = "multi_thread")]
async fn rds_instances_tagged_as_the_seed_says_become_database_integrations() {
    let (_moto, url) = start_moto().await;
    fixture(&url, &["rds-tagged"]);
    // The integration's own AWS identity, by reference: the instances'
    // secrets are read with it too (not with whatever the process has).
    let dir = key_files();
    let prefix = format!("r{}_", crate::harness::rand_suffix(6));
    // Its own prefix: the sub-integrations' reconciler runs on the shared local servers.
    let extra = rds_account(
        &url,
        &prefix,
        &dir,
        r#"rds_host_overrides = { "orders-db" = "127.0.0.1:5432", "shop-db" = "127.0.0.1:3306" }
rds_resource_types = ["database", "schema"]"#,
    ) + &crate::harness::automatic_flow("shop", "aws/shop-db", &[]);
    let h = Harness::start("", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    let v = h.cli(&admin, &["inventory", "sync", "aws"]);
    assert_eq!(v[0]["resources"], 6, "{v}");
    let msg = v[0]["status_message"].as_str().unwrap_or_default().to_owned();
    assert!(msg.contains("RDS instance `broken-db`: tag `apono-secret` is missing"), "{msg}");
    assert!(msg.contains("RDS instance `typo-db`: tag `auth_type` is `passwords`: use `iam-auth` or `user-password`"), "{msg}");
    assert!(!msg.contains("elsewhere-db") && !msg.contains("plain-db"), "{msg}");
    let list = h.cli(&admin, &["inventory", "integrations"]);
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"aws/orders-db") && names.contains(&"aws/shop-db"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("elsewhere") || n.contains("plain")), "{names:?}");
    let v = h.cli(&admin, &["inventory", "sync", "aws/orders-db"]);
    assert_eq!(v[0]["type"], "postgresql", "{v}");
    assert_eq!(v[0]["resource_types"], serde_json::json!(["database", "schema"]), "the chosen granularity");
    let tables = h.cli(&admin, &["inventory", "resources", "aws/orders-db", "--type", "table"]);
    assert_eq!(tables["resources"], serde_json::json!([]));
    let dbs = h.cli(&admin, &["inventory", "resources", "aws/orders-db", "--type", "database"]);
    assert!(dbs["resources"].as_array().unwrap().iter().any(|r| r["id"] == h.db.as_str()), "{dbs}");
    let v = h.cli(&admin, &["inventory", "sync", "aws/shop-db"]);
    assert_eq!(v[0]["type"], "mysql", "{v}");
    assert_eq!(v[0]["resource_types"], serde_json::json!(["database"]), "MySQL has no schemas");

    // A grant on the MariaDB instance: a real login (MariaDB checks passwords), then none.
    let r = h.cli(&dev, &["requests", "create", "--integration", "aws/shop-db", "--resource-type", "database", "--resources", "test", "--permission", "read_only", "--duration", "30m", "--justification", "rds", "--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let creds = h.cli(&dev, &["access", "use", &s(&r, "id")]);
    let (user, password) = (s(&creds, "username"), s(&creds, "secret"));
    let mut conn = mariadb_login(&user, &password).await.expect("the granted login works");
    use sqlx::Connection;
    conn.ping().await.unwrap();
    drop(conn);
    assert!(mariadb_login(&user, "wrong-password").await.is_err());
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &s(&r, "id"), "--wait"]), "status"), "Revoked");
    assert!(mariadb_login(&user, &password).await.is_err(), "revoked: the login fails");

    // The reconciler covers sub-integrations too: a login this sub-integration
    // made (its mark) that no grant explains goes; an unmarked one with the
    // same prefix is not Sesame's and stays.
    let orphan = format!("{prefix}orphan");
    let bystander = format!("{prefix}real");
    let marker = sesame_integrations::mysql::grants::marker_role("aws/shop-db");
    let mut root = mariadb_login("root", "").await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE USER '{orphan}'@'%' IDENTIFIED BY 'x'; CREATE ROLE IF NOT EXISTS `{marker}`; GRANT `{marker}` TO '{orphan}'@'%'; \
         CREATE USER '{bystander}'@'%' IDENTIFIED BY 'x'"
    ))
    .execute(&mut root)
    .await
    .unwrap();
    let exists = |root_user: String| async move {
        let mut c = mariadb_login("root", "").await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mysql.user WHERE User = ?").bind(root_user).fetch_one(&mut c).await.unwrap();
        n > 0
    };
    assert!(exists(orphan.clone()).await);
    h.wait_until("the reconciler removes the orphan login", Duration::from_secs(20), || {
        let o = orphan.clone();
        async move { !exists(o).await }
    })
    .await;
    assert!(exists(bystander.clone()).await, "an account Sesame did not mark was touched");
    sqlx::query(&format!("DROP USER '{bystander}'@'%'")).execute(&mut root).await.unwrap();
    h.finish().await;
}

/// aws-organization through the server: the requester's own Identity Center
/// user gets the assignment, the credentials are a sign-in link, revoke
/// removes the assignment and the permission set.
#[tokio::test(flavor = "multi_thread")]
async fn an_organization_grant_assigns_the_requester_through_identity_center() {
    let (_moto, url) = start_moto().await;
    let w: serde_json::Value = serde_json::from_str(fixture(&url, &["org", "1", "dev@example.com"]).trim()).unwrap();
    let account = w["payments_accounts"][0].as_str().unwrap().to_owned();
    let dir = key_files();
    let extra = org_config(&url, &dir, &format!("exclude_ou_ids = \"{}\"\n", w["sandbox"].as_str().unwrap()))
        + &crate::harness::automatic_flow("org-read", "org", &["read_only"]);
    let h = Harness::start("", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.cli(&admin, &["inventory", "sync", "org"]);
    let accounts = h.cli(&admin, &["inventory", "resources", "org", "--type", "aws_account"]);
    let ids: Vec<&str> = accounts["resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&account.as_str()) && !ids.contains(&w["sandbox_account"].as_str().unwrap()), "{ids:?}");
    let r = h.cli(&dev, &["requests", "create", "--integration", "org", "--resource-type", "aws_account", "--resources", &account, "--permission", "read_only", "--duration", "30m", "--justification", "org", "--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let v: serde_json::Value = serde_json::from_str(fixture(&url, &["assignments"]).trim()).unwrap();
    let dev_id = w["people"]["dev@example.com"].as_str().unwrap();
    assert_eq!(v["assignments"], serde_json::json!([[account, s(&r, "username"), dev_id]]), "{v}");
    let creds = h.cli(&dev, &["access", "use", &s(&r, "id")]);
    assert!(creds["details"]["sign_in_link"].as_str().unwrap().starts_with(&format!("https://example.awsapps.com/start/#/console?account_id={account}")), "{creds}");
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &s(&r, "id"), "--wait"]), "status"), "Revoked");
    let v: serde_json::Value = serde_json::from_str(fixture(&url, &["assignments"]).trim()).unwrap();
    assert_eq!(v, serde_json::json!({"assignments": [], "permission_sets": []}));
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 9 (RDS IAM auth): the database login alone cannot be used; the
/// grantee also gets `rds-db:connect` on exactly that login on that instance,
/// ending at the deadline, through a per-grant IAM user whose key is shown
/// once; revoke removes the IAM user and the login.
#[tokio::test(flavor = "multi_thread")]
async fn an_iam_auth_rds_grant_gets_rds_db_connect_until_its_deadline() {
    iam_auth_rds_grant("iam_user").await;
}

/// The same when people sign in through Identity Center: the connect
/// permission sits on a per-grant role only the grantee's session may assume.
#[tokio::test(flavor = "multi_thread")]
async fn an_iam_auth_rds_grant_for_federated_people_goes_to_a_per_grant_role() {
    iam_auth_rds_grant("identity_center_role").await;
}

async fn iam_auth_rds_grant(delivery: &str) {
    let federated = delivery != "iam_user";
    let (_moto, url) = start_moto().await;
    let dbi: String = serde_json::from_str(fixture(&url, &["rds-iam"]).trim()).unwrap();
    let dir = key_files();
    let tag = crate::harness::rand_suffix(6);
    let prefix = format!("i{tag}_");
    // The connector's login on the instance (the local server trusts loopback,
    // so the IAM token it presents as its password is not checked here).
    let connector = format!("iamconn_{tag}");
    let root = crate::harness::admin("postgres").await;
    sqlx::raw_sql(&format!(
        "CREATE ROLE {connector} SUPERUSER LOGIN; \
         DO $$ BEGIN CREATE ROLE rds_iam; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ))
    .execute(&root)
    .await
    .unwrap();
    let rds = format!(
        "delivery = \"{delivery}\"\nrds_host_overrides = {{ \"ledger-db\" = \"127.0.0.1:5432\" }}\nrds_iam_username = \"{connector}\"\nrds_resource_types = [\"database\"]"
    );
    let extra = rds_account(&url, &prefix, &dir, &rds) + &crate::harness::automatic_flow("ledger", "aws/ledger-db", &[]);
    let h = Harness::start("", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.cli(&admin, &["inventory", "sync", "aws"]);
    h.cli(&admin, &["inventory", "sync", "aws/ledger-db"]);
    let r = h.cli(&dev, &["requests", "create", "--integration", "aws/ledger-db", "--resource-type", "database", "--resources", &h.db, "--permission", "read_only", "--duration", "30m", "--justification", "iam", "--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let user = s(&r, "username");
    let deadline = s(&r, "deadline");
    assert!(h.role_exists(&user).await, "the database login exists");
    let kind = if federated { "iam-roles-at" } else { "iam-users-at" };
    let at: Vec<String> = serde_json::from_str(&fixture(&url, &[kind, "/sesame-rds/"])).unwrap();
    assert_eq!(at, vec![user.clone()], "a per-grant IAM principal beside the login");
    let doc: serde_json::Value = if federated {
        let v: serde_json::Value = serde_json::from_str(&fixture(&url, &["role-policy", &user])).unwrap();
        let trust = v["trust"].to_string();
        assert!(trust.contains("dev@example.com") && trust.contains("sts:SourceIdentity"), "only the grantee's own session: {trust}");
        v["policy"].clone()
    } else {
        serde_json::from_str(&fixture(&url, &["user-policy", &user])).unwrap()
    };
    let st = doc["Statement"].as_array().unwrap();
    assert_eq!(st.len(), 1, "{doc}");
    assert_eq!(st[0]["Action"], "rds-db:connect");
    assert_eq!(st[0]["Resource"], format!("arn:aws:rds-db:us-east-1:123456789012:dbuser:{dbi}/{user}"));
    let until = st[0]["Condition"]["DateLessThan"]["aws:CurrentTime"].as_str().unwrap();
    assert_eq!(&until[..19], &deadline[..19], "the connect permission ends at the deadline: {doc}");
    let creds = h.cli(&dev, &["access", "use", &s(&r, "id")]);
    if federated {
        assert!(s(&creds, "connect_command").contains("sts assume-role"), "{creds}");
        assert!(creds["details"]["role_arn"].as_str().unwrap_or_default().contains("/sesame-rds/"), "{creds}");
    } else {
        assert!(!s(&creds, "secret").is_empty(), "the IAM user's key signs the token: {creds}");
        assert!(creds["details"]["aws_access_key_id"].is_string(), "{creds}");
    }
    assert!(s(&creds, "connect_command").contains("generate-db-auth-token"), "{creds}");
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &s(&r, "id"), "--wait"]), "status"), "Revoked");
    let at: Vec<String> = serde_json::from_str(&fixture(&url, &[kind, "/sesame-rds/"])).unwrap();
    assert!(at.is_empty(), "revoke leaves no IAM principal: {at:?}");
    assert!(!h.role_exists(&user).await, "revoke leaves no login");
    h.finish().await;
    sqlx::raw_sql(&format!("DROP ROLE {connector}")).execute(&root).await.unwrap();
}

/// Issue 11: a bundle of a PostgreSQL table and an S3 bucket is one
/// request: both are granted (the grantee logs in and reads the table, an
/// IAM user holds a policy on exactly that bucket), and one revoke takes
/// both back (the login fails, no IAM user is left).
#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_of_a_table_and_a_bucket_is_granted_and_revoked_together() {
    let (_moto, url) = start_moto().await;
    fixture(&url, &["buckets", "ledger", "3"]);
    let dir = key_files();
    let extra = acct_config(&url, &dir)
        + r#"
[[bundles]]
name = "month-end"
access_targets = [
  { integration = { integration_name = "local-pg", resource_type = "table", permissions = ["read_only"], resources_scopes = [ { scope_mode = "include_resources", type = "NAME", values = ["orders"] } ] } },
  { integration = { integration_name = "acct", resource_type = "aws-account-s3-bucket", permissions = ["READ_ONLY"], resources_scopes = [ { scope_mode = "include_resources", type = "NAME", values = ["ledger-001"] } ] } },
]

[[access_flows]]
name = "month-end-close"
trigger = "SELF_SERVE"
access_targets = [ { bundle = { name = "month-end" } } ]
requestors = { conditions = [ { type = "user", values = ["outsider@example.com"] } ] }
approver_policy = { approval_mode = "ANY_OF", approver_groups = [ { approvers = [ { type = "user", values = ["lead@example.com"] } ] } ] }
grant_duration_in_min = 60
"#;
    let h = Harness::start("CREATE TABLE public.orders (id int); INSERT INTO public.orders VALUES (7); CREATE TABLE public.payroll (id int);", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let outsider = h.token("outsider@example.com");
    let lead = h.token("lead@example.com");
    h.sync(&admin);
    h.cli(&admin, &["inventory", "sync", "acct"]);
    assert_eq!(h.cli(&outsider, &["bundles", "list"])[0]["access_targets"].as_array().unwrap().len(), 2);
    // Another requester: refused, naming why.
    let err = h.cli_err(&h.token("dev@example.com"), &["requests", "create", "--bundle", "month-end", "--duration", "30m", "--justification", "x"], "no_matching_flow");
    assert!(err.contains("bundle `month-end`") && err.contains("not for you"), "{err}");
    let b = h.cli(&outsider, &["requests", "create", "--bundle", "month-end", "--duration", "30m", "--justification", "close the books"]);
    let group = s(&b, "id");
    assert_eq!((s(&b, "status").as_str(), b["requests"].as_array().unwrap().len()), ("Pending", 2), "{b}");
    // One approval, of the bundle request, approves both grants.
    h.cli_err(&outsider, &["requests", "approve", &group], "self_approval");
    h.cli(&lead, &["requests", "approve", &group]);
    h.wait_until("both grants to become Active", Duration::from_secs(20), || async { s(&h.cli(&outsider, &["requests", "show", &group]), "status") == "Active" }).await;
    let b = h.cli(&outsider, &["requests", "show", &group]);
    let by = |i: &str| b["requests"].as_array().unwrap().iter().find(|r| r["integration"] == i).unwrap().clone();
    let (pg, s3) = (by("local-pg"), by("acct"));
    assert_eq!(s3["resources"], serde_json::json!(["ledger-001"]), "{b}");
    // The grantee reads the table, not another one.
    let creds = h.cli(&outsider, &["access", "use", &s(&pg, "id")]);
    let mut conn = h.login(&s(&pg, "username"), &s(&creds, "secret")).await.expect("the bundle's table grant logs in");
    let n: i32 = sqlx::query_scalar("SELECT id FROM public.orders").fetch_one(&mut conn).await.unwrap();
    assert_eq!(n, 7);
    assert!(sqlx::query("SELECT * FROM public.payroll").fetch_all(&mut conn).await.is_err(), "only what the bundle names");
    drop(conn);
    // The bucket's grant: an IAM user whose policy names exactly that bucket.
    let users: Vec<String> = serde_json::from_str(&fixture(&url, &["iam-users"])).unwrap();
    assert_eq!(users, vec![s(&s3, "username")]);
    let doc = fixture(&url, &["user-policy", &s(&s3, "username")]);
    assert!(doc.contains("arn:aws:s3:::ledger-001") && !doc.contains("ledger-000") && !doc.contains("ledger-002"), "{doc}");
    // One revoke, of either grant, takes back both.
    h.cli(&outsider, &["requests", "revoke", &s(&s3, "id")]);
    h.wait_until("both grants to be Revoked", Duration::from_secs(20), || async { s(&h.cli(&outsider, &["requests", "show", &group]), "status") == "Revoked" }).await;
    assert!(h.login(&s(&pg, "username"), &s(&creds, "secret")).await.is_err(), "the table's login fails after the revoke");
    let users: Vec<String> = serde_json::from_str(&fixture(&url, &["iam-users"])).unwrap();
    assert!(users.is_empty(), "no IAM user is left: {users:?}");
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 11: a grant by tag through the CLI: the IAM policy holds a tag
/// condition and an ARN pattern, not the ARN of any bucket (read with the
/// AWS CLI); a flow that excludes a bucket by name does not cover a tag,
/// which could reach it; a tag is not counted by the name guardrail.
#[tokio::test(flavor = "multi_thread")]
async fn a_grant_by_tag_has_a_tag_condition_and_no_bucket_arns() {
    let (_moto, url) = start_moto().await;
    fixture(&url, &["buckets", "pay", "3"]);
    let dir = key_files();
    let extra = acct_config(&url, &dir).replace("requesters = { groups = [\"developers\"] }", "requesters = { users = [\"dev@example.com\"] }")
        + r#"
[[access_flows]]
name = "not-payroll"
trigger = "AUTOMATIC"
requestors = { conditions = [ { type = "user", values = ["outsider@example.com"] } ] }
access_targets = [ { integration = { integration_name = "acct", resource_type = "s3_bucket", permissions = ["read_only"], resources_scopes = [
  { scope_mode = "include_resources", type = "TAG", key = "team", values = ["payments"] },
  { scope_mode = "exclude_resources", type = "NAME", values = ["pay-002"] },
] } } ]
grant_duration_in_min = 60
settings = { justification_required = false }
"#;
    let h = Harness::start("", Opts { extra_flows: extra, ..Default::default() }).await;
    let dev = h.token("dev@example.com");
    let outsider = h.token("outsider@example.com");
    h.cli(&h.token("admin@example.com"), &["inventory", "sync", "acct"]);
    let ask = |tok: &str, resources: &str| {
        let args = ["requests", "create", "--integration", "acct", "--resource-type", "s3_bucket", "--resources", resources, "--permission", "read_only", "--duration", "30m", "--justification", "tags", "--wait"];
        h.cli_raw(tok, &args)
    };
    // The exclusion could not hold for a tag: the flow does not cover it.
    let (code, _, err) = ask(&outsider, "tag:team=payments");
    assert!(code != 0 && err.contains("no_matching_flow") && err.contains("not-payroll"), "{err}");
    let (code, _, err) = ask(&dev, "tag:team=${aws:username}");
    assert!(code != 0 && err.contains("unknown_resource") && err.contains("letters, digits"), "{err}");
    let (code, out, err) = ask(&dev, "tag:team=payments");
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((s(&r, "status").as_str(), r["resources"].clone()), ("Active", serde_json::json!(["tag:team=payments"])), "{r}");
    let user = s(&r, "username");
    let doc = crate::aws_common::aws_cli(&url, crate::aws_common::TESTING, &["iam", "get-user-policy", "--user-name", &user, "--policy-name", "sesame-grant"]);
    let text = doc["PolicyDocument"].to_string();
    assert!(text.contains("aws:ResourceTag/team") && text.contains("payments"), "a tag condition: {text}");
    assert!(!text.contains("pay-000") && !text.contains("pay-001") && !text.contains("pay-002"), "no bucket's ARN: {text}");
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &s(&r, "id"), "--wait"]), "status"), "Revoked");
    let users: Vec<String> = serde_json::from_str(&fixture(&url, &["iam-users"])).unwrap();
    assert!(users.is_empty(), "{users:?}");
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 11: a request for an access scope compiles to compact policies.
/// A scope that selects by tag is granted as the tag (condition, ARN
/// pattern, no bucket's ARN — read with the AWS CLI); one that selects by
/// name is granted on exactly the ARNs it selects; a bundle target of every
/// bucket is `*`. Selectors are not counted by the name guardrail.
#[tokio::test(flavor = "multi_thread")]
async fn scope_and_bundle_grants_compile_to_tag_conditions_where_iam_can_select() {
    let (_moto, url) = start_moto().await;
    fixture(&url, &["buckets", "sc", "3"]);
    for b in ["sc-000", "sc-001"] {
        fixture(&url, &["tag-bucket", b, "team", "payments"]);
    }
    let dir = key_files();
    let extra = acct_config(&url, &dir)
        + r#"
[[bundles]]
name = "every-bucket"
access_targets = [ { integration = { integration_name = "acct", resource_type = "s3_bucket", permissions = ["read_only"] } } ]

[[access_flows]]
name = "scoped"
trigger = "AUTOMATIC"
requestors = { conditions = [ { type = "user", values = ["outsider@example.com"] } ] }
access_targets = [ { access_scope = { name = "payments-buckets" } }, { access_scope = { name = "one-bucket" } }, { bundle = { name = "every-bucket" } } ]
grant_duration_in_min = 60
settings = { justification_required = false }
"#;
    let h = Harness::start("", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let outsider = h.token("outsider@example.com");
    h.cli(&admin, &["inventory", "sync", "acct"]);
    h.cli(&admin, &["scopes", "create", "payments-buckets", "--query", "resource_type = \"aws-account-s3-bucket\" and resource_tag[\"team\"] = \"payments\" and permission = \"read_only\""]);
    h.cli(&admin, &["scopes", "create", "one-bucket", "--query", "resource_type = \"s3_bucket\" and resource_name = \"sc-002\" and permission = \"read_only\""]);
    let policy_of = |r: &serde_json::Value| {
        let doc = crate::aws_common::aws_cli(&url, crate::aws_common::TESTING, &["iam", "get-user-policy", "--user-name", &s(r, "username"), "--policy-name", "sesame-grant"]);
        doc["PolicyDocument"].to_string()
    };
    // By tag: the grant is the tag, whatever buckets carry it now.
    let dry = h.cli(&outsider, &["requests", "create", "--scope", "payments-buckets", "--duration", "30m", "--dry-run"]);
    assert_eq!(dry["grants"][0]["resources"], serde_json::json!(["tag:team=payments"]), "{dry}");
    let b = h.cli(&outsider, &["requests", "create", "--scope", "payments-buckets", "--duration", "30m", "--wait"]);
    let r = &b["requests"][0];
    assert_eq!((s(&b, "status").as_str(), r["resources"].clone()), ("Active", serde_json::json!(["tag:team=payments"])), "{b}");
    let text = policy_of(r);
    assert!(text.contains("aws:ResourceTag/team") && text.contains("payments") && text.contains("arn:aws:s3:::*"), "a tag condition on a pattern: {text}");
    assert!(!text.contains("sc-00"), "no bucket's ARN: {text}");
    h.cli(&outsider, &["requests", "revoke", &s(&b, "id"), "--wait"]);
    // By name: exactly the bucket it selects, no condition on tags.
    let b = h.cli(&outsider, &["requests", "create", "--scope", "one-bucket", "--duration", "30m", "--wait"]);
    let r = &b["requests"][0];
    assert_eq!(r["resources"], serde_json::json!(["sc-002"]), "{b}");
    let text = policy_of(r);
    assert!(text.contains("arn:aws:s3:::sc-002") && !text.contains("ResourceTag") && !text.contains("sc-000"), "{text}");
    h.cli(&outsider, &["requests", "revoke", &s(&b, "id"), "--wait"]);
    // A bundle target of every bucket of the type: `*`, one statement.
    let b = h.cli(&outsider, &["requests", "create", "--bundle", "every-bucket", "--duration", "30m", "--wait"]);
    let r = &b["requests"][0];
    assert_eq!(r["resources"], serde_json::json!(["*"]), "{b}");
    let text = policy_of(r);
    assert!(text.contains("arn:aws:s3:::*") && text.contains("aws:ResourceAccount") && !text.contains("sc-00"), "{text}");
    h.cli(&outsider, &["requests", "revoke", &s(&b, "id"), "--wait"]);
    h.wait_until("every grant to be revoked", Duration::from_secs(20), || async {
        let users: Vec<String> = serde_json::from_str(&fixture(&url, &["iam-users"])).unwrap();
        users.is_empty()
    })
    .await;
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// The seed's guardrail across a bundle: more than 100 AWS resources
/// selected by name between two integrations of one bundle request is
/// refused before submission (the dry run says so); 100 pass.
#[tokio::test(flavor = "multi_thread")]
async fn the_guardrail_counts_a_bundles_resources_across_integrations() {
    let (_moto, url) = start_moto().await;
    fixture(&url, &["buckets", "gr", "101"]);
    let dir = key_files();
    let names = |r: std::ops::Range<usize>| r.map(|i| format!("\"gr-{i:03}\"")).collect::<Vec<_>>().join(", ");
    let target = |integ: &str, r: std::ops::Range<usize>| {
        format!("{{ integration = {{ integration_name = \"{integ}\", resource_type = \"s3_bucket\", permissions = [\"read_only\"], resources_scopes = [ {{ scope_mode = \"include_resources\", type = \"NAME\", values = [{}] }} ] }} }}", names(r))
    };
    let extra = acct_config(&url, &dir)
        + &acct_config(&url, &dir).replace("name = \"acct\"", "name = \"acct2\"").replace("name = \"acct-read\"", "name = \"acct2-read\"").replace("integration = \"acct\"", "integration = \"acct2\"")
        + &format!(
            "\n[[bundles]]\nname = \"too-big\"\naccess_targets = [ {}, {} ]\n\n[[bundles]]\nname = \"just-fits\"\naccess_targets = [ {}, {} ]\n\n[[access_flows]]\nname = \"bundles\"\ntrigger = \"AUTOMATIC\"\naccess_targets = [ {{ bundle = {{ name = \"too-big\" }} }}, {{ bundle = {{ name = \"just-fits\" }} }} ]\nrequestors = {{ conditions = [ {{ type = \"group\", values = [\"developers\"] }} ] }}\ngrant_duration_in_min = 30\nsettings = {{ justification_required = false }}\n",
            target("acct", 0..51),
            target("acct2", 51..101),
            target("acct", 0..50),
            target("acct2", 50..100)
        );
    let h = Harness::start("", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.cli(&admin, &["inventory", "sync", "acct"]);
    h.cli(&admin, &["inventory", "sync", "acct2"]);
    let err = h.cli_err(&dev, &["requests", "create", "--bundle", "too-big", "--duration", "10m", "--dry-run"], "too_many_resources");
    assert!(err.contains("101 AWS resources are selected by name; the limit is 100"), "{err}");
    let ok = h.cli(&dev, &["requests", "create", "--bundle", "just-fits", "--duration", "10m", "--dry-run"]);
    assert_eq!(ok["grants"].as_array().unwrap().len(), 2, "{ok}");
    assert!(h.cli(&admin, &["requests", "list", "--scope", "all"]).as_array().unwrap().is_empty(), "dry runs write nothing");
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// aws-organization with `members`, through the server: the member account
/// is adopted as `org/ACCOUNT_ID`, synced on its own, granted in (the IAM
/// user lands in that account), and a permission boundary is put on one of
/// its standing roles and lifted.
#[tokio::test(flavor = "multi_thread")]
async fn a_member_account_is_a_sub_integration_with_the_accounts_reach() {
    let (_moto, url) = start_moto().await;
    let w: serde_json::Value = serde_json::from_str(fixture(&url, &["org", "1", "dev@example.com"]).trim()).unwrap();
    let member = w["payments_accounts"][0].as_str().unwrap().to_owned();
    let role = format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole");
    let assumed = crate::aws_common::aws_cli(&url, crate::aws_common::TESTING, &["sts", "assume-role", "--role-arn", &role, "--role-session-name", "setup"]);
    let creds = (assumed["Credentials"]["AccessKeyId"].as_str().unwrap().to_owned(), assumed["Credentials"]["SecretAccessKey"].as_str().unwrap().to_owned());
    let as_member = |args: &[&str]| crate::aws_common::aws_cli(&url, (&creds.0, &creds.1), args);
    as_member(&["s3api", "create-bucket", "--bucket", "member-ledger"]);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    as_member(&["iam", "create-role", "--role-name", "break-glass", "--assume-role-policy-document", trust]);
    let dir = key_files();
    let member_name = format!("org/{member}");
    let extra = org_config(&url, &dir, "members = { role_name = \"OrganizationAccountAccessRole\", resource_types = [\"s3_bucket\"] }\n")
        + &crate::harness::automatic_flow("member-read", &member_name, &["read_only"]);
    let h = Harness::start("", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.cli(&admin, &["inventory", "sync", "org"]);
    h.cli(&admin, &["inventory", "sync", &member_name]);
    let found = h.cli(&admin, &["inventory", "resources", &member_name, "--type", "s3_bucket"]).to_string();
    assert!(found.contains("member-ledger"), "{found}");
    let r = h.cli(&dev, &["requests", "create", "--integration", &member_name, "--resource-type", "s3_bucket", "--resources", "member-ledger", "--permission", "read_only", "--duration", "30m", "--justification", "ledger", "--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let users = |c: (&str, &str)| crate::aws_common::aws_cli(&url, c, &["iam", "list-users", "--path-prefix", "/sesame/"])["Users"].as_array().unwrap().len();
    assert_eq!((users((&creds.0, &creds.1)), users(crate::aws_common::TESTING)), (1, 0), "the grant's user is in the member account only");
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &s(&r, "id"), "--wait"]), "status"), "Revoked");
    assert_eq!(users((&creds.0, &creds.1)), 0);

    // A permission boundary on a standing role of the member account.
    let ro = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let v = h.cli(&admin, &["boundaries", "put", &member_name, "--role", "break-glass", "--policy", ro]);
    assert_eq!(v[0]["boundary_arn"].as_str(), Some(ro), "{v}");
    let got = as_member(&["iam", "get-role", "--role-name", "break-glass"]);
    assert_eq!(got["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"], ro, "{got}");
    h.cli(&admin, &["boundaries", "lift", &member_name, "--role", "break-glass"]);
    assert!(as_member(&["iam", "get-role", "--role-name", "break-glass"])["Role"]["PermissionsBoundary"].is_null());
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// RDS auto-discovery across the organization: an instance tagged as the
/// seed says inside a member account becomes `org/ACCOUNT/INSTANCE` (read
/// with the member's own secret), one wrongly tagged says which tag, one
/// in the management account is not the member's; a grant on the member's
/// MariaDB instance makes a login that works until revoke.
#[tokio::test(flavor = "multi_thread")]
async fn rds_instances_in_member_accounts_are_discovered_by_the_seeds_tags() {
    let (_moto, url) = start_moto().await;
    let w: serde_json::Value = serde_json::from_str(fixture(&url, &["org", "1", "dev@example.com"]).trim()).unwrap();
    let member = w["payments_accounts"][0].as_str().unwrap().to_owned();
    fixture(&url, &["rds-tagged", "--in-account", &member]);
    // The management account's own tagged instance.
    fixture(&url, &["rds-iam"]);
    let dir = key_files();
    let prefix = format!("m{}_", crate::harness::rand_suffix(6));
    let m = format!("org/{member}");
    let extra = org_config(
        &url,
        &dir,
        &format!(
            "user_prefix = \"{prefix}\"\nmembers = {{ role_name = \"OrganizationAccountAccessRole\", resource_types = [\"rds_instance\"], connector_id = \"local\", \
             rds_host_overrides = {{ \"shop-db\" = \"127.0.0.1:3306\", \"orders-db\" = \"127.0.0.1:5432\" }}, rds_resource_types = [\"database\"] }}\n"
        ),
    ) + &crate::harness::automatic_flow("shop", &format!("{m}/shop-db"), &[]);
    let h = Harness::start("", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.cli(&admin, &["inventory", "sync", "org"]);
    let v = h.cli(&admin, &["inventory", "sync", &m]);
    let msg = v[0]["status_message"].as_str().unwrap_or_default().to_owned();
    assert!(msg.contains("RDS instance `broken-db`: tag `apono-secret` is missing"), "{msg}");
    let list = h.cli(&admin, &["inventory", "integrations"]);
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    let shop = format!("{m}/shop-db");
    assert!(names.contains(&shop.as_str()) && names.contains(&format!("{m}/orders-db").as_str()), "{names:?} {msg}");
    assert!(!names.iter().any(|n| n.contains("ledger-db") || n.contains("elsewhere") || n.contains("plain")), "the management account's instance is not the member's: {names:?}");
    let v = h.cli(&admin, &["inventory", "sync", &shop]);
    assert_eq!((v[0]["type"].as_str(), &v[0]["resource_types"]), (Some("mysql"), &serde_json::json!(["database"])), "{v}");

    let r = h.cli(&dev, &["requests", "create", "--integration", &shop, "--resource-type", "database", "--resources", "test", "--permission", "read_only", "--duration", "30m", "--justification", "rds", "--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let creds = h.cli(&dev, &["access", "use", &s(&r, "id")]);
    let (user, password) = (s(&creds, "username"), s(&creds, "secret"));
    assert!(user.starts_with(&prefix), "{user}");
    let mut conn = mariadb_login(&user, &password).await.expect("the granted login works");
    use sqlx::Connection;
    conn.ping().await.unwrap();
    drop(conn);
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &s(&r, "id"), "--wait"]), "status"), "Revoked");
    assert!(mariadb_login(&user, &password).await.is_err(), "revoked: the login fails");
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 14: an Identity Center sync over many accounts resumes after a
/// kill from where it stopped. `sesame bench org-sync` (small) runs the
/// grant in a process of its own, SIGKILLs it once 15 of 40 assignments
/// exist, runs it again, then revokes; its proxy counts what reached moto.
#[tokio::test(flavor = "multi_thread")]
async fn an_identity_center_sync_resumes_after_a_kill_within_the_limits() {
    let (_moto, url) = start_moto().await;
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["bench", "org-sync", "--accounts", "40", "--kill-after", "15", "--json", "--endpoint-url", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = |i: usize, k: &str| v["phases"][i][k].as_u64().unwrap();
    let (killed, resumed) = (p(0, "creations"), p(1, "creations"));
    assert!((15..40).contains(&killed), "{v}");
    assert_eq!(killed + resumed, 40, "the resumed run created only what the killed one had not: {v}");
    assert_eq!(p(2, "deletions"), 40, "{v}");
    for i in 0..3 {
        assert!(p(i, "peak_per_second") <= 20, "at most 20 Identity Center requests in any second: {v}");
        assert!(p(i, "max_outstanding") <= 10, "at most 10 operations outstanding: {v}");
    }
    assert!(p(1, "max_outstanding") >= 2, "assignments ran side by side: {v}");
    // And moto agrees: nothing is left, not even the permission set.
    let left: serde_json::Value = serde_json::from_str(fixture(&url, &["assignments"]).trim()).unwrap();
    assert_eq!(left, serde_json::json!({"assignments": [], "permission_sets": []}));
}

/// Issue 14, on the real path: an organization grant on an OU of 30
/// accounts runs in one of two connector replicas; that replica is
/// SIGKILLed part-way; the other takes the job again and resumes. Every
/// account ends with exactly one assignment (moto keeps a second one if
/// made twice), Identity Center is throttled every third request on the
/// way, and the revoke leaves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn an_organization_grant_resumes_in_another_connector_after_a_kill() {
    let (_moto, url) = start_moto().await;
    let w: serde_json::Value = serde_json::from_str(fixture(&url, &["org", "30", "dev@example.com"]).trim()).unwrap();
    let proxy = sesame_testkit::moto::throttling_proxy(url.clone(), sesame_testkit::moto::Scope::IdentityCenter).await;
    let dir = key_files();
    let flows = "\n[[connectors]]\nid = \"org-c\"\n\n[[integrations]]\ntype = \"remote\"\nname = \"org\"\nconnector = \"org-c\"\n".to_owned()
        + &crate::harness::automatic_flow("org-read", "org", &["read_only"]);
    let h = Harness::start("", Opts { extra_flows: flows, listen: Some(format!("127.0.0.1:{}", sesame_testkit::oidc::free_port())), ..Default::default() }).await;
    let cfg = format!("version = 1\nid = \"org-c\"\n{}", org_config(&proxy.url, &dir, ""));
    std::fs::write(h.dir.join("org-connector.toml"), cfg).unwrap();
    let mut replicas = vec![Some(h.spawn_connector_as(1, "org-c", &h.dir.join("org-connector.toml"), &[&h.url])), Some(h.spawn_connector_as(2, "org-c", &h.dir.join("org-connector.toml"), &[&h.url]))];
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.wait_until("both replicas to connect", Duration::from_secs(20), || async {
        let v = h.connectors(&admin).await;
        v[0]["instances"].as_array().map_or(0, |a| a.iter().filter(|i| i["connected"] == true).count()) == 2
    })
    .await;
    h.cli(&admin, &["inventory", "sync", "org"]);
    let ou = w["payments"].as_str().unwrap();
    let before = proxy.seen.lock().unwrap().len();
    let r = h.cli(&dev, &["requests", "create", "--integration", "org", "--resource-type", "aws_ou", "--resources", ou, "--permission", "read_only", "--duration", "30m", "--justification", "fleet"]);
    let id = s(&r, "id");
    // Once the grant is well under way, SIGKILL the replica running it.
    let mut busy = String::new();
    let started = std::time::Instant::now();
    while busy.is_empty() || proxy.seen.lock().unwrap().len() < before + 25 {
        assert!(started.elapsed() < Duration::from_secs(30), "the grant never got under way");
        let v = h.connectors(&admin).await;
        let running = |i: &&serde_json::Value| i["in_flight_tasks"].as_array().is_some_and(|t| t.iter().any(|x| x == "org:grant-access"));
        if let Some(i) = v[0]["instances"].as_array().unwrap().iter().find(running) {
            busy = s(i, "instance_id");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let which = (1..=2).find(|n| std::fs::read_to_string(h.dir.join(format!("connector-{n}.log"))).unwrap().contains(&busy)).expect("the busy replica's log");
    let mut victim = replicas[which - 1].take().unwrap();
    victim.kill().unwrap();
    victim.wait().unwrap();
    let at_kill: serde_json::Value = serde_json::from_str(fixture(&url, &["assignments"]).trim()).unwrap();
    let made = at_kill["assignments"].as_array().unwrap().len();
    assert!(made < 30, "killed part-way, not after the whole sync: {made} made");
    eprintln!("{made} of 30 assignments made before the kill");
    h.wait_until("the other replica to finish the grant", Duration::from_secs(60), || async { s(&h.cli(&dev, &["requests", "show", &id]), "status") == "Active" }).await;
    let v: serde_json::Value = serde_json::from_str(fixture(&url, &["assignments"]).trim()).unwrap();
    let mut accounts: Vec<&str> = v["assignments"].as_array().unwrap().iter().map(|a| a[0].as_str().unwrap()).collect();
    let total = accounts.len();
    accounts.dedup();
    let mut expected: Vec<&str> = w["payments_accounts"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    expected.sort();
    assert_eq!((total, accounts), (30, expected), "every account once, none twice ({made} made before the kill)");
    assert!(proxy.throttled.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &id, "--wait"]), "status"), "Revoked");
    let v: serde_json::Value = serde_json::from_str(fixture(&url, &["assignments"]).trim()).unwrap();
    assert_eq!(v, serde_json::json!({"assignments": [], "permission_sets": []}));
    for mut c in replicas.into_iter().flatten() {
        let _ = c.kill();
        let _ = c.wait();
    }
    h.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}
