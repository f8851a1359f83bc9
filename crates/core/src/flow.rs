//! Access flows and the decision they make about a request. Pure.

use crate::approval::{self, ApprovalPart};
use crate::model::{Directory, User};
use crate::time::Timestamp;
use crate::timeframe::{Timeframe, Window};
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
    /// When the flow takes requests; always when `None`.
    pub timeframe: Option<Timeframe>,
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

/// Who else may approve, from the integration's settings: the owners of each
/// requested resource (by tag, read when the request is made), and the
/// integration owners.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owners {
    /// Every requested resource, with the owners its tag names (maybe none).
    pub resource_owners: Vec<(String, Vec<String>)>,
    pub integration_owners: Principals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Grant { flow: String },
    /// `approvers`: everybody in some part; `parts`: who must approve what.
    Pending { flow: String, approvers: Vec<String>, parts: Vec<ApprovalPart> },
    Refuse(Refusal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NoMatchingFlow,
    DurationTooLong { flow: String, max: Duration },
    JustificationRequired { flow: String },
    NoApprover { flow: String },
    /// The flow takes requests only within its timeframe; `next` is the
    /// window that opens next.
    OutsideTimeframe { flow: String, timeframe: String, next: Option<Window> },
}

/// Decide what happens to a request. Among the flows that cover it, the first
/// automatic flow whose limits it meets wins, then the first self-serve flow.
/// When every covering flow refuses, the first refusal explains why.
pub fn decide(r: &RequestDraft<'_>, flows: &[AccessFlow], dir: &Directory, owners: &Owners, now: Timestamp) -> Decision {
    let mut refusal = None;
    let covering = || flows.iter().filter(|f| f.covers(r));
    for kind in [FlowKind::Automatic, FlowKind::SelfServe] {
        for f in covering().filter(|f| f.kind == kind) {
            match check_limits(f, r, dir, owners, now) {
                Ok(d) => return d,
                Err(why) => {
                    refusal.get_or_insert(why);
                }
            }
        }
    }
    Decision::Refuse(refusal.unwrap_or(Refusal::NoMatchingFlow))
}

fn check_limits(f: &AccessFlow, r: &RequestDraft<'_>, dir: &Directory, owners: &Owners, now: Timestamp) -> Result<Decision, Refusal> {
    if let Some(t) = f.timeframe.as_ref().filter(|t| !t.is_open(now)) {
        return Err(Refusal::OutsideTimeframe { flow: f.name.clone(), timeframe: t.to_string(), next: t.window(now) });
    }
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
            let mut flow_approvers: Vec<String> = f.approvers.resolve(dir);
            flow_approvers.retain(not_requester);
            let mut integration_owners = owners.integration_owners.resolve(dir);
            integration_owners.retain(not_requester);
            let owners_of = |os: &[String]| -> Vec<String> { os.iter().filter(|o| dir.user(o).is_some() && not_requester(o)).cloned().collect() };
            let any_owner = owners.resource_owners.iter().any(|(_, os)| !owners_of(os).is_empty());
            let parts = if any_owner {
                // Each resource: the flow approvers, its own owners, and the
                // integration owners, who may stand in for any owner.
                approval::parts(
                    owners
                        .resource_owners
                        .iter()
                        .map(|(res, os)| (res.clone(), [flow_approvers.clone(), owners_of(os), integration_owners.clone()].concat()))
                        .collect(),
                )
            } else {
                // Nobody owns a resource: the flow approvers approve it all,
                // the integration owners when the flow names nobody else.
                let mut approvers = if flow_approvers.is_empty() { integration_owners } else { flow_approvers };
                approvers.sort();
                approvers.dedup();
                vec![ApprovalPart { resources: owners.resource_owners.iter().map(|(r, _)| r.clone()).collect(), approvers }]
            };
            if parts.iter().any(|p| p.approvers.is_empty()) {
                return Err(Refusal::NoApprover { flow: f.name.clone() });
            }
            Ok(Decision::Pending { flow: f.name.clone(), approvers: approval::all_approvers(&parts), parts })
        }
    }
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
            timeframe: None,
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
            approvers: vec!["boss@x.io".into()],
            parts: vec![ApprovalPart { resources: vec![], approvers: vec!["boss@x.io".into()] }],
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
            resource_owners: vec![("t1".into(), vec!["owner@x.io".into(), "ghost@x.io".into()]), ("t2".into(), vec![])],
            integration_owners: Principals { users: vec!["io@x.io".into()], groups: vec![] },
        };
        let dr = draft(&ann, "read_only", 60, Some("x"));
        // The owner approves t1 only; t2 has no owner: the integration owners approve it.
        assert_eq!(decide(&dr, &[f.clone()], &d, &owners, Timestamp(0)), Decision::Pending {
            flow: "ss".into(),
            approvers: vec!["io@x.io".into(), "owner@x.io".into()],
            parts: vec![
                ApprovalPart { resources: vec!["t1".into()], approvers: vec!["io@x.io".into(), "owner@x.io".into()] },
                ApprovalPart { resources: vec!["t2".into()], approvers: vec!["io@x.io".into()] },
            ],
        });
        let fallback = Owners { resource_owners: vec![("t1".into(), vec![])], ..owners.clone() };
        assert_eq!(decide(&dr, &[f.clone()], &d, &fallback, Timestamp(0)), Decision::Pending {
            flow: "ss".into(),
            approvers: vec!["io@x.io".into()],
            parts: vec![ApprovalPart { resources: vec!["t1".into()], approvers: vec!["io@x.io".into()] }],
        });
        assert_eq!(
            decide(&dr, &[f], &d, &Owners::default(), Timestamp(0)),
            Decision::Refuse(Refusal::NoApprover { flow: "ss".into() })
        );
    }

    #[test]
    fn nobody_approves_their_own_request() {
        use crate::approval::{may_decide, ApprovalRefusal};
        let parts = vec![ApprovalPart { resources: vec![], approvers: vec!["ann@x.io".to_string(), "boss@x.io".to_string()] }];
        assert_eq!(may_decide("ANN@x.io", "ann@x.io", &parts), Err(ApprovalRefusal::OwnRequest));
        assert_eq!(may_decide("eve@x.io", "ann@x.io", &parts), Err(ApprovalRefusal::NotAnApprover));
        assert_eq!(may_decide("boss@x.io", "ann@x.io", &parts), Ok(()));
    }
}
