//! Per-grant IAM principals (users, or roles for federated people): created
//! under the `/sesame/` path, tagged with the grant, their policies put and
//! removed idempotently. Gone already is fine everywhere.

use super::sdk_err;
use aws_sdk_iam::Client;
use sesame_core::policy::Placement;
use sesame_integrations::{Cause, IntegrationError};
use sesame_proto::Credentials;
use std::collections::BTreeMap;

pub const PATH: &str = "/sesame/";
const INLINE: &str = "sesame-grant";

#[derive(Debug, Clone, Copy)]
pub enum Principal<'a> {
    User(&'a str),
    Role(&'a str),
}

impl Principal<'_> {
    fn name(&self) -> &str {
        match self {
            Principal::User(n) | Principal::Role(n) => n,
        }
    }
}

/// An IAM failure with its code, whatever the operation.
struct Fail {
    code: Option<String>,
    text: String,
}

impl Fail {
    fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
    fn into_err(self, what: &str) -> IntegrationError {
        IntegrationError::Unavailable(Cause::Aws { call: what.to_owned(), code: self.code, message: self.text })
    }
}

fn done<T, E>(r: Result<T, aws_sdk_iam::error::SdkError<E>>) -> Result<(), Fail>
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    r.map(|_| ()).map_err(|e| Fail {
        code: e.as_service_error().and_then(|s| s.code()).map(str::to_owned),
        text: aws_sdk_iam::error::DisplayErrorContext(&e).to_string(),
    })
}

pub(crate) fn is_code<E: aws_sdk_iam::error::ProvideErrorMetadata>(e: &aws_sdk_iam::error::SdkError<E>, code: &str) -> bool {
    e.as_service_error().and_then(|s| s.code()) == Some(code)
}

/// An IAM tag (`k` = `v`) on what Sesame makes.
pub(crate) fn iam_tag(k: &str, v: &str) -> Result<aws_sdk_iam::types::Tag, IntegrationError> {
    aws_sdk_iam::types::Tag::builder().key(k).value(v).build().map_err(|e| IntegrationError::Invalid(e.to_string()))
}

fn grant_tag(grant: &str) -> Result<aws_sdk_iam::types::Tag, IntegrationError> {
    iam_tag("sesame:grant", grant)
}

pub async fn ensure_user(iam: &Client, user: &str, grant: &str) -> Result<(), IntegrationError> {
    ensure_user_in(iam, PATH, user, grant).await
}

/// A per-grant user under `path`.
pub async fn ensure_user_in(iam: &Client, path: &str, user: &str, grant: &str) -> Result<(), IntegrationError> {
    match iam.create_user().user_name(user).path(path).tags(grant_tag(grant)?).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, "EntityAlreadyExists") => Ok(()),
        Err(e) => Err(sdk_err(&format!("cannot create IAM user `{user}`"), e)),
    }
}

/// A role only `trust` lets in; its trust policy is replaced when it exists.
pub async fn ensure_role(iam: &Client, role: &str, grant: &str, trust: &serde_json::Value, max_session_secs: i32) -> Result<String, IntegrationError> {
    ensure_role_in(iam, PATH, role, grant, trust, max_session_secs).await
}

/// A per-grant role under `path`.
pub async fn ensure_role_in(iam: &Client, path: &str, role: &str, grant: &str, trust: &serde_json::Value, max_session_secs: i32) -> Result<String, IntegrationError> {
    let created = iam
        .create_role()
        .role_name(role)
        .path(path)
        .assume_role_policy_document(trust.to_string())
        .max_session_duration(max_session_secs)
        .tags(grant_tag(grant)?)
        .send()
        .await;
    match created {
        Ok(o) => Ok(o.role().map(|r| r.arn().to_owned()).unwrap_or_default()),
        Err(e) if is_code(&e, "EntityAlreadyExists") => {
            iam.update_assume_role_policy()
                .role_name(role)
                .policy_document(trust.to_string())
                .send()
                .await
                .map_err(|e| sdk_err("cannot update the trust policy", e))?;
            let r = iam.get_role().role_name(role).send().await.map_err(|e| sdk_err("cannot read the role", e))?;
            Ok(r.role().map(|r| r.arn().to_owned()).unwrap_or_default())
        }
        Err(e) => Err(sdk_err(&format!("cannot create IAM role `{role}`"), e)),
    }
}

async fn account_of(iam: &Client, p: Principal<'_>) -> Result<String, IntegrationError> {
    let arn = match p {
        Principal::User(u) => iam.get_user().user_name(u).send().await.map_err(|e| sdk_err("cannot read the user", e))?.user().map(|u| u.arn().to_owned()),
        Principal::Role(r) => iam.get_role().role_name(r).send().await.map_err(|e| sdk_err("cannot read the role", e))?.role().map(|r| r.arn().to_owned()),
    };
    Ok(arn.unwrap_or_default().split(':').nth(4).unwrap_or_default().to_owned())
}

pub async fn put_policies(iam: &Client, p: Principal<'_>, placement: &Placement) -> Result<(), IntegrationError> {
    let name = p.name();
    if let Some(doc) = &placement.inline {
        let r = match p {
            Principal::User(u) => done(iam.put_user_policy().user_name(u).policy_name(INLINE).policy_document(doc.to_string()).send().await),
            Principal::Role(r) => done(iam.put_role_policy().role_name(r).policy_name(INLINE).policy_document(doc.to_string()).send().await),
        };
        r.map_err(|e| e.into_err(&format!("cannot put the policy of `{name}`")))?;
    }
    for (i, doc) in placement.managed.iter().enumerate() {
        let pname = format!("{name}-{i}");
        let arn = match iam.create_policy().policy_name(&pname).path(PATH).policy_document(doc.to_string()).send().await {
            Ok(o) => o.policy().and_then(|p| p.arn()).map(str::to_owned),
            Err(e) if is_code(&e, "EntityAlreadyExists") => Some(format!("arn:aws:iam::{}:policy{PATH}{pname}", account_of(iam, p).await?)),
            Err(e) => return Err(sdk_err(&format!("cannot create policy `{pname}`"), e)),
        };
        let arn = arn.ok_or_else(|| IntegrationError::Unavailable(Cause::Aws { call: format!("creating `{pname}`"), code: None, message: "IAM returned no ARN".into() }))?;
        let r = match p {
            Principal::User(u) => done(iam.attach_user_policy().user_name(u).policy_arn(arn).send().await),
            Principal::Role(r) => done(iam.attach_role_policy().role_name(r).policy_arn(arn).send().await),
        };
        r.map_err(|e| e.into_err("cannot attach a policy"))?;
    }
    Ok(())
}

pub async fn delete_keys(iam: &Client, user: &str) -> Result<(), IntegrationError> {
    let keys = match iam.list_access_keys().user_name(user).send().await {
        Ok(k) => k,
        Err(e) if is_code(&e, "NoSuchEntity") => return Ok(()),
        Err(e) => return Err(sdk_err("cannot list access keys", e)),
    };
    for k in keys.access_key_metadata() {
        if let Some(id) = k.access_key_id() {
            iam.delete_access_key().user_name(user).access_key_id(id).send().await.map_err(|e| sdk_err("cannot delete an access key", e))?;
        }
    }
    Ok(())
}

async fn delete_managed(iam: &Client, p: Principal<'_>, arn: &str) -> Result<(), IntegrationError> {
    let r = match p {
        Principal::User(u) => done(iam.detach_user_policy().user_name(u).policy_arn(arn).send().await),
        Principal::Role(r) => done(iam.detach_role_policy().role_name(r).policy_arn(arn).send().await),
    };
    match r {
        Ok(()) => {}
        Err(e) if e.is("NoSuchEntity") => {}
        Err(e) => return Err(e.into_err("cannot detach a policy")),
    }
    if arn.contains(":policy/sesame/") {
        match iam.delete_policy().policy_arn(arn).send().await {
            Ok(_) => {}
            Err(e) if is_code(&e, "NoSuchEntity") => {}
            Err(e) => return Err(sdk_err("cannot delete a policy", e)),
        }
    }
    Ok(())
}

pub async fn delete_policies(iam: &Client, p: Principal<'_>) -> Result<(), IntegrationError> {
    let (inline, attached) = match p {
        Principal::User(u) => {
            let n = match iam.list_user_policies().user_name(u).send().await {
                Ok(n) => n.policy_names().to_vec(),
                Err(e) if is_code(&e, "NoSuchEntity") => return Ok(()),
                Err(e) => return Err(sdk_err("cannot list user policies", e)),
            };
            let a = iam.list_attached_user_policies().user_name(u).send().await.map_err(|e| sdk_err("cannot list attached policies", e))?;
            (n, a.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_owned)).collect::<Vec<_>>())
        }
        Principal::Role(r) => {
            let n = match iam.list_role_policies().role_name(r).send().await {
                Ok(n) => n.policy_names().to_vec(),
                Err(e) if is_code(&e, "NoSuchEntity") => return Ok(()),
                Err(e) => return Err(sdk_err("cannot list role policies", e)),
            };
            let a = iam.list_attached_role_policies().role_name(r).send().await.map_err(|e| sdk_err("cannot list attached policies", e))?;
            (n, a.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_owned)).collect::<Vec<_>>())
        }
    };
    for n in inline {
        let r = match p {
            Principal::User(u) => done(iam.delete_user_policy().user_name(u).policy_name(&n).send().await),
            Principal::Role(r) => done(iam.delete_role_policy().role_name(r).policy_name(&n).send().await),
        };
        match r {
            Ok(()) => {}
            Err(e) if e.is("NoSuchEntity") => {}
            Err(e) => return Err(e.into_err("cannot delete a policy")),
        }
    }
    for arn in attached {
        delete_managed(iam, p, &arn).await?;
    }
    Ok(())
}

/// Everything the grant left: keys, policies, the principal.
pub async fn delete(iam: &Client, p: Principal<'_>) -> Result<(), IntegrationError> {
    if let Principal::User(u) = p {
        delete_keys(iam, u).await?;
    }
    delete_policies(iam, p).await?;
    let r = match p {
        Principal::User(u) => done(iam.delete_user().user_name(u).send().await),
        Principal::Role(r) => done(iam.delete_role().role_name(r).send().await),
    };
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.is("NoSuchEntity") => Ok(()),
        Err(e) => Err(e.into_err(&format!("cannot delete `{}`", p.name()))),
    }
}

/// A fresh access key (older ones are deleted: shown once, never stored).
pub async fn new_access_key(iam: &Client, user: &str, region: &str, hint: Option<String>) -> Result<Credentials, IntegrationError> {
    delete_keys(iam, user).await?;
    let out = iam.create_access_key().user_name(user).send().await.map_err(|e| sdk_err("cannot create an access key", e))?;
    let key = out.access_key().ok_or_else(|| IntegrationError::Unavailable(Cause::Aws { call: "creating an access key".into(), code: None, message: "IAM returned no access key".into() }))?;
    let (id, secret) = (key.access_key_id().to_owned(), key.secret_access_key().to_owned());
    let command = hint.map(|h| format!("AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY={secret} AWS_REGION={region} {h}"));
    let details = BTreeMap::from([("aws_access_key_id".to_owned(), id.clone()), ("region".to_owned(), region.to_owned()), ("iam_user".to_owned(), user.to_owned())]);
    Ok(Credentials { username: id, secret, details, connect_command: command })
}

/// Per-grant users and roles (both carry the prefix) under `/sesame/`.
pub async fn list(iam: &Client, prefix: &str) -> Result<Vec<String>, IntegrationError> {
    list_in(iam, PATH, prefix).await
}

/// Per-grant users and roles with `prefix` under `path`.
pub async fn list_in(iam: &Client, path: &str, prefix: &str) -> Result<Vec<String>, IntegrationError> {
    let mut out = Vec::new();
    let mut pages = iam.list_users().path_prefix(path).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_err("cannot list IAM users", e))?;
        out.extend(page.users().iter().map(|u| u.user_name().to_owned()).filter(|n| n.starts_with(prefix)));
    }
    let mut pages = iam.list_roles().path_prefix(path).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_err("cannot list IAM roles", e))?;
        out.extend(page.roles().iter().map(|r| r.role_name().to_owned()).filter(|n| n.starts_with(prefix)));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Is `name` a role (per-grant roles) rather than a user?
pub async fn is_role(iam: &Client, name: &str) -> Result<bool, IntegrationError> {
    match iam.get_role().role_name(name).send().await {
        Ok(_) => Ok(true),
        Err(e) if is_code(&e, "NoSuchEntity") => Ok(false),
        Err(e) => Err(sdk_err("cannot read a role", e)),
    }
}
