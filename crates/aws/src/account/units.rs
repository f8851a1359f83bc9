//! What each resource type offers, and the access units a grant compiles
//! to. Existing IAM policies (and a group's policies) are copied statement
//! by statement so that each Allow also ends at the deadline.

use super::discover::arn_parts;
use super::{sdk_err, AwsAccount};
use sesame_core::policy::{statements_of, AccessUnit, Selector};
use serde_json::Value;
use std::collections::BTreeMap;
use sesame_integrations::IntegrationError;
use sesame_proto::PermissionInfo;

pub const RESOURCE_TYPES: [&str; 10] =
    ["iam_role", "iam_group", "iam_policy", "s3_bucket", "ec2_instance", "rds_instance", "redshift_cluster", "secret", "sns_topic", "sqs_queue"];

/// (permission id, display name, actions) per resource type. S3, EC2
/// sessions, IAM policies and groups are compiled specially (see
/// [`AwsAccount::units`]).
fn table(resource_type: &str) -> &'static [(&'static str, &'static str, &'static [&'static str])] {
    match resource_type {
        "iam_role" => &[("assume", "Assume the role", &["sts:AssumeRole"])],
        "iam_group" => &[("member", "The group's permissions", &[])],
        "iam_policy" => &[("attach", "The policy's permissions", &[])],
        "s3_bucket" => &[("read_only", "Read objects", &[]), ("read_write", "Read and write objects", &[])],
        // The seed's "EC2 Manage": the instance's own life cycle, on its ARN
        // (DescribeInstances only takes "*", which would reach every instance).
        "ec2_instance" => &[
            ("session", "Shell through Session Manager", &[]),
            ("manage", "Manage: start, stop and reboot", &["ec2:RebootInstances", "ec2:StartInstances", "ec2:StopInstances"]),
        ],
        "rds_instance" => &[
            ("describe", "Describe the instance", &["rds:DescribeDBInstances", "rds:ListTagsForResource"]),
            ("operate", "Describe, start, stop and reboot", &["rds:DescribeDBInstances", "rds:ListTagsForResource", "rds:RebootDBInstance", "rds:StartDBInstance", "rds:StopDBInstance"]),
        ],
        // DescribeClusters only takes "*", which would reach other clusters.
        "redshift_cluster" => &[("operate", "Pause, resume and reboot", &["redshift:PauseCluster", "redshift:RebootCluster", "redshift:ResumeCluster"])],
        "secret" => &[("read", "Read the secret value", &["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"])],
        "sns_topic" => &[
            ("publish", "Publish messages", &["sns:GetTopicAttributes", "sns:Publish"]),
            ("subscribe", "Subscribe", &["sns:GetTopicAttributes", "sns:Subscribe"]),
        ],
        "sqs_queue" => &[
            ("consume", "Receive and delete messages", &["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]),
            ("send", "Send messages", &["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]),
        ],
        _ => &[],
    }
}

/// The actions of a permission that is a plain action list (`None` for the
/// ones compiled specially: S3, EC2, IAM policies and groups).
pub fn actions_of(resource_type: &str, permission: &str) -> Option<&'static [&'static str]> {
    table(resource_type).iter().find(|(id, _, _)| *id == permission).map(|(_, _, a)| *a).filter(|a| !a.is_empty())
}

/// How much a permission hands out (AQL's `permission_risk_level`): reading
/// is low, acting on one resource medium, reading secrets, writing data,
/// roles, policies and groups (whatever they hold) and a shell high.
fn risk_of(resource_type: &str, permission: &str) -> &'static str {
    match (resource_type, permission) {
        ("s3_bucket", "read_only") | ("rds_instance", "describe") => "low",
        ("sns_topic" | "sqs_queue", _) | ("rds_instance" | "redshift_cluster" | "ec2_instance", "operate" | "manage") => "medium",
        _ => "high",
    }
}

/// Whether a permission is granted on selected resources too (`*`, a tag):
/// the services of these types evaluate `aws:ResourceTag` on its actions.
/// S3 and EC2 sessions, IAM policies and groups are granted by name only
/// (their policies or sessions are not selected by tag).
pub fn selectable(resource_type: &str, permission: &str) -> bool {
    match resource_type {
        "s3_bucket" | "sqs_queue" | "sns_topic" | "secret" | "rds_instance" | "redshift_cluster" | "iam_role" => true,
        "ec2_instance" => permission == "manage",
        _ => false,
    }
}

pub fn permissions(resource_type: &str) -> Vec<PermissionInfo> {
    table(resource_type)
        .iter()
        .map(|(id, name, _)| PermissionInfo { id: (*id).into(), name: (*name).into(), risk_level: Some(risk_of(resource_type, id).into()), selectable: selectable(resource_type, id) })
        .collect()
}

fn unknown_permission(resource_type: &str, permission: &str) -> IntegrationError {
    let offered: Vec<&str> = table(resource_type).iter().map(|(id, _, _)| *id).collect();
    if offered.is_empty() {
        return IntegrationError::Invalid(format!("unknown resource type `{resource_type}`: use one of {}", RESOURCE_TYPES.join(", ")));
    }
    IntegrationError::Invalid(format!("unknown permission `{permission}` on {resource_type}: use {}", offered.join(" or ")))
}

fn own(actions: &[&str]) -> Vec<String> {
    actions.iter().map(|a| (*a).to_owned()).collect()
}

fn decode_document(raw: &str) -> Result<serde_json::Value, IntegrationError> {
    // IAM returns documents percent-encoded.
    let text = percent_decode(raw);
    serde_json::from_str(&text).map_err(|e| IntegrationError::Invalid(format!("an IAM policy document is not JSON: {e}")))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

impl AwsAccount {
    /// The units of a grant of `permission` on `resources` of `resource_type`.
    pub(super) async fn units(&self, resource_type: &str, permission: &str, resources: &[String]) -> Result<Vec<AccessUnit>, IntegrationError> {
        let actions = table(resource_type)
            .iter()
            .find(|(id, _, _)| *id == permission)
            .map(|(_, _, a)| *a)
            .ok_or_else(|| unknown_permission(resource_type, permission))?;
        let mut units = Vec::new();
        let (selected, named): (Vec<&String>, Vec<&String>) = resources.iter().partition(|r| Selector::parse(r).is_some());
        for r in selected {
            let sel = Selector::parse(r).unwrap_or_else(|| Err(String::new())).map_err(IntegrationError::Invalid)?;
            units.push(self.selected_unit(resource_type, permission, actions, &sel).await?);
        }
        let named: Vec<String> = named.into_iter().cloned().collect();
        let keys = if resource_type == "s3_bucket" { self.bucket_keys(&named).await } else { Default::default() };
        for r in &named {
            match resource_type {
                "s3_bucket" => units.push(AccessUnit::S3Bucket { bucket: r.clone(), write: permission == "read_write", kms_key_arn: keys.get(r).cloned().flatten() }),
                "ec2_instance" => {
                    let (region, account) = arn_parts(r);
                    let instance_id = r.rsplit('/').next().unwrap_or_default().to_owned();
                    // Every part lands in an IAM ARN, where `*` and `?` are wildcards:
                    // only the shapes AWS gives them pass.
                    let plain = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                    let hex_id = instance_id.strip_prefix("i-").is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()));
                    if !plain(&region) || account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) || !hex_id {
                        return Err(IntegrationError::Invalid(format!("`{r}` is not an EC2 instance ARN")));
                    }
                    if permission == "manage" {
                        let arn = format!("arn:aws:ec2:{region}:{account}:instance/{instance_id}");
                        units.push(AccessUnit::Actions { actions: actions.iter().map(|a| a.to_string()).collect(), arns: vec![arn] });
                        continue;
                    }
                    let federated = self.cfg.delivery != super::Delivery::IamUser;
                    units.push(AccessUnit::Ec2Session { region, account, instance_id, federated });
                }
                "iam_policy" => units.push(AccessUnit::Copied { statements: self.policy_statements(r).await? }),
                "iam_group" => units.extend(self.group_units(r).await?),
                _ => {
                    if !r.starts_with("arn:") {
                        return Err(IntegrationError::Invalid(format!("`{r}` is not an ARN: {resource_type} resources are named by ARN")));
                    }
                    if r.contains(['*', '?']) {
                        return Err(IntegrationError::Invalid(format!("`{r}` holds an IAM wildcard (`*` or `?`): name one resource by its exact ARN")));
                    }
                    units.push(AccessUnit::Actions { actions: actions.iter().map(|a| a.to_string()).collect(), arns: vec![r.clone()] });
                }
            }
        }
        Ok(units)
    }

    /// A grant by selector: the type's actions on an ARN pattern of this
    /// account, with `aws:ResourceTag/KEY` for a tag. Only types whose
    /// services evaluate resource tags on these actions take one.
    async fn selected_unit(&self, resource_type: &str, permission: &str, actions: &[&str], sel: &Selector) -> Result<AccessUnit, IntegrationError> {
        let account = self.account_id().await?;
        let mut condition: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        let mut equals = BTreeMap::new();
        if let Some((k, v)) = sel.tag() {
            equals.insert(format!("aws:ResourceTag/{k}"), Value::String(v.to_owned()));
        }
        if !selectable(resource_type, permission) {
            return Err(IntegrationError::Invalid(format!(
                "`{sel}`: {resource_type} {permission} is granted on named resources only (its policies or sessions are not selected by tag): name them"
            )));
        }
        let (actions, patterns): (Vec<String>, Vec<String>) = match resource_type {
            "s3_bucket" => {
                // Bucket ARNs name no account: the condition does.
                equals.insert("aws:ResourceAccount".into(), Value::String(account.clone()));
                let mut a = vec!["s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket"];
                if permission == "read_write" {
                    a.extend(["s3:DeleteObject", "s3:PutObject"]);
                }
                (a.into_iter().map(str::to_owned).collect(), vec!["arn:aws:s3:::*".into(), "arn:aws:s3:::*/*".into()])
            }
            "sqs_queue" => (own(actions), vec![format!("arn:aws:sqs:*:{account}:*")]),
            "sns_topic" => (own(actions), vec![format!("arn:aws:sns:*:{account}:*")]),
            "secret" => (own(actions), vec![format!("arn:aws:secretsmanager:*:{account}:secret:*")]),
            "rds_instance" => (own(actions), vec![format!("arn:aws:rds:*:{account}:db:*")]),
            "redshift_cluster" => (own(actions), vec![format!("arn:aws:redshift:*:{account}:cluster:*")]),
            "ec2_instance" if permission == "manage" => (own(actions), vec![format!("arn:aws:ec2:*:{account}:instance/*")]),
            "iam_role" => (own(actions), vec![format!("arn:aws:iam::{account}:role/*")]),
            _ => return Err(IntegrationError::Invalid(format!("`{sel}`: {resource_type} {permission} is granted on named resources only: name them"))),
        };
        if !equals.is_empty() {
            condition.insert("StringEquals".into(), equals);
        }
        Ok(AccessUnit::Selected { actions, patterns, condition })
    }

    async fn policy_statements(&self, arn: &str) -> Result<Vec<sesame_core::policy::Statement>, IntegrationError> {
        let p = self.iam.get_policy().policy_arn(arn).send().await.map_err(|e| sdk_err(&format!("cannot read policy `{arn}`"), e))?;
        let version = p.policy().and_then(|p| p.default_version_id()).ok_or_else(|| IntegrationError::Invalid(format!("policy `{arn}` has no default version")))?;
        let v = self.iam.get_policy_version().policy_arn(arn).version_id(version).send().await.map_err(|e| sdk_err("cannot read a policy version", e))?;
        let raw = v.policy_version().and_then(|v| v.document()).ok_or_else(|| IntegrationError::Invalid(format!("policy `{arn}` has no document")))?;
        statements_of(&decode_document(raw)?).map_err(|e| IntegrationError::Invalid(format!("policy `{arn}`: {e}")))
    }

    async fn group_units(&self, arn: &str) -> Result<Vec<AccessUnit>, IntegrationError> {
        let name = arn.rsplit('/').next().unwrap_or(arn);
        let mut units = Vec::new();
        let inline = self.iam.list_group_policies().group_name(name).send().await.map_err(|e| sdk_err(&format!("cannot list the policies of group `{name}`"), e))?;
        for p in inline.policy_names() {
            let doc = self.iam.get_group_policy().group_name(name).policy_name(p).send().await.map_err(|e| sdk_err("cannot read a group policy", e))?;
            let statements = statements_of(&decode_document(doc.policy_document())?).map_err(|e| IntegrationError::Invalid(format!("group `{name}` policy `{p}`: {e}")))?;
            units.push(AccessUnit::Copied { statements });
        }
        let attached = self.iam.list_attached_group_policies().group_name(name).send().await.map_err(|e| sdk_err("cannot list attached group policies", e))?;
        for p in attached.attached_policies() {
            if let Some(a) = p.policy_arn() {
                units.push(AccessUnit::Copied { statements: self.policy_statements(a).await? });
            }
        }
        if units.is_empty() {
            return Err(IntegrationError::Invalid(format!("group `{name}` has no policies: there is nothing to grant")));
        }
        Ok(units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_is_rated() {
        let rated = |t: &str, p: &str| permissions(t).into_iter().find(|x| x.id == p).and_then(|x| x.risk_level).unwrap();
        assert_eq!(rated("s3_bucket", "read_only"), "low");
        assert_eq!(rated("s3_bucket", "read_write"), "high");
        assert_eq!(rated("secret", "read"), "high");
        assert_eq!(rated("ec2_instance", "manage"), "medium");
        assert_eq!(rated("ec2_instance", "session"), "high");
        assert_eq!(rated("iam_role", "assume"), "high");
        for t in RESOURCE_TYPES {
            assert!(permissions(t).iter().all(|p| p.risk_level.is_some()), "{t}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("{\"a\": 1}"), "{\"a\": 1}");
    }

    #[test]
    fn every_type_offers_permissions_and_bad_ones_are_named() {
        for t in RESOURCE_TYPES {
            assert!(!permissions(t).is_empty(), "{t}");
        }
        let e = unknown_permission("sqs_queue", "admin").to_string();
        assert_eq!(e, "unknown permission `admin` on sqs_queue: use consume or send");
        assert!(unknown_permission("dynamo", "x").to_string().starts_with("unknown resource type"));
    }
}
