//! Is the Resource Explorer setup that organization-wide discovery stands
//! on right? Trusted access for Resource Explorer in AWS Organizations, an
//! index of type AGGREGATOR in the view's region, and a view whose scope is
//! the organization. What is wrong comes with the seed's troubleshooting
//! advice; `get_status` reports it (unhealthy) for an integration that
//! discovers through a view.

use super::discover::arn_parts;
use super::AwsAccount;

pub const SERVICE: &str = "resource-explorer-2.amazonaws.com";

/// What was read of the setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// Whether trusted access is enabled; `None` when this account cannot
    /// read it (only the management account can).
    pub trusted_access: Option<bool>,
    /// The index in the view's region: its type and state, if any.
    pub index: Option<(String, String)>,
    /// The view's scope (an account, OU or organization ARN), if the view exists.
    pub view_scope: Option<String>,
}

/// What is wrong with `s` for discovering through `view_arn`, each with
/// what to do; empty when the setup is right.
pub fn problems(s: &Setup, view_arn: &str) -> Vec<String> {
    let region = arn_parts(view_arn).0;
    let mut out = Vec::new();
    if s.trusted_access == Some(false) {
        out.push(
            "trusted access for Resource Explorer is not enabled in AWS Organizations: from the management account, open Resource Explorer > Settings and \
             enable trusted access (or in AWS Organizations > Services), then run the Quick Setup for the organization"
                .to_owned(),
        );
    }
    match &s.index {
        None => out.push(format!(
            "there is no Resource Explorer index in {region}, the view's region: in the management account, in the aggregator region, make sure an index exists \
             (the Quick Setup's targets must include the management account, and CloudFormation must not be denied there by an SCP)"
        )),
        Some((kind, _)) if kind != "AGGREGATOR" => out.push(format!(
            "the index in {region} is {kind}, not AGGREGATOR: change it to Aggregator in the console (or recreate it as an aggregator index); \
             it may have been made by hand as a local one"
        )),
        Some((_, state)) if state != "ACTIVE" => out.push(format!("the aggregator index in {region} is {state}, not ACTIVE: wait for it, or check the Quick Setup's status")),
        Some(_) => {}
    }
    match &s.view_scope {
        None => out.push(format!("the view `{view_arn}` does not exist: create the organization-wide view in the aggregator account and region, and name it in `resource_explorer_view_arn`")),
        Some(scope) if !scope.contains(":organization/") => out.push(format!(
            "the view `{view_arn}` covers `{scope}`, not the organization: create the organization-wide view (scope: the organization) in the aggregator account and region"
        )),
        Some(_) => {}
    }
    out
}

fn code<E: aws_sdk_iam::error::ProvideErrorMetadata>(e: &aws_sdk_iam::error::SdkError<E>) -> Option<&str> {
    e.as_service_error().and_then(|s| s.code())
}

impl AwsAccount {
    /// What is wrong with the Resource Explorer setup behind the configured
    /// view (nothing without one), each with what to do.
    pub async fn explorer_problems(&self) -> Result<Vec<String>, sesame_integrations::IntegrationError> {
        match &self.cfg.resource_explorer_view_arn {
            Some(view) => Ok(problems(&self.explorer_setup(view).await?, view)),
            None => Ok(vec![]),
        }
    }

    /// Read the setup for `view_arn` (errors other than "not there" or
    /// "not allowed to read" fail the check).
    async fn explorer_setup(&self, view_arn: &str) -> Result<Setup, sesame_integrations::IntegrationError> {
        use super::sdk_err;
        let region = arn_parts(view_arn).0;
        let c = self.sdk.to_builder().region(aws_config::Region::new(region)).build();
        let re = aws_sdk_resourceexplorer2::Client::new(&c);
        let orgs = aws_sdk_organizations::Client::new(&self.sdk);
        let trusted_access = match orgs.list_aws_service_access_for_organization().send().await {
            Ok(r) => Some(r.enabled_service_principals().iter().any(|p| p.service_principal() == Some(SERVICE))),
            Err(e) if matches!(code(&e), Some("AccessDeniedException" | "AWSOrganizationsNotInUseException")) => None,
            Err(e) => return Err(sdk_err("cannot read the organization's trusted services", e)),
        };
        let index = match re.get_index().send().await {
            Ok(i) => Some((i.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(), i.state().map(|s| s.as_str().to_owned()).unwrap_or_default())),
            Err(e) if code(&e) == Some("ResourceNotFoundException") => None,
            Err(e) => return Err(sdk_err("cannot read the Resource Explorer index", e)),
        };
        let view_scope = match re.get_view().view_arn(view_arn).send().await {
            Ok(v) => Some(v.view().and_then(|v| v.scope()).unwrap_or_default().to_owned()),
            Err(e) if code(&e) == Some("ResourceNotFoundException") => None,
            Err(e) => return Err(sdk_err("cannot read the Resource Explorer view", e)),
        };
        Ok(Setup { trusted_access, index, view_scope })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const VIEW: &str = "arn:aws:resource-explorer-2:us-east-1:111111111111:view/org/0e3f";

    #[test]
    fn each_wrong_piece_is_named_with_the_seeds_advice() {
        let right = Setup {
            trusted_access: Some(true),
            index: Some(("AGGREGATOR".into(), "ACTIVE".into())),
            view_scope: Some("arn:aws:organizations::111111111111:organization/o-abc".into()),
        };
        assert!(problems(&right, VIEW).is_empty());
        assert!(problems(&Setup { trusted_access: None, ..right.clone() }, VIEW).is_empty(), "a member account cannot read trusted access");
        let p = problems(&Setup { trusted_access: Some(false), ..right.clone() }, VIEW);
        assert!(p[0].contains("enable trusted access"), "{p:?}");
        let p = problems(&Setup { index: Some(("LOCAL".into(), "ACTIVE".into())), ..right.clone() }, VIEW);
        assert!(p[0].contains("is LOCAL, not AGGREGATOR") && p[0].contains("change it to Aggregator"), "{p:?}");
        let p = problems(&Setup { index: None, ..right.clone() }, VIEW);
        assert!(p[0].contains("no Resource Explorer index in us-east-1") && p[0].contains("management account"), "{p:?}");
        let p = problems(&Setup { view_scope: Some("arn:aws:iam::111111111111:root".into()), ..right.clone() }, VIEW);
        assert!(p[0].contains("not the organization"), "{p:?}");
        assert_eq!(problems(&Setup { trusted_access: Some(false), index: None, view_scope: None }, VIEW).len(), 3);
    }
}
