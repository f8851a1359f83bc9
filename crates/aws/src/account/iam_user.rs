//! Per-grant IAM users: created under the `/sesame/` path, tagged with the
//! grant, policies put and removed idempotently.

use super::sdk_err;
use aws_sdk_iam::Client;
use sesame_core::policy::Placement;
use sesame_integrations::IntegrationError;
use sesame_proto::Credentials;
use std::collections::BTreeMap;

pub const PATH: &str = "/sesame/";
const INLINE: &str = "sesame-grant";

fn is_code<E: aws_sdk_iam::error::ProvideErrorMetadata>(e: &aws_sdk_iam::error::SdkError<E>, code: &str) -> bool {
    e.as_service_error().and_then(|s| s.code()) == Some(code)
}

pub async fn ensure(iam: &Client, user: &str, grant: &str) -> Result<(), IntegrationError> {
    let tag = aws_sdk_iam::types::Tag::builder()
        .key("sesame:grant")
        .value(grant)
        .build()
        .map_err(|e| IntegrationError::Invalid(e.to_string()))?;
    match iam.create_user().user_name(user).path(PATH).tags(tag).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, "EntityAlreadyExists") => Ok(()),
        Err(e) => Err(sdk_err(&format!("cannot create IAM user `{user}`"), e)),
    }
}

pub async fn put_policies(iam: &Client, user: &str, p: &Placement) -> Result<(), IntegrationError> {
    if let Some(doc) = &p.inline {
        iam.put_user_policy()
            .user_name(user)
            .policy_name(INLINE)
            .policy_document(doc.to_string())
            .send()
            .await
            .map_err(|e| sdk_err(&format!("cannot put the policy of `{user}`"), e))?;
    }
    for (i, doc) in p.managed.iter().enumerate() {
        let name = format!("{user}-{i}");
        let arn = match iam.create_policy().policy_name(&name).path(PATH).policy_document(doc.to_string()).send().await {
            Ok(o) => o.policy().and_then(|p| p.arn()).map(str::to_owned),
            Err(e) if is_code(&e, "EntityAlreadyExists") => {
                let me = iam.get_user().user_name(user).send().await.map_err(|e| sdk_err("cannot read the user", e))?;
                let account = me.user().map(|u| u.arn().split(':').nth(4).unwrap_or_default().to_owned()).unwrap_or_default();
                Some(format!("arn:aws:iam::{account}:policy{PATH}{name}"))
            }
            Err(e) => return Err(sdk_err(&format!("cannot create policy `{name}`"), e)),
        };
        let arn = arn.ok_or_else(|| IntegrationError::Unavailable(format!("IAM returned no ARN for `{name}`")))?;
        iam.attach_user_policy().user_name(user).policy_arn(arn).send().await.map_err(|e| sdk_err("cannot attach a policy", e))?;
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

pub async fn delete_policies(iam: &Client, user: &str) -> Result<(), IntegrationError> {
    let names = match iam.list_user_policies().user_name(user).send().await {
        Ok(n) => n,
        Err(e) if is_code(&e, "NoSuchEntity") => return Ok(()),
        Err(e) => return Err(sdk_err("cannot list user policies", e)),
    };
    for n in names.policy_names() {
        iam.delete_user_policy().user_name(user).policy_name(n).send().await.map_err(|e| sdk_err("cannot delete a policy", e))?;
    }
    let attached = iam.list_attached_user_policies().user_name(user).send().await.map_err(|e| sdk_err("cannot list attached policies", e))?;
    for p in attached.attached_policies() {
        if let Some(arn) = p.policy_arn() {
            iam.detach_user_policy().user_name(user).policy_arn(arn).send().await.map_err(|e| sdk_err("cannot detach a policy", e))?;
            if arn.contains(":policy/sesame/") {
                match iam.delete_policy().policy_arn(arn).send().await {
                    Ok(_) => {}
                    Err(e) if is_code(&e, "NoSuchEntity") => {}
                    Err(e) => return Err(sdk_err("cannot delete a policy", e)),
                }
            }
        }
    }
    Ok(())
}

/// Everything the grant left: keys, policies, the user. Gone already is fine.
pub async fn delete(iam: &Client, user: &str) -> Result<(), IntegrationError> {
    delete_keys(iam, user).await?;
    delete_policies(iam, user).await?;
    match iam.delete_user().user_name(user).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, "NoSuchEntity") => Ok(()),
        Err(e) => Err(sdk_err(&format!("cannot delete IAM user `{user}`"), e)),
    }
}

/// A fresh access key (older ones are deleted: shown once, never stored).
pub async fn new_access_key(iam: &Client, user: &str, region: &str, bucket: Option<&str>) -> Result<Credentials, IntegrationError> {
    delete_keys(iam, user).await?;
    let out = iam.create_access_key().user_name(user).send().await.map_err(|e| sdk_err("cannot create an access key", e))?;
    let key = out.access_key().ok_or_else(|| IntegrationError::Unavailable("IAM returned no access key".into()))?;
    let (id, secret) = (key.access_key_id().to_owned(), key.secret_access_key().to_owned());
    let command = bucket.map(|b| format!("AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY={secret} AWS_REGION={region} aws s3 ls s3://{b}/"));
    let details = BTreeMap::from([("aws_access_key_id".to_owned(), id.clone()), ("region".to_owned(), region.to_owned()), ("iam_user".to_owned(), user.to_owned())]);
    Ok(Credentials { username: id, secret, details, connect_command: command })
}

pub async fn list(iam: &Client, prefix: &str) -> Result<Vec<String>, IntegrationError> {
    let mut out = Vec::new();
    let mut pages = iam.list_users().path_prefix(PATH).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_err("cannot list IAM users", e))?;
        out.extend(page.users().iter().map(|u| u.user_name().to_owned()).filter(|n| n.starts_with(prefix)));
    }
    Ok(out)
}
