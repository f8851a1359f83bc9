//! What an AWS account holds, with tags: IAM roles, groups and customer-
//! managed policies; S3 buckets (with their KMS key); and, in every
//! configured region, EC2 instances, RDS instances, Redshift clusters,
//! secrets, SNS topics and SQS queues — or, with a Resource Explorer view,
//! the regional ones across regions and accounts ([`super::explorer`]).
//! Every listing is paginated; the SDK retries throttling with backoff (see
//! [`crate::sdk_config`]).

use super::{sdk_err, AwsAccount};
use sesame_integrations::IntegrationError;
use sesame_proto::ResourceInfo;
use std::collections::BTreeMap;

/// One discovered resource and its tags.
#[derive(Debug, Clone)]
pub struct Found {
    pub info: ResourceInfo,
    pub tags: BTreeMap<String, String>,
}

fn found(resource_type: &str, id: &str, name: &str, meta: &[(&str, &str)], tags: BTreeMap<String, String>) -> Found {
    let metadata = meta.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Found { info: ResourceInfo { id: id.to_owned(), name: name.to_owned(), resource_type: resource_type.to_owned(), metadata }, tags }
}

/// `arn:aws:svc:region:account:...` → (region, account).
pub fn arn_parts(arn: &str) -> (String, String) {
    let mut p = arn.split(':');
    let region = p.nth(3).unwrap_or_default().to_owned();
    let account = p.next().unwrap_or_default().to_owned();
    (region, account)
}

fn iam_tags(t: &[aws_sdk_iam::types::Tag]) -> BTreeMap<String, String> {
    t.iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

impl AwsAccount {
    pub(super) async fn discover(&self) -> Result<Vec<Found>, IntegrationError> {
        let mut out = Vec::new();
        let want = |t: &str| self.cfg.resource_types.as_ref().is_none_or(|ts| ts.iter().any(|x| x == t));
        if want("iam_role") {
            self.roles(&mut out).await?;
        }
        if want("iam_group") {
            self.groups(&mut out).await?;
        }
        if want("iam_policy") {
            self.policies(&mut out).await?;
        }
        if want("s3_bucket") {
            self.buckets(&mut out).await?;
        }
        if let Some(view) = &self.cfg.resource_explorer_view_arn {
            out.extend(self.explore(view, &want).await?);
            // Resource Explorer knows no engine or endpoint: RDS instances it
            // found get those from their own region's DescribeDBInstances.
            let mut regions: Vec<String> = out.iter().filter(|f| f.info.resource_type == "rds_instance").filter_map(|f| f.info.metadata.get("region").cloned()).collect();
            regions.sort();
            regions.dedup();
            out.retain(|f| f.info.resource_type != "rds_instance");
            for region in regions {
                self.rds(&self.regional(&region).rds, &mut out).await?;
            }
            return Ok(out);
        }
        for region in self.regions() {
            let c = self.regional(&region);
            if want("ec2_instance") {
                self.instances(&c.ec2, &region, &mut out).await?;
            }
            if want("rds_instance") {
                self.rds(&c.rds, &mut out).await?;
            }
            if want("redshift_cluster") {
                self.redshift(&c.redshift, &region, &mut out).await?;
            }
            if want("secret") {
                self.secrets(&c.secrets, &mut out).await?;
            }
            if want("sns_topic") {
                self.topics(&c.sns, &mut out).await?;
            }
            if want("sqs_queue") {
                self.queues(&c.sqs, &mut out).await?;
            }
        }
        Ok(out)
    }

    async fn roles(&self, out: &mut Vec<Found>) -> Result<(), IntegrationError> {
        let mut pages = self.iam.list_roles().into_paginator().send();
        while let Some(page) = pages.next().await {
            for r in page.map_err(|e| sdk_err("cannot list IAM roles", e))?.roles() {
                // Sesame's own per-grant roles are not resources to request.
                if r.path().starts_with(super::principal::PATH) || r.path().starts_with("/aws-service-role/") {
                    continue;
                }
                let tags = self.iam.list_role_tags().role_name(r.role_name()).send().await.map(|t| iam_tags(t.tags())).unwrap_or_default();
                out.push(found("iam_role", r.arn(), r.role_name(), &[("arn", r.arn()), ("path", r.path())], tags));
            }
        }
        Ok(())
    }

    async fn groups(&self, out: &mut Vec<Found>) -> Result<(), IntegrationError> {
        let mut pages = self.iam.list_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            for g in page.map_err(|e| sdk_err("cannot list IAM groups", e))?.groups() {
                // Groups carry no tags in IAM.
                out.push(found("iam_group", g.arn(), g.group_name(), &[("arn", g.arn()), ("path", g.path())], BTreeMap::new()));
            }
        }
        Ok(())
    }

    async fn policies(&self, out: &mut Vec<Found>) -> Result<(), IntegrationError> {
        let mut pages = self.iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).into_paginator().send();
        while let Some(page) = pages.next().await {
            for p in page.map_err(|e| sdk_err("cannot list IAM policies", e))?.policies() {
                let (Some(arn), Some(name)) = (p.arn(), p.policy_name()) else { continue };
                if p.path().is_some_and(|x| x.starts_with(super::principal::PATH)) {
                    continue;
                }
                let tags = self.iam.list_policy_tags().policy_arn(arn).send().await.map(|t| iam_tags(t.tags())).unwrap_or_default();
                out.push(found("iam_policy", arn, name, &[("arn", arn)], tags));
            }
        }
        Ok(())
    }

    async fn buckets(&self, out: &mut Vec<Found>) -> Result<(), IntegrationError> {
        let list = self.s3.list_buckets().send().await.map_err(|e| sdk_err("cannot list S3 buckets", e))?;
        for b in list.buckets() {
            let Some(name) = b.name() else { continue };
            let key = self.bucket_key(name).await.unwrap_or_default();
            let tags = match self.s3.get_bucket_tagging().bucket(name).send().await {
                Ok(t) => t.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
                Err(_) => BTreeMap::new(),
            };
            out.push(found("s3_bucket", name, name, &[("arn", &format!("arn:aws:s3:::{name}")), ("kms_key", &key)], tags));
        }
        Ok(())
    }

    /// EC2 instances (every state but terminated), tagged or not.
    async fn instances(&self, ec2: &aws_sdk_ec2::Client, region: &str, out: &mut Vec<Found>) -> Result<(), IntegrationError> {
        let account = self.account_id().await?;
        let mut pages = ec2.describe_instances().into_paginator().send();
        while let Some(page) = pages.next().await {
            for r in page.map_err(|e| sdk_err("cannot describe EC2 instances", e))?.reservations() {
                let owner = r.owner_id().unwrap_or(&account).to_owned();
                for i in r.instances() {
                    let Some(id) = i.instance_id() else { continue };
                    let state = i.state().and_then(|s| s.name()).map(|n| n.as_str().to_owned()).unwrap_or_default();
                    if state == "terminated" {
                        continue;
                    }
                    let tags: BTreeMap<String, String> = i.tags().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect();
                    let arn = format!("arn:aws:ec2:{region}:{owner}:instance/{id}");
                    let name = tags.get("Name").cloned().unwrap_or_else(|| id.to_owned());
                    let ip = i.private_ip_address().unwrap_or_default();
                    out.push(found("ec2_instance", &arn, &name, &[("arn", &arn), ("instance_id", id), ("region", region), ("account", &owner), ("state", &state), ("private_ip", ip)], tags));
                }
            }
        }
        Ok(())
    }

    async fn rds(&self, rds: &aws_sdk_rds::Client, out: &mut Vec<Found>) -> Result<(), IntegrationError> {
        let mut pages = rds.describe_db_instances().into_paginator().send();
        while let Some(page) = pages.next().await {
            for d in page.map_err(|e| sdk_err("cannot describe RDS instances", e))?.db_instances() {
                let (Some(arn), Some(id)) = (d.db_instance_arn(), d.db_instance_identifier()) else { continue };
                let tags = d.tag_list().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect();
                let host = d.endpoint().and_then(|e| e.address()).unwrap_or_default();
                let port = d.endpoint().and_then(|e| e.port()).map(|p| p.to_string()).unwrap_or_default();
                let iam = if d.iam_database_authentication_enabled().unwrap_or(false) { "true" } else { "false" };
                out.push(found(
                    "rds_instance",
                    arn,
                    id,
                    &[("arn", arn), ("engine", d.engine().unwrap_or_default()), ("host", host), ("port", &port), ("iam_auth", iam), ("region", &arn_parts(arn).0), ("dbi_resource_id", d.dbi_resource_id().unwrap_or_default())],
                    tags,
                ));
            }
        }
        Ok(())
    }

    async fn redshift(&self, rs: &aws_sdk_redshift::Client, region: &str, out: &mut Vec<Found>) -> Result<(), IntegrationError> {
        let account = self.account_id().await?;
        let mut pages = rs.describe_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            for c in page.map_err(|e| sdk_err("cannot describe Redshift clusters", e))?.clusters() {
                let Some(id) = c.cluster_identifier() else { continue };
                let arn = format!("arn:aws:redshift:{region}:{account}:cluster:{id}");
                let tags = c.tags().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect();
                let host = c.endpoint().and_then(|e| e.address()).unwrap_or_default();
                out.push(found("redshift_cluster", &arn, id, &[("arn", &arn), ("host", host), ("region", region)], tags));
            }
        }
        Ok(())
    }

    async fn secrets(&self, sm: &aws_sdk_secretsmanager::Client, out: &mut Vec<Found>) -> Result<(), IntegrationError> {
        let mut pages = sm.list_secrets().into_paginator().send();
        while let Some(page) = pages.next().await {
            for s in page.map_err(|e| sdk_err("cannot list secrets", e))?.secret_list() {
                let (Some(arn), Some(name)) = (s.arn(), s.name()) else { continue };
                let tags = s.tags().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect();
                out.push(found("secret", arn, name, &[("arn", arn), ("region", &arn_parts(arn).0)], tags));
            }
        }
        Ok(())
    }

    async fn topics(&self, sns: &aws_sdk_sns::Client, out: &mut Vec<Found>) -> Result<(), IntegrationError> {
        let mut pages = sns.list_topics().into_paginator().send();
        while let Some(page) = pages.next().await {
            for t in page.map_err(|e| sdk_err("cannot list SNS topics", e))?.topics() {
                let Some(arn) = t.topic_arn() else { continue };
                let tags = match sns.list_tags_for_resource().resource_arn(arn).send().await {
                    Ok(o) => o.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
                    Err(_) => BTreeMap::new(),
                };
                let name = arn.rsplit(':').next().unwrap_or(arn);
                out.push(found("sns_topic", arn, name, &[("arn", arn), ("region", &arn_parts(arn).0)], tags));
            }
        }
        Ok(())
    }

    async fn queues(&self, sqs: &aws_sdk_sqs::Client, out: &mut Vec<Found>) -> Result<(), IntegrationError> {
        let mut pages = sqs.list_queues().into_paginator().send();
        while let Some(page) = pages.next().await {
            for url in page.map_err(|e| sdk_err("cannot list SQS queues", e))?.queue_urls() {
                let attrs = sqs
                    .get_queue_attributes()
                    .queue_url(url)
                    .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .send()
                    .await
                    .map_err(|e| sdk_err("cannot read a queue's ARN", e))?;
                let Some(arn) = attrs.attributes().and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)).cloned() else { continue };
                let tags = match sqs.list_queue_tags().queue_url(url).send().await {
                    Ok(o) => o.tags().cloned().unwrap_or_default().into_iter().collect(),
                    Err(_) => BTreeMap::new(),
                };
                let name = arn.rsplit(':').next().unwrap_or(&arn).to_owned();
                out.push(found("sqs_queue", &arn, &name, &[("arn", &arn), ("url", url), ("region", &arn_parts(&arn).0)], tags));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn arn_parts() {
        assert_eq!(super::arn_parts("arn:aws:ec2:eu-west-1:123456789012:instance/i-1"), ("eu-west-1".into(), "123456789012".into()));
        assert_eq!(super::arn_parts("arn:aws:iam::123456789012:role/x"), ("".into(), "123456789012".into()));
    }
}
