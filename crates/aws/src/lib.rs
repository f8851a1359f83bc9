//! AWS for Sesame, through the official SDK: custom integrations over
//! Lambda `Invoke`, and secrets from AWS Secrets Manager. Call [`install`]
//! once at startup (serve and connector) to make both available to the
//! integration builders.

pub mod account;
pub mod lambda;
pub mod secrets;

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// SDK configuration for `region`, with the default credential chain (or the
/// AWS profile), and an endpoint override for tests (moto).
pub async fn sdk_config(region: &str, endpoint_url: Option<&str>, profile: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
    if let Some(e) = endpoint_url {
        loader = loader.endpoint_url(e);
    }
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    loader.load().await
}

/// Register the Lambda transport and the Secrets Manager resolver.
pub fn install() {
    sesame_integrations::custom::set_lambda_factory(lambda::factory);
    sesame_integrations::secret::set_aws_resolver(secrets::resolve_blocking);
    sesame_integrations::registry::set_aws_account_factory(account::build);
}
