//! References to secrets, resolved where the integration runs. The reference
//! is configuration (it serializes as it is written, to hand on to a
//! sub-integration's declaration); the value is never stored or logged by Sesame.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsIdentity {
    pub profile: Option<String>,
    pub access_key_id: Option<Box<SecretRef>>,
    pub secret_access_key: Option<Box<SecretRef>>,
    /// Roles then assumed in turn (a member account's, through the
    /// management account's).
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
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

/// A secret that could not be read, and why: to the integration, a
/// configuration that cannot work.
pub type SecretError = crate::ConfigError;

impl SecretRef {
    /// `env` and `file` references, read here; `None` for the kinds a
    /// [`crate::registry::Plugin`] reads.
    pub fn resolve_local(&self) -> Option<Result<String, SecretError>> {
        match self {
            SecretRef::Env(var) => Some(std::env::var(var).map_err(|_| SecretError::from(format!("environment variable `{var}` is not set")))),
            SecretRef::File(path) => Some(
                std::fs::read_to_string(path)
                    .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                    .map_err(|e| SecretError::from(format!("cannot read secret file `{path}`: {e}"))),
            ),
            SecretRef::AwsSecretsManager(_) | SecretRef::RdsIamToken(_) => None,
        }
    }

    /// The kind of reference, as configuration spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            SecretRef::Env(_) => "env",
            SecretRef::File(_) => "file",
            SecretRef::AwsSecretsManager(_) => "aws_secrets_manager",
            SecretRef::RdsIamToken(_) => "rds_iam_token",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A reference handed on (to an RDS sub-integration's declaration) reads
    /// back as the same reference, spelled as configuration spells it.
    #[test]
    fn a_reference_serializes_as_it_is_written() {
        let who = AwsIdentity { profile: None, access_key_id: Some(Box::new(SecretRef::File("/k".into()))), secret_access_key: Some(Box::new(SecretRef::Env("S".into()))), roles: vec!["arn:aws:iam::111111111111:role/R".into()] };
        let refs = [
            SecretRef::Env("X".into()),
            SecretRef::File("/run/secret".into()),
            SecretRef::AwsSecretsManager(AwsSecretRef { secret_id: "arn:s".into(), region: "us-east-1".into(), key: Some("password".into()), endpoint_url: None, identity: who.clone() }),
            SecretRef::RdsIamToken(RdsTokenRef { host: "db".into(), port: 5432, username: "sesame".into(), region: "us-east-1".into(), identity: who }),
        ];
        for r in refs {
            let v = serde_json::to_value(&r).unwrap();
            assert_eq!(serde_json::from_value::<SecretRef>(v).unwrap(), r);
        }
        assert_eq!(serde_json::to_value(SecretRef::Env("X".into())).unwrap(), serde_json::json!({"env": "X"}));
    }
}
