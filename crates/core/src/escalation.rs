//! Escalation: a pending request nobody answers widens, tier by tier, who
//! may approve it. Each tier has an interval (counted from the tier before
//! it, the first from the request) and approvers; a tier reached adds its
//! approvers to every part of the request, beside those already there. At
//! most [`MAX_TIERS`]. Pure.

use crate::approval::ApprovalPart;
use crate::model::{Directory, User};
use crate::people::Conditions;
use std::time::Duration;

pub const MAX_TIERS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// How long the tier before it (or the request) goes unanswered.
    pub after: Duration,
    pub approvers: Conditions,
}

/// How many tiers are reached `elapsed` after the request was made, and how
/// long after the request the next one is reached (none after the last).
pub fn reached(tiers: &[Tier], elapsed: Duration) -> (usize, Option<Duration>) {
    let mut at = Duration::ZERO;
    for (i, t) in tiers.iter().enumerate() {
        at = at.saturating_add(t.after);
        if elapsed < at {
            return (i, Some(at));
        }
    }
    (tiers.len(), None)
}

/// The parts with the approvers of the first `n` tiers added to each (never
/// the requester), sorted; `None` when that adds nobody.
pub fn widen(parts: &[ApprovalPart], tiers: &[Tier], n: usize, dir: &Directory, requester: &User) -> Option<Vec<ApprovalPart>> {
    let extra: Vec<String> = tiers.iter().take(n).flat_map(|t| t.approvers.approvers(dir, requester)).collect();
    let mut changed = false;
    let widened = parts
        .iter()
        .map(|p| {
            let mut approvers = p.approvers.clone();
            for a in &extra {
                if !approvers.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                    approvers.push(a.clone());
                    changed = true;
                }
            }
            approvers.sort();
            ApprovalPart { resources: p.resources.clone(), approvers }
        })
        .collect();
    changed.then_some(widened)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tier(mins: u64, users: &[&str]) -> Tier {
        Tier { after: Duration::from_secs(mins * 60), approvers: Conditions::of(&users.iter().map(|u| u.to_string()).collect::<Vec<_>>(), &[]) }
    }

    fn user(email: &str) -> User {
        User { email: email.into(), ..Default::default() }
    }

    #[test]
    fn tiers_are_reached_one_interval_after_another() {
        let tiers = [tier(30, &["a@x.io"]), tier(60, &["b@x.io"])];
        let m = |x: u64| Duration::from_secs(x * 60);
        assert_eq!(reached(&tiers, m(0)), (0, Some(m(30))));
        assert_eq!(reached(&tiers, m(29)), (0, Some(m(30))));
        assert_eq!(reached(&tiers, m(30)), (1, Some(m(90))));
        assert_eq!(reached(&tiers, m(90)), (2, None));
        assert_eq!(reached(&[], m(5)), (0, None));
    }

    #[test]
    fn a_tier_adds_its_approvers_to_every_part_but_never_the_requester() {
        let dir = Directory { users: vec![user("ann@x.io"), user("boss@x.io"), user("cto@x.io"), user("owner@x.io")] };
        let ann = dir.users[0].clone();
        let parts = vec![
            ApprovalPart { resources: vec!["t1".into()], approvers: vec!["owner@x.io".into()] },
            ApprovalPart { resources: vec!["t2".into()], approvers: vec!["boss@x.io".into()] },
        ];
        let tiers = [tier(30, &["boss@x.io", "ANN@x.io"]), tier(30, &["cto@x.io"])];
        assert_eq!(widen(&parts, &tiers, 0, &dir, &ann), None);
        let one = widen(&parts, &tiers, 1, &dir, &ann).unwrap();
        assert_eq!(one[0].approvers, ["boss@x.io", "owner@x.io"]);
        assert_eq!(one[1].approvers, ["boss@x.io"]);
        let two = widen(&one, &tiers, 2, &dir, &ann).unwrap();
        assert_eq!(two[1].approvers, ["boss@x.io", "cto@x.io"]);
        assert_eq!(widen(&two, &tiers, 2, &dir, &ann), None, "reaching a tier twice changes nothing");
    }
}
