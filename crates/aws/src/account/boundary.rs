//! Permission boundaries on over-privileged standing roles and users: put
//! one (remembering, in tags, the boundary the principal had), list what
//! Sesame restricted, and lift it (restoring the previous boundary).

use super::principal::is_code;
use super::{sdk_err, AwsAccount};
use aws_sdk_iam::types::Tag;
use sesame_integrations::IntegrationError;
use sesame_proto::Restriction;

pub const TAG_BOUNDARY: &str = "sesame:boundary";
pub const TAG_PREVIOUS: &str = "sesame:boundary-previous";
const NONE: &str = "none";

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

fn tag(k: &str, v: &str) -> Result<Tag, IntegrationError> {
    Tag::builder().key(k).value(v).build().map_err(|e| IntegrationError::Invalid(e.to_string()))
}

fn tag_value(tags: &[Tag], k: &str) -> Option<String> {
    tags.iter().find(|t| t.key() == k).map(|t| t.value().to_owned())
}

impl AwsAccount {
    /// (ARN, current boundary, tags) of a principal.
    async fn principal_state(&self, k: Kind, name: &str) -> Result<(String, Option<String>, Vec<Tag>), IntegrationError> {
        let missing = || IntegrationError::Invalid(format!("there is no IAM {} `{name}` in this account", if k == Kind::Role { "role" } else { "user" }));
        match k {
            Kind::Role => {
                let r = match self.iam.get_role().role_name(name).send().await {
                    Ok(r) => r,
                    Err(e) if is_code(&e, "NoSuchEntity") => return Err(missing()),
                    Err(e) => return Err(sdk_err("cannot read the role", e)),
                };
                let r = r.role().ok_or_else(missing)?;
                let tags = self.iam.list_role_tags().role_name(name).send().await.map_err(|e| sdk_err("cannot read the role's tags", e))?;
                Ok((r.arn().to_owned(), r.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_owned), tags.tags().to_vec()))
            }
            Kind::User => {
                let u = match self.iam.get_user().user_name(name).send().await {
                    Ok(u) => u,
                    Err(e) if is_code(&e, "NoSuchEntity") => return Err(missing()),
                    Err(e) => return Err(sdk_err("cannot read the user", e)),
                };
                let u = u.user().ok_or_else(missing)?;
                let tags = self.iam.list_user_tags().user_name(name).send().await.map_err(|e| sdk_err("cannot read the user's tags", e))?;
                Ok((u.arn().to_owned(), u.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_owned), tags.tags().to_vec()))
            }
        }
    }

    async fn set_boundary(&self, k: Kind, name: &str, arn: Option<&str>) -> Result<(), IntegrationError> {
        let r = match (k, arn) {
            (Kind::Role, Some(a)) => self.iam.put_role_permissions_boundary().role_name(name).permissions_boundary(a).send().await.map(|_| ()).map_err(|e| sdk_err("cannot put the boundary", e)),
            (Kind::User, Some(a)) => self.iam.put_user_permissions_boundary().user_name(name).permissions_boundary(a).send().await.map(|_| ()).map_err(|e| sdk_err("cannot put the boundary", e)),
            (Kind::Role, None) => self.iam.delete_role_permissions_boundary().role_name(name).send().await.map(|_| ()).map_err(|e| sdk_err("cannot remove the boundary", e)),
            (Kind::User, None) => self.iam.delete_user_permissions_boundary().user_name(name).send().await.map(|_| ()).map_err(|e| sdk_err("cannot remove the boundary", e)),
        };
        r
    }

    async fn set_tags(&self, k: Kind, name: &str, tags: Vec<Tag>) -> Result<(), IntegrationError> {
        match k {
            Kind::Role => self.iam.tag_role().role_name(name).set_tags(Some(tags)).send().await.map(|_| ()).map_err(|e| sdk_err("cannot tag the role", e)),
            Kind::User => self.iam.tag_user().user_name(name).set_tags(Some(tags)).send().await.map(|_| ()).map_err(|e| sdk_err("cannot tag the user", e)),
        }
    }

    async fn clear_tags(&self, k: Kind, name: &str) -> Result<(), IntegrationError> {
        let keys = vec![TAG_BOUNDARY.to_owned(), TAG_PREVIOUS.to_owned()];
        match k {
            Kind::Role => self.iam.untag_role().role_name(name).set_tag_keys(Some(keys)).send().await.map(|_| ()).map_err(|e| sdk_err("cannot untag the role", e)),
            Kind::User => self.iam.untag_user().user_name(name).set_tag_keys(Some(keys)).send().await.map(|_| ()).map_err(|e| sdk_err("cannot untag the user", e)),
        }
    }

    pub(super) async fn restrict(&self, principal_type: &str, name: &str, boundary: &str) -> Result<(), IntegrationError> {
        let k = kind(principal_type)?;
        if !boundary.starts_with("arn:aws:iam::") || !boundary.contains(":policy/") {
            return Err(IntegrationError::Invalid(format!("`{boundary}` is not a managed policy ARN (arn:aws:iam::ACCOUNT:policy/NAME)")));
        }
        if name.starts_with(&self.cfg.user_prefix) {
            return Err(IntegrationError::Invalid(format!("`{name}` is one of Sesame's per-grant principals; restrict standing principals only")));
        }
        let (_, current, tags) = self.principal_state(k, name).await?;
        // The first restriction remembers what was there; repeating it keeps that memory.
        let previous = match tag_value(&tags, TAG_PREVIOUS) {
            Some(p) => p,
            None => current.unwrap_or_else(|| NONE.to_owned()),
        };
        self.set_tags(k, name, vec![tag(TAG_PREVIOUS, &previous)?, tag(TAG_BOUNDARY, boundary)?]).await?;
        self.set_boundary(k, name, Some(boundary)).await
    }

    pub(super) async fn lift(&self, principal_type: &str, name: &str) -> Result<(), IntegrationError> {
        let k = kind(principal_type)?;
        let (_, _, tags) = self.principal_state(k, name).await?;
        let Some(previous) = tag_value(&tags, TAG_PREVIOUS) else {
            return Err(IntegrationError::Invalid(format!("Sesame did not restrict `{name}`: there is nothing to lift")));
        };
        self.set_boundary(k, name, (previous != NONE).then_some(previous.as_str())).await?;
        self.clear_tags(k, name).await
    }

    pub(super) async fn restricted(&self) -> Result<Vec<Restriction>, IntegrationError> {
        let mut out = Vec::new();
        let mut roles = self.iam.list_roles().into_paginator().send();
        let mut names = Vec::new();
        while let Some(page) = roles.next().await {
            names.extend(page.map_err(|e| sdk_err("cannot list IAM roles", e))?.roles().iter().map(|r| ("role", r.role_name().to_owned())));
        }
        let mut users = self.iam.list_users().into_paginator().send();
        while let Some(page) = users.next().await {
            names.extend(page.map_err(|e| sdk_err("cannot list IAM users", e))?.users().iter().map(|u| ("user", u.user_name().to_owned())));
        }
        for (t, n) in names {
            let k = kind(t)?;
            let Ok((arn, _, tags)) = self.principal_state(k, &n).await else { continue };
            if let (Some(b), Some(p)) = (tag_value(&tags, TAG_BOUNDARY), tag_value(&tags, TAG_PREVIOUS)) {
                out.push(Restriction { principal_type: t.to_owned(), name: n, arn, boundary_arn: b, previous_boundary_arn: (p != NONE).then_some(p) });
            }
        }
        Ok(out)
    }
}
