//! Access scopes through the CLI on the real PostgreSQL inventory: admins
//! manage them (authorization before the query is even read), a query that
//! does not parse says where, and a scope selects exactly the access units
//! its query describes.

use crate::harness::{s, Harness, Opts};
use sesame_core::resource_id::join;
use std::collections::BTreeSet;

const SETUP: &str = "CREATE TABLE public.orders (id int); CREATE TABLE public.prod_orders (id int);
CREATE TABLE public.prod_payroll (id int); CREATE SCHEMA audit; CREATE TABLE audit.prod_log (id int);";

fn units(v: &serde_json::Value) -> BTreeSet<(String, String)> {
    v["units"].as_array().unwrap().iter().map(|u| (s(u, "resource"), s(u, "permission"))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn access_scopes_select_what_their_query_says_and_only_admins_change_them() {
    let h = Harness::start(SETUP, Opts::default()).await;
    let admin = h.token("admin@example.com");
    let dev = h.token("dev@example.com");
    h.sync(&admin);
    let perms = h.cli(&dev, &["inventory", "permissions", "local-pg", "--type", "table"]);
    let table_perms: Vec<String> = perms[0]["permissions"].as_array().unwrap().iter().map(|p| s(p, "id")).collect();
    assert!(table_perms.len() >= 2, "{perms}");

    // Authorization comes before the query is read: a developer's malformed
    // query is forbidden, not reported as malformed.
    h.cli_err(&dev, &["scopes", "create", "mine", "--query", "resource_name = 'x'"], "forbidden");
    let err = h.cli_err(&admin, &["scopes", "create", "bad", "--query", "resource_type = \"postgresql-table\"\n  and Resource_Name starts_with \"prod\""], "invalid_query");
    assert!(err.contains("line 2, column 7") && err.contains("write `resource_name`"), "{err}");

    // A query over several lines, from a file, in the seed's spelling of the type.
    let file = h.dir.join("prod-tables.aql");
    std::fs::write(&file, "resource_type = \"postgresql-table\"\n  and resource_name starts_with \"prod\"\n  and resource_context[\"schema\"] = \"public\"\n").unwrap();
    let v = h.cli(&admin, &["scopes", "create", "prod-tables", "--file", file.to_str().unwrap()]);
    assert_eq!((s(&v[0], "name").as_str(), s(&v[0], "created_by").as_str()), ("prod-tables", "admin@example.com"), "{v}");
    assert!(s(&v[0], "query").contains('\n'), "kept as written: {v}");
    h.cli_err(&admin, &["scopes", "create", "prod-tables", "--query", "resource = \"x\""], "already_exists");

    let expected: BTreeSet<(String, String)> = ["prod_orders", "prod_payroll"]
        .iter()
        .flat_map(|t| table_perms.iter().map(|p| (join(&[&h.db, "public", t]), p.clone())))
        .collect();
    assert_eq!(units(&h.cli(&dev, &["scopes", "units", "prod-tables"])), expected, "every permission of each selected table, nothing else");

    // A condition on the permission picks units, not whole resources.
    let v = h.cli(&dev, &["scopes", "preview", "--query", &format!("resource_name = \"orders\" and permission = \"{}\"", table_perms[0])]);
    assert_eq!(units(&v), BTreeSet::from([(join(&[&h.db, "public", "orders"]), table_perms[0].clone())]));
    // The integration rates its permissions: read_only is low, admin high.
    let v = h.cli(&dev, &["scopes", "preview", "--query", "resource_name = \"orders\" and permission_risk_level = \"low\""]);
    assert_eq!(units(&v), BTreeSet::from([(join(&[&h.db, "public", "orders"]), "read_only".to_string())]));
    let v = h.cli(&dev, &["scopes", "preview", "--query", "resource_name = \"orders\" and permission_risk_level in (\"high\", \"critical\")"]);
    assert_eq!(units(&v), BTreeSet::from([(join(&[&h.db, "public", "orders"]), "admin".to_string())]));
    let v = h.cli(&dev, &["scopes", "preview", "--query", "resource_name contains \"prod\" and not resource_type = \"table\""]);
    assert!(units(&v).is_empty(), "only tables are named prod: {v}");

    // Changing the query changes the selection at once; the audit keeps both.
    h.cli_err(&dev, &["scopes", "update", "prod-tables", "--query", "resource = \"x\""], "forbidden");
    h.cli(&admin, &["scopes", "update", "prod-tables", "--query", "resource_type = \"table\" and resource_context[\"schema\"] = \"audit\""]);
    let expected: BTreeSet<(String, String)> = table_perms.iter().map(|p| (join(&[&h.db, "audit", "prod_log"]), p.clone())).collect();
    assert_eq!(units(&h.cli(&dev, &["scopes", "units", "prod-tables"])), expected);
    let shown = h.cli(&dev, &["scopes", "show", "prod-tables"]);
    assert!(s(&shown[0], "query").contains("\"audit\""), "{shown}");

    h.cli_err(&dev, &["scopes", "delete", "prod-tables"], "forbidden");
    h.cli(&admin, &["scopes", "delete", "prod-tables"]);
    h.cli_err(&dev, &["scopes", "units", "prod-tables"], "not_found");
    assert_eq!(h.cli(&dev, &["scopes", "list"]), serde_json::json!([]));
    let audit = h.cli(&admin, &["audit"]);
    let changes: Vec<String> = audit.as_array().unwrap().iter().filter(|e| s(e, "action").starts_with("scope.")).map(|e| s(e, "action")).collect();
    assert_eq!(changes, ["scope.create", "scope.update", "scope.delete"], "refused changes write nothing");
    let update = audit.as_array().unwrap().iter().find(|e| s(e, "action") == "scope.update").unwrap();
    assert!(update["detail"]["previous_query"].as_str().unwrap().contains("starts_with \"prod\""), "{update}");
    h.finish().await;
}
