//! Grants through IAM Identity Center: a per-grant permission set (inline
//! policy ending at the deadline + AWS- and customer-managed policies), one
//! account assignment per reached account for the grantee (looked up in the
//! identity store by user name, then e-mail), each polled until SUCCEEDED
//! or FAILED. Revoke deletes the assignments (polled) and the permission set.
//! Both resume: the grantee's assignments are read back in one paginated
//! listing, so a sync of a thousand accounts stopped half-way (a kill, a
//! timeout) does only what is left when its job runs again.

use super::AwsOrganization;
use aws_sdk_ssoadmin::types::{AccountAssignmentOperationStatus, CustomerManagedPolicyReference, PrincipalType, StatusValues, Tag, TargetType};
use sesame_integrations::{Cause, IntegrationError};
use std::collections::BTreeSet;
use std::time::Duration;

const POLL: Duration = Duration::from_millis(200);
const POLL_FOR: Duration = Duration::from_secs(300);

#[derive(Clone, Copy)]
enum Op {
    Create,
    Delete,
}

fn invalid(e: impl std::fmt::Display) -> IntegrationError {
    IntegrationError::Invalid(e.to_string())
}

impl AwsOrganization {
    /// (instance ARN, identity store id) of the organization's Identity Center.
    pub(super) async fn instance(&self) -> Result<(String, String), IntegrationError> {
        let out = self.limiter.call("cannot list Identity Center instances", || self.sso.list_instances().send()).await?;
        let i = out.instances().first().ok_or_else(|| IntegrationError::Misconfigured(format!("no IAM Identity Center instance in {}: enable it, or fix `sso_region`", self.cfg.sso_region)))?;
        Ok((i.instance_arn().unwrap_or_default().to_owned(), i.identity_store_id().unwrap_or_default().to_owned()))
    }

    /// The grantee in the identity store: by user name, then by e-mail.
    pub(super) async fn principal_id(&self, store: &str, who: &str) -> Result<String, IntegrationError> {
        use aws_sdk_identitystore::types::{AlternateIdentifier, UniqueAttribute};
        for path in ["userName", "emails.value"] {
            let attr = UniqueAttribute::builder()
                .attribute_path(path)
                .attribute_value(aws_smithy_types::Document::String(who.to_owned()))
                .build()
                .map_err(invalid)?;
            let id = AlternateIdentifier::UniqueAttribute(attr);
            let r = self.limiter.call("cannot look up the grantee", || self.ids.get_user_id().identity_store_id(store).alternate_identifier(id.clone()).send()).await;
            match r {
                Ok(o) => return Ok(o.user_id().to_owned()),
                Err(e) if e.to_string().contains("ResourceNotFound") => continue,
                Err(e) => return Err(e),
            }
        }
        Err(IntegrationError::Invalid(format!("`{who}` is not a user of the Identity Center identity store (by user name or e-mail): add them, or sync your IdP")))
    }

    /// The per-grant permission set named `name`, if it exists.
    pub(super) async fn find_permission_set(&self, instance: &str, name: &str) -> Result<Option<String>, IntegrationError> {
        Ok(self.permission_sets(instance).await?.into_iter().find(|(n, _)| n == name).map(|(_, arn)| arn))
    }

    /// Every permission set of the instance, as (name, ARN). A set's name
    /// never changes, so each ARN is described once per process: a listing
    /// costs its pages and the sets new since the last one, not one
    /// request per live grant.
    pub(super) async fn permission_sets(&self, instance: &str) -> Result<Vec<(String, String)>, IntegrationError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .limiter
                .call("cannot list permission sets", || self.sso.list_permission_sets().instance_arn(instance).set_next_token(token.clone()).send())
                .await?;
            for arn in page.permission_sets() {
                let known = self.set_names.lock().unwrap_or_else(|p| p.into_inner()).get(arn).cloned();
                let name = match known {
                    Some(n) => Some(n),
                    None => {
                        let d = self.limiter.call("cannot describe a permission set", || self.sso.describe_permission_set().instance_arn(instance).permission_set_arn(arn).send()).await?;
                        d.permission_set().and_then(|p| p.name()).map(str::to_owned)
                    }
                };
                if let Some(n) = name {
                    out.push((n, arn.clone()));
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                // Remember what is there now; forget what is gone.
                *self.set_names.lock().unwrap_or_else(|p| p.into_inner()) = out.iter().map(|(n, a)| (a.clone(), n.clone())).collect();
                return Ok(out);
            }
        }
    }

    /// Create (or find) the permission set and give it its policies.
    pub(super) async fn ensure_permission_set(
        &self,
        instance: &str,
        name: &str,
        grant: &str,
        inline: &serde_json::Value,
        aws_managed: &[String],
        customer_managed: &[String],
    ) -> Result<String, IntegrationError> {
        let arn = match self.find_permission_set(instance, name).await? {
            Some(a) => a,
            None => {
                let tag = Tag::builder().key("sesame:grant").value(grant).build().map_err(invalid)?;
                let out = self
                    .limiter
                    .call("cannot create the permission set", || {
                        self.sso
                            .create_permission_set()
                            .instance_arn(instance)
                            .name(name)
                            .description("Sesame just-in-time grant")
                            .session_duration("PT1H")
                            .tags(tag.clone())
                            .send()
                    })
                    .await?;
                let arn = out.permission_set().and_then(|p| p.permission_set_arn()).unwrap_or_default().to_owned();
                self.set_names.lock().unwrap_or_else(|p| p.into_inner()).insert(arn.clone(), name.to_owned());
                arn
            }
        };
        let doc = inline.to_string();
        self.limiter
            .call("cannot put the permission set's inline policy", || {
                self.sso.put_inline_policy_to_permission_set().instance_arn(instance).permission_set_arn(&arn).inline_policy(&doc).send()
            })
            .await?;
        for m in aws_managed {
            let policy = if m.starts_with("arn:") { m.clone() } else { format!("arn:aws:iam::aws:policy/{m}") };
            let r = self
                .limiter
                .call("cannot attach a managed policy", || {
                    self.sso.attach_managed_policy_to_permission_set().instance_arn(instance).permission_set_arn(&arn).managed_policy_arn(&policy).send()
                })
                .await;
            if let Err(e) = r {
                if !e.to_string().contains("Conflict") {
                    return Err(e);
                }
            }
        }
        for c in customer_managed {
            let (path, n) = match c.rfind('/') {
                Some(i) => (&c[..=i], &c[i + 1..]),
                None => ("/", c.as_str()),
            };
            let reference = CustomerManagedPolicyReference::builder().name(n).path(path).build().map_err(invalid)?;
            let r = self
                .limiter
                .call("cannot attach a customer-managed policy", || {
                    self.sso
                        .attach_customer_managed_policy_reference_to_permission_set()
                        .instance_arn(instance)
                        .permission_set_arn(&arn)
                        .customer_managed_policy_reference(reference.clone())
                        .send()
                })
                .await;
            if let Err(e) = r {
                if !e.to_string().contains("Conflict") {
                    return Err(e);
                }
            }
        }
        Ok(arn)
    }

    /// The accounts where `ps` is assigned to `principal`, from one paginated
    /// listing of the principal's assignments: what a sync resumed after a
    /// kill (or a timeout) has no need to do again.
    pub(super) async fn assigned_accounts(&self, instance: &str, ps: &str, principal: &str) -> Result<BTreeSet<String>, IntegrationError> {
        let mut out = BTreeSet::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .limiter
                .call("cannot list the grantee's account assignments", || {
                    self.sso
                        .list_account_assignments_for_principal()
                        .instance_arn(instance)
                        .principal_id(principal)
                        .principal_type(PrincipalType::User)
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            out.extend(page.account_assignments().iter().filter(|a| a.permission_set_arn() == Some(ps)).filter_map(|a| a.account_id().map(str::to_owned)));
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Assign the permission set to the grantee in `account`, waiting for
    /// the asynchronous status. At most 10 creations are outstanding.
    pub(super) async fn assign(&self, instance: &str, ps: &str, principal: &str, account: &str) -> Result<(), IntegrationError> {
        let _slot = self.limiter.creation().await?;
        let out = self
            .limiter
            .call("cannot create the account assignment", || {
                self.sso
                    .create_account_assignment()
                    .instance_arn(instance)
                    .target_id(account)
                    .target_type(TargetType::AwsAccount)
                    .permission_set_arn(ps)
                    .principal_type(PrincipalType::User)
                    .principal_id(principal)
                    .send()
            })
            .await;
        match out {
            Ok(out) => self.wait_for(instance, out.account_assignment_creation_status().cloned(), Op::Create, &format!("the assignment in account {account}")).await,
            // Another operation on it is under way (a creation sent before a kill):
            // done if it is there now, otherwise the job tries again later.
            Err(e) if e.to_string().contains("Conflict") => match self.assigned(instance, ps, principal, account).await? {
                true => Ok(()),
                false => Err(IntegrationError::Unavailable(Cause::Incomplete(format!("the assignment in account {account} is being changed by another operation: {e}")))),
            },
            Err(e) => Err(e),
        }
    }

    async fn assigned(&self, instance: &str, ps: &str, principal: &str, account: &str) -> Result<bool, IntegrationError> {
        let out = self
            .limiter
            .call("cannot list account assignments", || self.sso.list_account_assignments().instance_arn(instance).account_id(account).permission_set_arn(ps).send())
            .await?;
        Ok(out.account_assignments().iter().any(|a| a.principal_id() == Some(principal)))
    }

    /// Delete the assignment of `ps` to `principal` in `account`, waiting
    /// for the deletion (its slot counts with the creations).
    pub(super) async fn unassign(&self, instance: &str, ps: &str, principal: &str, principal_type: PrincipalType, account: &str) -> Result<(), IntegrationError> {
        let _slot = self.limiter.creation().await?;
        let r = self
            .limiter
            .call("cannot delete an account assignment", || {
                self.sso
                    .delete_account_assignment()
                    .instance_arn(instance)
                    .target_id(account)
                    .target_type(TargetType::AwsAccount)
                    .permission_set_arn(ps)
                    .principal_type(principal_type.clone())
                    .principal_id(principal)
                    .send()
            })
            .await;
        match r {
            Ok(r) => self.wait_for(instance, r.account_assignment_deletion_status().cloned(), Op::Delete, &format!("removing the assignment in account {account}")).await,
            Err(e) if e.to_string().contains("ResourceNotFound") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Delete every assignment of `ps` in `account` (whoever it names: the
    /// set is per grant), waiting for each deletion.
    pub(super) async fn unassign_all(&self, instance: &str, ps: &str, account: &str) -> Result<(), IntegrationError> {
        let out = self
            .limiter
            .call("cannot list account assignments", || self.sso.list_account_assignments().instance_arn(instance).account_id(account).permission_set_arn(ps).send())
            .await?;
        for a in out.account_assignments() {
            let (Some(pid), Some(ptype)) = (a.principal_id(), a.principal_type()) else { continue };
            self.unassign(instance, ps, pid, ptype.clone(), account).await?;
        }
        Ok(())
    }

    /// Poll an assignment operation until it SUCCEEDED (or FAILED).
    async fn wait_for(&self, instance: &str, mut status: Option<AccountAssignmentOperationStatus>, op: Op, what: &str) -> Result<(), IntegrationError> {
        let started = tokio::time::Instant::now();
        loop {
            let s = status.as_ref().ok_or_else(|| IntegrationError::Unavailable(Cause::Incomplete(format!("{what}: Identity Center returned no assignment status"))))?;
            match s.status() {
                Some(StatusValues::Succeeded) => return Ok(()),
                Some(StatusValues::Failed) => {
                    return Err(IntegrationError::Unavailable(Cause::Incomplete(format!("{what} failed: {}", s.failure_reason().unwrap_or("no reason given")))));
                }
                _ => {}
            }
            if started.elapsed() > POLL_FOR {
                return Err(IntegrationError::Unavailable(Cause::Incomplete(format!("{what} is still in progress after {POLL_FOR:?}"))));
            }
            tokio::time::sleep(POLL).await;
            let id = s.request_id().unwrap_or_default().to_owned();
            status = match op {
                Op::Create => self
                    .limiter
                    .call("cannot read the assignment status", || {
                        self.sso.describe_account_assignment_creation_status().instance_arn(instance).account_assignment_creation_request_id(&id).send()
                    })
                    .await?
                    .account_assignment_creation_status()
                    .cloned(),
                Op::Delete => self
                    .limiter
                    .call("cannot read the deletion status", || {
                        self.sso.describe_account_assignment_deletion_status().instance_arn(instance).account_assignment_deletion_request_id(&id).send()
                    })
                    .await?
                    .account_assignment_deletion_status()
                    .cloned(),
            };
        }
    }

    /// Accounts where the permission set is provisioned, every page (what
    /// was read so far if the API stops answering).
    pub(super) async fn provisioned_accounts(&self, instance: &str, ps: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .limiter
                .call("cannot list provisioned accounts", || {
                    self.sso.list_accounts_for_provisioned_permission_set().instance_arn(instance).permission_set_arn(ps).set_next_token(token.clone()).send()
                })
                .await;
            let Ok(page) = page else { return out };
            out.extend(page.account_ids().iter().cloned());
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return out;
            }
        }
    }

    pub(super) async fn delete_permission_set(&self, instance: &str, ps: &str) -> Result<(), IntegrationError> {
        match self.limiter.call("cannot delete the permission set", || self.sso.delete_permission_set().instance_arn(instance).permission_set_arn(ps).send()).await {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("ResourceNotFound") => Ok(()),
            Err(e) => Err(e),
        }
    }
}
