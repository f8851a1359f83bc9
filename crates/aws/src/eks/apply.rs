//! `sesame eks setup --apply`: the account's side of the setup through the
//! SDK — the role with its trust policy (replaced when the role exists) and
//! its permissions (an inline policy, replaced as a whole). The cluster's
//! side (the access entry or the `aws-auth` entry) is printed for a
//! cluster admin to apply.

use super::setup::Setup;
use crate::account::sdk_err;
use aws_sdk_iam::error::ProvideErrorMetadata;
use sesame_integrations::IntegrationError;

/// The role's inline policy.
pub const POLICY_NAME: &str = "describe-eks-clusters";

/// Create or bring up to date the role of `s`; what was done, one line each.
pub async fn apply(s: &Setup, iam: &aws_sdk_iam::Client) -> Result<Vec<String>, IntegrationError> {
    let trust = s.trust_policy().to_string();
    let mut done = Vec::new();
    let created = iam.create_role().role_name(&s.role).assume_role_policy_document(&trust).description("required for k8s access managed by Sesame").send().await;
    match created {
        Ok(_) => done.push(format!("created role `{}` with its trust policy", s.role)),
        Err(e) if e.as_service_error().and_then(|x| x.code()) == Some("EntityAlreadyExists") => {
            iam.update_assume_role_policy().role_name(&s.role).policy_document(&trust).send().await.map_err(|e| sdk_err("cannot set the role's trust policy", e))?;
            done.push(format!("role `{}` exists: its trust policy set", s.role));
        }
        Err(e) => return Err(sdk_err(&format!("cannot create IAM role `{}`", s.role), e)),
    }
    iam.put_role_policy()
        .role_name(&s.role)
        .policy_name(POLICY_NAME)
        .policy_document(s.permissions_policy().to_string())
        .send()
        .await
        .map_err(|e| sdk_err("cannot put the role's policy", e))?;
    done.push(format!("policy `{POLICY_NAME}` (eks:DescribeCluster) put on role `{}`", s.role));
    Ok(done)
}

/// [`apply`] with the default credential chain (or `profile`), at
/// `endpoint` when given.
pub async fn apply_to_account(s: &Setup, endpoint: Option<&str>, profile: Option<&str>) -> Result<Vec<String>, IntegrationError> {
    let sdk = crate::sdk_config(&s.region, endpoint, profile).await;
    apply(s, &aws_sdk_iam::Client::new(&sdk)).await
}
