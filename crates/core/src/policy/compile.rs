//! Access units to IAM statements.

use crate::time::Timestamp;
use std::collections::BTreeMap;

/// One thing a grant gives, on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessUnit {
    /// An S3 bucket, read or read/write, with the customer-managed KMS key
    /// that encrypts it (found by GetBucketEncryption), if any.
    S3Bucket { bucket: String, write: bool, kms_key_arn: Option<String> },
    /// A Session Manager shell on one EC2 instance.
    Ec2Session { region: String, account: String, instance_id: String },
    /// Explicit actions on explicit ARNs (roles, queues, topics, secrets...).
    Actions { actions: Vec<String>, arns: Vec<String> },
}

/// One Allow statement: these actions on these resources, maybe with an
/// extra condition, always until the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// Extra condition (operator → key → value), besides the deadline.
    pub condition: BTreeMap<String, BTreeMap<String, String>>,
}

fn add(out: &mut Vec<Statement>, actions: &[&str], resource: String, condition: BTreeMap<String, BTreeMap<String, String>>) {
    let actions: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
    // Resources that share actions and condition share one statement.
    if let Some(s) = out.iter_mut().find(|s| s.actions == actions && s.condition == condition) {
        if !s.resources.contains(&resource) {
            s.resources.push(resource);
        }
        return;
    }
    out.push(Statement { actions, resources: vec![resource], condition });
}

/// Statements for `units`, merged by action set. The deadline condition is
/// added when the statements become documents ([`super::document`]).
pub fn compile(units: &[AccessUnit], _deadline: Timestamp) -> Vec<Statement> {
    let none = BTreeMap::new;
    let mut out = Vec::new();
    for u in units {
        match u {
            AccessUnit::S3Bucket { bucket, write, kms_key_arn } => {
                let bucket_arn = format!("arn:aws:s3:::{bucket}");
                add(&mut out, &["s3:GetBucketLocation", "s3:ListBucket"], bucket_arn.clone(), none());
                let objects = if *write {
                    &["s3:DeleteObject", "s3:GetObject", "s3:PutObject"][..]
                } else {
                    &["s3:GetObject"][..]
                };
                add(&mut out, objects, format!("{bucket_arn}/*"), none());
                if let Some(key) = kms_key_arn {
                    let kms = if *write { &["kms:Decrypt", "kms:GenerateDataKey"][..] } else { &["kms:Decrypt"][..] };
                    add(&mut out, kms, key.clone(), none());
                }
            }
            AccessUnit::Ec2Session { region, account, instance_id } => {
                add(&mut out, &["ssm:StartSession"], format!("arn:aws:ec2:{region}:{account}:instance/{instance_id}"), none());
                let check = BTreeMap::from([(
                    "BoolIfExists".to_owned(),
                    BTreeMap::from([("ssm:SessionDocumentAccessCheck".to_owned(), "true".to_owned())]),
                )]);
                add(&mut out, &["ssm:StartSession"], format!("arn:aws:ssm:{region}::document/SSM-SessionManagerRunShell"), check);
                // `${aws:userid}`, not `${aws:username}`: federated users have no user name.
                add(&mut out, &["ssm:ResumeSession", "ssm:TerminateSession"], format!("arn:aws:ssm:{region}:{account}:session/${{aws:userid}}-*"), none());
            }
            AccessUnit::Actions { actions, arns } => {
                let mut acts: Vec<&str> = actions.iter().map(String::as_str).collect();
                acts.sort_unstable();
                acts.dedup();
                for a in arns {
                    add(&mut out, &acts, a.clone(), none());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_share_statements_and_bring_their_keys() {
        let units = vec![
            AccessUnit::S3Bucket { bucket: "a".into(), write: false, kms_key_arn: Some("arn:aws:kms:eu-west-1:1:key/k1".into()) },
            AccessUnit::S3Bucket { bucket: "b".into(), write: false, kms_key_arn: None },
        ];
        let s = compile(&units, Timestamp(0));
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].resources, ["arn:aws:s3:::a", "arn:aws:s3:::b"]);
        assert_eq!(s[1].resources, ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"]);
        assert_eq!(s[1].actions, ["s3:GetObject"]);
        assert_eq!(s[2].actions, ["kms:Decrypt"]);
        let w = compile(&[AccessUnit::S3Bucket { bucket: "a".into(), write: true, kms_key_arn: Some("k".into()) }], Timestamp(0));
        assert!(w[1].actions.contains(&"s3:PutObject".to_string()));
        assert_eq!(w[2].actions, ["kms:Decrypt", "kms:GenerateDataKey"]);
    }

    #[test]
    fn ssm_session_is_minimal_and_uses_userid() {
        let s = compile(&[AccessUnit::Ec2Session { region: "eu-west-1".into(), account: "123456789012".into(), instance_id: "i-0abc".into() }], Timestamp(0));
        assert_eq!(s[0].resources, ["arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc"]);
        assert_eq!(s[1].condition["BoolIfExists"]["ssm:SessionDocumentAccessCheck"], "true");
        assert_eq!(s[2].resources, ["arn:aws:ssm:eu-west-1:123456789012:session/${aws:userid}-*"]);
        assert!(!format!("{s:?}").contains("aws:username"));
    }
}
