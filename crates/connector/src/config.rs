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
}

pub fn load(path: &Path) -> anyhow::Result<ConnectorConfig> {
    let where_ = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("config `{where_}`: cannot read the file: {e}"))?;
    let cfg: ConnectorConfig = toml::from_str(&text).map_err(|e| anyhow::anyhow!("config `{where_}`: {}", e.to_string().trim_end()))?;
    if cfg.version != 1 {
        anyhow::bail!("config `{where_}`: `version` is {} but this connector reads version 1: set `version = 1`", cfg.version);
    }
    for (i, d) in cfg.integrations.iter().enumerate() {
        d.validate().map_err(|m| anyhow::anyhow!("config `{where_}`: `integrations[{i}]` (`{}`): {m}", d.name()))?;
    }
    Ok(cfg)
}
