//! Permission boundaries on over-privileged standing roles and users: read a
//! principal's current boundary, put one or remove it. What Sesame put, and
//! the boundary to restore on lift, live in the control plane's store: a
//! principal that can tag itself must not choose what comes back.

use super::principal::is_code;
use super::{sdk_err, AwsAccount};
use sesame_integrations::IntegrationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Role,
    User,
}

fn kind(t: &str) -> Result<Kind, IntegrationError> {
    match t {
        "role" => Ok(Kind::Role),
        "user" => Ok(Kind::User),
        other => Err(IntegrationError::Invalid(format!("principal type `{other}`: use `role` or `user`"))),
    }
}

impl AwsAccount {
    /// A standing principal's ARN and current boundary.
    pub(super) async fn standing_boundary(&self, principal_type: &str, name: &str) -> Result<(String, Option<String>), IntegrationError> {
        let k = kind(principal_type)?;
        if name.starts_with(&self.cfg.user_prefix) {
            return Err(IntegrationError::Invalid(format!("`{name}` is one of Sesame's per-grant principals; restrict standing principals only")));
        }
        let missing = || IntegrationError::Invalid(format!("there is no IAM {principal_type} `{name}` in this account"));
        match k {
            Kind::Role => {
                let r = match self.iam.get_role().role_name(name).send().await {
                    Ok(r) => r,
                    Err(e) if is_code(&e, "NoSuchEntity") => return Err(missing()),
                    Err(e) => return Err(sdk_err("cannot read the role", e)),
                };
                let r = r.role().ok_or_else(missing)?;
                Ok((r.arn().to_owned(), r.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_owned)))
            }
            Kind::User => {
                let u = match self.iam.get_user().user_name(name).send().await {
                    Ok(u) => u,
                    Err(e) if is_code(&e, "NoSuchEntity") => return Err(missing()),
                    Err(e) => return Err(sdk_err("cannot read the user", e)),
                };
                let u = u.user().ok_or_else(missing)?;
                Ok((u.arn().to_owned(), u.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_owned)))
            }
        }
    }

    /// Put `arn` as the boundary of a standing principal, or remove it.
    pub(super) async fn put_standing_boundary(&self, principal_type: &str, name: &str, arn: Option<&str>) -> Result<(), IntegrationError> {
        let k = kind(principal_type)?;
        if name.starts_with(&self.cfg.user_prefix) {
            return Err(IntegrationError::Invalid(format!("`{name}` is one of Sesame's per-grant principals; restrict standing principals only")));
        }
        if let Some(a) = arn.filter(|a| !a.starts_with("arn:aws:iam::") || !a.contains(":policy/")) {
            return Err(IntegrationError::Invalid(format!("`{a}` is not a managed policy ARN (arn:aws:iam::ACCOUNT:policy/NAME)")));
        }
        match (k, arn) {
            (Kind::Role, Some(a)) => self.iam.put_role_permissions_boundary().role_name(name).permissions_boundary(a).send().await.map(|_| ()).map_err(|e| sdk_err("cannot put the boundary", e)),
            (Kind::User, Some(a)) => self.iam.put_user_permissions_boundary().user_name(name).permissions_boundary(a).send().await.map(|_| ()).map_err(|e| sdk_err("cannot put the boundary", e)),
            (Kind::Role, None) => match self.iam.delete_role_permissions_boundary().role_name(name).send().await {
                Ok(_) => Ok(()),
                // Already without one: removing it again succeeds.
                Err(e) if is_code(&e, "NoSuchEntity") && self.standing_boundary(principal_type, name).await?.1.is_none() => Ok(()),
                Err(e) => Err(sdk_err("cannot remove the boundary", e)),
            },
            (Kind::User, None) => match self.iam.delete_user_permissions_boundary().user_name(name).send().await {
                Ok(_) => Ok(()),
                Err(e) if is_code(&e, "NoSuchEntity") && self.standing_boundary(principal_type, name).await?.1.is_none() => Ok(()),
                Err(e) => Err(sdk_err("cannot remove the boundary", e)),
            },
        }
    }
}
