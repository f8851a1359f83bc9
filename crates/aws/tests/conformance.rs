//! aws-account through the conformance contract: the same sequence as the
//! database integrations' suite (`sesame-integrations`' tests/conformance),
//! against moto with IAM enforcement on (every request signed
//! and policy-checked). A grant is proven with the grantee's own key: it
//! reads the granted bucket (a hostile 63-character name with dots), not
//! another, cannot write; reset retires the old key; disable leaves a user
//! that can do nothing; revoke leaves nothing.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sesame_integrations::registry::Registry;
use sesame_core::Timestamp;
use sesame_integrations::registry::IntegrationDecl;
use sesame_proto::ActionParams;
use serde_json::json;

use sesame_testkit::moto as aws_common;

const UNTIL: Timestamp = Timestamp(4_102_444_800_000);
const GRANTED: &str = "granted.bucket-with.dots-and-a-long-name-of-63-characters-xxxxx";
const OTHER: &str = "other-bucket";

async fn s3_as(url: &str, id: &str, secret: &str) -> aws_sdk_s3::Client {
    let creds = aws_credential_types::Credentials::new(id, secret, None, None, "conformance");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .force_path_style(true)
        .credentials_provider(creds)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn reads(url: &str, id: &str, secret: &str, bucket: &str) -> bool {
    s3_as(url, id, secret).await.get_object().bucket(bucket).key("hello.txt").send().await.is_ok()
}

fn params(user: &str, bucket: &str, perm: &str) -> ActionParams {
    sesame_testkit::params::grant(user, "s3_bucket", bucket, perm)
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_account_with_iam_enforcement() {
    let moto = aws_common::moto(Some(3)).await;
    let (url, port) = (moto.url.clone(), moto.port);
    let admin = aws_common::fixture_json(&url, &["enforced-admin", GRANTED, OTHER]);
    let dir = std::env::temp_dir().join(format!("sesame-conformance-aws-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("id"), admin["id"].as_str().unwrap()).unwrap();
    std::fs::write(dir.join("secret"), admin["secret"].as_str().unwrap()).unwrap();
        // Built as any configured integration is: through the registry.
    let decl: IntegrationDecl = serde_json::from_value(json!({
        "type": "aws_account", "name": "conformance", "region": "us-east-1", "endpoint_url": url, "resource_types": ["s3_bucket", "iam_role"],
        "access_key_id": {"file": dir.join("id")}, "secret_access_key": {"file": dir.join("secret")},
    }))
    .unwrap();
    decl.validate().unwrap();
    let i = Registry::new().with(sesame_aws::Aws).build(&decl).await.unwrap();

    assert!(i.get_status().await.unwrap().healthy);
    let d = i.list_resources().await.unwrap();
    for b in [GRANTED, OTHER] {
        assert!(d.resources.iter().any(|r| r.id == b && r.resource_type == "s3_bucket"), "{b} not discovered");
    }
    assert!(d.permissions["s3_bucket"].iter().any(|p| p.id == "read_only"));

    let user = "sesame_conf_g1";
    let p = params(user, GRANTED, "read_only");
    i.grant_access(&p, UNTIL).await.unwrap();
    i.grant_access(&p, UNTIL).await.expect("grant again is a no-op");
    assert_eq!(i.list_managed_users().await.unwrap(), vec![user.to_owned()]);
    let c1 = i.create_credentials(&p).await.unwrap();
    assert!(c1.connect_command.as_deref().unwrap_or_default().contains(&format!("s3://{GRANTED}/")));
    assert!(reads(&url, &c1.username, &c1.secret, GRANTED).await, "the grantee reads the granted bucket");
    assert!(!reads(&url, &c1.username, &c1.secret, OTHER).await, "but not another");
    let put = s3_as(&url, &c1.username, &c1.secret).await.put_object().bucket(GRANTED).key("x").body(b"x".to_vec().into()).send().await;
    assert!(put.is_err(), "read_only cannot write");

    // reset-credentials: the old key fails, the new one works.
    let c2 = i.reset_credentials(&p).await.unwrap();
    assert_ne!(c1.username, c2.username);
    assert!(reads(&url, &c2.username, &c2.secret, GRANTED).await);
    assert!(!reads(&url, &c1.username, &c1.secret, GRANTED).await, "the old key still works");

    // revoke, twice; the key fails afterwards; nothing is left.
    i.revoke_access(&p).await.unwrap();
    i.revoke_access(&p).await.expect("revoke again succeeds");
    assert!(!reads(&url, &c2.username, &c2.secret, GRANTED).await, "the key survived revoke");
    assert!(i.list_managed_users().await.unwrap().is_empty());
    assert!(i.create_credentials(&p).await.is_err(), "no credentials for a revoked grant");

    // User cleanup: disable keeps the user, which can do nothing; delete removes it.
    let p3 = params("sesame_conf_g3", GRANTED, "read_write");
    i.grant_access(&p3, UNTIL).await.unwrap();
    let c = i.create_credentials(&p3).await.unwrap();
    i.disable_user(&p3).await.unwrap();
    i.disable_user(&p3).await.expect("disable again succeeds");
    assert_eq!(i.list_managed_users().await.unwrap(), vec!["sesame_conf_g3".to_owned()], "disabled, not deleted");
    assert!(!reads(&url, &c.username, &c.secret, GRANTED).await, "a disabled user still reads");
    i.delete_user("sesame_conf_g3").await.unwrap();
    i.delete_user("sesame_conf_g3").await.expect("delete again succeeds");
    assert!(i.list_managed_users().await.unwrap().is_empty());

    // Bad input is refused without retrying, and creates nothing.
    let bad = params("sesame_conf_bad", GRANTED, "superuser");
    assert!(!i.grant_access(&bad, UNTIL).await.unwrap_err().is_retryable());
    let many = ActionParams { resources: (0..101).map(|n| format!("b{n}")).collect(), ..params("sesame_conf_many", GRANTED, "read_only") };
    assert!(!i.grant_access(&many, UNTIL).await.unwrap_err().is_retryable());
    assert!(i.list_managed_users().await.unwrap().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

/// EKS through the same contract, against the local Kubernetes API stand-in
/// (`sesame_testkit::kube`: no API server can run here): a grant is proven
/// by what the grantee's Kubernetes user may do, asked as that user.
#[tokio::test(flavor = "multi_thread")]
async fn eks_through_the_contract() {
    use sesame_testkit::params::Refine;
    let k = sesame_testkit::kube::KubeFake::start().await;
    let dir = std::env::temp_dir().join(format!("sesame-conformance-eks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), &k.token).unwrap();
    let decl: IntegrationDecl = serde_json::from_value(json!({
        "type": "eks", "name": "prod-eks", "cluster_name": "prod", "account_id": "123456789012", "region": "eu-west-1",
        "server_url": k.url, "token": {"file": dir.join("token")},
    }))
    .unwrap();
    decl.validate().unwrap();
    let i = Registry::new().with(sesame_aws::Aws).build(&decl).await.unwrap();
    assert!(i.get_status().await.unwrap().healthy);
    let d = i.list_resources().await.unwrap();
    for (t, id) in [("cluster", "prod"), ("namespace", "payments"), ("pods", "web"), ("deployments.apps", "payments")] {
        assert!(d.resources.iter().any(|r| r.resource_type == t && r.id == id), "{t} {id} not discovered");
    }
    assert!(d.permissions["namespace"].iter().any(|p| p.id == "edit"));

    let alice = "apono:alice@example.com";
    let p = sesame_testkit::params::grant("sesame_alice_c1", "namespace", "payments", "edit").requested_by("alice@example.com");
    i.grant_access(&p, UNTIL).await.unwrap();
    i.grant_access(&p, UNTIL).await.expect("grant again is a no-op");
    assert_eq!(i.list_managed_users().await.unwrap(), ["sesame_alice_c1"]);
    let c = i.create_credentials(&p).await.unwrap();
    assert_eq!(c.username, alice);
    assert!(c.connect_command.as_deref().unwrap().contains("--role-session-name alice@example.com"), "{c:?}");
    assert!(k.can(alice, "list", "secrets", Some("payments")).await, "the grantee reads secrets in the granted namespace");
    assert!(k.can(alice, "delete", "pods", Some("payments")).await, "and edits there");
    assert!(!k.can(alice, "list", "secrets", Some("web")).await, "but not in another namespace");
    assert!(!k.can(alice, "list", "namespaces", None).await, "nor cluster-wide");
    assert!(!k.can("apono:bob@example.com", "list", "secrets", Some("payments")).await, "and nobody else does");

    i.revoke_access(&p).await.unwrap();
    i.revoke_access(&p).await.expect("revoke again succeeds");
    assert!(!k.can(alice, "list", "secrets", Some("payments")).await, "the binding survived revoke");
    assert!(i.list_managed_users().await.unwrap().is_empty());
    assert!(k.objects().is_empty(), "left behind: {:?}", k.objects());

    // User cleanup: a binding cannot be disabled, so disable deletes; delete after it succeeds.
    let p3 = sesame_testkit::params::grant("sesame_alice_c3", "cluster", "prod", "view").requested_by("alice@example.com");
    i.grant_access(&p3, UNTIL).await.unwrap();
    assert!(k.can(alice, "list", "pods", None).await);
    i.disable_user(&p3).await.unwrap();
    assert!(!k.can(alice, "list", "pods", None).await, "a disabled grant still works");
    i.delete_user("sesame_alice_c3").await.unwrap();
    assert!(i.list_managed_users().await.unwrap().is_empty());

    // Bad input is refused without retrying, and creates nothing.
    let bad = sesame_testkit::params::grant("sesame_alice_bad", "namespace", "payments", "system:masters").requested_by("alice@example.com");
    assert!(!i.grant_access(&bad, UNTIL).await.unwrap_err().is_retryable());
    let nobody = sesame_testkit::params::grant("sesame_alice_c4", "namespace", "payments", "view");
    assert!(!i.grant_access(&nobody, UNTIL).await.unwrap_err().is_retryable(), "no requester: no subject");
    assert!(k.objects().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}
