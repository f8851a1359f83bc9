//! The access-entry variant, for clusters run without in-cluster RBAC
//! management: a grant is a per-grant IAM role only the grantee may assume
//! (until the deadline, by its trust policy), an EKS access entry for that
//! role, and one EKS access policy (View, Edit, Admin, ClusterAdmin)
//! associated at cluster or namespace scope. Revoke deletes the access
//! entry (its associations go with it), then the role. The roles live under
//! `/sesame-eks/`, named after the grant's login and tagged with its
//! deadline, which is what the reconciler and the connector's own expiry
//! read.

use super::rbac::{self, CLUSTER, NAMESPACE};
use crate::account::sdk_err;
use crate::account::iam_tag as tag;
use sesame_core::policy::{trust_policy, Federation};
use sesame_core::Timestamp;
use sesame_integrations::IntegrationError;
use sesame_proto::PermissionInfo;

pub const PATH: &str = "/sesame-eks/";
const LOGIN_TAG: &str = "sesame:login";
const EXPIRES_TAG: &str = "sesame:expires-at";
const INLINE: &str = "describe-cluster";

/// Sesame's permission ids and the EKS access policies they associate.
pub const POLICIES: [(&str, &str, &str, &str); 4] = [
    ("view", "View", "low", "AmazonEKSViewPolicy"),
    ("edit", "Edit", "medium", "AmazonEKSEditPolicy"),
    ("admin", "Admin", "high", "AmazonEKSAdminPolicy"),
    ("cluster-admin", "Cluster admin", "critical", "AmazonEKSClusterAdminPolicy"),
];

pub fn permissions() -> Vec<PermissionInfo> {
    POLICIES.iter().map(|(id, name, risk, _)| PermissionInfo { id: (*id).into(), name: (*name).into(), risk_level: Some((*risk).into()), selectable: false }).collect()
}

/// What one grant associates: the policy's ARN and its access scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub policy_arn: String,
    /// `None`: the whole cluster; else these namespaces.
    pub namespaces: Option<Vec<String>>,
}

/// The association a grant asks for, checked: this cluster or valid
/// namespace names, and a permission that is an access policy.
pub fn association(cluster: &str, resource_type: &str, resources: &[String], permission: &str) -> Result<Association, IntegrationError> {
    let invalid = |m: String| IntegrationError::Invalid(m);
    let policy = POLICIES
        .iter()
        .find(|(id, ..)| *id == permission)
        .map(|(.., p)| format!("arn:aws:eks::aws:cluster-access-policy/{p}"))
        .ok_or_else(|| invalid(format!("`{}` is not an access policy here: use view, edit, admin or cluster-admin", permission.escape_debug())))?;
    if resources.is_empty() {
        return Err(invalid("a grant names at least one resource".into()));
    }
    let namespaces = match resource_type {
        CLUSTER if resources.iter().all(|r| r == cluster) => None,
        CLUSTER => return Err(invalid(format!("this integration's cluster is `{cluster}`"))),
        NAMESPACE => {
            let mut ns: Vec<String> = Vec::new();
            for r in resources {
                if !rbac::dns_label(r) {
                    return Err(invalid(format!("`{}` is not a namespace name (RFC 1123: lower-case letters, digits and `-`, at most 63)", r.escape_debug())));
                }
                if !ns.contains(r) {
                    ns.push(r.clone());
                }
            }
            Some(ns)
        }
        t => return Err(invalid(format!("`{}` is not offered by access policies: use cluster or namespace", t.escape_debug()))),
    };
    Ok(Association { policy_arn: policy, namespaces })
}

/// The per-grant role's ARN (its name is the login, checked by
/// [`rbac::object_name`], so it is also a valid IAM role name).
pub fn role_arn(account: &str, login: &str) -> Result<String, IntegrationError> {
    rbac::object_name(login)?;
    Ok(format!("arn:aws:iam::{account}:role{PATH}{login}"))
}

/// Per-grant roles and access entries, through the IAM and EKS SDKs.
pub struct AccessPolicies {
    pub iam: aws_sdk_iam::Client,
    pub eks: aws_sdk_eks::Client,
    pub account: String,
    pub cluster: String,
    pub region: String,
    pub username_prefix: String,
}

fn iam_code<E: aws_sdk_iam::error::ProvideErrorMetadata>(e: &aws_sdk_iam::error::SdkError<E>) -> Option<&str> {
    e.as_service_error().and_then(|s| s.code())
}

fn eks_code<E: aws_sdk_eks::error::ProvideErrorMetadata>(e: &aws_sdk_eks::error::SdkError<E>) -> Option<&str> {
    e.as_service_error().and_then(|s| s.code())
}

impl AccessPolicies {
    /// The role (trust until `deadline`, tags), its access entry and the
    /// association; each step idempotent, so a grant again (or an
    /// extension) brings the deadline up to date.
    pub async fn grant(&self, login: &str, email: &str, a: &Association, deadline: Timestamp) -> Result<(), IntegrationError> {
        let arn = role_arn(&self.account, login)?;
        let trust = trust_policy(&Federation::IdentityCenter, &self.account, email, deadline).to_string();
        let tags = vec![tag(LOGIN_TAG, login)?, tag(EXPIRES_TAG, &sesame_core::time::rfc3339(deadline))?];
        let made = self.iam.create_role().path(PATH).role_name(login).assume_role_policy_document(&trust).max_session_duration(3600).set_tags(Some(tags.clone())).send().await;
        match made {
            Ok(_) => {}
            Err(e) if iam_code(&e) == Some("EntityAlreadyExists") => {
                self.iam.update_assume_role_policy().role_name(login).policy_document(&trust).send().await.map_err(|e| sdk_err("cannot set the grant role's trust", e))?;
                self.iam.tag_role().role_name(login).set_tags(Some(tags)).send().await.map_err(|e| sdk_err("cannot tag the grant role", e))?;
            }
            Err(e) => return Err(sdk_err("cannot create the grant role", e)),
        }
        let describe = serde_json::json!({ "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "eks:DescribeCluster",
            "Resource": format!("arn:aws:eks:{}:{}:cluster/{}", self.region, self.account, self.cluster),
            "Condition": { "DateLessThan": { "aws:CurrentTime": sesame_core::time::rfc3339(deadline) } },
        }]});
        self.iam.put_role_policy().role_name(login).policy_name(INLINE).policy_document(describe.to_string()).send().await.map_err(|e| sdk_err("cannot put the grant role's policy", e))?;
        let entry = self
            .eks
            .create_access_entry()
            .cluster_name(&self.cluster)
            .principal_arn(&arn)
            .username(format!("{}{{{{SessionName}}}}", self.username_prefix))
            .r#type("STANDARD")
            .tags(LOGIN_TAG, login)
            .send()
            .await;
        match entry {
            Ok(_) => {}
            Err(e) if eks_code(&e) == Some("ResourceInUseException") => {}
            Err(e) => return Err(sdk_err("cannot create the access entry", e)),
        }
        let scope = match &a.namespaces {
            None => aws_sdk_eks::types::AccessScope::builder().r#type(aws_sdk_eks::types::AccessScopeType::Cluster).build(),
            Some(ns) => aws_sdk_eks::types::AccessScope::builder().r#type(aws_sdk_eks::types::AccessScopeType::Namespace).set_namespaces(Some(ns.clone())).build(),
        };
        self.eks
            .associate_access_policy()
            .cluster_name(&self.cluster)
            .principal_arn(&arn)
            .policy_arn(&a.policy_arn)
            .access_scope(scope)
            .send()
            .await
            .map_err(|e| sdk_err("cannot associate the access policy", e))?;
        Ok(())
    }

    /// The access entry first (authorization ends there), then the role.
    pub async fn revoke(&self, login: &str) -> Result<(), IntegrationError> {
        let arn = role_arn(&self.account, login)?;
        match self.eks.delete_access_entry().cluster_name(&self.cluster).principal_arn(&arn).send().await {
            Ok(_) => {}
            Err(e) if eks_code(&e) == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(sdk_err("cannot delete the access entry", e)),
        }
        match self.iam.delete_role_policy().role_name(login).policy_name(INLINE).send().await {
            Ok(_) => {}
            Err(e) if iam_code(&e) == Some("NoSuchEntity") => {}
            Err(e) => return Err(sdk_err("cannot delete the grant role's policy", e)),
        }
        match self.iam.delete_role().role_name(login).send().await {
            Ok(_) => Ok(()),
            Err(e) if iam_code(&e) == Some("NoSuchEntity") => Ok(()),
            Err(e) => Err(sdk_err("cannot delete the grant role", e)),
        }
    }

    /// Every grant role under the path: its login and deadline (as tagged).
    pub async fn managed(&self) -> Result<Vec<(String, Option<String>)>, IntegrationError> {
        let mut out = Vec::new();
        let mut pages = self.iam.list_roles().path_prefix(PATH).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("cannot list the grant roles", e))?;
            for r in page.roles() {
                let tags = self.iam.list_role_tags().role_name(r.role_name()).send().await.map_err(|e| sdk_err("cannot read a grant role's tags", e))?;
                let expires = tags.tags().iter().find(|t| t.key() == EXPIRES_TAG).map(|t| t.value().to_owned());
                out.push((r.role_name().to_owned(), expires));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_grant_asks_for_one_access_policy_at_a_checked_scope() {
        let ns = |r: &[&str]| r.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let a = association("prod", NAMESPACE, &ns(&["web", "payments", "web"]), "edit").unwrap();
        assert_eq!(a, Association { policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy".into(), namespaces: Some(ns(&["web", "payments"])) });
        assert_eq!(association("prod", CLUSTER, &ns(&["prod"]), "cluster-admin").unwrap().namespaces, None);
        for (t, r, p) in [(CLUSTER, "other", "view"), (NAMESPACE, "../x", "view"), (NAMESPACE, "web", "AmazonEKSViewPolicy"), ("pods", "web", "view"), (NAMESPACE, "Web", "view")] {
            assert!(matches!(association("prod", t, &ns(&[r]), p), Err(IntegrationError::Invalid(_))), "{t} {r} {p}");
        }
        assert_eq!(role_arn("123456789012", "sesame_alice_1").unwrap(), "arn:aws:iam::123456789012:role/sesame-eks/sesame_alice_1");
        assert!(role_arn("123456789012", "x/../admin").is_err());
    }
}
