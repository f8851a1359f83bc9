//! References to secrets, resolved where the integration runs. The reference
//! is configuration; the value is never stored or logged by Sesame.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretRef {
    /// Read from this environment variable.
    Env(String),
    /// Read from this file (trailing newline removed), e.g. a Kubernetes
    /// secret mounted as a file.
    File(String),
}

impl SecretRef {
    pub fn resolve(&self) -> Result<String, String> {
        match self {
            SecretRef::Env(var) => std::env::var(var).map_err(|_| format!("environment variable `{var}` is not set")),
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| format!("cannot read secret file `{path}`: {e}")),
        }
    }
}
