//! Discovery across regions through Resource Explorer's aggregator view,
//! against recorded responses of the documented API (moto has no Resource
//! Explorer): pagination, tags, regions and accounts, and a discovery that
//! fails part-way resumes from the page that failed.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sesame_integrations::registry::Registry;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{json, Value};
use sesame_aws::account::{AwsAccount, AwsAccountConfig};
use sesame_integrations::Integration;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const VIEW: &str = "arn:aws:resource-explorer-2:us-east-1:111111111111:view/org-aggregator/0e3f5a1b-1111-2222-3333-444455556666";

/// Serves the recorded pages; notes each request; fails the first request
/// for page 2 with AccessDenied (not retried by the SDK).
async fn recorded() -> (String, Arc<Mutex<Vec<Value>>>) {
    let pages: Value = serde_json::from_str(include_str!("fixtures/resource_explorer_list_resources.json")).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let failed_once = Arc::new(AtomicBool::new(false));
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/ListResources",
        axum::routing::post(move |body: String| {
            let (pages, seen, failed_once) = (pages.clone(), s.clone(), failed_once.clone());
            async move {
                let req: Value = serde_json::from_str(&body).unwrap();
                seen.lock().unwrap().push(req.clone());
                assert_eq!(req["ViewArn"], VIEW);
                let t = req["Filters"]["FilterString"].as_str().unwrap().strip_prefix("resourcetype:").unwrap().to_owned();
                let token = req["NextToken"].as_str().unwrap_or_default().to_owned();
                if token == "AAMA-page-2" && !failed_once.swap(true, Ordering::SeqCst) {
                    let e = json!({"message": "User is not authorized to perform: resource-explorer-2:ListResources"});
                    return (StatusCode::FORBIDDEN, [("x-amzn-errortype", "AccessDeniedException")], e.to_string()).into_response();
                }
                let page = pages[&t].get(&token).cloned().unwrap_or_else(|| json!({"Resources": [], "ViewArn": VIEW}));
                (StatusCode::OK, [("content-type", "application/json")], page.to_string()).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_aggregator_view_is_paged_across_regions_and_a_failed_discovery_resumes() {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let (url, seen) = recorded().await;
    let cfg: AwsAccountConfig = serde_json::from_value(json!({
        "name": "org-wide", "region": "us-east-1", "endpoint_url": url, "resource_explorer_view_arn": VIEW,
        "resource_types": ["ec2_instance", "sqs_queue"],
        "access_key_id": {"env": "AWS_ACCESS_KEY_ID"}, "secret_access_key": {"env": "AWS_SECRET_ACCESS_KEY"},
    }))
    .unwrap();
    let a = AwsAccount::build(cfg, &Registry::new()).await.unwrap();

    // Page 2 is refused the first time: the discovery fails, saying why.
    let e = a.list_resources().await.unwrap_err();
    assert!(e.to_string().contains("Resource Explorer: cannot list ec2:instance"), "{e}");
    assert!(e.to_string().contains("AccessDenied"), "{e}");
    let before = seen.lock().unwrap().len();
    assert_eq!(before, 2, "page 1, then page 2 failed");

    // The next discovery resumes at page 2 (page 1 is not asked again).
    let d = a.list_resources().await.unwrap();
    let after: Vec<Value> = seen.lock().unwrap()[before..].to_vec();
    assert_eq!(after[0]["NextToken"], "AAMA-page-2", "resumed: {after:?}");
    assert_eq!(after[0]["Filters"]["FilterString"], "resourcetype:ec2:instance");
    assert_eq!(after[1]["Filters"]["FilterString"], "resourcetype:sqs:queue");
    assert!(after[1].get("NextToken").is_none());
    let got: Vec<(&str, &str, &str, &str)> = d
        .resources
        .iter()
        .map(|r| (r.resource_type.as_str(), r.name.as_str(), r.metadata["region"].as_str(), r.metadata["account"].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("ec2_instance", "bastion-eu", "eu-west-1", "111111111111"),
            ("ec2_instance", "i-0ddd3333eeee4444f", "us-west-2", "222222222222"),
            ("sqs_queue", "settlements", "ap-south-1", "222222222222"),
        ]
    );
    assert_eq!(d.resources[1].metadata["instance_id"], "i-0ddd3333eeee4444f");
    let tags = a.list_resources_tags().await.unwrap();
    assert_eq!(tags["arn:aws:ec2:eu-west-1:111111111111:instance/i-0aaa1111bbbb2222c"]["env"], "prod");
    assert_eq!(tags["arn:aws:ec2:us-west-2:222222222222:instance/i-0ddd3333eeee4444f"]["team"], "payments");
    assert!(!tags.contains_key("arn:aws:sqs:ap-south-1:222222222222:settlements"));
}

/// The Resource Explorer setup behind a view, as `get_status` checks it:
/// trusted access (AWS Organizations), the aggregator index and the
/// organization-wide view, answered in the documented shapes; each wrong
/// piece makes the integration unhealthy with the seed's advice.
#[tokio::test(flavor = "multi_thread")]
async fn the_explorer_setup_is_checked_with_the_seeds_advice() {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    // The setup as the APIs would report it, changed between checks.
    let state = Arc::new(Mutex::new(json!({
        "trusted": ["resource-explorer-2.amazonaws.com"], "index": {"Type": "AGGREGATOR", "State": "ACTIVE"},
        "scope": "arn:aws:organizations::111111111111:organization/o-abc123",
    })));
    let s = state.clone();
    let app = axum::Router::new()
        .route("/GetIndex", axum::routing::post({
            let s = s.clone();
            move || {
                let s = s.clone();
                async move {
                    let st = s.lock().unwrap().clone();
                    if st["index"].is_null() {
                        let e = json!({"message": "Index not found"});
                        return (StatusCode::NOT_FOUND, [("x-amzn-errortype", "ResourceNotFoundException")], e.to_string()).into_response();
                    }
                    let mut i = st["index"].clone();
                    i["Arn"] = json!("arn:aws:resource-explorer-2:us-east-1:111111111111:index/5b1a");
                    (StatusCode::OK, [("content-type", "application/json")], i.to_string()).into_response()
                }
            }
        }))
        .route("/GetView", axum::routing::post({
            let s = s.clone();
            move |body: String| {
                let s = s.clone();
                async move {
                    let req: Value = serde_json::from_str(&body).unwrap();
                    assert_eq!(req["ViewArn"], VIEW);
                    let v = json!({"View": {"ViewArn": VIEW, "Owner": "111111111111", "Scope": s.lock().unwrap()["scope"]}, "Tags": {}});
                    (StatusCode::OK, [("content-type", "application/json")], v.to_string()).into_response()
                }
            }
        }))
        // AWS Organizations (JSON 1.1): the trusted services.
        .fallback(move |headers: axum::http::HeaderMap, body: String| {
            let s = s.clone();
            async move {
                let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                assert_eq!(target, "AWSOrganizationsV20161128.ListAWSServiceAccessForOrganization", "{body}");
                let principals: Vec<Value> = s.lock().unwrap()["trusted"].as_array().unwrap().iter().map(|p| json!({"ServicePrincipal": p, "DateEnabled": 1.7e9})).collect();
                (StatusCode::OK, [("content-type", "application/x-amz-json-1.1")], json!({"EnabledServicePrincipals": principals}).to_string()).into_response()
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let cfg: AwsAccountConfig = serde_json::from_value(json!({
        "name": "org-wide", "region": "us-east-1", "endpoint_url": url, "resource_explorer_view_arn": VIEW,
        "access_key_id": {"env": "AWS_ACCESS_KEY_ID"}, "secret_access_key": {"env": "AWS_SECRET_ACCESS_KEY"},
    }))
    .unwrap();
    let a = AwsAccount::build(cfg, &Registry::new()).await.unwrap();
    assert_eq!(a.explorer_problems().await.unwrap(), Vec::<String>::new(), "the setup is right");

    state.lock().unwrap()["trusted"] = json!(["sso.amazonaws.com"]);
    state.lock().unwrap()["index"] = json!({"Type": "LOCAL", "State": "ACTIVE"});
    state.lock().unwrap()["scope"] = json!("arn:aws:iam::111111111111:root");
    let p = a.explorer_problems().await.unwrap();
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p[0].contains("trusted access for Resource Explorer is not enabled"), "{p:?}");
    assert!(p[1].contains("the index in us-east-1 is LOCAL, not AGGREGATOR: change it to Aggregator"), "{p:?}");
    assert!(p[2].contains("covers `arn:aws:iam::111111111111:root`, not the organization"), "{p:?}");

    state.lock().unwrap()["index"] = Value::Null;
    let p = a.explorer_problems().await.unwrap();
    assert!(p.iter().any(|m| m.contains("there is no Resource Explorer index in us-east-1")), "{p:?}");
}
