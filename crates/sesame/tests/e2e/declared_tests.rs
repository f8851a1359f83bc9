//! Issue 12: configuration as code — `sesame apply -f FILE` plans, applies
//! in one transaction, changes nothing the second time, prunes on demand;
//! `sesame export` writes what `apply` reads back unchanged.

use crate::harness::{s, Harness, Opts};

const DECLARED: &str = r#"
[[access_flows]]
name = "ops-read"
trigger = "AUTOMATIC"
requestors = { conditions = [ { type = "user", values = ["outsider@example.com"] } ] }
access_targets = [ { integration = { integration_name = "local-pg", resource_type = "table", permissions = ["read_only"] } } ]
grant_duration_in_min = 30
settings = { justification_required = false }

[[bundles]]
name = "orders-bundle"
access_targets = [ { integration = { integration_name = "local-pg", resource_type = "table", permissions = ["read_only"], resources_scopes = [ { scope_mode = "include_resources", type = "NAME", values = ["orders"] } ] } } ]

[[access_scopes]]
name = "pg-tables"
query = 'resource_type = "postgresql-table"'
"#;

#[tokio::test(flavor = "multi_thread")]
async fn apply_plans_applies_once_prunes_and_export_round_trips() {
    let h = Harness::start("CREATE TABLE public.orders (id int);", Opts::default()).await;
    let (admin, outsider) = (h.token("admin@example.com"), h.token("outsider@example.com"));
    h.sync(&admin);
    let file = |name: &str, text: &str| {
        let p = h.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let v1 = file("v1.toml", DECLARED);
    let kinds = |p: &serde_json::Value| p["changes"].as_array().unwrap().iter().map(|c| format!("{} {} {}", c["action"].as_str().unwrap(), c["kind"].as_str().unwrap(), c["name"].as_str().unwrap())).collect::<Vec<_>>();

    // Admins only; a dry run plans and changes nothing.
    h.cli_err(&outsider, &["apply", "-f", &v1], "forbidden");
    let plan = h.cli(&admin, &["apply", "-f", &v1, "--dry-run"]);
    assert_eq!(kinds(&plan), ["create access_flow ops-read", "create bundle orders-bundle", "create access_scope pg-tables"], "{plan}");
    assert_eq!(plan["applied"], false);
    h.cli_err(&admin, &["flows", "show", "ops-read"], "not_found");
    // Applied: in force at once (the outsider is granted by the new flow).
    let done = h.cli(&admin, &["apply", "-f", &v1]);
    assert_eq!((done["applied"].clone(), done["changes"].as_array().unwrap().len()), (serde_json::json!(true), 3), "{done}");
    let table = sesame_core::resource_id::join(&[&h.db, "public", "orders"]);
    let r = h.request(&outsider, "table", &table, "read_only", "10m", &["--wait"]);
    assert_eq!((s(&r, "status").as_str(), s(&r, "flow").as_str()), ("Active", "ops-read"), "{r}");
    h.cli(&outsider, &["requests", "revoke", &s(&r, "id"), "--wait"]);
    // The same file again: nothing to change.
    let again = h.cli(&admin, &["apply", "-f", &v1]);
    assert_eq!((again["changes"].as_array().unwrap().len(), again["unchanged"].clone()), (0, serde_json::json!(3)), "{again}");
    // export → apply is a no-op, in TOML, YAML and JSON.
    let (code, toml_out, err) = h.cli_raw(&admin, &["export"]);
    assert_eq!(code, 0, "{err}");
    assert!(toml_out.contains("[[access_flows]]") && toml_out.contains("ops-read"), "{toml_out}");
    let exported = file("exported.toml", &toml_out);
    assert_eq!(h.cli(&admin, &["apply", "-f", &exported])["changes"].as_array().unwrap().len(), 0, "export then apply changes nothing");
    let (code, yaml_out, err) = h.cli_raw(&admin, &["export", "--format", "yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(yaml_out.contains("access_flows:") && yaml_out.contains("ops-read"), "{yaml_out}");
    let exported = file("exported.yaml", &yaml_out);
    assert_eq!(h.cli(&admin, &["apply", "-f", &exported])["changes"].as_array().unwrap().len(), 0, "in YAML too");
    let json = h.cli(&admin, &["export", "--format", "json"]);
    let exported = file("exported.json", &json.to_string());
    assert_eq!(h.cli(&admin, &["apply", "-f", &exported])["changes"].as_array().unwrap().len(), 0);
    // An update names the fields that change.
    let v2 = file("v2.toml", &DECLARED.replace("grant_duration_in_min = 30", "grant_duration_in_min = 60"));
    let plan = h.cli(&admin, &["apply", "-f", &v2, "--dry-run"]);
    assert_eq!(kinds(&plan), ["update access_flow ops-read"], "{plan}");
    assert_eq!((plan["changes"][0]["fields"][0]["field"].clone(), plan["changes"][0]["fields"][0]["before"].clone(), plan["changes"][0]["fields"][0]["after"].clone()), (serde_json::json!("grant_duration_in_min"), serde_json::json!(30), serde_json::json!(60)));
    // One bad declaration: nothing of the file is applied, and the error says where.
    let bad = file("bad.toml", &format!("{}\n[[access_flows]]\nname = \"broken\"\ntrigger = \"AUTOMATIC\"\nrequestors = {{ conditions = [ {{ type = \"group\", values = [\"developers\"] }} ] }}\naccess_targets = [ {{ integration = {{ integration_name = \"nope\", resource_type = \"table\" }} }} ]\ngrant_duration_in_min = 5\nsettings = {{ justification_required = false }}\n", DECLARED.replace("grant_duration_in_min = 30", "grant_duration_in_min = 60")));
    let err = h.cli_err(&admin, &["apply", "-f", &bad], "bad_request");
    assert!(err.contains("nope"), "{err}");
    assert_eq!(h.cli(&admin, &["flows", "show", "ops-read"])[0]["grant_duration_in_min"], 30, "the good part of a bad file is not applied");
    // Without --prune what the file leaves out stays; with it, it goes.
    let only_flow = DECLARED.split("[[bundles]]").next().unwrap().to_owned();
    let v3 = file("v3.toml", &only_flow);
    assert_eq!(h.cli(&admin, &["apply", "-f", &v3])["changes"].as_array().unwrap().len(), 0);
    let pruned = h.cli(&admin, &["apply", "-f", &v3, "--prune"]);
    assert_eq!(kinds(&pruned), ["delete bundle orders-bundle", "delete access_scope pg-tables"], "{pruned}");
    h.cli_err(&admin, &["bundles", "show", "orders-bundle"], "not_found");
    let audit = h.cli(&admin, &["audit", "--limit", "500"]).to_string();
    assert!(audit.contains("flow.create") && audit.contains("bundle.delete") && audit.contains("scope.delete") && audit.contains("\"via\":\"apply\""), "every change audited: {audit}");
    h.finish().await;
}

/// Every integration type publishes its configuration as JSON Schema: the
/// built-in ones and the AWS plugin's, with required fields, defaults and
/// secret references marked.
#[tokio::test(flavor = "multi_thread")]
async fn every_integration_type_publishes_its_configuration_schema() {
    let h = Harness::start("", Opts::default()).await;
    let dev = h.token("dev@example.com");
    let types: serde_json::Value = reqwest::Client::new().get(format!("{}/api/v1/integration-types", h.url)).bearer_auth(&dev).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> = types.as_array().unwrap().iter().map(|t| t["type"].as_str().unwrap()).collect();
    assert_eq!(names, ["postgresql", "mysql", "redshift", "custom", "remote", "aws_account", "aws_organization", "eks"]);
    let eks = &types[7]["schema"];
    assert!(eks["required"].as_array().unwrap().contains(&serde_json::json!("cluster_name")), "{eks}");
    assert!(eks["properties"]["token"].to_string().contains("SecretRef"), "the Kubernetes token is a secret reference: {eks}");
    let aws = &types[5]["schema"];
    assert_eq!(aws["properties"]["type"]["const"], "aws_account");
    assert!(aws["required"].as_array().unwrap().contains(&serde_json::json!("region")), "{aws}");
    assert!(aws["properties"]["secret_access_key"].to_string().contains("SecretRef"), "{aws}");
    assert_eq!(aws["$defs"]["SecretRef"]["x-sesame-secret"], true, "secret references are marked");
    let mysql = &types[1]["schema"];
    assert_eq!(mysql["properties"]["port"]["default"], 3306);
    let remote = &types[4]["schema"];
    assert!(remote["required"].as_array().unwrap().contains(&serde_json::json!("connector")), "{remote}");
    h.finish().await;
}
