//! aws-organization against moto: the tree with nested OUs and exclusions,
//! grants through Identity Center (permission set + assignments, checked
//! in moto), revoke leaving nothing, and Identity Center's limits kept with
//! a throttling proxy in front of moto.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sesame_testkit::params::{grant, Refine};
use sesame_integrations::registry::Registry;
use sesame_testkit::moto as common;

use common::{fixture_json, moto, throttling_proxy, Scope};
use sesame_aws::organization::{AwsOrganization, AwsOrganizationConfig};
use sesame_core::Timestamp;
use sesame_integrations::Integration;
use sesame_proto::ActionParams;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

const DEADLINE: Timestamp = Timestamp(1_795_687_200_000);

async fn org(url: &str, extra: Value) -> AwsOrganization {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let mut cfg = json!({"name": "org", "sso_region": "us-east-1", "sso_portal_url": "https://example.awsapps.com/start", "endpoint_url": url,
        "access_key_id": {"env": "AWS_ACCESS_KEY_ID"}, "secret_access_key": {"env": "AWS_SECRET_ACCESS_KEY"}});
    cfg.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    AwsOrganization::build(serde_json::from_value::<AwsOrganizationConfig>(cfg).unwrap(), &Registry::new()).await.unwrap()
}

fn params(ps: &str, who: &str, resources: &[&str], perm: &str) -> ActionParams {
    let rtype = if resources[0].starts_with("ou-") { "aws_ou" } else { "aws_account" };
    grant(ps, rtype, resources[0], perm).on(resources).grant_id(&format!("req_{ps}")).requested_by(who)
}

fn assignments(url: &str) -> (Vec<(String, String, String)>, Vec<String>) {
    let v = fixture_json(url, &["assignments"]);
    let a = v["assignments"].as_array().unwrap().iter().map(|x| (x[0].as_str().unwrap().into(), x[1].as_str().unwrap().into(), x[2].as_str().unwrap().into())).collect();
    (a, serde_json::from_value(v["permission_sets"].clone()).unwrap())
}

fn strs(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tree_honours_exclusions_and_grants_reach_nested_ous() {
    let m = moto(None).await;
    let w = fixture_json(&m.url, &["org", "2"]);
    let o = org(&m.url, json!({
        "exclude_ou_ids": w["sandbox"].as_str().unwrap(),
        "exclude_account_ids": format!("{}, 000000000000", w["loose_account"].as_str().unwrap()),
    })).await;
    assert!(o.get_status().await.unwrap().healthy);
    // Through a role assumed in the management account, too.
    let via_role = org(&m.url, json!({"management_account_role_arn": "arn:aws:iam::123456789012:role/SesameManagement"})).await;
    assert!(via_role.get_status().await.unwrap().healthy);
    let d = o.list_resources().await.unwrap();
    let ous: Vec<(&str, &str)> = d.resources.iter().filter(|r| r.resource_type == "aws_ou").map(|r| (r.id.as_str(), r.name.as_str())).collect();
    assert_eq!(ous, [(w["prod"].as_str().unwrap(), "Root/Prod"), (w["payments"].as_str().unwrap(), "Root/Prod/Payments")]);
    let accounts: Vec<String> = d.resources.iter().filter(|r| r.resource_type == "aws_account").map(|r| r.id.clone()).collect();
    let mut expected: Vec<String> = strs(&w["prod_accounts"]).into_iter().chain(strs(&w["payments_accounts"])).collect();
    expected.sort();
    let mut got: Vec<String> = accounts.into_iter().filter(|a| a != "123456789012").collect();
    got.sort();
    assert_eq!(got, expected, "sandbox and loose accounts are excluded");
    let pay0 = &strs(&w["payments_accounts"])[0];
    assert_eq!(d.resources.iter().find(|r| &r.id == pay0).unwrap().metadata["path"], "Root/Prod/Payments/pay-0");
    assert_eq!(o.list_resources_tags().await.unwrap()[pay0]["owner"], "payments@example.com");

    // A grant on the Prod OU reaches Prod and its nested Payments accounts.
    let p = params("sesame_alice_1", "alice@example.com", &[w["prod"].as_str().unwrap()], "read_only");
    o.grant_access(&p, DEADLINE).await.unwrap();
    o.grant_access(&p, DEADLINE).await.unwrap(); // idempotent: no second assignment
    let (a, sets) = assignments(&m.url);
    let mut reached: Vec<String> = a.iter().map(|x| x.0.clone()).collect();
    reached.sort();
    assert_eq!(reached, expected);
    assert!(a.iter().all(|x| x.1 == "sesame_alice_1" && x.2 == w["alice"].as_str().unwrap()));
    assert_eq!(sets, ["sesame_alice_1"]);
    let ps = fixture_json(&m.url, &["permission-set", "sesame_alice_1"]);
    assert_eq!(strs(&ps["managed"]), ["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
    let deny = &ps["inline"]["Statement"][0];
    assert_eq!((deny["Effect"].as_str(), &deny["Condition"]["DateGreaterThan"]["aws:CurrentTime"]), (Some("Deny"), &json!("2026-11-26T10:00:00Z")));
    let c = o.create_credentials(&p).await.unwrap();
    assert!(c.details["sign_in_link"].starts_with("https://example.awsapps.com/start/#/console?account_id="), "{:?}", c.details);
    assert_eq!(o.list_managed_users().await.unwrap(), ["sesame_alice_1"]);

    // Bob is found by e-mail (his user name is `bob`); a custom permission with inline + customer-managed.
    let o2 = org(&m.url, json!({"permissions": [{"id": "data", "customer_managed": ["/team/DataReader"],
        "inline": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}]}}]})).await;
    let pb = params("sesame_bob_1", "bob@example.com", &[pay0], "data");
    o2.grant_access(&pb, DEADLINE).await.unwrap();
    let ps = fixture_json(&m.url, &["permission-set", "sesame_bob_1"]);
    assert_eq!(strs(&ps["customer"]), ["DataReader"]);
    let allow = ps["inline"]["Statement"].as_array().unwrap().iter().find(|s| s["Effect"] == "Allow").unwrap().clone();
    assert_eq!(allow["Condition"]["DateLessThan"]["aws:CurrentTime"], "2026-11-26T10:00:00Z");
    let (a, _) = assignments(&m.url);
    assert!(a.contains(&(pay0.clone(), "sesame_bob_1".into(), w["bob"].as_str().unwrap().into())));

    // Refusals name what is wrong, and create nothing.
    let e = o.grant_access(&params("sesame_carol_1", "carol@example.com", &[pay0], "read_only"), DEADLINE).await.unwrap_err();
    assert!(e.to_string().contains("`carol@example.com` is not a user of the Identity Center identity store"), "{e}");
    let e = o.grant_access(&params("sesame_alice_2", "alice@example.com", &[w["sandbox_account"].as_str().unwrap()], "read_only"), DEADLINE).await.unwrap_err();
    assert!(e.to_string().contains("is not an account or OU of this organization (or it is excluded)"), "{e}");
    let e = o.grant_access(&params("sesame_alice_4", "alice@example.com", &[w["sandbox"].as_str().unwrap()], "read_only"), DEADLINE).await.unwrap_err();
    assert!(e.to_string().contains("is not an account or OU of this organization (or it is excluded)"), "an excluded OU: {e}");
    let e = o.grant_access(&params("sesame_alice_3", "alice@example.com", &[pay0], "root"), DEADLINE).await.unwrap_err();
    assert_eq!(e.to_string(), "unknown permission `root`: use one of read_only, view_only, power_user, admin");
    assert_eq!(assignments(&m.url).1.len(), 2);

    // Revoke: assignments deleted, then the permission sets; twice is fine.
    o.revoke_access(&p).await.unwrap();
    o.revoke_access(&p).await.unwrap();
    o2.revoke_access(&pb).await.unwrap();
    let (a, sets) = assignments(&m.url);
    assert!(a.is_empty() && sets.is_empty(), "{a:?} {sets:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_center_limits_are_kept_by_queueing_through_throttling() {
    let m = moto(None).await;
    let w = fixture_json(&m.url, &["org", "15"]);
    let p = throttling_proxy(m.url.clone(), Scope::IdentityCenter).await;
    let (proxy, seen, throttled, polls, ops) = (p.url.clone(), p.seen.clone(), p.throttled.clone(), p.polls.clone(), p.ops.clone());
    let o = org(&proxy, json!({})).await;
    let p = params("sesame_alice_9", "alice@example.com", &[w["payments"].as_str().unwrap()], "admin");
    o.grant_access(&p, DEADLINE).await.unwrap();
    // Every one of the 15 accounts got its assignment despite the throttling.
    let (a, _) = assignments(&m.url);
    let mut reached: Vec<String> = a.iter().map(|x| x.0.clone()).collect();
    reached.sort();
    let mut expected = strs(&w["payments_accounts"]);
    expected.sort();
    assert_eq!(reached, expected);
    let t = throttled.load(Ordering::SeqCst);
    assert!(t >= 10, "the proxy throttled {t} requests");
    assert_eq!(o.limiter.throttled.load(Ordering::SeqCst), t, "each throttling answer was waited out and retried");
    assert!(o.limiter.max_outstanding.load(Ordering::SeqCst) <= 10);
    assert!(polls.load(Ordering::SeqCst) >= 15, "each IN_PROGRESS assignment was polled until SUCCEEDED");
    // No one-second window saw more than 20 Identity Center requests (+1 for the edges).
    let times = seen.lock().unwrap().clone();
    let worst = times.iter().map(|t0| times.iter().filter(|t| **t >= *t0 && t.duration_since(*t0).as_millis() < 1000).count()).max().unwrap();
    assert!(worst <= 21, "{worst} requests within one second");
    // A set Sesame made is never described: a second grant and the
    // reconciler's listings read the pages only.
    let describes = || ops.lock().unwrap().iter().filter(|o| o.ends_with(".DescribePermissionSet")).count();
    let first = describes();
    let p2 = params("sesame_bob_9", "bob", &[w["prod"].as_str().unwrap()], "read_only");
    o.grant_access(&p2, DEADLINE).await.unwrap();
    let mut managed = o.list_managed_users().await.unwrap();
    managed.sort();
    assert_eq!(managed, ["sesame_alice_9", "sesame_bob_9"]);
    assert_eq!(o.list_managed_users().await.unwrap().len(), 2);
    assert_eq!(describes(), first, "the sets were described again");
    // Another process (a restarted connector) describes each set once to learn its name.
    let again = org(&proxy, json!({})).await;
    let mut managed = again.list_managed_users().await.unwrap();
    managed.sort();
    assert_eq!(managed, ["sesame_alice_9", "sesame_bob_9"]);
    assert_eq!(describes(), first + 2);
    again.list_managed_users().await.unwrap();
    assert_eq!(describes(), first + 2);
    o.revoke_access(&p).await.unwrap();
    o.revoke_access(&p2).await.unwrap();
    assert_eq!(o.list_managed_users().await.unwrap(), Vec::<String>::new(), "a deleted set is forgotten");
    let (a, sets) = assignments(&m.url);
    assert!(a.is_empty() && sets.is_empty());
}

/// `members`: each member account is a sub-integration with the account
/// integration's reach, through a role assumed in it — discovery sees that
/// account's resources only, and a grant lands in that account.
#[tokio::test(flavor = "multi_thread")]
async fn member_accounts_are_reached_through_a_role_assumed_in_each() {
    let m = moto(None).await;
    let w = fixture_json(&m.url, &["org", "1"]);
    let member = w["payments_accounts"][0].as_str().unwrap().to_owned();
    let role = format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole");
    let assumed = common::aws_cli(&m.url, common::TESTING, &["sts", "assume-role", "--role-arn", &role, "--role-session-name", "setup"]);
    let member_creds = (assumed["Credentials"]["AccessKeyId"].as_str().unwrap().to_owned(), assumed["Credentials"]["SecretAccessKey"].as_str().unwrap().to_owned());
    let as_member = |args: &[&str]| common::aws_cli(&m.url, (&member_creds.0, &member_creds.1), args);
    as_member(&["s3api", "create-bucket", "--bucket", "member-ledger"]);
    common::aws_cli(&m.url, common::TESTING, &["s3api", "create-bucket", "--bucket", "management-only"]);
    assert_eq!(as_member(&["sts", "get-caller-identity"])["Account"], member.as_str(), "moto keeps the member's resources apart");

    let o = org(&m.url, json!({"members": {"role_name": "OrganizationAccountAccessRole", "resource_types": ["s3_bucket", "iam_role"]}})).await;
    let d = o.list_resources().await.unwrap();
    let name = format!("org/{member}");
    let c = d.children.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name} in {:?}", d.children.iter().map(|c| &c.name).collect::<Vec<_>>()));
    assert!(c.error.is_none(), "{c:?}");
    assert_eq!(c.info.as_ref().unwrap().kind.as_str(), "aws-account");
    let acct = o.child(&member).expect("the member account is served");
    let found = acct.list_resources().await.unwrap();
    let buckets: Vec<&str> = found.resources.iter().filter(|r| r.resource_type == "s3_bucket").map(|r| r.name.as_str()).collect();
    assert_eq!(buckets, ["member-ledger"], "the member's buckets, not the management account's");

    let p = grant("sesame_member_g1", "s3_bucket", "member-ledger", "read_only");
    acct.grant_access(&p, DEADLINE).await.unwrap();
    let users = |creds: (&str, &str)| common::aws_cli(&m.url, creds, &["iam", "list-users", "--path-prefix", "/sesame/"])["Users"].as_array().unwrap().len();
    assert_eq!(users((&member_creds.0, &member_creds.1)), 1, "the grant's user is in the member account");
    assert_eq!(users(common::TESTING), 0, "and not in the management account");
    acct.revoke_access(&p).await.unwrap();
    assert_eq!(users((&member_creds.0, &member_creds.1)), 0);

    let bad = AwsOrganization::build(
        serde_json::from_value(json!({"name": "org", "sso_region": "us-east-1", "sso_portal_url": "https://x.awsapps.com/start", "members": {"role_name": "a/../b"}})).unwrap(),
        &Registry::new(),
    )
    .await;
    assert!(bad.is_err_and(|e| e.to_string().contains("members.role_name")));
}
