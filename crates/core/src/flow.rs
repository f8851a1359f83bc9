//! Access flows and the decision they make about a request. Pure.

use crate::model::{Directory, User};
use crate::time::Timestamp;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// Granted at once, no approver.
    Automatic,
    /// Waits for an approver who is not the requester.
    SelfServe,
}

/// A set of people named directly or through their groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principals {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

impl Principals {
    pub fn contains(&self, user: &User) -> bool {
        self.users.iter().any(|u| u.eq_ignore_ascii_case(&user.email))
            || self.groups.iter().any(|g| user.groups.contains(g))
    }

    /// Every user of the directory in this set, sorted and unique.
    pub fn resolve(&self, dir: &Directory) -> Vec<String> {
        let mut out: Vec<String> = dir.users.iter().filter(|u| self.contains(u)).map(|u| u.email.clone()).collect();
        out.sort();
        out.dedup();
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessFlow {
    pub name: String,
    pub kind: FlowKind,
    pub requesters: Principals,
    pub approvers: Principals,
    pub integration: String,
    /// Empty: every resource type of the integration.
    pub resource_types: Vec<String>,
    /// Empty: every permission of the integration.
    pub permissions: Vec<String>,
    pub max_duration: Duration,
    pub require_justification: bool,
}

impl AccessFlow {
    fn covers(&self, r: &RequestDraft<'_>) -> bool {
        self.integration == r.integration
            && self.requesters.contains(r.requester)
            && (self.resource_types.is_empty() || self.resource_types.iter().any(|t| t == r.resource_type))
            && (self.permissions.is_empty() || self.permissions.iter().any(|p| p == r.permission))
    }
}

/// What a requester asks for, already checked against the inventory.
#[derive(Debug, Clone)]
pub struct RequestDraft<'a> {
    pub requester: &'a User,
    pub integration: &'a str,
    pub resource_type: &'a str,
    pub permission: &'a str,
    pub duration: Duration,
    pub justification: Option<&'a str>,
}

/// Who else may approve, from the integration's settings: the owners of the
/// requested resources (by tag), and the integration owners as a fallback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owners {
    pub resource_owners: Vec<String>,
    pub integration_owners: Principals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Grant { flow: String },
    Pending { flow: String, approvers: Vec<String> },
    Refuse(Refusal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NoMatchingFlow,
    DurationTooLong { flow: String, max: Duration },
    JustificationRequired { flow: String },
    NoApprover { flow: String },
}

/// Decide what happens to a request. Among the flows that cover it, the first
/// automatic flow whose limits it meets wins, then the first self-serve flow.
/// When every covering flow refuses, the first refusal explains why.
pub fn decide(r: &RequestDraft<'_>, flows: &[AccessFlow], dir: &Directory, owners: &Owners, _now: Timestamp) -> Decision {
    let mut refusal = None;
    let covering = || flows.iter().filter(|f| f.covers(r));
    for kind in [FlowKind::Automatic, FlowKind::SelfServe] {
        for f in covering().filter(|f| f.kind == kind) {
            match check_limits(f, r, dir, owners) {
                Ok(d) => return d,
                Err(why) => {
                    refusal.get_or_insert(why);
                }
            }
        }
    }
    Decision::Refuse(refusal.unwrap_or(Refusal::NoMatchingFlow))
}

fn check_limits(f: &AccessFlow, r: &RequestDraft<'_>, dir: &Directory, owners: &Owners) -> Result<Decision, Refusal> {
    if r.duration > f.max_duration {
        return Err(Refusal::DurationTooLong { flow: f.name.clone(), max: f.max_duration });
    }
    let has_reason = r.justification.is_some_and(|j| !j.trim().is_empty());
    if f.require_justification && !has_reason {
        return Err(Refusal::JustificationRequired { flow: f.name.clone() });
    }
    match f.kind {
        FlowKind::Automatic => Ok(Decision::Grant { flow: f.name.clone() }),
        FlowKind::SelfServe => {
            let not_requester = |a: &String| !a.eq_ignore_ascii_case(&r.requester.email);
            // Flow approvers and resource owners; the integration owners
            // only when neither names anybody else.
            let mut approvers: Vec<String> = f.approvers.resolve(dir);
            approvers.extend(owners.resource_owners.iter().filter(|o| dir.user(o).is_some()).cloned());
            approvers.retain(not_requester);
            if approvers.is_empty() {
                approvers = owners.integration_owners.resolve(dir);
                approvers.retain(not_requester);
            }
            approvers.sort();
            approvers.dedup();
            if approvers.is_empty() {
                return Err(Refusal::NoApprover { flow: f.name.clone() });
            }
            Ok(Decision::Pending { flow: f.name.clone(), approvers })
        }
    }
}

/// May `approver` approve or reject a request made by `requester`, given the
/// approvers recorded at decision time? Never their own request.
pub fn may_approve(approver: &str, requester: &str, approvers: &[String]) -> Result<(), ApprovalRefusal> {
    if approver.eq_ignore_ascii_case(requester) {
        return Err(ApprovalRefusal::OwnRequest);
    }
    if !approvers.iter().any(|a| a.eq_ignore_ascii_case(approver)) {
        return Err(ApprovalRefusal::NotAnApprover);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalRefusal {
    OwnRequest,
    NotAnApprover,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn user(email: &str, groups: &[&str]) -> User {
        User { email: email.into(), groups: groups.iter().map(|g| g.to_string()).collect::<BTreeSet<_>>(), admin: false }
    }

    fn flow(name: &str, kind: FlowKind) -> AccessFlow {
        AccessFlow {
            name: name.into(),
            kind,
            requesters: Principals { users: vec![], groups: vec!["dev".into()] },
            approvers: Principals { users: vec!["boss@x.io".into()], groups: vec!["dev".into()] },
            integration: "pg".into(),
            resource_types: vec!["table".into()],
            permissions: vec!["read_only".into()],
            max_duration: Duration::from_secs(3600),
            require_justification: true,
        }
    }

    fn dir() -> Directory {
        Directory { users: vec![user("ann@x.io", &["dev"]), user("boss@x.io", &[]), user("eve@x.io", &[])] }
    }

    fn draft<'a>(u: &'a User, perm: &'a str, secs: u64, why: Option<&'a str>) -> RequestDraft<'a> {
        RequestDraft {
            requester: u,
            integration: "pg",
            resource_type: "table",
            permission: perm,
            duration: Duration::from_secs(secs),
            justification: why,
        }
    }

    #[test]
    fn automatic_wins_over_self_serve() {
        let d = dir();
        let ann = d.user("ann@x.io").unwrap().clone();
        let flows = [flow("ss", FlowKind::SelfServe), flow("auto", FlowKind::Automatic)];
        assert_eq!(decide(&draft(&ann, "read_only", 60, Some("x")), &flows, &d, &Owners::default(), Timestamp(0)), Decision::Grant {
            flow: "auto".into()
        });
    }

    #[test]
    fn self_serve_excludes_the_requester_from_approvers() {
        let d = dir();
        let ann = d.user("ann@x.io").unwrap().clone();
        let flows = [flow("ss", FlowKind::SelfServe)];
        assert_eq!(decide(&draft(&ann, "read_only", 60, Some("x")), &flows, &d, &Owners::default(), Timestamp(0)), Decision::Pending {
            flow: "ss".into(),
            approvers: vec!["boss@x.io".into()]
        });
    }

    #[test]
    fn refusals_explain_themselves() {
        let d = dir();
        let ann = d.user("ann@x.io").unwrap().clone();
        let eve = d.user("eve@x.io").unwrap().clone();
        let flows = [flow("auto", FlowKind::Automatic)];
        let at = Timestamp(0);
        assert_eq!(decide(&draft(&eve, "read_only", 60, Some("x")), &flows, &d, &Owners::default(), at), Decision::Refuse(Refusal::NoMatchingFlow));
        assert_eq!(decide(&draft(&ann, "admin", 60, Some("x")), &flows, &d, &Owners::default(), at), Decision::Refuse(Refusal::NoMatchingFlow));
        assert_eq!(
            decide(&draft(&ann, "read_only", 7200, Some("x")), &flows, &d, &Owners::default(), at),
            Decision::Refuse(Refusal::DurationTooLong { flow: "auto".into(), max: Duration::from_secs(3600) })
        );
        assert_eq!(
            decide(&draft(&ann, "read_only", 60, Some("  ")), &flows, &d, &Owners::default(), at),
            Decision::Refuse(Refusal::JustificationRequired { flow: "auto".into() })
        );
    }

    #[test]
    fn resource_owners_join_and_integration_owners_fall_back() {
        let d = Directory {
            users: vec![user("ann@x.io", &["dev"]), user("owner@x.io", &[]), user("io@x.io", &[])],
        };
        let ann = d.user("ann@x.io").unwrap().clone();
        let mut f = flow("ss", FlowKind::SelfServe);
        f.approvers = Principals { users: vec!["ann@x.io".into()], groups: vec![] };
        let owners = Owners {
            resource_owners: vec!["owner@x.io".into(), "ghost@x.io".into()],
            integration_owners: Principals { users: vec!["io@x.io".into()], groups: vec![] },
        };
        let dr = draft(&ann, "read_only", 60, Some("x"));
        assert_eq!(decide(&dr, &[f.clone()], &d, &owners, Timestamp(0)), Decision::Pending {
            flow: "ss".into(),
            approvers: vec!["owner@x.io".into()]
        });
        let fallback = Owners { resource_owners: vec![], ..owners.clone() };
        assert_eq!(decide(&dr, &[f.clone()], &d, &fallback, Timestamp(0)), Decision::Pending {
            flow: "ss".into(),
            approvers: vec!["io@x.io".into()]
        });
        assert_eq!(
            decide(&dr, &[f], &d, &Owners::default(), Timestamp(0)),
            Decision::Refuse(Refusal::NoApprover { flow: "ss".into() })
        );
    }

    #[test]
    fn nobody_approves_their_own_request() {
        let approvers = vec!["ann@x.io".to_string(), "boss@x.io".to_string()];
        assert_eq!(may_approve("ANN@x.io", "ann@x.io", &approvers), Err(ApprovalRefusal::OwnRequest));
        assert_eq!(may_approve("eve@x.io", "ann@x.io", &approvers), Err(ApprovalRefusal::NotAnApprover));
        assert_eq!(may_approve("boss@x.io", "ann@x.io", &approvers), Ok(()));
    }
}
