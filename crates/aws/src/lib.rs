//! AWS for Sesame, through the official SDK: the `aws-account`,
//! `aws-organization` and `eks` integrations, custom integrations over Lambda
//! `Invoke`, secrets from AWS Secrets Manager and RDS IAM tokens. [`Aws`] is
//! the plug-in a binary adds to its registry: `Registry::new().with(Aws)`.

pub mod account;
pub mod eks;
pub mod organization;
pub mod lambda;
pub mod secrets;

use sesame_proto::connector::IntegrationKind;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use sesame_integrations::custom::{Transport, TransportConfig};
use sesame_integrations::registry::{Plugin, Registry};
use sesame_integrations::secret::{SecretError, SecretRef};
use sesame_integrations::{Integration, IntegrationError};
use std::sync::Arc;

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
pub async fn integration_sdk(
    region: &str,
    endpoint_url: Option<&str>,
    profile: &str,
    access_key_id: Option<&SecretRef>,
    secret_access_key: Option<&SecretRef>,
    registry: &Registry,
) -> Result<SdkConfig, IntegrationError> {
    let creds = match (access_key_id, secret_access_key) {
        (Some(id), Some(secret)) => Some(aws_credential_types::Credentials::new(
            registry.resolve(id).await.map_err(|e| IntegrationError::Misconfigured(e.0))?,
            registry.resolve(secret).await.map_err(|e| IntegrationError::Misconfigured(e.0))?,
            None,
            None,
            "sesame-config",
        )),
        (None, None) => None,
        _ => return Err(IntegrationError::Misconfigured("give both `access_key_id` and `secret_access_key`, or neither".into())),
    };
    let profile = creds.is_none().then_some(profile);
    let mut sdk = sdk_config(region, endpoint_url, profile).await.into_builder();
    if let Some(c) = creds {
        sdk = sdk.credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(c));
    }
    Ok(sdk.build())
}

/// The AWS plug-in: builds `aws-account` and `aws-organization`
/// integrations, carries custom integrations over Lambda, and reads Secrets
/// Manager secrets and RDS IAM tokens.
pub struct Aws;

#[async_trait::async_trait]
impl Plugin for Aws {
    fn kinds(&self) -> &'static [IntegrationKind] {
        &[IntegrationKind::AwsAccount, IntegrationKind::AwsOrganization, IntegrationKind::Eks]
    }

    fn config_schemas(&self) -> Vec<(String, serde_json::Value)> {
        use sesame_integrations::config_schema::schema_of;
        vec![
            ("aws_account".into(), schema_of::<account::AwsAccountConfig>("aws_account")),
            ("aws_organization".into(), schema_of::<organization::AwsOrganizationConfig>("aws_organization")),
            ("eks".into(), schema_of::<eks::integration::EksConfig>("eks")),
        ]
    }

    async fn build(&self, kind: IntegrationKind, config: &serde_json::Value, registry: &Registry) -> Result<Arc<dyn Integration>, IntegrationError> {
        match kind {
            IntegrationKind::AwsOrganization => organization::build(config, registry).await,
            IntegrationKind::Eks => eks::integration::build(config, registry).await,
            _ => account::build(config, registry).await,
        }
    }

    async fn transport(&self, cfg: &TransportConfig, _timeout: std::time::Duration) -> Option<Result<Box<dyn Transport>, IntegrationError>> {
        match cfg {
            TransportConfig::Lambda { region, function_name, endpoint_url } => {
                let sdk = sdk_config(region, endpoint_url.as_deref(), None).await;
                Some(Ok(Box::new(lambda::Lambda::new(aws_sdk_lambda::Client::new(&sdk), function_name.clone()))))
            }
            _ => None,
        }
    }

    async fn resolve(&self, secret: &SecretRef, registry: &Registry) -> Option<Result<String, SecretError>> {
        match secret {
            SecretRef::AwsSecretsManager(r) => Some(secrets::resolve(r, registry).await),
            SecretRef::RdsIamToken(r) => Some(account::rds::iam_token(r, registry).await),
            _ => None,
        }
    }
}
