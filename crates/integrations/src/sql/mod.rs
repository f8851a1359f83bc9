//! SQL text helpers shared by the database integrations.

pub mod quote;
pub mod rds_iam;
pub mod scram;

use sesame_proto::PermissionInfo;

/// How grantees of a database integration authenticate (the seed's Auth Type).
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// A random password, shown once.
    #[default]
    Password,
    /// RDS IAM database authentication: no password, a token from AWS.
    Iam,
}

/// The permissions of the database integrations: data access levels on
/// data resources (`data_types`), membership on roles.
pub fn permissions(resource_type: &str, data_types: &[&str]) -> Vec<PermissionInfo> {
    let p = |id: &str, name: &str, risk: &str| PermissionInfo { id: id.into(), name: name.into(), risk_level: Some(risk.into()), selectable: false };
    if data_types.contains(&resource_type) {
        vec![p("read_only", "Read only", "low"), p("read_write", "Read/write", "medium"), p("admin", "Admin", "high")]
    } else if resource_type == "role" {
        // A role holds whatever was granted to it.
        vec![p("member", "Member of the role", "high")]
    } else {
        vec![]
    }
}

/// The roles a database integration offers for membership: names or glob
/// patterns (`app_*`, `report?`), from the configuration's `roles`. Empty
/// (the default) offers none: a role is access to whatever it holds, so
/// which ones are safe to hand out is the operator's decision.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct RoleAllowList(Vec<String>);

impl RoleAllowList {
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        for p in &self.0 {
            glob::Pattern::new(p).map_err(|e| format!("`roles` entry `{p}` is not a valid pattern: {e}"))?;
        }
        Ok(())
    }

    pub fn allows(&self, role: &str) -> bool {
        self.0.iter().any(|p| glob::Pattern::new(p).is_ok_and(|g| g.matches(role)))
    }

    /// Refuse a role membership grant outside the list.
    pub fn check(&self, role: &str) -> Result<(), crate::IntegrationError> {
        if self.allows(role) {
            return Ok(());
        }
        Err(crate::IntegrationError::Invalid(format!("role `{role}` is not offered: add it to the integration's `roles` to hand it out")))
    }
}

/// The name of the role or group (without privileges) that marks the logins
/// `integration` made, where a target has no comments on logins (MySQL,
/// Redshift): `sesame_mark_` and 16 hex digits of a hash of the name
/// (28 bytes: MySQL names are at most 32).
pub fn marker_name(integration: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(integration.as_bytes());
    format!("{MARKER_PREFIX}{}", hex::encode(&h[..8]))
}

pub const MARKER_PREFIX: &str = "sesame_mark_";

/// `s` quoted for a POSIX shell, for the ready command lines shown to grantees.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.@/:".contains(c)) {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The resource types an integration offers: the chosen ones (the
/// granularity, e.g. only `database`), or all when none are chosen.
pub fn offered(all: &[&str], chosen: &[String]) -> Vec<String> {
    all.iter().filter(|t| chosen.is_empty() || chosen.iter().any(|c| c == *t)).map(|t| t.to_string()).collect()
}

/// `resource_types` may only name types the integration has.
pub fn check_types(all: &[&str], chosen: &[String]) -> Result<(), crate::ConfigError> {
    match chosen.iter().find(|c| !all.contains(&c.as_str())) {
        Some(bad) => Err(format!("`resource_types` names `{bad}`: use some of {}", all.join(", ")).into()),
        None => Ok(()),
    }
}

/// Keep only what the offered types cover.
pub fn restrict(d: &mut crate::Discovery, offered: &[String]) {
    d.resources.retain(|r| offered.contains(&r.resource_type));
    d.permissions.retain(|t, _| offered.contains(t));
}

/// A target's pool: a connection that sat idle for more than a second is
/// pinged before it is used (a target that restarted, or a network that cut
/// it, leaves it dead, and the action would fail on it); one in steady use
/// is not, since its last use proved it and a ping is one more round trip
/// to the target on every action.
pub fn checked_when_idle<DB: sqlx::Database>(o: sqlx::pool::PoolOptions<DB>) -> sqlx::pool::PoolOptions<DB> {
    o.test_before_acquire(false).before_acquire(|conn, meta| {
        Box::pin(async move {
            if meta.idle_for < std::time::Duration::from_secs(1) {
                return Ok(true);
            }
            Ok(sqlx::Connection::ping(conn).await.is_ok())
        })
    })
}

#[cfg(test)]
mod role_tests {
    #[test]
    fn only_listed_roles_are_offered() {
        let none = super::RoleAllowList::default();
        assert!(!none.allows("app_reader"));
        let l: super::RoleAllowList = serde_json::from_value(serde_json::json!(["app_*", "report"])).unwrap();
        assert!(l.validate().is_ok());
        assert!(l.allows("app_reader") && l.allows("report"));
        assert!(!l.allows("rds_superuser") && !l.allows("reporter") && !l.allows("xapp_reader"));
        assert!(l.check("rds_superuser").unwrap_err().to_string().contains("`roles`"));
        let bad: super::RoleAllowList = serde_json::from_value(serde_json::json!(["[a"])).unwrap();
        assert!(bad.validate().is_err());
    }
}

#[cfg(test)]
mod granularity_tests {
    #[test]
    fn chosen_types_narrow_what_is_offered() {
        let all = ["database", "table", "role"];
        assert_eq!(super::offered(&all, &[]), ["database", "table", "role"]);
        assert_eq!(super::offered(&all, &["database".into()]), ["database"]);
        assert!(super::check_types(&all, &["schema".into()]).unwrap_err().to_string().contains("`schema`"));
    }
}
