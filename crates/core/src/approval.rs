//! Who must approve what. A pending request is approved part by part: each
//! part is a set of resources and the people who may approve them. Flow
//! approvers are in every part (one of them approves it all); a resource
//! owner is only in the parts holding their resources, with the integration
//! owners beside them; so a request spanning two owners' resources needs
//! both (or an integration owner). Pure.

use serde::{Deserialize, Serialize};

/// Resources, and who may approve them (the requester never among them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalPart {
    pub resources: Vec<String>,
    pub approvers: Vec<String>,
}

fn is(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Group resources with the same approvers into one part, in first-seen order.
pub fn parts(per_resource: Vec<(String, Vec<String>)>) -> Vec<ApprovalPart> {
    let mut out: Vec<ApprovalPart> = Vec::new();
    for (resource, mut approvers) in per_resource {
        approvers.sort();
        approvers.dedup();
        match out.iter_mut().find(|p| p.approvers == approvers) {
            Some(p) => p.resources.push(resource),
            None => out.push(ApprovalPart { resources: vec![resource], approvers }),
        }
    }
    out
}

/// Everybody who may approve some part.
pub fn all_approvers(parts: &[ApprovalPart]) -> Vec<String> {
    let mut all: Vec<String> = parts.iter().flat_map(|p| p.approvers.iter().cloned()).collect();
    all.sort();
    all.dedup();
    all
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalRefusal {
    OwnRequest,
    NotAnApprover,
    /// This approver's parts are approved already.
    AlreadyApproved,
}

/// What an approval leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Everybody who approved so far, this approver included.
    pub approvals: Vec<String>,
    /// Indexes of the parts nobody eligible approved yet.
    pub remaining: Vec<usize>,
}

impl Progress {
    pub fn complete(&self) -> bool {
        self.remaining.is_empty()
    }
}

/// The parts nobody among `approvals` may approve yet.
pub fn remaining(parts: &[ApprovalPart], approvals: &[String]) -> Vec<usize> {
    (0..parts.len()).filter(|i| !parts[*i].approvers.iter().any(|a| approvals.iter().any(|x| is(a, x)))).collect()
}

/// May `who` approve (or reject) a request made by `requester`? Never their
/// own; only someone in a part.
pub fn may_decide(who: &str, requester: &str, parts: &[ApprovalPart]) -> Result<(), ApprovalRefusal> {
    if is(who, requester) {
        return Err(ApprovalRefusal::OwnRequest);
    }
    if !parts.iter().any(|p| p.approvers.iter().any(|a| is(a, who))) {
        return Err(ApprovalRefusal::NotAnApprover);
    }
    Ok(())
}

/// `who` approves: the approvals after it and what is left.
pub fn approve(parts: &[ApprovalPart], approvals: &[String], who: &str, requester: &str) -> Result<Progress, ApprovalRefusal> {
    may_decide(who, requester, parts)?;
    let before = remaining(parts, approvals);
    if !before.iter().any(|i| parts[*i].approvers.iter().any(|a| is(a, who))) {
        return Err(ApprovalRefusal::AlreadyApproved);
    }
    let mut after: Vec<String> = approvals.to_vec();
    after.push(who.to_owned());
    Ok(Progress { remaining: remaining(parts, &after), approvals: after })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn each_owner_approves_only_their_resources() {
        let p = parts(vec![
            ("alpha".into(), s(&["own-a@x.io", "io@x.io"])),
            ("beta".into(), s(&["io@x.io", "own-b@x.io"])),
            ("gamma".into(), s(&["own-a@x.io", "io@x.io"])),
        ]);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].resources, ["alpha", "gamma"]);
        let after_a = approve(&p, &[], "own-a@x.io", "dev@x.io").unwrap();
        assert_eq!(after_a.remaining, [1], "beta still needs its owner");
        assert_eq!(approve(&p, &after_a.approvals, "OWN-A@x.io", "dev@x.io"), Err(ApprovalRefusal::AlreadyApproved));
        assert!(approve(&p, &after_a.approvals, "own-b@x.io", "dev@x.io").unwrap().complete());
        // The integration owner may stand in for any owner.
        assert!(approve(&p, &after_a.approvals, "io@x.io", "dev@x.io").unwrap().complete());
        assert!(approve(&p, &[], "io@x.io", "dev@x.io").unwrap().complete(), "one integration owner approves every part");
        assert_eq!(approve(&p, &[], "eve@x.io", "dev@x.io"), Err(ApprovalRefusal::NotAnApprover));
        assert_eq!(approve(&p, &[], "own-a@x.io", "own-a@x.io"), Err(ApprovalRefusal::OwnRequest));
        assert_eq!(all_approvers(&p), ["io@x.io", "own-a@x.io", "own-b@x.io"]);
    }
}
