//! Access units to IAM statements.

use crate::time::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;

/// One thing a grant gives, on one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum AccessUnit {
    /// An S3 bucket, read or read/write, with the customer-managed KMS key
    /// that encrypts it (found by GetBucketEncryption), if any.
    S3Bucket { bucket: String, write: bool, kms_key_arn: Option<String> },
    /// A Session Manager shell on one EC2 instance.
    /// `federated`: the grantee works through an assumed role (Identity
    /// Center, SAML), whose session ids start with `${aws:userid}`; an IAM
    /// user's start with `${aws:username}`.
    Ec2Session { region: String, account: String, instance_id: String, federated: bool },
    /// Explicit actions on explicit ARNs (roles, queues, topics, secrets...).
    Actions { actions: Vec<String>, arns: Vec<String> },
    /// The statements of an existing policy (an IAM policy or a group's
    /// policies), copied so that each Allow also ends at the deadline.
    Copied { statements: Vec<Statement> },
    /// Actions on ARN patterns, limited by a condition: a grant by tag
    /// (`aws:ResourceTag/KEY`) or of every resource of a type in the
    /// account ([`super::Selector`]).
    Selected { actions: Vec<String>, patterns: Vec<String>, condition: BTreeMap<String, BTreeMap<String, Value>> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement. Allow statements always end at the deadline: the
/// condition is added when statements become documents ([`super::document`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub effect: Effect,
    pub actions: Vec<String>,
    /// `NotAction` instead of `Action`.
    pub not_actions: bool,
    pub resources: Vec<String>,
    /// `NotResource` instead of `Resource`: such a statement is never split.
    pub not_resources: bool,
    /// Extra condition (operator → key → value), besides the deadline.
    pub condition: BTreeMap<String, BTreeMap<String, Value>>,
}

impl Statement {
    pub fn allow(actions: Vec<String>, resources: Vec<String>) -> Statement {
        Statement { effect: Effect::Allow, actions, not_actions: false, resources, not_resources: false, condition: BTreeMap::new() }
    }

    /// Same effect, actions and condition: resources can be merged.
    pub fn same_shape(&self, o: &Statement) -> bool {
        !self.not_resources
            && !o.not_resources
            && self.effect == o.effect
            && self.actions == o.actions
            && self.not_actions == o.not_actions
            && self.condition == o.condition
    }
}

/// Statements of an existing identity-based policy document, for copying.
/// Statements with a principal (resource policies) are refused.
pub fn statements_of(doc: &Value) -> Result<Vec<Statement>, String> {
    let list = match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        o @ Value::Object(_) => vec![o.clone()],
        _ => return Err("the policy has no Statement".into()),
    };
    let strings = |v: &Value, what: &str| -> Result<Vec<String>, String> {
        match v {
            Value::String(s) => Ok(vec![s.clone()]),
            Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_owned).ok_or_else(|| format!("`{what}` holds a non-string"))).collect(),
            _ => Err(format!("`{what}` must be a string or a list")),
        }
    };
    list.iter()
        .map(|s| {
            if s.get("Principal").is_some() || s.get("NotPrincipal").is_some() {
                return Err("a statement names a principal: only identity-based policies can be granted".into());
            }
            let effect = match s["Effect"].as_str() {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                _ => return Err("a statement's Effect is neither Allow nor Deny".into()),
            };
            let (actions, not_actions) = match (s.get("Action"), s.get("NotAction")) {
                (Some(a), None) => (strings(a, "Action")?, false),
                (None, Some(a)) => (strings(a, "NotAction")?, true),
                _ => return Err("a statement needs exactly one of Action and NotAction".into()),
            };
            let (resources, not_resources) = match (s.get("Resource"), s.get("NotResource")) {
                (Some(r), None) => (strings(r, "Resource")?, false),
                (None, Some(r)) => (strings(r, "NotResource")?, true),
                _ => return Err("a statement needs exactly one of Resource and NotResource".into()),
            };
            let mut condition = BTreeMap::new();
            if let Some(c) = s.get("Condition") {
                let ops = c.as_object().ok_or("`Condition` must be an object")?;
                for (op, kv) in ops {
                    let kv = kv.as_object().ok_or("a condition operator must hold an object")?;
                    condition.insert(op.clone(), kv.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
                }
            }
            Ok(Statement { effect, actions, not_actions, resources, not_resources, condition })
        })
        .collect()
}

fn add(out: &mut Vec<Statement>, actions: &[&str], resource: String, condition: BTreeMap<String, BTreeMap<String, Value>>) {
    let mut s = Statement::allow(actions.iter().map(|a| a.to_string()).collect(), vec![]);
    s.condition = condition;
    // Resources that share actions and condition share one statement.
    if let Some(x) = out.iter_mut().find(|x| x.same_shape(&s)) {
        if !x.resources.contains(&resource) {
            x.resources.push(resource);
        }
        return;
    }
    s.resources.push(resource);
    out.push(s);
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
            AccessUnit::Ec2Session { region, account, instance_id, federated } => {
                add(&mut out, &["ssm:StartSession"], format!("arn:aws:ec2:{region}:{account}:instance/{instance_id}"), none());
                let check = BTreeMap::from([(
                    "BoolIfExists".to_owned(),
                    BTreeMap::from([("ssm:SessionDocumentAccessCheck".to_owned(), Value::String("true".to_owned()))]),
                )]);
                add(&mut out, &["ssm:StartSession"], format!("arn:aws:ssm:{region}::document/SSM-SessionManagerRunShell"), check);
                // Only one's own sessions: Session Manager names a session after
                // who started it — an IAM user's name, or an assumed role's
                // `${aws:userid}` (federated users have no user name).
                let owner = if *federated { "${aws:userid}" } else { "${aws:username}" };
                add(&mut out, &["ssm:ResumeSession", "ssm:TerminateSession"], format!("arn:aws:ssm:{region}:{account}:session/{owner}-*"), none());
            }
            AccessUnit::Actions { actions, arns } => {
                let mut acts: Vec<&str> = actions.iter().map(String::as_str).collect();
                acts.sort_unstable();
                acts.dedup();
                for a in arns {
                    add(&mut out, &acts, a.clone(), none());
                }
            }
            AccessUnit::Selected { actions, patterns, condition } => {
                let mut acts: Vec<&str> = actions.iter().map(String::as_str).collect();
                acts.sort_unstable();
                acts.dedup();
                for p in patterns {
                    add(&mut out, &acts, p.clone(), condition.clone());
                }
            }
            AccessUnit::Copied { statements } => {
                for s in statements {
                    match out.iter_mut().find(|x| x.same_shape(s)) {
                        Some(x) => {
                            for r in &s.resources {
                                if !x.resources.contains(r) {
                                    x.resources.push(r.clone());
                                }
                            }
                        }
                        None => out.push(s.clone()),
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn ssm_session_is_minimal_and_names_the_sessions_owner_per_delivery() {
        let unit = |federated| AccessUnit::Ec2Session { region: "eu-west-1".into(), account: "123456789012".into(), instance_id: "i-0abc".into(), federated };
        let s = compile(&[unit(true)], Timestamp(0));
        assert_eq!(s[0].resources, ["arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc"]);
        assert_eq!(s[1].condition["BoolIfExists"]["ssm:SessionDocumentAccessCheck"], "true");
        assert_eq!(s[2].resources, ["arn:aws:ssm:eu-west-1:123456789012:session/${aws:userid}-*"]);
        assert!(!format!("{s:?}").contains("aws:username"));
        // A per-grant IAM user: its sessions are named `<user name>-<id>`.
        let s = compile(&[unit(false)], Timestamp(0));
        assert_eq!(s[2].resources, ["arn:aws:ssm:eu-west-1:123456789012:session/${aws:username}-*"]);
        assert!(!format!("{s:?}").contains("aws:userid"));
    }

    #[test]
    fn a_grant_by_tag_is_one_statement_per_action_set_with_its_condition() {
        let tag = |k: &str, v: &str| BTreeMap::from([("StringEquals".to_owned(), BTreeMap::from([(format!("aws:ResourceTag/{k}"), json!(v))]))]);
        let units = vec![
            AccessUnit::Selected { actions: vec!["sqs:SendMessage".into(), "sqs:GetQueueUrl".into()], patterns: vec!["arn:aws:sqs:*:123456789012:*".into()], condition: tag("team", "pay") },
            AccessUnit::Selected { actions: vec!["sqs:GetQueueUrl".into(), "sqs:SendMessage".into()], patterns: vec!["arn:aws:sqs:*:123456789012:*".into()], condition: tag("team", "ops") },
            AccessUnit::Actions { actions: vec!["sqs:SendMessage".into(), "sqs:GetQueueUrl".into()], arns: vec!["arn:aws:sqs:us-east-1:123456789012:q".into()] },
        ];
        let s = compile(&units, Timestamp(0));
        assert_eq!(s.len(), 3, "two tags and one name never share a statement: {s:?}");
        assert_eq!((s[0].resources.clone(), s[0].condition["StringEquals"]["aws:ResourceTag/team"].clone()), (vec!["arn:aws:sqs:*:123456789012:*".to_string()], json!("pay")));
        assert_eq!(s[0].actions, ["sqs:GetQueueUrl", "sqs:SendMessage"]);
        assert!(s[2].condition.is_empty());
    }

    #[test]
    fn existing_policies_are_copied_statement_by_statement() {
        let doc = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": ["arn:aws:sqs:us-east-1:1:q"],
             "Condition": {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}},
            {"Effect": "Deny", "NotAction": ["iam:*"], "NotResource": "arn:aws:iam::1:role/x"}
        ]});
        let s = statements_of(&doc).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].condition["StringEquals"]["aws:RequestedRegion"], json!(["us-east-1", "eu-west-1"]));
        assert!(s[1].not_actions && s[1].not_resources && s[1].effect == Effect::Deny);
        assert!(!s[1].same_shape(&s[1].clone()), "NotResource statements are never merged");
        let bad = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]});
        assert!(statements_of(&bad).unwrap_err().contains("principal"));
        assert!(statements_of(&json!({"Statement": [{"Effect": "Allow", "Resource": "*"}]})).is_err());
    }
}
