//! The `eks` integration against the local Kubernetes API stand-in
//! (`sesame_testkit::kube`, which checks paths, verbs, bodies and labels as
//! the API server does, and authorizes requests made as a person by RBAC
//! over the bindings it holds). The contract sequence is in
//! `conformance.rs`; here: each resource type, extension, the reconciler's
//! and the expiry's reach, the attacks, and a down or refusing API server.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use sesame_core::Timestamp;
use sesame_integrations::registry::{IntegrationDecl, Registry};
use sesame_integrations::{Integration, IntegrationError};
use sesame_testkit::kube::KubeFake;
use sesame_testkit::params::{grant, Refine};
use std::sync::Arc;

const UNTIL: Timestamp = Timestamp(4_102_444_800_000);
const ALICE: &str = "apono:alice@example.com";

async fn eks(k: &KubeFake, extra: serde_json::Value) -> Arc<dyn Integration> {
    let dir = std::env::temp_dir().join(format!("sesame-eks-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), &k.token).unwrap();
    let mut cfg = json!({
        "type": "eks", "name": "prod-eks", "cluster_name": "prod", "account_id": "123456789012",
        "server_url": k.url, "token": {"file": dir.join("token")},
    });
    cfg.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let decl: IntegrationDecl = serde_json::from_value(cfg).unwrap();
    Registry::new().with(sesame_aws::Aws).build(&decl).await.unwrap()
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn writes(k: &KubeFake) -> usize {
    k.seen().iter().filter(|s| s.method == "PATCH" || s.method == "DELETE").count()
}

#[tokio::test]
async fn each_resource_type_grants_exactly_what_it_names() {
    let k = KubeFake::start().await;
    let i = eks(&k, json!({})).await;
    let d = i.list_resources().await.unwrap();
    let types: std::collections::BTreeSet<&str> = d.resources.iter().map(|r| r.resource_type.as_str()).collect();
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        ["cluster", "configmaps", "deployments.apps", "namespace", "pods", "rolebindings.rbac.authorization.k8s.io", "roles.rbac.authorization.k8s.io", "secrets"],
        "subresources, kinds without get and cluster-scoped kinds are not offered"
    );
    let roles: Vec<&str> = d.permissions["cluster"].iter().map(|p| p.id.as_str()).collect();
    assert_eq!(roles, ["view", "edit", "admin", "cluster-admin", "payments-reader"], "system: roles are never offered");
    assert_eq!(d.permissions["pods"].iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["view", "edit"]);
    assert!(i.descriptor().offers("deployments.apps"), "discovery teaches the descriptor the kinds");

    // The cluster: a ClusterRoleBinding to view, everywhere, and nothing more.
    let c = grant("sesame_alice_k1", "cluster", "prod", "view").requested_by("alice@example.com");
    i.grant_access(&c, UNTIL).await.unwrap();
    assert!(k.can(ALICE, "list", "pods", Some("web")).await && k.can(ALICE, "list", "pods", Some("payments")).await);
    assert!(!k.can(ALICE, "list", "secrets", Some("web")).await, "view does not read secrets");
    assert!(!k.can(ALICE, "delete", "pods", Some("web")).await, "view does not delete");

    // One kind in one namespace: a Role for that kind and its binding.
    let kind = grant("sesame_alice_k2", "deployments.apps", "web", "edit").requested_by("alice@example.com");
    i.grant_access(&kind, UNTIL).await.unwrap();
    assert!(k.can(ALICE, "delete", "deployments.apps", Some("web")).await);
    assert!(!k.can(ALICE, "delete", "deployments.apps", Some("payments")).await, "another namespace");
    assert!(!k.can(ALICE, "delete", "pods", Some("web")).await, "another kind");
    let role = k.object("Role", "web", "sesame-alice-k2").expect("the Role");
    assert_eq!(role["rules"][0]["resources"], json!(["deployments"]));
    assert_eq!(role["metadata"]["labels"]["sesame.dev/login"], "sesame_alice_k2");

    // A ClusterRole found in the cluster, in a namespace.
    let found = grant("sesame_alice_k3", "namespace", "payments", "payments-reader").requested_by("alice@example.com");
    i.grant_access(&found, UNTIL).await.unwrap();
    assert!(k.can(ALICE, "list", "secrets", Some("payments")).await);

    // Revoking one grant leaves the others.
    i.revoke_access(&kind).await.unwrap();
    assert!(!k.can(ALICE, "delete", "deployments.apps", Some("web")).await);
    assert!(k.can(ALICE, "list", "pods", Some("web")).await, "the cluster grant is untouched");
    assert_eq!(i.list_managed_users().await.unwrap(), ["sesame_alice_k1", "sesame_alice_k3"]);
}

#[tokio::test]
async fn the_aws_auth_mapping_binds_the_email_itself() {
    let k = KubeFake::start().await;
    let i = eks(&k, json!({"auth_mode": "config_map"})).await;
    let p = grant("sesame_alice_m1", "namespace", "web", "view").requested_by("alice@example.com");
    i.grant_access(&p, UNTIL).await.unwrap();
    assert!(k.can("alice@example.com", "list", "pods", Some("web")).await);
    assert!(!k.can(ALICE, "list", "pods", Some("web")).await);
    assert_eq!(i.create_credentials(&p).await.unwrap().username, "alice@example.com");
}

#[tokio::test]
async fn an_extension_moves_the_deadline_on_the_cluster_and_expiry_removes_only_what_is_due() {
    let k = KubeFake::start().await;
    let i = eks(&k, json!({})).await;
    let now = Timestamp(1_800_000_000_000);
    let short = grant("sesame_alice_e1", "namespace", "web", "view").requested_by("alice@example.com");
    let long = grant("sesame_bob_e2", "namespace", "web", "edit").requested_by("bob@example.com");
    i.grant_access(&short, Timestamp(now.0 - 1)).await.unwrap();
    i.grant_access(&long, Timestamp(now.0 + 60_000)).await.unwrap();
    // Someone else's binding, even one that looks like Sesame's, is never touched.
    k.put("RoleBinding", "web", "team-binding", json!({"metadata": {"name": "team-binding", "namespace": "web", "annotations": {"sesame.dev/expires-at": "2001-01-01T00:00:00Z"}}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}, "subjects": []}));
    k.put("RoleBinding", "web", "other-sesame", json!({"metadata": {"name": "other-sesame", "namespace": "web", "labels": {"app.kubernetes.io/managed-by": "sesame", "sesame.dev/login": "othersesame_x_1"}}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}, "subjects": []}));

    let removed = i.expire(now).await.unwrap();
    assert_eq!(removed, ["RoleBinding web/sesame-alice-e1"]);
    assert!(!k.can(ALICE, "list", "pods", Some("web")).await, "past its deadline, gone");
    assert!(k.can("apono:bob@example.com", "delete", "pods", Some("web")).await, "not yet due, kept");
    assert!(k.object("RoleBinding", "web", "team-binding").is_some() && k.object("RoleBinding", "web", "other-sesame").is_some());
    assert_eq!(i.list_managed_users().await.unwrap(), ["sesame_bob_e2"], "another prefix is another integration's");

    // An extension grants again with the new deadline: the annotation moves, so expiry waits for it.
    i.grant_access(&long, Timestamp(now.0 + 3_600_000)).await.unwrap();
    let b = k.object("RoleBinding", "web", "sesame-bob-e2").unwrap();
    assert_eq!(b["metadata"]["annotations"]["sesame.dev/expires-at"], "2027-01-15T09:00:00Z");
    assert!(i.expire(Timestamp(now.0 + 120_000)).await.unwrap().is_empty());
    assert_eq!(i.expire(Timestamp(now.0 + 3_600_000)).await.unwrap(), ["RoleBinding web/sesame-bob-e2"]);
    // The control plane's revoke still comes, and finds nothing to do.
    i.revoke_access(&long).await.unwrap();
}

#[tokio::test]
async fn hostile_names_reach_neither_a_url_nor_a_selector() {
    let k = KubeFake::start().await;
    let i = eks(&k, json!({})).await;
    let before = writes(&k);
    let hostile = [
        grant("sesame_alice_h1", "namespace", "../../apis/rbac.authorization.k8s.io/v1/clusterrolebindings/x", "view"),
        grant("sesame_alice_h2", "namespace", "web?dryRun=All", "view"),
        grant("sesame_alice_h3", "namespace", "kube-system/rolebindings", "view"),
        grant("sesame_alice_h4", "cluster", "another-cluster", "cluster-admin"),
        grant("sesame_alice_h5", "namespace", "web", "system:node"),
        grant("sesame_alice_h6", "pods/exec", "web", "view"),
        grant("sesame_alice_h7,app.kubernetes.io/managed-by=sesame", "namespace", "web", "view"),
    ];
    for p in hostile {
        let p = p.requested_by("alice@example.com");
        let e = i.grant_access(&p, UNTIL).await.unwrap_err();
        assert!(matches!(e, IntegrationError::Invalid(_)), "{p:?}: {e}");
    }
    // A login that would widen the label selector of a revoke.
    for login in ["sesame_a,sesame.dev/login", "sesame_a=b", "sesame_a!=x", ""] {
        let p = grant(login, "namespace", "web", "view");
        assert!(matches!(i.revoke_access(&p).await, Err(IntegrationError::Invalid(_))), "{login}");
        assert!(matches!(i.delete_user(login).await, Err(IntegrationError::Invalid(_))), "{login}");
    }
    // A subject name that is not an e-mail STS would take as a session name.
    for email in ["alice@example.com\nx", "alice example.com", "a"] {
        let p = grant("sesame_alice_h8", "namespace", "web", "view").requested_by(email);
        assert!(matches!(i.grant_access(&p, UNTIL).await, Err(IntegrationError::Invalid(_))), "{email:?}");
    }
    assert_eq!(writes(&k), before, "nothing reached the API server");
    assert!(k.objects().is_empty());
}

#[tokio::test]
async fn a_down_api_server_is_retried_and_a_refused_token_is_a_misconfiguration() {
    let k = KubeFake::start().await;
    let i = eks(&k, json!({})).await;
    let p = grant("sesame_alice_d1", "namespace", "web", "view").requested_by("alice@example.com");
    k.set_down(true);
    let e = i.grant_access(&p, UNTIL).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(i.revoke_access(&p).await.unwrap_err().is_retryable());
    assert!(i.expire(Timestamp(0)).await.unwrap_err().is_retryable());
    k.set_down(false);
    i.grant_access(&p, UNTIL).await.unwrap();

    let dir = std::env::temp_dir().join(format!("sesame-eks-badtoken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), "not-the-token").unwrap();
    let decl: IntegrationDecl = serde_json::from_value(json!({
        "type": "eks", "name": "prod-eks", "cluster_name": "prod", "account_id": "123456789012", "server_url": k.url, "token": {"file": dir.join("token")},
    }))
    .unwrap();
    let wrong = Registry::new().with(sesame_aws::Aws).build(&decl).await.unwrap();
    let e = wrong.get_status().await.unwrap_err();
    assert!(matches!(e, IntegrationError::Misconfigured(ref m) if m.contains("token")), "{e}");
}

#[tokio::test]
async fn a_bad_configuration_is_refused_with_what_to_change() {
    let k = KubeFake::start().await;
    for (extra, says) in [
        (json!({"account_id": "12345"}), "12 digits"),
        (json!({"cluster_name": "prod;rm"}), "cluster name"),
        (json!({"username_prefix": "system:"}), "reserved"),
        (json!({"server_url": "ftp://x"}), "https://"),
        (json!({"server_url": "http://k8s.internal:6443"}), "plain http only to 127.0.0.1"),
        (json!({"resource_types": ["pods/exec"]}), "resource_types"),
        (json!({"certificate_authority": "not pem"}), "certificate_authority"),
    ] {
        let mut cfg = json!({"type": "eks", "name": "x", "cluster_name": "prod", "account_id": "123456789012", "server_url": k.url});
        cfg.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let decl: IntegrationDecl = serde_json::from_value(cfg).unwrap();
        let e = Registry::new().with(sesame_aws::Aws).build(&decl).await.err().expect("refused");
        assert!(matches!(e, IntegrationError::Misconfigured(ref m) if m.contains(says)), "{extra}: {e}");
    }
}

/// The access-entry variant: a per-grant IAM role (on moto) with an EKS
/// access entry and one access policy (on the EKS API stand-in, which
/// checks every request against the documented shapes).
#[tokio::test(flavor = "multi_thread")]
async fn access_policies_on_a_per_grant_role() {
    use sesame_testkit::eks_api::EksApi;
    let k = KubeFake::start().await;
    let moto = sesame_testkit::moto::moto(None).await;
    let api = EksApi::start(&["prod"]).await;
    let dir = std::env::temp_dir().join(format!("sesame-eks-ap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("key"), "testing").unwrap();
    let i = eks(&k, json!({
        "grant_mode": "access_policy", "endpoint_url": moto.url, "eks_endpoint_url": api.url,
        "access_key_id": {"file": dir.join("key")}, "secret_access_key": {"file": dir.join("key")},
    }))
    .await;
    let d = i.list_resources().await.unwrap();
    assert_eq!(d.permissions.keys().collect::<Vec<_>>(), ["cluster", "namespace"], "access policies grant on the cluster or namespaces");
    assert_eq!(d.permissions["namespace"].iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["view", "edit", "admin", "cluster-admin"]);

    let login = "sesame_alice_ap1";
    let role = format!("arn:aws:iam::123456789012:role/sesame-eks/{login}");
    let p = grant(login, "namespace", "web", "edit").on(&["web", "payments"]).requested_by("alice@example.com");
    i.grant_access(&p, UNTIL).await.unwrap();
    i.grant_access(&p, UNTIL).await.expect("grant again is a no-op");
    let entries = api.entries("prod");
    let e = &entries[&role];
    assert_eq!(e.username, "apono:{{SessionName}}");
    assert_eq!(e.tags["sesame:login"], login);
    assert_eq!(e.policies["arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"], json!({"type": "namespace", "namespaces": ["web", "payments"]}));
    let cli = |args: &[&str]| sesame_testkit::moto::aws_cli(&moto.url, ("testing", "testing"), args);
    let r = cli(&["iam", "get-role", "--role-name", login]);
    let trust = r["Role"]["AssumeRolePolicyDocument"].to_string();
    assert!(trust.contains("alice@example.com") && trust.contains("2100-01-01T00:00:00Z"), "only alice, until the deadline: {trust}");
    assert_eq!(i.list_managed_users().await.unwrap(), [login]);
    let c = i.create_credentials(&p).await.unwrap();
    assert_eq!(c.details["role_arn"], role);
    assert!(c.connect_command.as_deref().unwrap().contains("--source-identity alice@example.com"), "{c:?}");

    // The connector's own expiry: past the deadline, the entry and the role go.
    let removed = i.expire(Timestamp(UNTIL.0 + 1)).await.unwrap();
    assert_eq!(removed, [format!("access entry and role {login}")]);
    assert!(api.entries("prod").is_empty());
    i.revoke_access(&p).await.expect("revoking what is gone succeeds");
    assert!(i.list_managed_users().await.unwrap().is_empty());

    // A cluster grant, revoked by the control plane.
    let c2 = grant("sesame_alice_ap2", "cluster", "prod", "view").requested_by("alice@example.com");
    i.grant_access(&c2, UNTIL).await.unwrap();
    let scope = &api.entries("prod")["arn:aws:iam::123456789012:role/sesame-eks/sesame_alice_ap2"].policies["arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"];
    assert_eq!(scope["type"], "cluster");
    i.revoke_access(&c2).await.unwrap();
    assert!(api.entries("prod").is_empty() && i.list_managed_users().await.unwrap().is_empty());

    // Hostile input reaches neither API.
    let before = api.calls().len();
    for p in [grant("sesame_alice_ap3", "namespace", "../kube-system", "view"), grant("sesame_alice_ap3", "pods", "web", "view"), grant("sesame_alice_ap3", "cluster", "prod", "AmazonEKSClusterAdminPolicy")] {
        assert!(matches!(i.grant_access(&p.requested_by("alice@example.com"), UNTIL).await, Err(IntegrationError::Invalid(_))));
    }
    assert_eq!(api.calls().len(), before);
    assert!(!api.calls().iter().any(|c| c.starts_with("refused")), "every EKS call matched its documented shape: {:?}", api.calls());
    let _ = std::fs::remove_dir_all(dir);
}
