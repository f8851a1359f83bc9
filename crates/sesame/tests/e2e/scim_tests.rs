//! Issue 12: people and groups pushed through SCIM, as Okta does it: the
//! groups it pushes decide who may ask, and deactivating a person revokes
//! what they hold and withdraws what they wait for.

use crate::harness::{s, Harness, Opts};
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_sesame");

/// Members of the pushed group `scim-devs` read tables at once.
const DEVS_READ: &str = r#"
[[access_flows]]
name = "scim-devs-read"
trigger = "AUTOMATIC"
requestors = { conditions = [ { type = "group", values = ["scim-devs"] } ] }
access_targets = [ { integration = { integration_name = "local-pg", resource_type = "table", permissions = ["read_only"] } } ]
grant_duration_in_min = 60
settings = { justification_required = false }
"#;

fn scim_token(h: &Harness) -> String {
    let out = Command::new(BIN).args(["token", "issue", "--config"]).arg(&h.config).arg("--scim").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

struct Scim {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Scim {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}/scim/v2{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")) })
    }
}

fn person(email: &str, given: &str, manager: Option<&str>) -> Value {
    let mut p = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": email, "name": {"givenName": given, "familyName": "Tester"},
        "emails": [{"primary": true, "value": email, "type": "work"}], "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Payments"}
    });
    if let Some(m) = manager {
        p["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"] = json!({"value": m});
    }
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn okta_pushes_people_and_groups_that_decide_access_and_deactivation_ends_it() {
    let extra = DEVS_READ.to_owned()
        + r#"
[[access_flows]]
name = "payments-write"
trigger = "SELF_SERVE"
requestors = { conditions = [ { type = "department", values = ["Payments"] } ] }
access_targets = [ { integration = { integration_name = "local-pg", resource_type = "table", permissions = ["read_write"] } } ]
approver_policy = { approver_groups = [ { approvers = [ { type = "manager" } ] } ] }
grant_duration_in_min = 60

[roles]
auditors = ["sesame-auditors"]
requesters = ["scim-devs", "developers"]
"#;
    let h = Harness::start("CREATE TABLE public.ledger (id int); INSERT INTO public.ledger VALUES (1);", Opts { extra_flows: extra, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    h.sync(&admin);
    let table = sesame_core::resource_id::join(&[&h.db, "public", "ledger"]);
    let api = Scim { http: reqwest::Client::new(), base: h.url.clone(), token: scim_token(&h) };
    use reqwest::Method as M;

    // Who calls is checked before what they send: a bad token with a bad
    // body is a 401, in SCIM's error format.
    let stranger = Scim { http: reqwest::Client::new(), base: h.url.clone(), token: "ses_not-a-token".into() };
    let (code, e) = stranger.call(M::POST, "/Users", Some(json!("not an object"))).await;
    assert_eq!((code, e["schemas"][0].clone()), (401, json!("urn:ietf:params:scim:api:messages:2.0:Error")), "{e}");

    // Okta looks the person up, then creates them; a manager first.
    let (code, found) = api.call(M::GET, "/Users?filter=userName%20eq%20%22zoe%40example.com%22&startIndex=1&count=100", None).await;
    assert_eq!((code, found["totalResults"].clone()), (200, json!(0)), "{found}");
    let (code, lead) = api.call(M::POST, "/Users", Some(person("lena@example.com", "Lena", None))).await;
    assert_eq!(code, 201, "{lead}");
    let (code, zoe) = api.call(M::POST, "/Users", Some(person("zoe@example.com", "Zoe", Some(&s(&lead, "id"))))).await;
    assert_eq!(code, 201, "{zoe}");
    let zoe_id = s(&zoe, "id");
    assert_eq!(zoe["meta"]["resourceType"], "User");
    let (code, dup) = api.call(M::POST, "/Users", Some(person("ZOE@example.com", "Zoe", None))).await;
    assert_eq!((code, dup["scimType"].clone(), dup["schemas"][0].clone()), (409, json!("uniqueness"), json!("urn:ietf:params:scim:api:messages:2.0:Error")), "{dup}");
    // The group, then its member (Okta's push-groups sequence).
    let (code, group) = api.call(M::POST, "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "scim-devs", "members": []}))).await;
    assert_eq!(code, 201, "{group}");
    let gid = s(&group, "id");
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": zoe_id, "display": "zoe@example.com"}]}]});
    let (code, _) = api.call(M::PATCH, &format!("/Groups/{gid}"), Some(ops)).await;
    assert_eq!(code, 200);
    let (_, listed) = api.call(M::GET, "/Users?filter=userName%20eq%20%22zoe%40example.com%22", None).await;
    assert_eq!(listed["Resources"][0]["groups"][0]["display"], "scim-devs", "{listed}");
    let (code, bad) = api.call(M::GET, "/Users?filter=userName%20like%20%22z%22", None).await;
    assert_eq!((code, bad["scimType"].clone()), (400, json!("invalidFilter")), "{bad}");

    // Sesame's roles follow pushed groups: Lena audits, and may not ask.
    let (code, _) = api.call(M::POST, "/Groups", Some(json!({"displayName": "sesame-auditors", "members": [{"value": s(&lead, "id")}]}))).await;
    assert_eq!(code, 201);
    let lena = h.token("lena@example.com");
    assert!(h.cli(&lena, &["audit", "--limit", "5"]).as_array().is_some_and(|a| !a.is_empty()), "an auditor reads the whole log");
    h.cli(&lena, &["reports", "access"]);
    h.cli(&lena, &["requests", "list", "--scope", "all"]);
    let err = h.cli_err(&lena, &["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", &table, "--permission", "read_only", "--duration", "5m"], "forbidden");
    assert!(err.contains("scim-devs") && err.contains("requesters"), "{err}");
    h.cli_err(&lena, &["flows", "delete", "scim-devs-read"], "forbidden");

    // Zoe (in no file, pushed by SCIM) asks: the pushed group's flow grants it.
    let zoe_token = h.token("zoe@example.com");
    let r = h.request(&zoe_token, "table", &table, "read_only", "30m", &["--wait"]);
    assert_eq!((s(&r, "status").as_str(), s(&r, "flow").as_str()), ("Active", "scim-devs-read"), "{r}");
    let creds = h.cli(&zoe_token, &["access", "use", &s(&r, "id")]);
    let mut conn = h.login(&s(&creds, "username"), &s(&creds, "secret")).await.expect("the grantee logs in");
    sqlx::query("SELECT * FROM public.ledger").execute(&mut conn).await.unwrap();
    drop(conn);
    // The department and manager pushed decide the self-serve flow: Lena approves.
    let pending = h.request(&zoe_token, "table", &table, "read_write", "30m", &[]);
    assert_eq!((s(&pending, "status").as_str(), pending["approvers"].clone()), ("Pending", json!(["lena@example.com"])), "{pending}");

    // Deactivated (Okta's PATCH without a path): the grant is revoked, the
    // pending request withdrawn, the login fails, the token no longer works.
    let deactivate = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let (code, off) = api.call(M::PATCH, &format!("/Users/{zoe_id}"), Some(deactivate)).await;
    assert_eq!((code, off["active"].clone()), (200, json!(false)), "{off}");
    h.wait_until("the deactivated person's grant to be revoked", Duration::from_secs(20), || async {
        s(&h.cli(&admin, &["requests", "show", &s(&r, "id")]), "status") == "Revoked"
    })
    .await;
    assert_eq!(s(&h.cli(&admin, &["requests", "show", &s(&pending, "id")]), "status"), "Revoked", "withdrawn");
    assert!(h.login(&s(&creds, "username"), &s(&creds, "secret")).await.is_err(), "the login fails after deactivation");
    h.cli_err(&zoe_token, &["requests", "list"], "unauthorized");
    let audit = h.cli(&admin, &["audit", "--limit", "500"]).to_string();
    assert!(audit.contains("scim.change") && audit.contains("deactivated in the identity provider"), "audited: {audit}");

    // Only the SCIM token opens SCIM; the SCIM token opens nothing else.
    let user = Scim { token: admin.clone(), ..api };
    let (code, denied) = user.call(M::GET, "/Users", None).await;
    assert_eq!((code, denied["status"].clone()), (403, json!("403")), "{denied}");
    let err = h.cli_err(&scim_token(&h), &["requests", "list"], "forbidden");
    assert!(err.contains("SCIM"), "{err}");
    let (code, gone) = user.call(M::DELETE, &format!("/Users/{zoe_id}"), None).await;
    assert_eq!(code, 403, "{gone}");
    h.finish().await;
}

/// The SCIM compliance checker (PyPI `scim2-tester`, installed by the test
/// command) runs every check it has against `/scim/v2` — discovery, create,
/// read, replace, PATCH add/replace/remove of each published attribute,
/// searches, deletion, unknown URLs — and finds nothing wrong.
#[tokio::test(flavor = "multi_thread")]
async fn the_scim_compliance_checker_finds_no_failure() {
    let h = Harness::start("", Opts::default()).await;
    let python = sesame_testkit::moto::venv().join("bin/python");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testkit/fixtures/scim_check.py");
    let out = Command::new(&python).arg(&script).arg(format!("{}/scim/v2", h.url)).arg(scim_token(&h)).output();
    let out = out.unwrap_or_else(|e| panic!("cannot run {}: {e}: run scripts/test (it installs scim2-tester)", python.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "scim2-tester found failures:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_str(text.lines().last().unwrap_or("{}")).unwrap();
    let passed = summary["summary"]["SUCCESS"].as_u64().unwrap_or(0);
    assert!(passed >= 90, "the checker ran its checks: {summary}");
    assert_eq!(summary["summary"].as_object().unwrap().len(), 1, "only successes: {summary}");
    h.finish().await;
}

/// The backstop: a person who vanishes from the directory without Sesame's
/// deactivation running (their record removed behind its back) loses their
/// access at the reconciler's next pass, and their login fails.
#[tokio::test(flavor = "multi_thread")]
async fn a_person_gone_from_the_directory_loses_access_even_without_a_deactivation_call() {
    let scratch = crate::harness::ScratchDb::create("scim").await;
    let url = format!("postgres://postgres@{}:{}/{}", crate::harness::pg_host(), crate::harness::pg_port(), scratch.name);
    let h = Harness::start("CREATE TABLE public.ledger (id int);", Opts { extra_flows: DEVS_READ.into(), store: Some(url), ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    h.sync(&admin);
    let api = Scim { http: reqwest::Client::new(), base: h.url.clone(), token: scim_token(&h) };
    let (code, ivy) = api.call(reqwest::Method::POST, "/Users", Some(person("ivy@example.com", "Ivy", None))).await;
    assert_eq!(code, 201, "{ivy}");
    let (code, _) = api.call(reqwest::Method::POST, "/Groups", Some(json!({"displayName": "scim-devs", "members": [{"value": s(&ivy, "id")}]}))).await;
    assert_eq!(code, 201);
    let ivy_token = h.token("ivy@example.com");
    let table = sesame_core::resource_id::join(&[&h.db, "public", "ledger"]);
    let r = h.request(&ivy_token, "table", &table, "read_only", "30m", &["--wait"]);
    assert_eq!(s(&r, "status"), "Active", "{r}");
    let creds = h.cli(&ivy_token, &["access", "use", &s(&r, "id")]);
    assert!(h.login(&s(&creds, "username"), &s(&creds, "secret")).await.is_ok());
    // Behind Sesame's back: the record is gone, no SCIM call ran.
    let store = crate::harness::admin(&scratch.name).await;
    sqlx::query("DELETE FROM scim_resources WHERE kind = 'User' AND id = $1").bind(s(&ivy, "id")).execute(&store).await.unwrap();
    h.wait_until("the departed person's grant to be revoked", Duration::from_secs(30), || async {
        s(&h.cli(&admin, &["requests", "show", &s(&r, "id")]), "status") == "Revoked"
    })
    .await;
    assert!(h.login(&s(&creds, "username"), &s(&creds, "secret")).await.is_err(), "the login fails");
    let audit = h.cli(&admin, &["audit", "--request", &s(&r, "id")]).to_string();
    assert!(audit.contains("no longer in the directory"), "{audit}");
    store.close().await;
    h.finish().await;
}
