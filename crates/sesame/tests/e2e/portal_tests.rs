//! Issue 13, first slice: the portal in a real headless Chromium (Debian's,
//! driven by playwright-core): a requester signs in and asks for a table, an
//! approver approves from the inbox, the requester follows the status live,
//! reveals the credentials once and logs into PostgreSQL with them, then
//! revokes and the login fails. Forged form posts are refused, the session
//! cookie is HttpOnly, the credentials are gone after a reload, and axe-core
//! finds no serious or critical violation on any page. Screenshots of every
//! page are kept under the target directory (`portal-screenshots/`).

use crate::harness::{s, Harness, Opts};
use serde_json::{json, Value};
use std::path::PathBuf;

const SETUP: &str = "CREATE TABLE public.orders (id int); INSERT INTO public.orders VALUES (1);";

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testkit/fixtures/browser")
}

/// Where every page's screenshot is kept.
pub(crate) fn shots() -> PathBuf {
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    shots
}

/// Run one phase of `portal.mjs` in Chromium; its JSON answer.
pub(crate) fn browser(plan: Value) -> Value {
    let chromium = std::env::var("SESAME_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(std::path::Path::new(&chromium).exists(), "{chromium} is missing: run scripts/test (it installs Debian's chromium), or apt-get install chromium");
    assert!(fixture().join("node_modules/playwright-core").exists(), "playwright-core is missing: run scripts/test, or npm ci --prefix crates/testkit/fixtures/browser");
    let out = std::process::Command::new("node").arg(fixture().join("portal.mjs")).arg(plan.to_string()).output().expect("node runs (apt-get install nodejs)");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("portal.mjs answered no JSON ({e}): {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(v.get("error").is_none(), "the browser failed: {}", v["error"].as_str().unwrap_or_default());
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_is_asked_approved_revealed_and_revoked_in_a_real_browser() {
    let h = Harness::start(SETUP, Opts::default()).await;
    let (admin, dev, lead) = (h.token("admin@example.com"), h.token("dev@example.com"), h.token("lead@example.com"));
    h.sync(&admin);
    let shots = shots();
    let state = h.dir.join("requester-state.json");
    let table = sesame_core::resource_id::join(&[&h.db, "public", "orders"]);
    let base = json!({ "url": h.url, "shots": shots, "state": state });
    let mut ask = base.clone();
    ask.as_object_mut().unwrap().extend(json!({ "phase": "ask", "requester": dev, "approver": lead, "integration": "local-pg", "table": table }).as_object().unwrap().clone());
    let out = browser(ask);

    assert_eq!(s(&out, "prefilled"), table, "the table chosen while browsing fills the form");
    let flows = s(&out, "flows_text");
    assert!(flows.contains("approved-write") && flows.contains("auto-read") && flows.contains("ANY_OF"), "the flows in force: {flows}");
    assert_eq!((out["asked_status"].as_str(), out["active_status"].as_str()), (Some("Pending"), Some("Active")), "{out}");
    assert_eq!(out["cookie"], json!({ "httpOnly": true, "sameSite": "Lax" }), "the session cookie is HttpOnly and SameSite: {out}");
    assert_eq!(out["forged"], json!([403, 403]), "forged form posts are refused: {out}");
    assert_eq!(s(&h.cli(&dev, &["requests", "show", &s(&out, "id")]), "status"), "Active", "and changed nothing");
    assert_eq!((out["after_reload_has_secret"].as_bool(), out["request_page_has_secret"].as_bool()), (Some(false), Some(false)), "credentials are shown once: {out}");
    let csp = s(&out, "csp");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(out["violations"], json!([]), "axe-core: no serious or critical violation on any page");
    assert!(out["shots"].as_array().unwrap().len() >= 8, "{out}");

    // The revealed credentials are the real ones (the local server trusts
    // loopback logins: the stored verifier says which password is real),
    // with the asked permission.
    let (user, secret) = (s(&out, "username"), s(&out, "secret"));
    assert!(h.password_matches(&user, &secret).await, "the password the browser showed is the login's");
    let mut conn = h.login(&user, &secret).await.expect("the credentials the browser showed log in");
    sqlx::query("INSERT INTO public.orders VALUES (2)").execute(&mut conn).await.expect("read_write was granted");
    drop(conn);
    // New credentials from the page: the old password stops working, the new one is the login's.
    let mut reset = base.clone();
    reset.as_object_mut().unwrap().extend(json!({ "phase": "reset", "id": out["id"] }).as_object().unwrap().clone());
    let fresh = s(&browser(reset), "secret");
    assert_ne!(fresh, secret);
    assert!(h.password_matches(&user, &fresh).await, "the new password is the login's");
    assert!(!h.password_matches(&user, &secret).await, "the old one stops working after a reset");
    let secret = fresh;
    assert_eq!(out["phone_overflow"], json!([]), "no page is wider than a phone's screen");
    let audit = h.cli(&admin, &["audit", "--limit", "500"]).to_string();
    for step in ["request.create", "request.approve", "credentials.create", "credentials.reset"] {
        assert!(audit.contains(step), "`{step}` is audited: {audit}");
    }

    let mut revoke = base.clone();
    revoke.as_object_mut().unwrap().extend(json!({ "phase": "revoke", "id": out["id"] }).as_object().unwrap().clone());
    let done = browser(revoke);
    assert_eq!(done["status"], "Revoked", "{done}");
    assert_eq!(done["violations"], json!([]));
    assert!(h.login(&user, &secret).await.is_err(), "the revoked login fails");

    // The core paths with JavaScript off: plain forms, the status on reload.
    let mut nojs = base.clone();
    nojs.as_object_mut().unwrap().extend(json!({ "phase": "nojs", "requester": dev, "approver": lead, "integration": "local-pg", "table": table }).as_object().unwrap().clone());
    let plain = browser(nojs);
    assert_eq!(s(&plain, "status"), "Revoked", "{plain}");
    assert!(s(&plain, "secret").len() >= 20 && !s(&plain, "username").is_empty(), "credentials were shown without a script: {plain}");
    let shown = h.cli(&dev, &["requests", "show", &s(&plain, "id")]);
    assert_eq!((s(&shown, "status").as_str(), s(&shown, "decided_by").as_str()), ("Revoked", "lead@example.com"), "{shown}");
    assert!(h.login(&s(&plain, "username"), &s(&plain, "secret")).await.is_err(), "revoked without a script: the login fails");

    // An admin makes an integration from the form its type's schema makes,
    // with a preview of the access details grantees will read.
    let mut make = base.clone();
    let details = "Use <b>psql</b> & the VPN";
    make.as_object_mut().unwrap().extend(
        json!({ "phase": "integration", "admin": admin, "host": crate::harness::pg_host(), "port": crate::harness::pg_port(), "db": h.db, "prefix": format!("w{}", h.prefix), "secret_env": "SESAME_SECRET_E2E_PG", "details": details })
            .as_object()
            .unwrap()
            .clone(),
    );
    let made = browser(make);
    assert!(s(&made, "preview").contains("Preview (nothing changed): create integration portal-pg"), "{made}");
    assert_eq!(s(&made, "details_preview"), details, "the preview shows the text as grantees will read it");
    assert!(!s(&made, "details_html").contains("<b>"), "and never as markup: {made}");
    assert!(s(&made, "refused").contains("SESAME_SECRET_") && s(&made, "refused").contains("password"), "{made}");
    assert!(s(&made, "created").contains("Applied: create integration portal-pg"), "{made}");
    assert_eq!(made["violations"], json!([]));
    let exported = h.cli(&admin, &["export", "--format", "json"]);
    assert_eq!((exported["integrations"][0]["name"].as_str(), exported["integrations"][0]["password"]["env"].as_str()), (Some("portal-pg"), Some("SESAME_SECRET_E2E_PG")), "{exported}");
    assert_eq!(exported["integrations"][0]["settings"]["custom_access_details"], details);

    // It is edited from the form its declaration fills, then deleted; a
    // custom integration is made over a webhook, its transport's fields
    // offered kind by kind.
    let mut edit = base.clone();
    let hook_url = format!("{}/hook-for-portal-test", h.url);
    edit.as_object_mut().unwrap().extend(
        json!({ "phase": "integration-edit", "admin": admin, "details": "Ask #db-help first", "secret_env": "SESAME_SECRET_E2E_PG", "hook_url": hook_url }).as_object().unwrap().clone(),
    );
    let edited = browser(edit);
    assert_eq!((s(&edited, "host"), s(&edited, "secret_ref")), (crate::harness::pg_host(), "SESAME_SECRET_E2E_PG".to_owned()), "{edited}");
    assert!(edited["name_readonly"].is_string(), "an edit keeps the name: {edited}");
    assert!(s(&edited, "edit_preview").contains("Preview (nothing changed): update integration portal-pg"), "{edited}");
    assert!(s(&edited, "saved").contains("Applied: update integration portal-pg"), "{edited}");
    assert!(s(&edited, "delete_preview").contains("Preview (nothing changed): delete integration portal-pg"), "{edited}");
    assert_eq!(edited["listed_after_delete"], 0, "{edited}");
    assert_eq!(edited["lambda_hidden"], true, "only the chosen kind's fields show: {edited}");
    assert!(s(&edited, "hook_created").contains("Applied: create integration portal-hook"), "{edited}");
    assert_eq!(edited["violations"], json!([]));
    let exported = h.cli(&admin, &["export", "--format", "json"]);
    let names: Vec<&str> = exported["integrations"].as_array().unwrap().iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, ["portal-hook"], "portal-pg deleted, portal-hook made: {exported}");
    assert_eq!(
        exported["integrations"][0]["transport"],
        json!({ "kind": "webhook", "url": hook_url, "secret": { "env": "SESAME_SECRET_E2E_PG" } }),
        "{exported}"
    );
    assert_eq!(exported["integrations"][0]["custom_parameters"], json!({ "team": "payments", "region": "eu-west-1" }));
    let audit = h.cli(&admin, &["audit", "--limit", "500"]).to_string();
    for said in ["integration.update", "Ask #db-help first", "integration.delete"] {
        assert!(audit.contains(said), "the edit and the delete are audited ({said}): {audit}");
    }
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn people_sign_in_through_the_identity_provider_and_the_admin_finds_every_step_in_the_audit_page() {
    let (h, _provider) = crate::oidc_tests::start().await;
    let admin = h.token("admin@example.com");
    h.sync(&admin);
    let shots = shots();
    let table = sesame_core::resource_id::join(&[&h.db, "public", "items"]);
    let bad = "resource_type = \"postgresql-table\" and\n  (integration = \"local-pg\" or )";
    let good = "resource_type = \"postgresql-table\"";
    // An access scope, and a flow over it for the provider's `eng`, as code.
    let declared = h.dir.join("scope.toml");
    std::fs::write(
        &declared,
        "[[access_scopes]]\nname = \"items-read\"\nquery = 'resource_type = \"postgresql-table\" and resource_name = \"items\" and permission = \"read_only\"'\n\n\
         [[access_flows]]\nname = \"items-by-scope\"\ntrigger = \"AUTOMATIC\"\nrequestors = { conditions = [ { type = \"group\", values = [\"eng\"] } ] }\n\
         access_targets = [ { access_scope = { name = \"items-read\" } } ]\ngrant_duration_in_min = 30\nsettings = { justification_required = false }\n\n\
         [[bundles]]\nname = \"items-bundle\"\naccess_targets = [ { integration = { integration_name = \"local-pg\", resource_type = \"table\", permissions = [\"read_only\"], resources_scopes = [ { scope_mode = \"include_resources\", type = \"NAME\", values = [\"items\"] } ] } } ]\n\n\
         [[access_flows]]\nname = \"items-bundle-for-eng\"\ntrigger = \"AUTOMATIC\"\nrequestors = { conditions = [ { type = \"group\", values = [\"eng\"] } ] }\n\
         access_targets = [ { bundle = { name = \"items-bundle\" } } ]\ngrant_duration_in_min = 30\nsettings = { justification_required = false }\n",
    )
    .unwrap();
    h.cli(&admin, &["apply", "-f", &declared.display().to_string()]);
    let plan = json!({ "phase": "oidc", "url": h.url, "shots": shots, "login": "bob", "admin_login": "alice", "integration": "local-pg", "table": table, "bad_query": bad, "good_query": good, "scope": "items-read", "bundle": "items-bundle" });
    let out = browser(plan);
    assert_eq!(s(&out, "header"), "Bob Builder", "signed in as the provider's bob: {out}");
    let mut conn = h.login(&s(&out, "username"), &s(&out, "secret")).await.expect("bob's credentials log in");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM public.items").fetch_one(&mut conn).await.unwrap();
    assert_eq!(n, 1);
    drop(conn);
    // The admin (the provider's sesame-admins) finds the request's every step.
    let text = s(&out, "audit_text");
    for step in ["request.create", "grant.done", "credentials.create", "bob@example.com"] {
        assert!(text.contains(step), "`{step}` on the audit page: {text}");
    }
    assert_eq!(s(&out, "scope_status"), "Active", "a scope asked for by name in the portal is granted: {out}");
    let by_scope = h.cli(&admin, &["requests", "show", &s(&out, "scope_request")]);
    assert_eq!((s(&by_scope, "requester").as_str(), by_scope["resources"][0].as_str()), ("bob@example.com", Some(table.as_str())), "{by_scope}");
    assert_eq!(s(&out, "bundle_status"), "Active", "a bundle asked for on the flows page is granted: {out}");
    let by_bundle = h.cli(&admin, &["requests", "show", &s(&out, "bundle_request")]);
    assert_eq!((by_bundle["bundle"].as_str(), by_bundle["resources"][0].as_str()), (Some("items-bundle"), Some(table.as_str())), "{by_bundle}");
    let review = s(&out, "review_text");
    assert!(review.contains("1 grant") && review.contains("bob@example.com") && review.contains("automatic (eng-read)") && review.contains(&s(&out, "id")), "Review access: {review}");
    assert_eq!(out["violations"], json!([]), "axe-core on the audit, review and scope pages");
    // The AQL error is shown where the parser found it, the caret under its column.
    let e = bad.parse::<sesame_core::aql::Query>().unwrap_err();
    assert_eq!((out["aql_error"]["line"].as_u64(), out["aql_error"]["column"].as_u64()), (Some(u64::from(e.line)), Some(u64::from(e.column))), "{out}");
    let caret = s(&out["aql_error"], "caret");
    let lines: Vec<&str> = caret.lines().collect();
    assert_eq!(lines[0], bad.lines().nth(e.line as usize - 1).unwrap(), "the line at fault: {caret}");
    assert_eq!(lines[1].find('^').map(|c| c + 1), Some(e.column as usize), "the caret under the column: {caret}");
    assert!(out["aql_count"].as_u64().is_some_and(|n| n >= 1), "the query selects the synced tables: {out}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_requester_enrols_and_steps_up_in_the_portal_before_the_grant() {
    let h = Harness::start(SETUP, Opts { extra_flows: crate::mfa_tests::STEP_UP_FIRST.into(), ..Default::default() }).await;
    let (admin, outsider) = (h.token("admin@example.com"), h.token("outsider@example.com"));
    h.sync(&admin);
    let table = sesame_core::resource_id::join(&[&h.db, "public", "orders"]);
    let out = browser(json!({ "phase": "mfa", "url": h.url, "shots": shots(), "requester": outsider, "integration": "local-pg", "table": table }));
    assert_eq!(out["qr"], 1, "the enrolment shows a QR code: {out}");
    assert_eq!(s(&out, "asked_status"), "PendingMFA", "nothing is granted before the step-up: {out}");
    assert_eq!(s(&out, "status"), "Active", "{out}");
    assert_eq!(s(&h.cli(&outsider, &["requests", "show", &s(&out, "id")]), "status"), "Active");
    assert_eq!(out["violations"], json!([]));
    let audit = h.cli(&admin, &["audit", "--limit", "500"]).to_string();
    assert!(audit.contains("mfa.enroll") && audit.contains("mfa.verify"), "{audit}");
    h.finish().await;
}
