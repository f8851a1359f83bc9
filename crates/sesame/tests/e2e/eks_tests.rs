//! EKS from the binaries: `sesame eks setup` and `check` (the
//! once-per-cluster pieces, on moto), and the `eks` integration served by a
//! real `sesame connector` against the local Kubernetes API stand-in
//! (`sesame_testkit::kube`), including the connector's own expiry while
//! the control plane is down.

use crate::harness::{s, Harness, Opts, BIN};
use sesame_testkit::kube::KubeFake;
use std::process::Command;
use std::time::Duration;

/// `sesame eks ARGS` against the AWS endpoint at `url` (moto), with moto's credentials.
fn eks_at(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("eks")
        .args(args)
        .args(["--endpoint-url", url])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
}

fn setup(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(["eks", "setup"]).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn eks_setup_prints_the_policy_the_trust_and_the_mapping_and_refuses_hostile_names() {
    let (ok, out, err) = setup(&["--account", "123456789012", "--cluster", "prod-eu", "--region", "eu-west-1", "--saml-provider", "okta"]);
    assert!(ok, "{err}");
    for part in [
        "\"Action\": \"eks:DescribeCluster\"",
        "arn:aws:eks:*:123456789012:cluster/*",
        "arn:aws:iam::123456789012:saml-provider/okta",
        "aws eks create-access-entry --region eu-west-1 --cluster-name prod-eu --principal-arn arn:aws:iam::123456789012:role/apono-k8s-access --username 'apono:{{SessionName}}'",
        "Kubernetes user `apono:EMAIL`",
    ] {
        assert!(out.contains(part), "`{part}` in:\n{out}");
    }
    let (ok, out, _) = setup(&["--account", "123456789012", "--cluster", "prod-eu", "--auth", "config-map", "--role-name", "eks-people"]);
    assert!(ok && out.contains("- rolearn: arn:aws:iam::123456789012:role/eks-people\n  username: \"{{SessionNameRaw}}\""), "{out}");
    for (flag, value) in [("--cluster", "prod;id"), ("--account", "1234"), ("--username-prefix", "system:"), ("--saml-provider", "okta\"}")] {
        let args: Vec<&str> = match flag {
            "--cluster" => vec!["--account", "123456789012", "--cluster", value],
            "--account" => vec!["--account", value, "--cluster", "prod-eu"],
            _ => vec!["--account", "123456789012", "--cluster", "prod-eu", flag, value],
        };
        let (ok, out, err) = setup(&args);
        assert!(!ok && out.is_empty() && err.contains("is not valid"), "{flag} {value} refused, nothing printed: {out}{err}");
    }
}

/// `--apply` on moto: the role with the trust and the permissions printed,
/// the trust brought up to date when the federation changes, and nothing
/// else made.
#[tokio::test]
async fn eks_setup_applies_the_role_in_the_account_and_brings_it_up_to_date() {
    let m = crate::aws_common::moto(None).await;
    let apply = |extra: &[&str]| {
        let args = [&["setup", "--account", "123456789012", "--cluster", "prod-eu", "--region", "us-east-1", "--apply"], extra].concat();
        let out = eks_at(&m.url, &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let cli = |args: &[&str]| crate::aws_common::aws_cli(&m.url, crate::aws_common::TESTING, args);
    let out = apply(&[]);
    assert!(out.contains("created role `apono-k8s-access`") && out.contains("policy `describe-eks-clusters`"), "{out}");
    let role = cli(&["iam", "get-role", "--role-name", "apono-k8s-access"]);
    let trust = &role["Role"]["AssumeRolePolicyDocument"];
    assert_eq!(trust["Statement"][0]["Condition"]["StringEqualsIgnoreCase"]["sts:RoleSessionName"], "${SAML:sub}", "{role}");
    let policy = cli(&["iam", "get-role-policy", "--role-name", "apono-k8s-access", "--policy-name", "describe-eks-clusters"]);
    assert_eq!(policy["PolicyDocument"]["Statement"][0]["Action"], "eks:DescribeCluster", "{policy}");
    assert_eq!(policy["PolicyDocument"]["Statement"][0]["Resource"], "arn:aws:eks:*:123456789012:cluster/*");
    // Again, now through SAML: the same role, its trust replaced.
    let out = apply(&["--saml-provider", "okta"]);
    assert!(out.contains("role `apono-k8s-access` exists: its trust policy set"), "{out}");
    let trust = cli(&["iam", "get-role", "--role-name", "apono-k8s-access"])["Role"]["AssumeRolePolicyDocument"].clone();
    assert_eq!(trust["Statement"][0]["Principal"]["Federated"], "arn:aws:iam::123456789012:saml-provider/okta", "{trust}");
    let roles = cli(&["iam", "list-roles"]);
    assert_eq!(roles["Roles"].as_array().unwrap().len(), 1, "one role, made once: {roles}");
}

/// `sesame eks check` on moto (IAM) and the EKS API stand-in (the
/// cluster's access entry): a missing role, a trust for another
/// federation, a missing permission and a missing or different access
/// entry are each named, with what to do; the seed's way (a managed policy
/// attached) counts too.
#[tokio::test(flavor = "multi_thread")]
async fn eks_check_names_each_missing_piece() {
    let m = crate::aws_common::moto(None).await;
    let api = sesame_testkit::eks_api::EksApi::start(&["prod-eu"]).await;
    let run = |cmd: &str, extra: &[&str]| {
        let out = eks_at(&m.url, &[&[cmd, "--account", "123456789012", "--cluster", "prod-eu", "--eks-endpoint-url", &api.url], extra].concat());
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let cli = |args: &[&str]| crate::aws_common::aws_cli(&m.url, crate::aws_common::TESTING, args);
    let (ok, out) = run("check", &[]);
    assert!(!ok && out.contains("MISSING role `apono-k8s-access` is missing from account 123456789012: run `sesame eks setup ... --apply`"), "{out}");
    assert!(run("setup", &["--apply"]).0);
    let (ok, out) = run("check", &[]);
    assert!(!ok && out.contains("MISSING role `apono-k8s-access` has no access entry in cluster `prod-eu`: as a cluster admin, run: aws eks create-access-entry"), "{out}");
    assert!(out.contains("ok      cluster `prod-eu` authenticates through the EKS API"), "{out}");
    let role = "arn:aws:iam::123456789012:role/apono-k8s-access";
    api.put_entry("prod-eu", role, "someone-else");
    let (ok, out) = run("check", &[]);
    assert!(!ok && out.contains("MISSING its access entry maps it to `someone-else`, not `apono:{{SessionName}}`"), "{out}");
    api.put_entry("prod-eu", role, "apono:{{SessionName}}");
    let (ok, out) = run("check", &[]);
    assert!(ok && out.matches("ok ").count() == 5, "all in place: {out}");
    assert!(!api.calls().iter().any(|c| c.starts_with("refused")), "{:?}", api.calls());
    let out = eks_at(&m.url, &["check", "--account", "123456789012", "--cluster", "elsewhere", "--eks-endpoint-url", &api.url]);
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("MISSING cluster `elsewhere` is not in us-east-1 of account 123456789012"), "{out}");
    let (ok, out) = run("check", &["--saml-provider", "okta"]);
    assert!(!ok && out.contains("MISSING its trust policy does not let in people signed in through SAML provider `okta`"), "{out}");
    // Permissions the seed's way: a managed policy attached instead of the inline one.
    cli(&["iam", "delete-role-policy", "--role-name", "apono-k8s-access", "--policy-name", "describe-eks-clusters"]);
    let (ok, out) = run("check", &[]);
    assert!(!ok && out.contains("MISSING no policy on it allows eks:DescribeCluster"), "{out}");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"eks:DescribeCluster","Resource":"arn:aws:eks:*:123456789012:cluster/*"}]}"#;
    let created = cli(&["iam", "create-policy", "--policy-name", "apono-eks", "--policy-document", doc]);
    cli(&["iam", "attach-role-policy", "--role-name", "apono-k8s-access", "--policy-arn", created["Policy"]["Arn"].as_str().unwrap()]);
    let (ok, out) = run("check", &[]);
    assert!(ok, "an attached managed policy counts: {out}");
}

/// With `--auth config-map`, `eks check` reads the aws-auth ConfigMap
/// through the cluster's API: no ConfigMap, no entry for the role, and a
/// wrong username are each named with the entry to add; without
/// `--kube-server` it says what it did not check.
#[tokio::test(flavor = "multi_thread")]
async fn eks_check_reads_the_aws_auth_mapping_inside_the_cluster() {
    let m = crate::aws_common::moto(None).await;
    let k = KubeFake::start().await;
    let token = std::env::temp_dir().join(format!("sesame-kube-token-{}", crate::harness::rand_suffix(8)));
    std::fs::write(&token, format!("{}\n", k.token)).unwrap();
    let base = ["--account", "123456789012", "--cluster", "prod-eu", "--auth", "config-map"];
    assert!(eks_at(&m.url, &[&["setup", "--apply"][..], &base].concat()).status.success());
    let run = |extra: &[&str]| {
        let out = eks_at(&m.url, &[&["check"][..], &base, extra].concat());
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let kube = ["--kube-server", k.url.as_str(), "--kube-token-file", token.to_str().unwrap()];
    let (ok, out) = run(&[]);
    assert!(ok && out.contains("not checked: the aws-auth mapRoles entry") && out.contains("--kube-server"), "{out}");
    let (ok, out) = run(&kube);
    assert!(!ok && out.contains("MISSING the cluster has no aws-auth ConfigMap with mapRoles in kube-system"), "{out}");
    assert!(out.contains("username: \"{{SessionNameRaw}}\""), "the entry to add: {out}");
    let role = "arn:aws:iam::123456789012:role/apono-k8s-access";
    let put = |map_roles: &str| k.put("ConfigMap", "kube-system", "aws-auth", serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aws-auth", "namespace": "kube-system"}, "data": {"mapRoles": map_roles}}));
    put("- rolearn: arn:aws:iam::123456789012:role/node\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:nodes]\n");
    let (ok, out) = run(&kube);
    assert!(!ok && out.contains(&format!("MISSING aws-auth's mapRoles has no entry for `{role}`")), "{out}");
    put(&format!("- rolearn: {role}\n  username: admin\n"));
    let (ok, out) = run(&kube);
    assert!(!ok && out.contains(&format!("MISSING aws-auth maps `{role}` to `admin`, not `{{{{SessionNameRaw}}}}`")), "{out}");
    put(&format!("- rolearn: arn:aws:iam::123456789012:role/node\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n- rolearn: {role}\n  username: \"{{{{SessionNameRaw}}}}\"\n"));
    let (ok, out) = run(&kube);
    assert!(ok && out.contains(&format!("ok      aws-auth maps `{role}` to the Kubernetes user `{{{{SessionNameRaw}}}}`")), "{out}");
    // A token the API server refuses says so.
    std::fs::write(&token, "wrong").unwrap();
    let (ok, out) = run(&kube);
    assert!(!ok && out.contains("does not accept"), "{out}");
    let _ = std::fs::remove_file(token);
}

/// A control plane, a connector in the cluster's place serving `prod-eks`
/// (its token with the connector only), and the stand-in API server.
async fn eks_through_a_connector(k: &KubeFake) -> (Harness, std::process::Child) {
    let flows = format!(
        "\n[[connectors]]\nid = \"k8s\"\n\n[[integrations]]\ntype = \"remote\"\nname = \"prod-eks\"\nconnector = \"k8s\"\n{}",
        crate::harness::automatic_flow("eks-ns", "prod-eks", &["view", "edit"])
    );
    // A fixed address: the control plane comes back where the connector dials.
    let listen = format!("127.0.0.1:{}", sesame_testkit::oidc::free_port());
    let h = Harness::start("", Opts { extra_flows: flows, listen: Some(listen), ..Default::default() }).await;
    std::fs::write(h.dir.join("k8s-token"), &k.token).unwrap();
    let cfg = format!(
        "version = 1\nid = \"k8s\"\nexpiry_every_secs = 1\n\n[[integrations]]\ntype = \"eks\"\nname = \"prod-eks\"\ncluster_name = \"prod\"\naccount_id = \"123456789012\"\nregion = \"eu-west-1\"\nserver_url = \"{}\"\ntoken = {{ file = \"{}\" }}\nresource_types = [\"cluster\", \"namespace\", \"pods\"]\n",
        k.url,
        h.dir.join("k8s-token").display()
    );
    std::fs::write(h.dir.join("k8s-connector.toml"), cfg).unwrap();
    let conn = h.spawn_connector_as(1, "k8s", &h.dir.join("k8s-connector.toml"), &[&h.url]);
    let admin = h.token("admin@example.com");
    h.wait_until("the EKS connector to connect", Duration::from_secs(20), || async {
        h.connectors(&admin).await.as_array().unwrap().iter().any(|c| c["id"] == "k8s" && c["status"] == "CONNECTED")
    })
    .await;
    h.cli(&admin, &["inventory", "sync", "prod-eks"]);
    (h, conn)
}

fn ask(h: &Harness, token: &str, namespace: &str, perm: &str, duration: &str) -> serde_json::Value {
    h.cli(token, &[
        "requests", "create", "--integration", "prod-eks", "--resource-type", "namespace", "--resources", namespace, "--permission", perm,
        "--duration", duration, "--justification", "on call", "--wait",
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn an_eks_grant_through_a_connector_binds_the_requester_and_revoke_unbinds() {
    let k = KubeFake::start().await;
    let (h, mut conn) = eks_through_a_connector(&k).await;
    let dev = h.token("dev@example.com");
    let user = "apono:dev@example.com";
    let listed = h.cli(&dev, &["inventory", "resources", "prod-eks", "--type", "namespace"]).to_string();
    assert!(listed.contains("payments") && listed.contains("kube-system"), "{listed}");

    let r = ask(&h, &dev, "payments", "edit", "30m");
    assert_eq!(s(&r, "status"), "Active", "{r}");
    assert!(k.can(user, "delete", "pods", Some("payments")).await, "the grantee edits in the granted namespace");
    assert!(!k.can(user, "list", "pods", Some("web")).await, "and nowhere else");
    let b = k.object("RoleBinding", "payments", &s(&r, "username").replace('_', "-")).expect("the binding, named after the grant's login");
    assert_eq!(b["metadata"]["annotations"]["sesame.dev/requester"], "dev@example.com");

    let creds = h.cli(&dev, &["access", "use", &s(&r, "id")]);
    assert_eq!(s(&creds, "username"), user, "{creds}");
    let cmd = s(&creds, "connect_command");
    assert!(cmd.contains("aws sts assume-role --role-arn arn:aws:iam::123456789012:role/apono-k8s-access --role-session-name dev@example.com"), "{cmd}");
    assert!(cmd.contains("aws eks update-kubeconfig --region eu-west-1 --name prod"), "{cmd}");

    // A binding of Sesame's that no grant explains (left by a crash) is removed by the
    // reconciler, through the connector; one of another integration's prefix is not.
    let orphan = |login: &str| serde_json::json!({
        "metadata": {"name": login.replace('_', "-"), "namespace": "web", "labels": {"app.kubernetes.io/managed-by": "sesame", "sesame.dev/login": login}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "apono:mallory@example.com"}],
    });
    k.put("RoleBinding", "web", "sesame-orphan-left-by-a-crash", orphan("sesame_orphan_left_by_a_crash"));
    k.put("RoleBinding", "web", "other-team-x1", orphan("other_team_x1"));
    assert!(k.can("apono:mallory@example.com", "delete", "pods", Some("web")).await);
    h.wait_until("the reconciler to remove the orphan binding", Duration::from_secs(30), || async {
        k.object("RoleBinding", "web", "sesame-orphan-left-by-a-crash").is_none()
    })
    .await;
    assert!(k.object("RoleBinding", "web", "other-team-x1").is_some(), "another prefix is not Sesame's to remove");
    assert!(k.object("RoleBinding", "payments", &s(&r, "username").replace('_', "-")).is_some(), "the live grant is explained");
    let admin = h.token("admin@example.com");
    let audit = h.cli(&admin, &["audit", "--limit", "200"]).to_string();
    assert!(audit.contains("reconcile.revoke") && audit.contains("sesame_orphan_left_by_a_crash"), "{audit}");

    assert_eq!(s(&h.cli(&dev, &["requests", "revoke", &s(&r, "id"), "--wait"]), "status"), "Revoked");
    assert!(!k.can(user, "delete", "pods", Some("payments")).await, "the binding outlived revoke");
    assert_eq!(k.objects(), ["RoleBinding web/other-team-x1"]);
    let grants = k.seen().iter().filter(|x| x.method == "PATCH").count();
    assert_eq!(grants, 1, "one binding applied once");
    conn.kill().unwrap();
    conn.wait().unwrap();
    h.finish().await;
}

/// Kubernetes bindings never expire by themselves: the connector removes
/// them at their deadline on its own clock, with the control plane gone.
#[tokio::test(flavor = "multi_thread")]
async fn the_connector_ends_an_eks_grant_at_its_deadline_while_the_control_plane_is_down() {
    let k = KubeFake::start().await;
    let (mut h, mut conn) = eks_through_a_connector(&k).await;
    let dev = h.token("dev@example.com");
    let user = "apono:dev@example.com";
    let r = ask(&h, &dev, "web", "view", "8s");
    assert_eq!(s(&r, "status"), "Active", "{r}");
    assert!(k.can(user, "list", "pods", Some("web")).await);
    h.kill_server();
    let took = h
        .wait_until("the connector to remove the binding on its own", Duration::from_secs(30), || async { k.objects().is_empty() })
        .await;
    assert!(!k.can(user, "list", "pods", Some("web")).await);
    let log = std::fs::read_to_string(h.dir.join("connector-1.log")).unwrap();
    assert!(log.contains("removed access past its deadline"), "{log}");
    eprintln!("removed {took:?} after the control plane was killed");
    // The control plane comes back: its revoke runs and finds nothing left to do.
    h.spawn_server();
    let admin = h.token("admin@example.com");
    let id = s(&r, "id");
    h.wait_until("the request to end Revoked", Duration::from_secs(30), || async { s(&h.cli(&admin, &["requests", "show", &id]), "status") == "Revoked" }).await;
    assert!(k.objects().is_empty());
    conn.kill().unwrap();
    conn.wait().unwrap();
    h.finish().await;
}
