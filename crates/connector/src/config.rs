//! The connector's own configuration: its id and the integrations it serves,
//! with references to their secrets (resolved here, never sent anywhere).

use sesame_integrations::registry::IntegrationDecl;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    pub version: u32,
    /// The connector id the control plane knows (`[[connectors]] id`).
    pub id: String,
    #[serde(default)]
    pub integrations: Vec<IntegrationDecl>,
    /// How often the connector removes, on its own, what its integrations
    /// made that is past its deadline (for targets with no expiry of their
    /// own, such as Kubernetes bindings), in seconds.
    #[serde(default = "default_expiry_every")]
    pub expiry_every_secs: u64,
}

fn default_expiry_every() -> u64 {
    30
}

/// A connector configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("config `{path}`: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

pub fn load(path: &Path) -> Result<ConnectorConfig, ConfigError> {
    let bad = |message: String| ConfigError { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read the file: {e}")))?;
    let cfg: ConnectorConfig = toml::from_str(&text).map_err(|e| bad(e.to_string().trim_end().to_owned()))?;
    if cfg.expiry_every_secs == 0 {
        return Err(bad("`expiry_every_secs` is 0: give a number of seconds, such as 30".into()));
    }
    if cfg.version != 1 {
        return Err(bad(format!("`version` is {} but this connector reads version 1: set `version = 1`", cfg.version)));
    }
    for (i, d) in cfg.integrations.iter().enumerate() {
        d.validate().map_err(|m| bad(format!("`integrations[{i}]` (`{}`): {m}", d.name())))?;
    }
    Ok(cfg)
}
