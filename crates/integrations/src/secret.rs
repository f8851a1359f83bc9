//! References to secrets, resolved where the integration runs. The reference
//! is configuration; the value is never stored or logged by Sesame.

use serde::Deserialize;
use std::sync::OnceLock;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretRef {
    /// Read from this environment variable.
    Env(String),
    /// Read from this file (trailing newline removed), e.g. a Kubernetes
    /// secret mounted as a file.
    File(String),
    /// Read from AWS Secrets Manager (needs `sesame_aws::install`).
    AwsSecretsManager(AwsSecretRef),
    /// A fresh RDS IAM authentication token (valid 15 minutes) for the
    /// connector's own login (needs `sesame_aws::install`).
    RdsIamToken(RdsTokenRef),
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RdsTokenRef {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub region: String,
    /// The AWS identity that signs the token.
    #[serde(default)]
    pub identity: AwsIdentity,
}

/// Who reads a secret or signs a token: explicit keys (by reference), else
/// the profile, else the default credential chain.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AwsIdentity {
    pub profile: Option<String>,
    pub access_key_id: Option<Box<SecretRef>>,
    pub secret_access_key: Option<Box<SecretRef>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AwsSecretRef {
    /// Name or ARN of the secret.
    pub secret_id: String,
    pub region: String,
    /// For a JSON secret, the key whose value to use (e.g. `password`).
    pub key: Option<String>,
    /// Endpoint override (tests: moto).
    pub endpoint_url: Option<String>,
    /// Who reads it (default: the default credential chain).
    #[serde(default)]
    pub identity: AwsIdentity,
}

type AwsResolver = fn(&AwsSecretRef) -> Result<String, String>;
static AWS_RESOLVER: OnceLock<AwsResolver> = OnceLock::new();
type TokenResolver = fn(&RdsTokenRef) -> Result<String, String>;
static TOKEN_RESOLVER: OnceLock<TokenResolver> = OnceLock::new();

/// Installed by `sesame-aws` at startup.
pub fn set_rds_token_resolver(f: TokenResolver) {
    let _ = TOKEN_RESOLVER.set(f);
}

/// Installed by `sesame-aws` at startup.
pub fn set_aws_resolver(f: AwsResolver) {
    let _ = AWS_RESOLVER.set(f);
}

impl SecretRef {
    pub fn resolve(&self) -> Result<String, String> {
        match self {
            SecretRef::Env(var) => std::env::var(var).map_err(|_| format!("environment variable `{var}` is not set")),
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| format!("cannot read secret file `{path}`: {e}")),
            SecretRef::AwsSecretsManager(r) => {
                let f = AWS_RESOLVER.get().ok_or("this build cannot read AWS Secrets Manager (sesame_aws::install was not called)")?;
                f(r)
            }
            SecretRef::RdsIamToken(r) => {
                let f = TOKEN_RESOLVER.get().ok_or("this build cannot make RDS IAM tokens (sesame_aws::install was not called)")?;
                f(r)
            }
        }
    }
}
