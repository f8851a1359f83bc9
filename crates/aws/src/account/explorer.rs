//! Discovery across regions through AWS Resource Explorer's aggregator
//! index (`resource_explorer_view_arn`): one paginated `ListResources` per
//! resource type, over every region and account the view covers. Resumable:
//! pages already read are kept, so a discovery that fails part-way (after
//! the SDK's own retries of throttling) continues from the page that failed.

use super::discover::{arn_parts, Found};
use super::{sdk_err, AwsAccount};
use aws_smithy_types::Document;
use sesame_proto::ResourceInfo;
use sesame_integrations::IntegrationError;
use std::collections::BTreeMap;

/// Resource Explorer's type → Sesame's resource type.
pub const TYPES: [(&str, &str); 6] = [
    ("ec2:instance", "ec2_instance"),
    ("rds:db", "rds_instance"),
    ("redshift:cluster", "redshift_cluster"),
    ("secretsmanager:secret", "secret"),
    ("sns:topic", "sns_topic"),
    ("sqs:queue", "sqs_queue"),
];

/// Where a paginated listing got to.
#[derive(Debug, Clone, Default)]
pub struct Cursor {
    pub next_token: Option<String>,
    pub found: Vec<Found>,
}

fn tags_of(props: &[aws_sdk_resourceexplorer2::types::ResourceProperty]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for p in props.iter().filter(|p| p.name() == Some("tags")) {
        if let Some(Document::Array(items)) = p.data() {
            for i in items {
                if let Document::Object(o) = i {
                    if let (Some(Document::String(k)), Some(Document::String(v))) = (o.get("Key"), o.get("Value")) {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
    out
}

/// A name for a resource from its ARN (`.../NAME`, `...:NAME`).
fn name_of(arn: &str, tags: &BTreeMap<String, String>) -> String {
    if let Some(n) = tags.get("Name") {
        return n.clone();
    }
    let tail = arn.rsplit(['/', ':']).next().unwrap_or(arn);
    tail.to_owned()
}

impl AwsAccount {
    pub(super) async fn explore(&self, view_arn: &str, want: &(dyn Fn(&str) -> bool + Sync)) -> Result<Vec<Found>, IntegrationError> {
        let region = arn_parts(view_arn).0;
        let c = self.sdk.to_builder().region(aws_config::Region::new(region)).build();
        let client = aws_sdk_resourceexplorer2::Client::new(&c);
        let mut out = Vec::new();
        for (re_type, ours) in TYPES.iter().filter(|(_, t)| want(t)) {
            let mut cursor = self.cursors.lock().unwrap_or_else(|p| p.into_inner()).remove(*re_type).unwrap_or_default();
            loop {
                let filter = aws_sdk_resourceexplorer2::types::SearchFilter::builder().filter_string(format!("resourcetype:{re_type}")).build().map_err(|e| IntegrationError::Invalid(e.to_string()))?;
                let page = client
                    .list_resources()
                    .view_arn(view_arn)
                    .filters(filter)
                    .max_results(1000)
                    .set_next_token(cursor.next_token.clone())
                    .send()
                    .await;
                let page = match page {
                    Ok(p) => p,
                    Err(e) => {
                        // Keep what was read; the next discovery resumes here.
                        self.cursors.lock().unwrap_or_else(|p| p.into_inner()).insert((*re_type).to_owned(), cursor);
                        return Err(sdk_err(&format!("Resource Explorer: cannot list {re_type}"), e));
                    }
                };
                for r in page.resources() {
                    let Some(arn) = r.arn() else { continue };
                    let tags = tags_of(r.properties());
                    let mut metadata = BTreeMap::from([("arn".to_owned(), arn.to_owned())]);
                    if let Some(reg) = r.region() {
                        metadata.insert("region".into(), reg.to_owned());
                    }
                    if let Some(a) = r.owning_account_id() {
                        metadata.insert("account".into(), a.to_owned());
                    }
                    if *ours == "ec2_instance" {
                        metadata.insert("instance_id".into(), arn.rsplit('/').next().unwrap_or_default().to_owned());
                    }
                    let info = ResourceInfo { id: arn.to_owned(), name: name_of(arn, &tags), resource_type: (*ours).to_owned(), metadata };
                    cursor.found.push(Found { info, tags });
                }
                cursor.next_token = page.next_token().map(str::to_owned);
                if cursor.next_token.is_none() {
                    break;
                }
            }
            out.append(&mut cursor.found);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_name_tag_or_the_arn() {
        let none = BTreeMap::new();
        assert_eq!(name_of("arn:aws:sqs:us-east-1:1:orders", &none), "orders");
        assert_eq!(name_of("arn:aws:ec2:us-east-1:1:instance/i-1", &none), "i-1");
        let named = BTreeMap::from([("Name".to_owned(), "bastion".to_owned())]);
        assert_eq!(name_of("arn:aws:ec2:us-east-1:1:instance/i-1", &named), "bastion");
    }
}
