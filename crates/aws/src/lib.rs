//! AWS for Sesame, through the official SDK: custom integrations over
//! Lambda `Invoke`, and secrets from AWS Secrets Manager. Call [`install`]
//! once at startup (serve and connector) to make both available to the
//! integration builders.

pub mod account;
pub mod organization;
pub mod lambda;
pub mod secrets;

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// SDK configuration for `region`, with the default credential chain (or the
/// AWS profile), and an endpoint override for tests (moto).
pub async fn sdk_config(region: &str, endpoint_url: Option<&str>, profile: Option<&str>) -> SdkConfig {
    // Throttling and transient errors are retried with jittered exponential
    // backoff (up to 10 attempts) instead of failing the task.
    let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(10);
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned())).retry_config(retry);
    if let Some(e) = endpoint_url {
        loader = loader.endpoint_url(e);
    }
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    loader.load().await
}

/// SDK configuration for an integration: explicit credentials (resolved
/// here, in the connector) when both are given, else the AWS profile.
pub fn integration_sdk(
    region: &str,
    endpoint_url: Option<&str>,
    profile: &str,
    access_key_id: Option<&sesame_integrations::secret::SecretRef>,
    secret_access_key: Option<&sesame_integrations::secret::SecretRef>,
) -> Result<SdkConfig, sesame_integrations::IntegrationError> {
    use sesame_integrations::IntegrationError;
    let creds = match (access_key_id, secret_access_key) {
        (Some(id), Some(secret)) => Some(aws_credential_types::Credentials::new(
            id.resolve().map_err(IntegrationError::Misconfigured)?,
            secret.resolve().map_err(IntegrationError::Misconfigured)?,
            None,
            None,
            "sesame-config",
        )),
        (None, None) => None,
        _ => return Err(IntegrationError::Misconfigured("give both `access_key_id` and `secret_access_key`, or neither".into())),
    };
    let profile = creds.is_none().then_some(profile);
    let mut sdk = lambda::block_on(sdk_config(region, endpoint_url, profile))?.into_builder();
    if let Some(c) = creds {
        sdk = sdk.credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(c));
    }
    Ok(sdk.build())
}

/// Register the Lambda transport and the Secrets Manager resolver.
pub fn install() {
    sesame_integrations::custom::set_lambda_factory(lambda::factory);
    sesame_integrations::secret::set_aws_resolver(secrets::resolve_blocking);
    sesame_integrations::registry::set_aws_factory(build);
    sesame_integrations::secret::set_rds_token_resolver(account::rds::iam_token_blocking);
}

fn build(kind: &str, v: &serde_json::Value) -> Result<std::sync::Arc<dyn sesame_integrations::Integration>, sesame_integrations::IntegrationError> {
    match kind {
        "aws-organization" => organization::build(v),
        _ => account::build(v),
    }
}
