//! aws-account against moto: discovery of every resource type with tags,
//! grants of each kind (checked with the AWS CLI: exactly what the grant
//! left, and nothing after revoke), and the federated-role delivery.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sesame_testkit::params::{grant, Refine};
use sesame_integrations::registry::Registry;
use sesame_testkit::moto as common;

use common::{aws_cli, fixture_json, moto, throttling_proxy, Scope, TESTING};
use sesame_aws::account::{AwsAccount, AwsAccountConfig};
use sesame_core::Timestamp;
use sesame_integrations::Integration;
use sesame_proto::ActionParams;
use serde_json::{json, Value};

const DEADLINE: Timestamp = Timestamp(1_795_687_200_000);

async fn account(url: &str, extra: Value) -> AwsAccount {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let mut cfg = json!({"name": "acct", "region": "us-east-1", "endpoint_url": url,
        "access_key_id": {"env": "AWS_ACCESS_KEY_ID"}, "secret_access_key": {"env": "AWS_SECRET_ACCESS_KEY"}});
    cfg.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    AwsAccount::build(serde_json::from_value::<AwsAccountConfig>(cfg).unwrap(), &Registry::new()).await.unwrap()
}

fn params(user: &str, rtype: &str, resources: &[&str], perm: &str) -> ActionParams {
    grant(user, rtype, resources[0], perm).on(resources).grant_id(&format!("req_{user}")).requested_by("alice@example.com")
}

fn statements(doc: &Value) -> Vec<Value> {
    doc["Statement"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn discovers_every_type_with_tags_and_bucket_keys() {
    let m = moto(None).await;
    let w = fixture_json(&m.url, &["world"]);
    let a = account(&m.url, json!({})).await;
    assert!(a.get_status().await.unwrap().message.contains("123456789012"));
    let d = a.list_resources().await.unwrap();
    let by_type = |t: &str| d.resources.iter().filter(|r| r.resource_type == t).collect::<Vec<_>>();
    assert_eq!(by_type("iam_role")[0].id, w["role"].as_str().unwrap());
    assert_eq!(by_type("iam_group")[0].name, "auditors");
    assert_eq!(by_type("iam_policy")[0].id, w["policy"].as_str().unwrap());
    let bucket = by_type("s3_bucket").into_iter().find(|r| r.id == "encrypted-reports").unwrap();
    assert_eq!(bucket.metadata["kms_key"], w["key"].as_str().unwrap());
    let inst = &by_type("ec2_instance")[0];
    assert_eq!(inst.name, "bastion");
    assert_eq!(inst.metadata["instance_id"], w["instance"].as_str().unwrap());
    let db = &by_type("rds_instance")[0];
    assert_eq!((db.name.as_str(), db.metadata["engine"].as_str()), ("orders-db", "postgres"));
    assert_eq!(by_type("redshift_cluster")[0].name, "warehouse");
    assert_eq!(by_type("secret")[0].id, w["secret"].as_str().unwrap());
    assert_eq!(by_type("sns_topic")[0].id, w["topic"].as_str().unwrap());
    assert_eq!(by_type("sqs_queue")[0].id, w["queue"].as_str().unwrap());
    for t in sesame_aws::account::RESOURCE_TYPES {
        assert!(!d.permissions[t].is_empty(), "{t} offers no permission");
    }
    let tags = a.list_resources_tags().await.unwrap();
    assert_eq!(tags[w["role"].as_str().unwrap()]["owner"], "data@example.com");
    assert_eq!(tags["encrypted-reports"]["owner"], "data@example.com");
    assert_eq!(tags[w["policy"].as_str().unwrap()]["team"], "orders");
    for id in [&inst.id, &db.id, &w["secret"].as_str().unwrap().to_owned(), &w["topic"].as_str().unwrap().to_owned(), &w["queue"].as_str().unwrap().to_owned()] {
        assert_eq!(tags[id.as_str()]["env"], "prod", "{id}");
    }
    assert_eq!(tags[&inst.id]["Name"], "bastion");

    // Only the configured types are synced.
    let only = account(&m.url, json!({"resource_types": ["sqs_queue"]})).await;
    let d = only.list_resources().await.unwrap();
    assert!(d.resources.iter().all(|r| r.resource_type == "sqs_queue") && d.resources.len() == 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_grant_leaves_exactly_its_policy_and_revoke_leaves_nothing() {
    let m = moto(None).await;
    let w = fixture_json(&m.url, &["world"]);
    let a = account(&m.url, json!({})).await;
    let s = |k: &str| w[k].as_str().unwrap().to_owned();
    let cases: Vec<(ActionParams, Vec<(&str, Value)>)> = vec![
        (params("sesame_bucket", "s3_bucket", &["encrypted-reports"], "read_only"), vec![
            ("s3:GetObject", json!("arn:aws:s3:::encrypted-reports/*")),
            ("kms:Decrypt", json!(s("key"))),
        ]),
        (params("sesame_ssm", "ec2_instance", &[&format!("arn:aws:ec2:us-east-1:123456789012:instance/{}", s("instance"))], "session"), vec![
            ("ssm:StartSession", json!(format!("arn:aws:ec2:us-east-1:123456789012:instance/{}", s("instance")))),
            // A per-grant IAM user: its sessions are named after its user name.
            ("ssm:TerminateSession", json!("arn:aws:ssm:us-east-1:123456789012:session/${aws:username}-*")),
        ]),
        // The seed's "EC2 Manage": start, stop and reboot that instance only.
        (params("sesame_ec2m", "ec2_instance", &[&format!("arn:aws:ec2:us-east-1:123456789012:instance/{}", s("instance"))], "manage"), vec![
            ("ec2:StartInstances", json!(format!("arn:aws:ec2:us-east-1:123456789012:instance/{}", s("instance")))),
            ("ec2:StopInstances", json!(format!("arn:aws:ec2:us-east-1:123456789012:instance/{}", s("instance")))),
        ]),
        (params("sesame_role", "iam_role", &[&s("role")], "assume"), vec![("sts:AssumeRole", json!(s("role")))]),
        (params("sesame_secret", "secret", &[&s("secret")], "read"), vec![("secretsmanager:GetSecretValue", json!(s("secret")))]),
        (params("sesame_queue", "sqs_queue", &[&s("queue")], "send"), vec![("sqs:SendMessage", json!(s("queue")))]),
        (params("sesame_topic", "sns_topic", &[&s("topic")], "publish"), vec![("sns:Publish", json!(s("topic")))]),
        (params("sesame_db", "rds_instance", &[&s("db")], "describe"), vec![("rds:DescribeDBInstances", json!(s("db")))]),
        // A copied policy keeps its own condition and Deny, and each Allow gains the deadline.
        (params("sesame_policy", "iam_policy", &[&s("policy")], "attach"), vec![
            ("sqs:ReceiveMessage", json!("arn:aws:sqs:us-east-1:123456789012:orders")),
        ]),
        (params("sesame_group", "iam_group", &[&s("group")], "member"), vec![
            ("s3:GetObject", json!("arn:aws:s3:::audit-logs/*")),
            ("sqs:ReceiveMessage", json!("arn:aws:sqs:us-east-1:123456789012:orders")),
        ]),
    ];
    for (p, expected) in &cases {
        a.grant_access(p, DEADLINE).await.unwrap();
        a.grant_access(p, DEADLINE).await.unwrap(); // idempotent
        let user = aws_cli(&m.url, TESTING, &["iam", "get-user", "--user-name", &p.username]);
        assert_eq!(user["User"]["Path"], "/sesame/");
        let doc = aws_cli(&m.url, TESTING, &["iam", "get-user-policy", "--user-name", &p.username, "--policy-name", "sesame-grant"]);
        let st = statements(&doc["PolicyDocument"]);
        for (action, resource) in expected {
            let hit = st.iter().find(|x| x["Action"].as_array().unwrap().iter().any(|a| a == action)).unwrap_or_else(|| panic!("{action} missing for {}: {st:?}", p.username));
            assert!(hit["Resource"].as_array().unwrap().contains(resource), "{action}: {hit}");
        }
        for x in &st {
            match x["Effect"].as_str().unwrap() {
                "Allow" => assert_eq!(x["Condition"]["DateLessThan"]["aws:CurrentTime"], "2026-11-26T10:00:00Z", "{x}"),
                _ => assert!(x["Condition"]["DateLessThan"].is_null()),
            }
            assert!(!x.to_string().contains("\"*\"") || x["Effect"] == "Deny", "no wildcard resource in an Allow: {x}");
        }
        if p.resource_type == "iam_policy" {
            let allow = st.iter().find(|x| x["Effect"] == "Allow").unwrap();
            assert_eq!(allow["Condition"]["StringEquals"]["aws:RequestedRegion"], json!(["us-east-1"]));
            assert!(st.iter().any(|x| x["Effect"] == "Deny" && x["Action"] == json!(["sqs:DeleteQueue"])));
        }
        let creds = a.create_credentials(p).await.unwrap();
        assert!(creds.username.starts_with("AKIA") && creds.secret.len() >= 20);
        a.revoke_access(p).await.unwrap();
        a.revoke_access(p).await.unwrap(); // idempotent
    }
    // Nothing left: no user, no policy under /sesame/.
    assert_eq!(aws_cli(&m.url, TESTING, &["iam", "list-users", "--path-prefix", "/sesame/"])["Users"], json!([]));
    assert_eq!(aws_cli(&m.url, TESTING, &["iam", "list-policies", "--scope", "Local", "--path-prefix", "/sesame/"])["Policies"], json!([]));
    assert!(a.list_managed_users().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_refused_with_what_to_do_and_nothing_is_created() {
    let m = moto(None).await;
    let a = account(&m.url, json!({})).await;
    let e = a.grant_access(&params("sesame_x", "sqs_queue", &["orders"], "send"), DEADLINE).await.unwrap_err();
    assert_eq!(e.to_string(), "`orders` is not an ARN: sqs_queue resources are named by ARN");
    let e = a.grant_access(&params("sesame_x", "sqs_queue", &["arn:aws:sqs:us-east-1:123456789012:q"], "admin"), DEADLINE).await.unwrap_err();
    assert_eq!(e.to_string(), "unknown permission `admin` on sqs_queue: use consume or send");
    let e = a.grant_access(&params("sesame_x", "ec2_instance", &["arn:aws:s3:::nope"], "session"), DEADLINE).await.unwrap_err();
    assert!(e.to_string().contains("is not an EC2 instance ARN"), "{e}");
    // IAM wildcards in a resource name never reach a policy: they would widen the grant.
    for (t, arn, perm) in [
        ("ec2_instance", "arn:aws:ec2:us-east-1:123456789012:instance/i-*", "manage"),
        ("ec2_instance", "arn:aws:ec2:*:123456789012:instance/i-0abc", "session"),
        ("ec2_instance", "arn:aws:ec2:us-east-1:12345678901?:instance/i-0abc", "manage"),
        ("sqs_queue", "arn:aws:sqs:us-east-1:123456789012:*", "send"),
        ("secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:app?", "read"),
    ] {
        let e = a.grant_access(&params("sesame_wild", t, &[arn], perm), DEADLINE).await.unwrap_err();
        assert!(e.to_string().contains("wildcard") || e.to_string().contains("is not an EC2 instance ARN"), "{arn}: {e}");
    }
    assert_eq!(aws_cli(&m.url, TESTING, &["iam", "list-users", "--path-prefix", "/sesame/"])["Users"], json!([]), "nothing made for a refused grant");
    let many: Vec<String> = (0..101).map(|i| format!("arn:aws:sqs:us-east-1:123456789012:q{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let e = a.grant_access(&params("sesame_x", "sqs_queue", &refs, "send"), DEADLINE).await.unwrap_err();
    assert!(e.to_string().starts_with("101 AWS resources are selected by name; the limit is 100"), "{e}");
    assert_eq!(aws_cli(&m.url, TESTING, &["iam", "list-users", "--path-prefix", "/sesame/"])["Users"], json!([]));
    let e = AwsAccount::build(serde_json::from_value(json!({"name": "x", "region": "us-east-1", "delivery": "saml_role"})).unwrap(), &Registry::new()).await.err().unwrap();
    assert!(e.to_string().contains("needs `saml_provider_arn`"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn federated_people_get_a_per_grant_role_only_they_may_assume() {
    let m = moto(None).await;
    let w = fixture_json(&m.url, &["world"]);
    let a = account(&m.url, json!({"delivery": "identity_center_role"})).await;
    let p = params("sesame_fed", "secret", &[w["secret"].as_str().unwrap()], "read");
    a.grant_access(&p, DEADLINE).await.unwrap();
    let role = aws_cli(&m.url, TESTING, &["iam", "get-role", "--role-name", "sesame_fed"]);
    assert_eq!(role["Role"]["Path"], "/sesame/");
    let trust = &role["Role"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Condition"]["StringEquals"]["sts:SourceIdentity"], "alice@example.com");
    assert_eq!(trust["Condition"]["StringLike"]["aws:userid"], "*:alice@example.com");
    assert_eq!(trust["Condition"]["ArnLike"]["aws:PrincipalArn"], "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*");
    assert_eq!(trust["Condition"]["DateLessThan"]["aws:CurrentTime"], "2026-11-26T10:00:00Z");
    let inline = aws_cli(&m.url, TESTING, &["iam", "get-role-policy", "--role-name", "sesame_fed", "--policy-name", "sesame-grant"]);
    assert!(inline["PolicyDocument"].to_string().contains("secretsmanager:GetSecretValue"));
    // No IAM user and no secret: the grantee assumes the role from their own session.
    assert_eq!(aws_cli(&m.url, TESTING, &["iam", "list-users", "--path-prefix", "/sesame/"])["Users"], json!([]));
    let c = a.create_credentials(&p).await.unwrap();
    assert_eq!(c.secret, "");
    assert_eq!(c.username, "arn:aws:iam::123456789012:role/sesame/sesame_fed");
    assert!(c.connect_command.unwrap().contains("--source-identity alice@example.com"));
    assert_eq!(a.list_managed_users().await.unwrap(), ["sesame_fed"]);
    a.revoke_access(&p).await.unwrap();
    assert_eq!(aws_cli(&m.url, TESTING, &["iam", "list-roles", "--path-prefix", "/sesame/"])["Roles"], json!([]));
    // Without the requester there is nobody to bind the role to.
    let mut anon = p.clone();
    anon.custom_parameters.clear();
    assert!(a.grant_access(&anon, DEADLINE).await.unwrap_err().to_string().contains("requester's identity"));
}

#[tokio::test(flavor = "multi_thread")]
async fn permission_boundaries_are_read_put_and_removed_on_standing_principals() {
    let m = moto(None).await;
    let w = fixture_json(&m.url, &["standing"]);
    let (team, ro) = (w["team"].as_str().unwrap(), w["read_only"].as_str().unwrap());
    let a = account(&m.url, json!({})).await;
    let boundary = |kind: &str, name: &str| {
        let v = aws_cli(&m.url, TESTING, &["iam", &format!("get-{kind}"), &format!("--{kind}-name"), name]);
        let key = if kind == "role" { "Role" } else { "User" };
        v[key]["PermissionsBoundary"]["PermissionsBoundaryArn"].as_str().map(str::to_owned)
    };
    let (arn, current) = a.boundary_of("role", "ops-admin").await.unwrap();
    assert_eq!((arn.as_str(), current.as_deref()), ("arn:aws:iam::123456789012:role/ops-admin", Some(team)));
    assert_eq!(a.boundary_of("role", "break-glass").await.unwrap().1, None);
    a.set_boundary("role", "ops-admin", Some(ro)).await.unwrap();
    a.set_boundary("role", "break-glass", Some(ro)).await.unwrap();
    a.set_boundary("role", "break-glass", Some(ro)).await.expect("putting again succeeds");
    assert_eq!(boundary("role", "ops-admin").as_deref(), Some(ro));
    assert_eq!(boundary("role", "break-glass").as_deref(), Some(ro));
    // Restoring (what the server recorded) or removing.
    a.set_boundary("role", "ops-admin", Some(team)).await.unwrap();
    a.set_boundary("role", "break-glass", None).await.unwrap();
    a.set_boundary("role", "break-glass", None).await.expect("removing again succeeds");
    assert_eq!(boundary("role", "ops-admin").as_deref(), Some(team));
    assert_eq!(boundary("role", "break-glass"), None);
    // (Users take the same path with the user APIs; moto lacks PutUserPermissionsBoundary.)
    let e = a.set_boundary("group", "x", Some(ro)).await.unwrap_err();
    assert_eq!(e.to_string(), "principal type `group`: use `role` or `user`");
    let e = a.set_boundary("role", "ops-admin", Some("ReadOnlyAccess")).await.unwrap_err();
    assert!(e.to_string().contains("is not a managed policy ARN"), "{e}");
    let e = a.boundary_of("role", "no-such-role").await.unwrap_err();
    assert_eq!(e.to_string(), "there is no IAM role `no-such-role` in this account");
    let e = a.set_boundary("user", "sesame_dev_1", Some(ro)).await.unwrap_err();
    assert!(e.to_string().contains("per-grant principals"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn user_cleanup_disables_first_and_deletes_later_and_revoked_grants_get_no_credentials() {
    let m = moto(None).await;
    common::fixture(&m.url, &["buckets", "keep", "1"]);
    let a = account(&m.url, json!({})).await;
    let p = params("sesame_cleanup", "s3_bucket", &["keep-000"], "read_write");
    a.grant_access(&p, DEADLINE).await.unwrap();
    a.create_credentials(&p).await.unwrap();
    a.disable_user(&p).await.unwrap();
    // Disabled: the user stays (for the cleanup period) with no key and no policy.
    assert_eq!(aws_cli(&m.url, TESTING, &["iam", "get-user", "--user-name", "sesame_cleanup"])["User"]["UserName"], "sesame_cleanup");
    assert_eq!(aws_cli(&m.url, TESTING, &["iam", "list-access-keys", "--user-name", "sesame_cleanup"])["AccessKeyMetadata"], json!([]));
    assert_eq!(aws_cli(&m.url, TESTING, &["iam", "list-user-policies", "--user-name", "sesame_cleanup"])["PolicyNames"], json!([]));
    assert_eq!(a.list_managed_users().await.unwrap(), ["sesame_cleanup"]);
    a.delete_user("sesame_cleanup").await.unwrap();
    a.delete_user("sesame_cleanup").await.unwrap(); // gone already is fine
    assert!(a.list_managed_users().await.unwrap().is_empty());
    assert!(a.create_credentials(&p).await.is_err(), "no credentials for a revoked grant");
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_waits_out_throttling_and_finds_the_same() {
    let m = moto(None).await;
    fixture_json(&m.url, &["world"]);
    let direct = account(&m.url, json!({})).await.list_resources().await.unwrap();
    let p = throttling_proxy(m.url.clone(), Scope::All).await;
    let throttled = account(&p.url, json!({})).await.list_resources().await.unwrap();
    let n = p.throttled.load(std::sync::atomic::Ordering::SeqCst);
    assert!(n >= 5, "the proxy throttled {n} requests of {}", p.seen.lock().unwrap().len());
    let ids = |d: &sesame_integrations::Discovery| {
        let mut v: Vec<String> = d.resources.iter().map(|r| format!("{}:{}", r.resource_type, r.id)).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&throttled), ids(&direct));
    assert!(direct.resources.len() >= 10);
}

/// A 1,000-bucket grant: too big for a user's policy quotas, refused by the
/// same sizing a dry run uses (naming what would fit); and the bucket → KMS
/// key mapping comes from discovery, so a grant after a sync reads nothing,
/// and without one reads in bulk. The times are printed, not asserted.
#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_bucket_grant_is_sized_from_what_discovery_knows() {
    let m = moto(None).await;
    common::fixture(&m.url, &["buckets", "big", "1000"]);
    let names: Vec<String> = (0..1000).map(|i| format!("big-{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let p = params("sesame_big", "s3_bucket", &refs, "read_only");

    // What a grant did before: one GetBucketEncryption per bucket, in turn.
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&m.url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::from_keys("testing", "testing", None))
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    let t = std::time::Instant::now();
    for b in &names {
        let _ = s3.get_bucket_encryption().bucket(b).send().await;
    }
    let sequential = t.elapsed();

    let a = account(&m.url, json!({"named_resource_limit": 2000, "managed_policies_per_principal": 2})).await;
    let t = std::time::Instant::now();
    let e = a.preflight(&p, DEADLINE).await.unwrap_err();
    let cold = t.elapsed();
    assert!(!e.is_retryable(), "{e}");
    assert!(e.to_string().contains("managed_policies_per_principal") && e.to_string().contains("identity_center_role"), "{e}");
    a.list_resources().await.unwrap();
    let t = std::time::Instant::now();
    assert!(a.preflight(&p, DEADLINE).await.is_err());
    let warm = t.elapsed();
    eprintln!("1000-bucket grant sizing: {sequential:?} reading keys one by one (before), {cold:?} reading in bulk without discovery, {warm:?} after discovery");
    // A grant that fits needs nothing more.
    assert!(a.preflight(&params("sesame_small", "s3_bucket", &refs[..5], "read_only"), DEADLINE).await.is_ok());
}

/// Issue 11: a grant by tag is one statement per action set on an ARN
/// pattern with an `aws:ResourceTag` condition — no resource's ARN — read
/// back with the AWS CLI; `*` is every resource of the type in the
/// account; hostile tags and types whose access no tag can bound are
/// refused before anything is made.
#[tokio::test(flavor = "multi_thread")]
async fn a_grant_by_tag_compiles_to_a_tag_condition_and_no_arns() {
    let m = moto(None).await;
    let a = account(&m.url, json!({})).await;
    let p = params("sesame_tagged", "s3_bucket", &["tag:team=payments"], "read_only");
    a.grant_access(&p, DEADLINE).await.unwrap();
    let doc = aws_cli(&m.url, TESTING, &["iam", "get-user-policy", "--user-name", "sesame_tagged", "--policy-name", "sesame-grant"]);
    let st = statements(&doc["PolicyDocument"]);
    assert_eq!(st.len(), 1, "one statement for any number of tagged buckets: {st:?}");
    assert_eq!(st[0]["Resource"], json!(["arn:aws:s3:::*", "arn:aws:s3:::*/*"]));
    assert_eq!(st[0]["Condition"]["StringEquals"]["aws:ResourceTag/team"], "payments");
    assert_eq!(st[0]["Condition"]["StringEquals"]["aws:ResourceAccount"], "123456789012", "bucket ARNs name no account: the condition does");
    assert!(st[0]["Condition"]["DateLessThan"]["aws:CurrentTime"].is_string(), "and it ends at the deadline");
    a.revoke_access(&p).await.unwrap();
    // Queues by tag, and every secret of the account.
    let p = params("sesame_tagq", "sqs_queue", &["tag:team=payments", "arn:aws:sqs:us-east-1:123456789012:orders"], "send");
    a.grant_access(&p, DEADLINE).await.unwrap();
    let doc = aws_cli(&m.url, TESTING, &["iam", "get-user-policy", "--user-name", "sesame_tagq", "--policy-name", "sesame-grant"]);
    let st = statements(&doc["PolicyDocument"]);
    assert_eq!(st.len(), 2, "the tag and the name never share a statement: {st:?}");
    let by_tag = st.iter().find(|s| s["Condition"]["StringEquals"].is_object()).unwrap();
    assert_eq!(by_tag["Resource"], json!(["arn:aws:sqs:*:123456789012:*"]));
    a.revoke_access(&p).await.unwrap();
    let p = params("sesame_anysecret", "secret", &["*"], "read");
    a.grant_access(&p, DEADLINE).await.unwrap();
    let doc = aws_cli(&m.url, TESTING, &["iam", "get-user-policy", "--user-name", "sesame_anysecret", "--policy-name", "sesame-grant"]);
    assert_eq!(statements(&doc["PolicyDocument"])[0]["Resource"], json!(["arn:aws:secretsmanager:*:123456789012:secret:*"]));
    a.revoke_access(&p).await.unwrap();
    // Hostile tags and unboundable types: refused, nothing made.
    for (t, sel, perm) in [
        ("s3_bucket", "tag:team=${aws:username}", "read_only"),
        ("s3_bucket", "tag:team=*", "read_only"),
        ("sqs_queue", "tag:aws:cloudformation:stack-name=x", "send"),
        ("ec2_instance", "tag:team=payments", "session"),
        ("iam_policy", "tag:team=payments", "attach"),
    ] {
        let e = a.grant_access(&params("sesame_hostile", t, &[sel], perm), DEADLINE).await.unwrap_err().to_string();
        assert!(e.contains(sel), "{sel}: {e}");
    }
    assert_eq!(aws_cli(&m.url, TESTING, &["iam", "list-users", "--path-prefix", "/sesame/"])["Users"], json!([]), "nothing made for a refused grant");
}
