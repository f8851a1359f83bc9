//! Issue 12: integrations, connectors and groups made through `sesame
//! apply` — checked against their type's JSON Schema, kept away from the
//! server's own secrets and shell, in force without a restart (a grant made
//! through one logs in), exported with their secret references only,
//! deleted with live grants only by revoking them first; a connector
//! declared through the API registers and serves; groups grant Sesame's
//! roles; the configuration file's `declarations` are applied at start.

use crate::harness::{pg_host, pg_port, s, Harness, Opts, INTEGRATION_SECRET};
use serde_json::Value;
use std::time::Duration;

const SETUP: &str = "CREATE TABLE public.orders (id int); INSERT INTO public.orders VALUES (1);";

/// A PostgreSQL integration `api-pg` on the test's database, an automatic
/// flow on it for the outsider, and `leads` made admins.
fn declaration(h: &Harness, prefix: &str, password: &str, extra: &str) -> String {
    format!(
        r#"
[[integrations]]
type = "postgresql"
name = "api-pg"
host = "{host}"
port = {port}
username = "postgres"
password = {password}
databases = ["{db}"]
user_prefix = "{prefix}"
ssl_mode = "disable"
{extra}

[[access_flows]]
name = "api-read"
trigger = "AUTOMATIC"
requestors = {{ conditions = [ {{ type = "user", values = ["outsider@example.com"] }} ] }}
access_targets = [ {{ integration = {{ integration_name = "api-pg", resource_type = "table", permissions = ["read_only"] }} }} ]
grant_duration_in_min = 30
settings = {{ justification_required = false }}

[[groups]]
name = "leads"
roles = ["admin"]
"#,
        host = pg_host(),
        port = pg_port(),
        db = h.db
    )
}

fn write(h: &Harness, name: &str, text: &str) -> String {
    let p = h.dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn plan_lines(p: &Value) -> Vec<String> {
    p["changes"].as_array().unwrap().iter().map(|c| format!("{} {} {}", c["action"].as_str().unwrap(), c["kind"].as_str().unwrap(), c["name"].as_str().unwrap())).collect()
}

fn ask(h: &Harness, token: &str, integration: &str) -> Value {
    let table = sesame_core::resource_id::join(&[&h.db, "public", "orders"]);
    h.cli(token, &["requests", "create", "--integration", integration, "--resource-type", "table", "--resources", &table, "--permission", "read_only", "--duration", "10m", "--wait"])
}

#[tokio::test(flavor = "multi_thread")]
async fn integrations_and_groups_made_through_apply_are_checked_in_force_exported_and_retired() {
    let h = Harness::start(SETUP, Opts::default()).await;
    let (admin, outsider, lead) = (h.token("admin@example.com"), h.token("outsider@example.com"), h.token("lead@example.com"));
    let env = r#"{ env = "SESAME_SECRET_E2E_PG" }"#;
    let own = format!("x{}", h.prefix);
    let good = write(&h, "good.toml", &declaration(&h, &own, env, ""));

    // Admins only: `leads` are not admins yet.
    h.cli_err(&lead, &["apply", "-f", &good, "--dry-run"], "forbidden");

    // Checked against the schema, with the file's integrations, and against
    // reaching the server's own secrets or shell; nothing is applied.
    let refused = |name: &str, text: String, says: &[&str]| {
        let f = write(&h, name, &text);
        let err = h.cli_err(&admin, &["apply", "-f", &f], "bad_request");
        for w in says {
            assert!(err.contains(w), "{name}: `{w}` not in {err}");
        }
    };
    refused("schema.toml", declaration(&h, &own, env, "").replace(&format!("port = {}", pg_port()), "port = \"five\""), &["integrations[0]", "`port`", "integer"]);
    refused("overlap.toml", declaration(&h, &format!("{}api_", h.prefix), env, ""), &["overlapping prefixes", "local-pg"]);
    refused("env.toml", declaration(&h, &own, r#"{ env = "HOME" }"#, ""), &["`password`", "SESAME_SECRET_"]);
    refused("file.toml", declaration(&h, &own, r#"{ file = "/etc/passwd" }"#, ""), &["`password`", "secret_dir"]);
    refused("aws.toml", declaration(&h, &own, r#"{ aws_secrets_manager = { secret_id = "prod/db", region = "eu-west-1" } }"#, ""), &["`password`", "sesame/"]);
    let exec = "\n[[integrations]]\ntype = \"custom\"\nname = \"shell\"\nresource_types = [\"thing\"]\ntransport = { kind = \"exec\", command = [\"/bin/sh\", \"-c\", \"id\"] }\n";
    refused("literal.toml", declaration(&h, &own, "\"hunter2-literal\"", ""), &["`password`"]);
    refused("exec.toml", format!("{}{exec}", declaration(&h, &own, env, "")), &["integrations[1]", "exec", "configuration file"]);
    refused("missing.toml", declaration(&h, &own, r#"{ env = "SESAME_SECRET_NOT_SET" }"#, ""), &["api-pg", "SESAME_SECRET_NOT_SET", "not set"]);
    let named_in_file = declaration(&h, &own, env, "").replace("name = \"api-pg\"", "name = \"local-pg\"");
    refused("in-file.toml", named_in_file, &["configuration file"]);
    assert!(h.cli(&admin, &["export", "--format", "json"]).get("integrations").is_none(), "nothing of a refused file is applied");

    // Applied: in force at once, without a restart.
    let plan = h.cli(&admin, &["apply", "-f", &good]);
    assert_eq!(plan_lines(&plan), ["create integration api-pg", "create group leads", "create access_flow api-read"], "{plan}");
    assert_eq!(h.cli(&lead, &["apply", "-f", &good, "--dry-run"])["changes"].as_array().unwrap().len(), 0, "leads are admins now; the same file changes nothing");
    h.cli(&admin, &["inventory", "sync", "api-pg"]);
    let r = ask(&h, &outsider, "api-pg");
    assert_eq!((s(&r, "status").as_str(), s(&r, "flow").as_str()), ("Active", "api-read"), "{r}");
    let id = s(&r, "id");
    let creds = h.cli(&outsider, &["access", "use", &id]);
    assert!(s(&creds, "username").starts_with(&own), "{creds}");
    let mut conn = h.login(&s(&creds, "username"), &s(&creds, "secret")).await.expect("the grant made through an API-made integration logs in");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM public.orders").fetch_one(&mut conn).await.unwrap();
    assert_eq!(n, 1);
    drop(conn);

    // An update names its fields, is audited with them, and is rebuilt in place.
    let v2 = write(&h, "v2.toml", &declaration(&h, &own, env, "[integrations.settings]\ncustom_access_details = \"Ask #db-help\"\n"));
    let plan = h.cli(&admin, &["apply", "-f", &v2]);
    assert_eq!(plan_lines(&plan), ["update integration api-pg"], "{plan}");
    assert_eq!(plan["changes"][0]["fields"][0]["field"], "settings", "{plan}");
    let audit = h.cli(&admin, &["audit", "--limit", "500"]).to_string();
    assert!(audit.contains("integration.update") && audit.contains("custom_access_details") && audit.contains("group.create"), "{audit}");

    // Exported with the reference, never the value; export → apply changes nothing.
    let (code, out, err) = h.cli_raw(&admin, &["export"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("SESAME_SECRET_E2E_PG") && out.contains("[[integrations]]") && out.contains("[[groups]]"), "{out}");
    assert!(!out.contains(INTEGRATION_SECRET) && !audit.contains(INTEGRATION_SECRET), "no secret value in an export or the audit");
    let exported = write(&h, "exported.toml", &out);
    assert_eq!(h.cli(&admin, &["apply", "-f", &exported])["changes"].as_array().unwrap().len(), 0, "{out}");

    // Deleting it while a grant is live: refused, unless its grants are revoked first.
    let groups_only = write(&h, "groups.toml", "[[groups]]\nname = \"leads\"\nroles = [\"admin\"]\n");
    let err = h.cli_err(&admin, &["apply", "-f", &groups_only, "--prune"], "invalid_state");
    assert!(err.contains("api-pg") && err.contains(&id) && err.contains("--revoke-active"), "{err}");
    assert_eq!(h.cli(&admin, &["flows", "show", "api-read"])[0]["name"], "api-read", "nothing of the refused plan was applied");
    let plan = h.cli(&admin, &["apply", "-f", &groups_only, "--prune", "--revoke-active"]);
    let deleted: Vec<String> = plan_lines(&plan);
    assert!(deleted.contains(&"delete integration api-pg".to_owned()) && deleted.contains(&"delete access_flow api-read".to_owned()), "{plan}");
    assert!(plan.to_string().contains("revokes 1 live"), "{plan}");
    h.wait_until("the grant to be revoked", Duration::from_secs(20), || async { s(&h.cli(&outsider, &["requests", "show", &id]), "status") == "Revoked" }).await;
    assert!(h.login(&s(&creds, "username"), &s(&creds, "secret")).await.is_err(), "the revoked login no longer logs in");
    h.wait_until("the integration to be deleted", Duration::from_secs(20), || async { h.cli(&admin, &["export", "--format", "json"]).get("integrations").is_none() }).await;
    let r = h.cli_err(&outsider, &["requests", "create", "--integration", "api-pg", "--resource-type", "table", "--resources", "x", "--permission", "read_only", "--duration", "5m"], "unknown_integration");
    assert!(r.contains("api-pg"), "{r}");

    // A group given the requester role: only its members ask from now on.
    let requesters = write(&h, "requesters.toml", "[[groups]]\nname = \"developers\"\nroles = [\"requester\"]\n");
    h.cli(&admin, &["apply", "-f", &requesters]);
    let err = h.cli_err(&outsider, &["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", "x", "--permission", "read_only", "--duration", "5m"], "forbidden");
    assert!(err.contains("developers"), "{err}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_made_through_apply_registers_serves_and_is_told_of_changes() {
    let h = Harness::start(SETUP, Opts::default()).await;
    let (admin, outsider) = (h.token("admin@example.com"), h.token("outsider@example.com"));
    let own = format!("y{}", h.prefix);
    // The connector serves `far-pg` with its own secret, which the control plane never sees.
    let far = h.dir.join("far.toml");
    std::fs::write(
        &far,
        format!(
            "version = 1\nid = \"dc-api\"\n\n[[integrations]]\ntype = \"postgresql\"\nname = \"far-pg\"\nhost = \"{}\"\nport = {}\nusername = \"postgres\"\npassword = {{ env = \"SESAME_E2E_PG_SECRET\" }}\ndatabases = [\"{}\"]\nuser_prefix = \"{own}\"\nssl_mode = \"disable\"\n",
            pg_host(),
            pg_port(),
            h.db
        ),
    )
    .unwrap();
    let issue = || std::process::Command::new(env!("CARGO_BIN_EXE_sesame")).args(["token", "issue", "--config"]).arg(&h.config).args(["--connector", "dc-api"]).output().unwrap();
    let out = issue();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("dc-api"), "an undeclared connector gets no token");

    let decl = |details: &str| {
        format!(
            "[[connectors]]\nid = \"dc-api\"\n\n[[integrations]]\ntype = \"remote\"\nname = \"far-pg\"\nconnector = \"dc-api\"\n\n[integrations.settings]\ncustom_access_details = \"{details}\"\n\n\
             [[access_flows]]\nname = \"far-read\"\ntrigger = \"AUTOMATIC\"\nrequestors = {{ conditions = [ {{ type = \"user\", values = [\"outsider@example.com\"] }} ] }}\n\
             access_targets = [ {{ integration = {{ integration_name = \"far-pg\", resource_type = \"table\", permissions = [\"read_only\"] }} }} ]\ngrant_duration_in_min = 30\nsettings = {{ justification_required = false }}\n"
        )
    };
    // A remote integration needs its connector declared (here or in the file).
    let alone = write(&h, "alone.toml", &decl("v1").replace("[[connectors]]\nid = \"dc-api\"\n", ""));
    let err = h.cli_err(&admin, &["apply", "-f", &alone], "bad_request");
    assert!(err.contains("dc-api") && err.contains("not declared"), "{err}");
    let v1 = write(&h, "v1.toml", &decl("v1"));
    let plan = h.cli(&admin, &["apply", "-f", &v1]);
    assert_eq!(plan_lines(&plan), ["create integration far-pg", "create connector dc-api", "create access_flow far-read"], "{plan}");

    let mut connector = h.spawn_connector_as(1, "dc-api", &far, &[&h.url]);
    h.wait_until("the connector made through the API to connect", Duration::from_secs(20), || async {
        h.connectors(&admin).await.as_array().unwrap().iter().any(|c| c["id"] == "dc-api" && c["status"] == "CONNECTED")
    })
    .await;
    h.cli(&admin, &["inventory", "sync", "far-pg"]);
    let r = ask(&h, &outsider, "far-pg");
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let creds = h.cli(&outsider, &["access", "use", &s(&r, "id")]);
    assert!(s(&creds, "access_details").contains("v1") || creds.to_string().contains("v1"), "the control plane's settings: {creds}");
    h.login(&s(&creds, "username"), &s(&creds, "secret")).await.expect("the grant through the connector logs in");

    // A change to what the connector serves tells it: it registers again.
    let log = h.dir.join("connector-1.log");
    let registered = || std::fs::read_to_string(&log).unwrap_or_default().matches("registered with").count();
    let before = registered();
    let v2 = write(&h, "v2.toml", &decl("v2"));
    assert_eq!(plan_lines(&h.cli(&admin, &["apply", "-f", &v2])), ["update integration far-pg"]);
    h.wait_until("the connector to register again", Duration::from_secs(20), || async { registered() > before }).await;
    h.cli(&outsider, &["requests", "revoke", &s(&r, "id"), "--wait"]);
    assert!(h.login(&s(&creds, "username"), &s(&creds, "secret")).await.is_err(), "revoked through the connector");
    connector.kill().unwrap();
    connector.wait().unwrap();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_configuration_files_declarations_are_applied_at_start() {
    let mut h = Harness::start(SETUP, Opts::default()).await;
    let own = format!("z{}", h.prefix);
    let decl = write(&h, "declared.toml", &declaration(&h, &own, r#"{ env = "SESAME_SECRET_E2E_PG" }"#, ""));
    let config = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(&h.config, format!("declarations = \"{decl}\"\n{config}")).unwrap();
    h.kill_server();
    h.spawn_server();
    let (admin, outsider) = (h.token("admin@example.com"), h.token("outsider@example.com"));
    let exported = h.cli(&admin, &["export", "--format", "json"]);
    assert_eq!(exported["integrations"][0]["name"], "api-pg", "{exported}");
    let audit = h.cli(&admin, &["audit", "--limit", "500"]).to_string();
    assert!(audit.contains("integration.create") && audit.contains(&format!("config:{decl}")), "applied as the file, audited: {audit}");
    h.cli(&admin, &["inventory", "sync", "api-pg"]);
    assert_eq!(s(&ask(&h, &outsider, "api-pg"), "status"), "Active");
    // Started again: nothing to change.
    h.kill_server();
    h.spawn_server();
    let audit2 = h.cli(&admin, &["audit", "--limit", "500"]).to_string();
    assert_eq!(audit2.matches("integration.create").count(), 1, "the second start changes nothing");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mysql_integration_made_through_apply_grants_on_mariadb_with_a_postgresql_store() {
    let store = crate::harness::ScratchDb::create("made").await;
    let url = format!("postgres://postgres@{}:{}/{}", pg_host(), pg_port(), store.name);
    let h = Harness::start("", Opts { store: Some(url), ..Default::default() }).await;
    let (admin, outsider) = (h.token("admin@example.com"), h.token("outsider@example.com"));
    let root = sesame_testkit::targets::my_admin().await;
    let db = format!("sesame_made_{}", crate::harness::rand_suffix(8));
    for q in [format!("CREATE DATABASE {db}"), format!("CREATE TABLE {db}.t (id int)"), format!("INSERT INTO {db}.t VALUES (7)")] {
        sqlx::raw_sql(&q).execute(&root).await.unwrap();
    }
    let prefix = format!("m{}", crate::harness::rand_suffix(5));
    let decl = format!(
        "[[integrations]]\ntype = \"mysql\"\nname = \"api-my\"\nhost = \"127.0.0.1\"\nusername = \"root\"\ndatabases = [\"{db}\"]\nuser_prefix = \"{prefix}_\"\n\n\
         [[access_flows]]\nname = \"my-read\"\ntrigger = \"AUTOMATIC\"\nrequestors = {{ conditions = [ {{ type = \"user\", values = [\"outsider@example.com\"] }} ] }}\n\
         access_targets = [ {{ integration = {{ integration_name = \"api-my\", resource_type = \"table\", permissions = [\"read_only\"] }} }} ]\ngrant_duration_in_min = 30\nsettings = {{ justification_required = false }}\n"
    );
    let f = write(&h, "my.yaml", &sesame_proto::Declarations::parse(&decl, sesame_proto::DeclarationFormat::Toml).unwrap().write(sesame_proto::DeclarationFormat::Yaml).unwrap());
    let plan = h.cli(&admin, &["apply", "-f", &f]);
    assert_eq!(plan_lines(&plan), ["create integration api-my", "create access_flow my-read"], "a YAML declaration: {plan}");
    h.cli(&admin, &["inventory", "sync", "api-my"]);
    let table = sesame_core::resource_id::join(&[&db, "t"]);
    let r = h.cli(&outsider, &["requests", "create", "--integration", "api-my", "--resource-type", "table", "--resources", &table, "--permission", "read_only", "--duration", "10m", "--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let creds = h.cli(&outsider, &["access", "use", &s(&r, "id")]);
    let mut conn = sesame_testkit::targets::my_login(Some(&db), &s(&creds, "username"), &s(&creds, "secret")).await.expect("the grantee logs in to MariaDB");
    let v: i32 = sqlx::query_scalar(&format!("SELECT id FROM {db}.t")).fetch_one(&mut conn).await.unwrap();
    assert_eq!(v, 7);
    assert!(sqlx::query(&format!("INSERT INTO {db}.t VALUES (8)")).execute(&mut conn).await.is_err(), "read only");
    drop(conn);
    // Pruned with --revoke-active: the grant goes first, then the integration.
    let empty = write(&h, "empty.toml", "");
    h.cli(&admin, &["apply", "-f", &empty, "--prune", "--revoke-active"]);
    h.wait_until("the MariaDB grant to be revoked", Duration::from_secs(20), || async { s(&h.cli(&outsider, &["requests", "show", &s(&r, "id")]), "status") == "Revoked" }).await;
    assert!(sesame_testkit::targets::my_login(Some(&db), &s(&creds, "username"), &s(&creds, "secret")).await.is_err(), "the revoked login fails");
    h.wait_until("the integration to be deleted", Duration::from_secs(20), || async { h.cli(&admin, &["export", "--format", "json"]).get("integrations").is_none() }).await;
    sqlx::raw_sql(&format!("DROP DATABASE {db}")).execute(&root).await.unwrap();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_integration_whose_secret_is_missing_at_start_is_served_once_it_appears() {
    let mut h = Harness::start(SETUP, Opts::default()).await;
    let secrets = h.dir.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    let secret = secrets.join("pg");
    std::fs::write(&secret, INTEGRATION_SECRET).unwrap();
    let config = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(&h.config, format!("{config}\n[api_integrations]\nsecret_dir = \"{}\"\n", secrets.display())).unwrap();
    h.kill_server();
    h.spawn_server();
    let admin = h.token("admin@example.com");
    let own = format!("v{}", h.prefix);
    let f = write(&h, "file.toml", &declaration(&h, &own, &format!("{{ file = \"{}\" }}", secret.display()), ""));
    h.cli(&admin, &["apply", "-f", &f]);
    h.cli(&admin, &["inventory", "sync", "api-pg"]);
    // Started again without the secret: not served, and said why in the log.
    std::fs::remove_file(&secret).unwrap();
    h.kill_server();
    h.spawn_server();
    h.cli_err(&admin, &["inventory", "sync", "api-pg"], "unknown_integration");
    // The secret comes back: served within a few seconds, without a restart.
    std::fs::write(&secret, INTEGRATION_SECRET).unwrap();
    h.wait_until("the integration to be built once its secret is there", Duration::from_secs(15), || async {
        let (code, _, _) = h.cli_raw(&admin, &["inventory", "sync", "api-pg"]);
        code == 0
    })
    .await;
    let log = std::fs::read_to_string(h.dir.join("server.log")).unwrap();
    assert_eq!(log.matches("cannot be built").count(), 1, "said once, not on every retry");
    h.finish().await;
}
