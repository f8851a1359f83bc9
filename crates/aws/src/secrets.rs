//! Secrets from AWS Secrets Manager, read by the connector (never the
//! control plane). A JSON secret (`{"username": ..., "password": ...}`, as
//! the seed stores database credentials) can name the key to use.

use sesame_integrations::registry::Registry;
use sesame_integrations::secret::{AwsIdentity, AwsSecretRef, SecretError};

/// SDK configuration with the identity a reference names: explicit keys,
/// else the profile, else the default credential chain.
pub async fn identity(region: &str, endpoint_url: Option<&str>, who: &AwsIdentity, registry: &Registry) -> Result<aws_config::SdkConfig, SecretError> {
    let mut sdk = base_identity(region, endpoint_url, who, registry).await?;
    for role in &who.roles {
        let provider = aws_config::sts::AssumeRoleProvider::builder(role).session_name("sesame").configure(&sdk).build().await;
        sdk = sdk.into_builder().credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider)).build();
    }
    Ok(sdk)
}

async fn base_identity(region: &str, endpoint_url: Option<&str>, who: &AwsIdentity, registry: &Registry) -> Result<aws_config::SdkConfig, SecretError> {
    Ok(match (who.access_key_id.as_deref(), who.secret_access_key.as_deref()) {
        (Some(id), Some(secret)) => {
            let creds = aws_credential_types::Credentials::new(registry.resolve(id).await?, registry.resolve(secret).await?, None, None, "sesame-config");
            crate::sdk_config(region, endpoint_url, None)
                .await
                .into_builder()
                .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
                .build()
        }
        _ => crate::sdk_config(region, endpoint_url, who.profile.as_deref()).await,
    })
}

pub async fn resolve(r: &AwsSecretRef, registry: &Registry) -> Result<String, SecretError> {
    let sdk = identity(&r.region, r.endpoint_url.as_deref(), &r.identity, registry).await?;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let out = client
        .get_secret_value()
        .secret_id(&r.secret_id)
        .send()
        .await
        .map_err(|e| format!("cannot read secret `{}`: {}", r.secret_id, aws_sdk_secretsmanager::error::DisplayErrorContext(&e)))?;
    let value = out.secret_string().ok_or_else(|| format!("secret `{}` has no string value", r.secret_id))?;
    match &r.key {
        None => Ok(value.to_owned()),
        Some(k) => {
            let v: serde_json::Value =
                serde_json::from_str(value).map_err(|_| format!("secret `{}` is not JSON, so it has no key `{k}`", r.secret_id))?;
            v.get(k).and_then(|x| x.as_str()).map(str::to_owned).ok_or_else(|| SecretError::from(format!("secret `{}` has no string key `{k}`", r.secret_id)))
        }
    }
}

