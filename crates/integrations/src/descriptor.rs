//! What an integration is and offers, as one value built with it: its kind,
//! resource types and their permissions, how its logins are named, its
//! limits and its settings. The control plane reads only this; the wire form
//! for connectors is [`IntegrationInfo`].

use crate::settings::IntegrationSettings;
use sesame_proto::connector::{IntegrationInfo, IntegrationKind};
use sesame_proto::PermissionInfo;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub kind: IntegrationKind,
    /// Offered resource types, in the order people see them.
    pub resource_types: Vec<ResourceType>,
    pub username: UsernameRule,
    pub limits: Limits,
    pub settings: IntegrationSettings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    pub name: String,
    pub permissions: Vec<PermissionInfo>,
}

/// How the login a grant is given is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameRule {
    /// Prefix of every login Sesame makes; the reconciler only ever touches
    /// logins with it.
    pub prefix: String,
    /// Longest login name the target accepts.
    pub max_len: usize,
    /// The grantee's own identity (custom integrations in e-mail mode)
    /// instead of a login made per grant.
    pub requester_identity: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// The seed's guardrail: at most this many resources selected by name
    /// in one request (AWS integrations).
    pub named_resources: Option<usize>,
}

impl Descriptor {
    /// A descriptor offering `types`, each with the permissions
    /// `permissions` gives it.
    pub fn new(kind: IntegrationKind, types: &[String], permissions: impl Fn(&str) -> Vec<PermissionInfo>, username: UsernameRule, settings: IntegrationSettings) -> Descriptor {
        let resource_types = types.iter().map(|t| ResourceType { name: t.clone(), permissions: permissions(t) }).collect();
        Descriptor { kind, resource_types, username, limits: Limits::default(), settings }
    }

    pub fn with_named_resource_limit(mut self, limit: Option<usize>) -> Descriptor {
        self.limits.named_resources = limit;
        self
    }

    pub fn type_names(&self) -> Vec<String> {
        self.resource_types.iter().map(|t| t.name.clone()).collect()
    }

    pub fn offers(&self, resource_type: &str) -> bool {
        self.resource_types.iter().any(|t| t.name == resource_type)
    }

    /// Permissions on an offered type; none on a type not offered.
    pub fn permissions(&self, resource_type: &str) -> &[PermissionInfo] {
        self.resource_types.iter().find(|t| t.name == resource_type).map(|t| t.permissions.as_slice()).unwrap_or_default()
    }

    /// Every offered type with its permissions, as discovery reports them.
    pub fn permission_map(&self) -> BTreeMap<String, Vec<PermissionInfo>> {
        self.resource_types.iter().map(|t| (t.name.clone(), t.permissions.clone())).collect()
    }

    /// The wire form a connector registers.
    pub fn info(&self, name: &str) -> IntegrationInfo {
        IntegrationInfo {
            name: name.to_owned(),
            kind: self.kind,
            resource_types: self.type_names(),
            permissions: self.permission_map(),
            max_username_len: self.username.max_len,
            user_prefix: self.username.prefix.clone(),
            uses_requester_identity: self.username.requester_identity,
            named_resource_limit: self.limits.named_resources,
            settings: serde_json::to_value(&self.settings).unwrap_or_default(),
        }
    }

    /// What a connector registered. Settings that do not parse are dropped:
    /// the control plane governs them anyway (see the gateway).
    pub fn from_info(info: &IntegrationInfo) -> Descriptor {
        let resource_types = info
            .resource_types
            .iter()
            .map(|t| ResourceType { name: t.clone(), permissions: info.permissions.get(t).cloned().unwrap_or_default() })
            .collect();
        Descriptor {
            kind: info.kind,
            resource_types,
            username: UsernameRule {
                prefix: info.user_prefix.clone(),
                max_len: info.max_username_len,
                requester_identity: info.uses_requester_identity,
            },
            limits: Limits { named_resources: info.named_resource_limit },
            settings: serde_json::from_value(info.settings.clone()).unwrap_or_default(),
        }
    }

    /// An integration whose connector has not registered yet: it offers
    /// nothing.
    pub fn unknown(kind: IntegrationKind) -> Descriptor {
        Descriptor {
            kind,
            resource_types: vec![],
            username: UsernameRule { prefix: "sesame_".into(), max_len: 32, requester_identity: false },
            limits: Limits::default(),
            settings: IntegrationSettings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_carries_everything_back() {
        let p = |id: &str| PermissionInfo { id: id.into(), name: id.into(), risk_level: Some("low".into()), selectable: false };
        let d = Descriptor::new(
            IntegrationKind::Mysql,
            &["database".into(), "role".into()],
            |t| if t == "role" { vec![p("member")] } else { vec![p("read_only"), p("admin")] },
            UsernameRule { prefix: "sesame_".into(), max_len: 32, requester_identity: false },
            IntegrationSettings { user_cleanup_days: Some(2.0), ..Default::default() },
        )
        .with_named_resource_limit(Some(100));
        assert_eq!(Descriptor::from_info(&d.info("db")), d);
        assert_eq!(d.permissions("role"), [p("member")]);
        assert!(d.permissions("table").is_empty(), "a type not offered has no permissions");
        assert!(!d.offers("table"));
    }
}
