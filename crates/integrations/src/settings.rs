//! The settings every integration has (the seed's "Get more with Apono"
//! block): credential rotation, user cleanup, custom access details,
//! integration owner, resource owner mapping.

use crate::ConfigError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSettings {
    /// Credentials older than this many days are rotated; the grantee can
    /// fetch the new ones once with `sesame access use`. Fractions allowed.
    pub credential_rotation_days: Option<f64>,
    /// When set, revocation disables the login and a cleanup job deletes it
    /// this many days later; when unset, revocation deletes at once.
    pub user_cleanup_days: Option<f64>,
    /// Shown to grantees with their credentials; at most 400 characters.
    pub custom_access_details: Option<String>,
    /// Fallback approvers when no resource owner (and no flow approver) is found.
    #[serde(default)]
    pub integration_owners: Owners,
    /// Resource owners: the value of this tag on a resource names them.
    pub resource_owner: Option<ResourceOwner>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Owners {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Owners {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OwnerAttribute {
    /// The tag value is a person's e-mail.
    Email,
    /// The tag value is a group name; its members own the resource.
    Group,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceOwner {
    pub tag_key: String,
    pub attribute: OwnerAttribute,
}

pub const MAX_ACCESS_DETAILS: usize = 400;

impl IntegrationSettings {
    /// Checks made when an integration is created or updated.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, v) in [("credential_rotation_days", self.credential_rotation_days), ("user_cleanup_days", self.user_cleanup_days)] {
            if let Some(d) = v {
                if !(d.is_finite() && d > 0.0) {
                    return Err(format!("`settings.{key}` must be a positive number of days, not {d}").into());
                }
            }
        }
        if let Some(d) = &self.custom_access_details {
            let n = d.chars().count();
            if n > MAX_ACCESS_DETAILS {
                return Err(format!("`settings.custom_access_details` has {n} characters; at most {MAX_ACCESS_DETAILS} are allowed").into());
            }
        }
        if let Some(r) = &self.resource_owner {
            if r.tag_key.trim().is_empty() {
                return Err("`settings.resource_owner.tag_key` is empty: name the tag that holds the owner".into());
            }
            if self.integration_owners.is_empty() {
                return Err("`settings.resource_owner` needs an integration owner too: set `settings.integration_owners` (the fallback approver)".into());
            }
        }
        Ok(())
    }

    pub fn rotation_period_ms(&self) -> Option<i64> {
        self.credential_rotation_days.map(days_ms)
    }

    pub fn cleanup_delay_ms(&self) -> Option<i64> {
        self.user_cleanup_days.map(days_ms)
    }
}

fn days_ms(d: f64) -> i64 {
    (d * 86_400_000.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_rules() {
        let mut s = IntegrationSettings { custom_access_details: Some("x".repeat(400)), ..Default::default() };
        assert!(s.validate().is_ok());
        s.custom_access_details = Some("x".repeat(401));
        assert!(s.validate().unwrap_err().to_string().contains("401 characters"));
        s.custom_access_details = None;
        s.resource_owner = Some(ResourceOwner { tag_key: "owner".into(), attribute: OwnerAttribute::Email });
        assert!(s.validate().unwrap_err().to_string().contains("needs an integration owner"));
        s.integration_owners.users.push("boss@x.io".into());
        assert!(s.validate().is_ok());
        s.user_cleanup_days = Some(-1.0);
        assert!(s.validate().unwrap_err().to_string().contains("user_cleanup_days"));
        s.user_cleanup_days = Some(0.5);
        assert_eq!(s.cleanup_delay_ms(), Some(43_200_000));
    }
}
