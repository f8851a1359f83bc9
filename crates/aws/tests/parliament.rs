//! Every policy document the compiler makes passes parliament (PyPI) with no
//! findings (one documented exception in fixtures/parliament_check.py).

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sesame_core::policy::{compile, deny_after, pack, statements_of, trust_policy, AccessUnit, Federation, Quotas, Target};
use sesame_core::Timestamp;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn generated_policies_pass_parliament() {
    let venv = std::env::var("SESAME_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/sesame-moto-venv"));
    let python = venv.join("bin/python");
    assert!(python.exists(), "{} is missing: run scripts/test (it installs moto and parliament)", python.display());
    let deadline = Timestamp(1_795_687_200_000);
    let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".to_string();
    let cases: Vec<(&str, Vec<AccessUnit>, Target, usize)> = vec![
        (
            "thousand-buckets",
            (0..1000).map(|i| AccessUnit::S3Bucket { bucket: format!("team-data-bucket-{i:05}"), write: false, kms_key_arn: None }).collect(),
            Target::Role,
            20,
        ),
        (
            "buckets-with-keys",
            vec![
                AccessUnit::S3Bucket { bucket: "reports".into(), write: false, kms_key_arn: Some(key.clone()) },
                AccessUnit::S3Bucket { bucket: "uploads".into(), write: true, kms_key_arn: Some(key) },
            ],
            Target::User,
            10,
        ),
        (
            "ssm-session",
            vec![
                AccessUnit::Ec2Session { region: "eu-west-1".into(), account: "123456789012".into(), instance_id: "i-0123456789abcdef0".into(), federated: false },
                AccessUnit::Ec2Session { region: "eu-west-1".into(), account: "123456789012".into(), instance_id: "i-0123456789abcdef1".into(), federated: true },
            ],
            Target::PermissionSet,
            20,
        ),
        (
            "explicit",
            vec![
                AccessUnit::Actions { actions: vec!["sqs:SendMessage".into(), "sqs:ReceiveMessage".into()], arns: vec!["arn:aws:sqs:eu-west-1:123456789012:orders".into()] },
                AccessUnit::Actions { actions: vec!["secretsmanager:GetSecretValue".into()], arns: vec!["arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf".into()] },
            ],
            Target::Role,
            10,
        ),
    ];
    // A copied customer policy (its condition and Deny kept) and the deadline Deny of permission sets.
    let copied = statements_of(&serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:ReceiveMessage"], "Resource": "arn:aws:sqs:us-east-1:123456789012:orders",
         "Condition": {"StringEquals": {"aws:RequestedRegion": ["us-east-1"]}}},
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "arn:aws:sqs:us-east-1:123456789012:orders",
         "Condition": {"DateLessThan": {"aws:CurrentTime": "2099-01-01T00:00:00Z"}}},
        {"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "arn:aws:sqs:us-east-1:123456789012:orders"}]}))
    .unwrap();
    let mut extra: Vec<(String, serde_json::Value)> = Vec::new();
    // Every plain-action permission aws-account offers, on an ARN of its type.
    let sample = |t: &str| match t {
        "iam_role" => "arn:aws:iam::123456789012:role/data-analyst",
        "rds_instance" => "arn:aws:rds:eu-west-1:123456789012:db:orders-db",
        "redshift_cluster" => "arn:aws:redshift:eu-west-1:123456789012:cluster:warehouse",
        "secret" => "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/api-key-AbCdEf",
        "sns_topic" => "arn:aws:sns:eu-west-1:123456789012:alerts",
        "sqs_queue" => "arn:aws:sqs:eu-west-1:123456789012:orders",
        "ec2_instance" => "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc1234def567890",
        other => panic!("no sample ARN for {other}"),
    };
    for t in sesame_aws::account::RESOURCE_TYPES {
        for p in sesame_aws::account::permissions(t) {
            if let Some(actions) = sesame_aws::account::actions_of(t, &p.id) {
                let unit = AccessUnit::Actions { actions: actions.iter().map(|a| a.to_string()).collect(), arns: vec![sample(t).to_owned()] };
                let doc = pack(&compile(&[unit], deadline), deadline, Quotas::for_target(Target::User, 10)).unwrap().inline.unwrap();
                extra.push((format!("{t}-{}", p.id), doc));
            }
        }
    }
    // Grants by tag and of every resource of a type: ARN patterns with their condition.
    let tag = |k: &str, v: &str, acct: bool| {
        let mut eq = std::collections::BTreeMap::from([(format!("aws:ResourceTag/{k}"), serde_json::json!(v))]);
        if acct {
            eq.insert("aws:ResourceAccount".into(), serde_json::json!("123456789012"));
        }
        std::collections::BTreeMap::from([("StringEquals".to_owned(), eq)])
    };
    let selected = vec![
        AccessUnit::Selected {
            actions: vec!["s3:GetBucketLocation".into(), "s3:GetObject".into(), "s3:ListBucket".into()],
            patterns: vec!["arn:aws:s3:::*".into(), "arn:aws:s3:::*/*".into()],
            condition: tag("team", "payments", true),
        },
        AccessUnit::Selected { actions: vec!["sqs:SendMessage".into(), "sqs:GetQueueUrl".into()], patterns: vec!["arn:aws:sqs:*:123456789012:*".into()], condition: tag("team", "payments", false) },
        AccessUnit::Selected { actions: vec!["secretsmanager:GetSecretValue".into()], patterns: vec!["arn:aws:secretsmanager:*:123456789012:secret:*".into()], condition: Default::default() },
    ];
    extra.push(("selected-by-tag".into(), pack(&compile(&selected, deadline), deadline, Quotas::for_target(Target::User, 10)).unwrap().inline.unwrap()));
    let mut with_deny = compile(&[AccessUnit::Copied { statements: copied }], deadline);
    with_deny.push(deny_after(deadline));
    extra.push(("copied-with-deadline-deny".into(), pack(&with_deny, deadline, Quotas::for_target(Target::PermissionSet, 0)).unwrap().inline.unwrap()));
    extra.push(("trust-identity-center".into(), trust_policy(&Federation::IdentityCenter, "123456789012", "alice@example.com", deadline)));
    extra.push((
        "trust-saml".into(),
        trust_policy(&Federation::Saml { provider_arn: "arn:aws:iam::123456789012:saml-provider/okta".into() }, "123456789012", "alice@example.com", deadline),
    ));
    // EKS access: the role's permissions and its trust, both federations.
    use sesame_aws::eks::setup::{Federation as EksFederation, Mapping, Setup};
    let eks = |federation| Setup {
        account: "123456789012".into(),
        cluster: "prod-eu".into(),
        region: "eu-west-1".into(),
        role: "apono-k8s-access".into(),
        federation,
        mapping: Mapping::AccessEntry,
        user_prefix: "apono:".into(),
    };
    extra.push(("eks-permissions".into(), eks(EksFederation::IdentityCenter).permissions_policy()));
    extra.push(("trust-eks-identity-center".into(), eks(EksFederation::IdentityCenter).trust_policy()));
    extra.push(("trust-eks-saml".into(), eks(EksFederation::Saml { provider: "okta".into() }).trust_policy()));
    let dir = std::env::temp_dir().join(format!("sesame-parliament-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (name, units, target, managed) in cases {
        let placement = pack(&compile(&units, deadline), deadline, Quotas::for_target(target, managed)).unwrap();
        for (i, doc) in placement.inline.iter().chain(&placement.managed).enumerate() {
            let f = dir.join(format!("{name}-{i}.json"));
            std::fs::write(&f, serde_json::to_string_pretty(doc).unwrap()).unwrap();
            files.push(f);
        }
    }
    for (name, doc) in extra {
        let f = dir.join(format!("{name}.json"));
        std::fs::write(&f, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        files.push(f);
    }
    let out = Command::new(&python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parliament_check.py"))
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "parliament failed to run: {}", String::from_utf8_lossy(&out.stderr));
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(findings.as_object().unwrap().len(), files.len());
    let bad: Vec<String> = findings.as_object().unwrap().iter().filter(|(_, f)| *f != &serde_json::json!([])).map(|(file, f)| format!("{file}: {f}")).collect();
    assert!(bad.is_empty(), "parliament findings:\n{}", bad.join("\n"));
    let _ = std::fs::remove_dir_all(dir);
}
