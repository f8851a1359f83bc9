//! `sesame eks setup`: the once-per-cluster documents, from the binary.

use crate::harness::BIN;
use std::process::Command;

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

/// `sesame eks check` on moto: a missing role, a trust for another
/// federation and a missing permission are each named, with what to do;
/// the seed's way (a managed policy attached) counts too.
#[tokio::test]
async fn eks_check_names_each_missing_piece() {
    let m = crate::aws_common::moto(None).await;
    let run = |cmd: &str, extra: &[&str]| {
        let out = eks_at(&m.url, &[&[cmd, "--account", "123456789012", "--cluster", "prod-eu"], extra].concat());
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let cli = |args: &[&str]| crate::aws_common::aws_cli(&m.url, crate::aws_common::TESTING, args);
    let (ok, out) = run("check", &[]);
    assert!(!ok && out.contains("MISSING role `apono-k8s-access` is missing from account 123456789012: run `sesame eks setup ... --apply`"), "{out}");
    assert!(run("setup", &["--apply"]).0);
    let (ok, out) = run("check", &[]);
    assert!(ok && out.matches("ok ").count() == 3, "all in place: {out}");
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
