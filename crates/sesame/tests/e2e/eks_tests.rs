//! `sesame eks setup`: the once-per-cluster documents, from the binary.

use crate::harness::BIN;
use std::process::Command;

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
