//! Bad input gets a clear error with a stable code, and nothing is written.

use crate::harness::{s, Harness, Opts};
use serde_json::{json, Value};
use sesame_core::resource_id::join;

async fn counts(h: &Harness, admin: &str) -> (usize, usize) {
    let reqs = h.cli(admin, &["requests", "list", "--scope", "all"]).as_array().unwrap().len();
    let audit = h.cli(admin, &["audit"]).as_array().unwrap().len();
    (reqs, audit)
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_have_codes_and_write_nothing() {
    let h = Harness::start("CREATE TABLE public.orders (id int);", Opts::default()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);
    let before = counts(&h, &admin).await;
    let base = ["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["requests", "create", "--integration", "nope", "--resource-type", "table", "--resources", &orders, "--permission", "read_only", "--duration", "1h", "--justification", "x"], "unknown_integration"),
        (vec!["requests", "create", "--integration", "local-pg", "--resource-type", "bucket", "--resources", &orders, "--permission", "read_only", "--duration", "1h", "--justification", "x"], "unknown_resource_type"),
        ([&base[..], &["nodb/public/nope", "--permission", "read_only", "--duration", "1h", "--justification", "x"]].concat(), "unknown_resource"),
        ([&base[..], &[orders.as_str(), "--permission", "superuser", "--duration", "1h", "--justification", "x"]].concat(), "unknown_permission"),
        ([&base[..], &[orders.as_str(), "--permission", "read_only", "--duration", "9h", "--justification", "x"]].concat(), "duration_too_long"),
        ([&base[..], &[orders.as_str(), "--permission", "read_only", "--duration", "soon", "--justification", "x"]].concat(), "invalid_duration"),
        ([&base[..], &[orders.as_str(), "--permission", "read_only", "--duration", "1h"]].concat(), "justification_required"),
    ];
    for (args, code) in &cases {
        let err = h.cli_err(&dev, args, code);
        assert!(err.len() > 30 && !err.ends_with(".\n"), "say what to do: {err}");
    }
    let outsider = h.token("outsider@example.com");
    h.cli_err(&outsider, &[&base[..], &[orders.as_str(), "--permission", "read_only", "--duration", "1h", "--justification", "x"]].concat(), "no_matching_flow");
    h.cli_err("ses_not_a_real_token", &["requests", "list"], "unauthorized");

    // Raw HTTP: malformed JSON, unknown fields, no token.
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/requests", h.url);
    for body in ["{not json", r#"{"integration": "local-pg"}"#, r#"{"integration":"local-pg","resource_type":"table","resources":[],"permission":"read_only","duration":"1h","extra":1}"#] {
        let resp = http.post(&url).bearer_auth(&dev).header("content-type", "application/json").body(body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["code"], "bad_request", "{v}");
    }
    let resp = http.post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "unauthorized");
    let resp = http.get(format!("{}/api/v1/nothing", h.url)).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    // Health and the OpenAPI document are the only open endpoints.
    assert_eq!(http.get(format!("{}/health", h.url)).send().await.unwrap().status(), 200);
    let doc: Value = http.get(format!("{}/openapi.json", h.url)).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/api/v1/requests"]["post"].is_object());
    assert_eq!(http.get(format!("{}/metrics", h.url)).send().await.unwrap().status(), 401);
    let resp = http.get(format!("{}/metrics", h.url)).bearer_auth(&dev).send().await.unwrap();
    assert_eq!(resp.status(), 403);

    assert_eq!(counts(&h, &admin).await, before, "a refused request wrote something");
    let _ = s;
    h.finish().await;
}

/// `sesame … | head` (a reader that goes away) ends quietly, and errors
/// without `--json` stay text while with it they are JSON.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_behaves_in_pipes() {
    let h = Harness::start("CREATE TABLE public.orders (id int);", Opts::default()).await;
    let admin = h.token("admin@example.com");
    h.sync(&admin);
    for json in ["", "--json"] {
        let out = std::process::Command::new("bash")
            .args(["-c", &format!("set -o pipefail; \"$BIN\" audit {json} | true")])
            .env("BIN", crate::harness::BIN)
            .env("SESAME_URL", &h.url)
            .env("SESAME_TOKEN", &admin)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
        assert_eq!(out.status.code(), Some(0), "{err}");
    }
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["requests", "show", "req_nope"])
        .env("SESAME_URL", &h.url)
        .env("SESAME_TOKEN", &admin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error[not_found]: "), "{}", String::from_utf8_lossy(&out.stderr));
    h.cli_err(&admin, &["requests", "show", "req_nope"], "not_found");
    h.finish().await;
}
