//! Access flows and the decision they make about a request. Pure.

use crate::approval::{self, ApprovalPart};
use crate::model::{Directory, User};
use crate::people::Conditions;
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

/// How the approver groups of a flow combine (the seed's `approval_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalMode {
    /// One approval from any group.
    AnyOf,
    /// One approval from each group.
    AllOf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproverPolicy {
    pub mode: ApprovalMode,
    /// Each group: the people its conditions admit (an `Owner` condition
    /// brings the resource and integration owners).
    pub groups: Vec<Conditions>,
    /// Sesame's first flows (`approvers = {users, groups}`): the resource
    /// owners and integration owners join every group without naming them.
    pub owners_join: bool,
}

impl ApproverPolicy {
    /// `approvers = {users, groups}`: one group, owners joining.
    pub fn of(approvers: Conditions) -> ApproverPolicy {
        ApproverPolicy { mode: ApprovalMode::AnyOf, groups: vec![approvers], owners_join: true }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessFlow {
    pub name: String,
    pub kind: FlowKind,
    /// Who may ask (the seed's `requestors`).
    pub requestors: Conditions,
    pub approver_policy: ApproverPolicy,
    pub integration: String,
    /// Empty: every resource type of the integration.
    pub resource_types: Vec<String>,
    /// Empty: every permission of the integration.
    pub permissions: Vec<String>,
    pub max_duration: Duration,
    pub require_justification: bool,
    /// When the flow takes requests; always when `None`.
    pub timeframe: Option<Timeframe>,
    /// An inactive flow decides nothing.
    pub active: bool,
    /// Approving or rejecting needs a reason.
    pub require_approver_reason: bool,
    /// A pending request nobody answers this long ends Expired.
    pub pending_expiry: Option<Duration>,
    /// Who else may approve as a pending request goes unanswered.
    pub escalation: Vec<crate::escalation::Tier>,
    /// Which resources it covers; none: all of them.
    pub resource_scopes: Vec<ResourceScope>,
    /// Covers what this access scope selects, on any integration, instead
    /// of `integration` and its types, permissions and resource scopes.
    pub access_scope: Option<String>,
    /// Covers requests for this bundle (and nothing else).
    pub bundle: Option<String>,
    /// For whom its requestors may ask (the seed's `request_for`).
    pub request_for: RequestFor,
    pub labels: Vec<String>,
    /// An approval counts only after the approver's MFA step-up (the seed's
    /// `require_mfa`).
    pub require_mfa: bool,
    /// The requester steps up before anything else (`PendingMFA`).
    pub requester_mfa: bool,
    /// How many times an Active grant may be extended, and by how much at
    /// most each time.
    pub max_extensions: u32,
    pub extension_max: Duration,
    /// The requester may approve their own request (the seed's
    /// `requester_cannot_approve_self = false`; never by default).
    pub self_approval: bool,
}

impl AccessFlow {
    fn covers(&self, r: &RequestDraft<'_>) -> bool {
        self.miss(r).is_none()
    }

    /// The first thing this flow does not cover of the request, with how
    /// many of its criteria it meets before that (for "the closest flow").
    fn miss(&self, r: &RequestDraft<'_>) -> Option<(usize, Miss)> {
        let miss = self.miss_what(r);
        if miss.is_some() {
            return miss;
        }
        let grantee = r.grantee.unwrap_or(r.requester);
        (!self.request_for.allows(r.requester, grantee)).then_some((5, Miss::RequestFor))
    }

    fn miss_what(&self, r: &RequestDraft<'_>) -> Option<(usize, Miss)> {
        if !self.active {
            return Some((0, Miss::Inactive));
        }
        // A bundle flow covers requests for its bundle, and only those.
        match (&self.bundle, r.bundle) {
            (Some(mine), Some(asked)) => {
                if mine != asked {
                    return Some((0, Miss::Bundle { covers: Some(mine.clone()) }));
                }
                return (!self.requestors.admits_requester(r.requester)).then_some((1, Miss::Requester));
            }
            (Some(mine), None) => return Some((0, Miss::Bundle { covers: Some(mine.clone()) })),
            (None, Some(_)) => return Some((0, Miss::Bundle { covers: None })),
            (None, None) => {}
        }
        if let Some(scope) = &self.access_scope {
            if !self.requestors.admits_requester(r.requester) {
                return Some((1, Miss::Requester));
            }
            return (!r.selected_by.iter().any(|s| s == scope)).then(|| (4, Miss::Scope { scope: scope.clone() }));
        }
        if self.integration != r.integration {
            return Some((0, Miss::Integration { covers: self.integration.clone() }));
        }
        // A flow for other people is never closer than one for the requester.
        if !self.requestors.admits_requester(r.requester) {
            return Some((1, Miss::Requester));
        }
        if !self.resource_types.is_empty() && !self.resource_types.iter().any(|t| t == r.resource_type) {
            return Some((2, Miss::ResourceType { covers: self.resource_types.clone() }));
        }
        if !self.permissions.is_empty() && !self.permissions.iter().any(|p| p == r.permission) {
            return Some((3, Miss::Permission { covers: self.permissions.clone() }));
        }
        let outside: Vec<String> = r.resources.iter().filter(|x| !in_scopes(&self.resource_scopes, x)).map(|x| x.id.clone()).collect();
        if !outside.is_empty() {
            return Some((4, Miss::Resources { outside }));
        }
        None
    }
}

/// For whom a flow's requestors may ask: themselves, anyone else, or the
/// people whose manager they are (the seed's `request_scopes` self,
/// others, direct_reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFor {
    pub own: bool,
    pub others: bool,
    pub direct_reports: bool,
}

impl Default for RequestFor {
    fn default() -> Self {
        RequestFor { own: true, others: false, direct_reports: false }
    }
}

impl RequestFor {
    /// May `requester` ask for `grantee`?
    pub fn allows(&self, requester: &User, grantee: &User) -> bool {
        if grantee.email.eq_ignore_ascii_case(&requester.email) {
            return self.own;
        }
        self.others || (self.direct_reports && grantee.manager.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(&requester.email)))
    }
}

/// Why the closest flow does not cover a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    Inactive,
    Integration { covers: String },
    ResourceType { covers: Vec<String> },
    Permission { covers: Vec<String> },
    /// Its resource scopes leave these requested resources out.
    Resources { outside: Vec<String> },
    /// Its access scope does not select all of the request (or does not exist).
    Scope { scope: String },
    /// It covers what was asked, for other people.
    Requester,
    /// It covers that bundle only (`Some`), or no bundle (`None`).
    Bundle { covers: Option<String> },
    /// Its requestors may ask, but not for that person.
    RequestFor,
}

/// What a requester asks for, already checked against the inventory.
#[derive(Debug, Clone)]
pub struct RequestDraft<'a> {
    pub requester: &'a User,
    /// Who gets the access, when not the requester.
    pub grantee: Option<&'a User>,
    /// A request for this bundle (integration, type, resources and
    /// permission are then empty: the bundle says them).
    pub bundle: Option<&'a str>,
    pub integration: &'a str,
    pub resource_type: &'a str,
    /// The requested resources as the inventory knows them.
    pub resources: &'a [RequestedResource],
    /// The access scopes (of those flows name) that select every access
    /// unit of the request, evaluated by the caller.
    pub selected_by: &'a [String],
    pub permission: &'a str,
    pub duration: Duration,
    pub justification: Option<&'a str>,
}

/// A requested resource: what a flow's resource scopes read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestedResource {
    /// Sesame's id.
    pub id: String,
    pub name: String,
    pub tags: std::collections::BTreeMap<String, String>,
    /// Not one resource but a selector (`tag:KEY=VALUE`, `*`): `tags` holds
    /// the tag it selects by.
    pub selector: bool,
}

/// Which resources of its integration a flow covers (the seed's
/// `resources_scopes`): by name, by id or by tag, included or excluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceScope {
    pub include: bool,
    pub by: ScopeBy,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeBy {
    Name,
    /// Sesame's id of the resource (the seed's APONO_ID).
    Id,
    /// A tag's value, `key` naming the tag.
    Tag { key: String },
}

impl ResourceScope {
    fn selects(&self, r: &RequestedResource) -> bool {
        match &self.by {
            ScopeBy::Name => self.values.contains(&r.name),
            ScopeBy::Id => self.values.contains(&r.id),
            ScopeBy::Tag { key } => r.tags.get(key).is_some_and(|t| self.values.iter().any(|v| v == t)),
        }
    }
}

/// Whether scopes cover a resource: in some include scope (when there is
/// one) and in no exclude scope. No scope covers every resource.
/// A selector reaches resources nobody listed, so exclusions could not
/// hold: it is covered only by scopes that exclude nothing and, when they
/// include, include by the very tag it selects by (`*` only without scopes).
pub fn in_scopes(scopes: &[ResourceScope], r: &RequestedResource) -> bool {
    if r.selector {
        return scopes.iter().all(|s| s.include) && (scopes.is_empty() || scopes.iter().any(|s| matches!(s.by, ScopeBy::Tag { .. }) && s.selects(r)));
    }
    let includes: Vec<&ResourceScope> = scopes.iter().filter(|s| s.include).collect();
    (includes.is_empty() || includes.iter().any(|s| s.selects(r))) && !scopes.iter().any(|s| !s.include && s.selects(r))
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

impl Owners {
    /// The owners of a request that spans integrations (a bundle's grants):
    /// each resource, keyed `integration/id`, with its own owners and its
    /// integration's owners — an integration's owners approve only its
    /// resources.
    pub fn across(by_integration: Vec<(String, Owners)>, dir: &Directory) -> Owners {
        let mut resource_owners = Vec::new();
        for (integration, o) in by_integration {
            let io = o.integration_owners.resolve(dir);
            for (res, os) in o.resource_owners {
                let key = format!("{integration}/{res}");
                let mut all = [os, io.clone()].concat();
                // A resource asked for with two permissions is one resource.
                if let Some((_, seen)) = resource_owners.iter_mut().find(|(k, _): &&mut (String, Vec<String>)| *k == key) {
                    all.retain(|o| !seen.contains(o));
                    seen.extend(all);
                } else {
                    resource_owners.push((key, all));
                }
            }
        }
        Owners { resource_owners, integration_owners: Principals::default() }
    }
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
    /// No flow covers the request; `closest` is the flow that meets the
    /// most of it (integration, requester, type, permission, resources, in
    /// that order) and what it misses.
    NoMatchingFlow { closest: Option<(String, Miss)> },
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
    Decision::Refuse(refusal.unwrap_or_else(|| Refusal::NoMatchingFlow { closest: closest(r, flows) }))
}

/// The flow that meets the most of the request (the first of equals).
fn closest(r: &RequestDraft<'_>, flows: &[AccessFlow]) -> Option<(String, Miss)> {
    let mut best: Option<(usize, &AccessFlow, Miss)> = None;
    for f in flows {
        if let Some((met, miss)) = f.miss(r) {
            if best.as_ref().is_none_or(|(b, _, _)| met > *b) {
                best = Some((met, f, miss));
            }
        }
    }
    best.map(|(_, f, miss)| (f.name.clone(), miss))
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
            let p = &f.approver_policy;
            let groups: Vec<(Vec<String>, bool)> = match p.mode {
                ApprovalMode::AnyOf => {
                    let mut all: Vec<String> = p.groups.iter().flat_map(|g| g.approvers_of(dir, r.requester, f.self_approval)).collect();
                    all.sort();
                    all.dedup();
                    vec![(all, p.owners_join || p.groups.iter().any(Conditions::names_owners))]
                }
                ApprovalMode::AllOf => p.groups.iter().map(|g| (g.approvers_of(dir, r.requester, f.self_approval), p.owners_join || g.names_owners())).collect(),
            };
            // With ALL_OF each group approves on its own: their parts are never merged.
            let parts: Vec<ApprovalPart> = groups.into_iter().flat_map(|(members, with_owners)| group_parts(members, with_owners, f.self_approval, r, dir, owners)).collect();
            if parts.is_empty() || parts.iter().any(|p| p.approvers.is_empty()) {
                return Err(Refusal::NoApprover { flow: f.name.clone() });
            }
            Ok(Decision::Pending { flow: f.name.clone(), approvers: approval::all_approvers(&parts), parts })
        }
    }
}

/// The parts one approver group approves: its members approve everything;
/// with owners, each resource's owners approve that resource, the
/// integration owners any (and all of it when nobody else would).
fn group_parts(members: Vec<String>, with_owners: bool, self_ok: bool, r: &RequestDraft<'_>, dir: &Directory, owners: &Owners) -> Vec<ApprovalPart> {
    let all_resources = || owners.resource_owners.iter().map(|(res, _)| res.clone()).collect::<Vec<_>>();
    if !with_owners {
        return vec![ApprovalPart { resources: all_resources(), approvers: members }];
    }
    let not_requester = |a: &String| self_ok || !a.eq_ignore_ascii_case(&r.requester.email);
    let mut integration_owners = owners.integration_owners.resolve(dir);
    integration_owners.retain(not_requester);
    let owners_of = |os: &[String]| -> Vec<String> { os.iter().filter(|o| dir.user(o).is_some() && not_requester(o)).cloned().collect() };
    let any_owner = owners.resource_owners.iter().any(|(_, os)| !owners_of(os).is_empty());
    if any_owner {
        approval::parts(
            owners.resource_owners.iter().map(|(res, os)| (res.clone(), [members.clone(), owners_of(os), integration_owners.clone()].concat())).collect(),
        )
    } else {
        let mut approvers = if members.is_empty() { integration_owners } else { members };
        approvers.sort();
        approvers.dedup();
        vec![ApprovalPart { resources: all_resources(), approvers }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn user(email: &str, groups: &[&str]) -> User {
        User { email: email.into(), groups: groups.iter().map(|g| g.to_string()).collect::<BTreeSet<_>>(), ..Default::default() }
    }

    fn flow(name: &str, kind: FlowKind) -> AccessFlow {
        AccessFlow {
            name: name.into(),
            kind,
            requestors: Conditions::of(&[], &["dev".into()]),
            approver_policy: ApproverPolicy::of(Conditions::of(&["boss@x.io".into()], &["dev".into()])),
            integration: "pg".into(),
            resource_types: vec!["table".into()],
            permissions: vec!["read_only".into()],
            max_duration: Duration::from_secs(3600),
            require_justification: true,
            timeframe: None,
            active: true,
            require_approver_reason: false,
            pending_expiry: None,
            escalation: vec![],
            resource_scopes: vec![],
            access_scope: None,
            bundle: None,
            request_for: RequestFor::default(),
            labels: vec![],
            require_mfa: false,
            requester_mfa: false,
            max_extensions: 0,
            extension_max: Duration::from_secs(3600),
            self_approval: false,
        }
    }

    fn dir() -> Directory {
        Directory { users: vec![user("ann@x.io", &["dev"]), user("boss@x.io", &[]), user("eve@x.io", &[])] }
    }

    fn draft<'a>(u: &'a User, perm: &'a str, secs: u64, why: Option<&'a str>) -> RequestDraft<'a> {
        RequestDraft {
            requester: u,
            grantee: None,
            bundle: None,
            integration: "pg",
            resource_type: "table",
            resources: &[],
            selected_by: &[],
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
        assert_eq!(
            decide(&draft(&eve, "read_only", 60, Some("x")), &flows, &d, &Owners::default(), at),
            Decision::Refuse(Refusal::NoMatchingFlow { closest: Some(("auto".into(), Miss::Requester)) })
        );
        assert_eq!(
            decide(&draft(&ann, "admin", 60, Some("x")), &flows, &d, &Owners::default(), at),
            Decision::Refuse(Refusal::NoMatchingFlow { closest: Some(("auto".into(), Miss::Permission { covers: vec!["read_only".into()] })) })
        );
        assert_eq!(
            decide(&draft(&ann, "read_only", 7200, Some("x")), &flows, &d, &Owners::default(), at),
            Decision::Refuse(Refusal::DurationTooLong { flow: "auto".into(), max: Duration::from_secs(3600) })
        );
        assert_eq!(
            decide(&draft(&ann, "read_only", 60, Some("  ")), &flows, &d, &Owners::default(), at),
            Decision::Refuse(Refusal::JustificationRequired { flow: "auto".into() })
        );
    }

    /// A flow whose target is an access scope covers a request the scope
    /// selects whole, on any integration, for its requestors only.
    #[test]
    fn an_access_scope_target_covers_what_its_scope_selects() {
        let d = dir();
        let ann = d.user("ann@x.io").unwrap().clone();
        let eve = d.user("eve@x.io").unwrap().clone();
        let f = AccessFlow { access_scope: Some("prod-dbs".into()), integration: String::new(), ..flow("by-scope", FlowKind::Automatic) };
        let ask = |u: &User, selected: &[String]| decide(&RequestDraft { selected_by: selected, ..draft(u, "admin", 60, Some("x")) }, std::slice::from_ref(&f), &d, &Owners::default(), Timestamp(0));
        assert_eq!(ask(&ann, &["other".into(), "prod-dbs".into()]), Decision::Grant { flow: "by-scope".into() });
        assert_eq!(ask(&ann, &["other".into()]), Decision::Refuse(Refusal::NoMatchingFlow { closest: Some(("by-scope".into(), Miss::Scope { scope: "prod-dbs".into() })) }));
        assert_eq!(ask(&eve, &["prod-dbs".into()]), Decision::Refuse(Refusal::NoMatchingFlow { closest: Some(("by-scope".into(), Miss::Requester)) }));
    }

    /// A flow's resource scopes: include by name, id or tag; exclude wins.
    #[test]
    fn resource_scopes_include_and_exclude_by_name_id_and_tag() {
        let res = |id: &str, name: &str, tags: &[(&str, &str)]| RequestedResource { id: id.into(), name: name.into(), tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), selector: false };
        let scope = |include: bool, by: ScopeBy, values: &[&str]| ResourceScope { include, by, values: values.iter().map(|v| v.to_string()).collect() };
        let prod = res("db/public/orders", "orders", &[("env", "prod")]);
        let pay = res("db/public/payroll", "payroll", &[("env", "prod"), ("pii", "yes")]);
        let dev = res("db/dev/orders", "orders", &[("env", "dev")]);
        let by_tag = [scope(true, ScopeBy::Tag { key: "env".into() }, &["prod"]), scope(false, ScopeBy::Tag { key: "pii".into() }, &["yes"])];
        assert_eq!([&prod, &pay, &dev].map(|r| in_scopes(&by_tag, r)), [true, false, false], "prod, but never PII");
        let by_name = [scope(true, ScopeBy::Name, &["orders"])];
        assert_eq!([&prod, &pay, &dev].map(|r| in_scopes(&by_name, r)), [true, false, true]);
        let but_not = [scope(false, ScopeBy::Id, &["db/dev/orders"])];
        assert_eq!([&prod, &pay, &dev].map(|r| in_scopes(&but_not, r)), [true, true, false], "only an exclude: everything else");
        assert!(in_scopes(&[], &dev));
        // A flow covers a request only when every requested resource is in its scopes.
        let d = dir();
        let ann = d.user("ann@x.io").unwrap().clone();
        let f = AccessFlow { resource_scopes: by_tag.to_vec(), ..flow("prod-only", FlowKind::Automatic) };
        let ask = |rs: &[RequestedResource]| decide(&RequestDraft { resources: rs, ..draft(&ann, "read_only", 60, Some("x")) }, std::slice::from_ref(&f), &d, &Owners::default(), Timestamp(0));
        assert_eq!(ask(std::slice::from_ref(&prod)), Decision::Grant { flow: "prod-only".into() });
        assert_eq!(
            ask(&[prod, pay]),
            Decision::Refuse(Refusal::NoMatchingFlow { closest: Some(("prod-only".into(), Miss::Resources { outside: vec!["db/public/payroll".into()] })) })
        );
    }

    /// A selector (`tag:env=prod`, `*`) reaches resources nobody listed: a
    /// flow's exclusions could not hold for it, so only a flow that excludes
    /// nothing and includes by that very tag (or has no scope, for `*`)
    /// covers it.
    #[test]
    fn a_selector_cannot_slip_past_a_flows_exclusions() {
        let sel = |tags: &[(&str, &str)]| RequestedResource { id: "tag:x".into(), name: "tag:x".into(), tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), selector: true };
        let scope = |include: bool, by: ScopeBy, values: &[&str]| ResourceScope { include, by, values: values.iter().map(|v| v.to_string()).collect() };
        let env = || ScopeBy::Tag { key: "env".into() };
        let prod = sel(&[("env", "prod")]);
        let any = sel(&[]);
        assert!(in_scopes(&[scope(true, env(), &["prod"])], &prod));
        assert!(!in_scopes(&[scope(true, env(), &["dev"])], &prod), "another tag value");
        // The attack: `tag:env=prod` would reach payroll, which the flow excludes by name.
        assert!(!in_scopes(&[scope(true, env(), &["prod"]), scope(false, ScopeBy::Name, &["payroll"])], &prod));
        assert!(!in_scopes(&[scope(false, ScopeBy::Tag { key: "pii".into() }, &["yes"])], &prod), "any exclusion refuses a selector");
        assert!(!in_scopes(&[scope(true, ScopeBy::Name, &["tag:x"])], &prod), "a name scope never matches a selector, even one spelled like it");
        assert!(!in_scopes(&[scope(true, ScopeBy::Id, &["tag:x"])], &prod));
        assert!(in_scopes(&[], &prod) && in_scopes(&[], &any), "a flow for any resource covers selectors");
        assert!(!in_scopes(&[scope(true, env(), &["prod"])], &any), "`*` is more than one tag");
    }

    /// Only a flow that opts in (`requester_cannot_approve_self = false`)
    /// counts the requester among its approvers.
    #[test]
    fn the_requester_approves_only_where_the_flow_opts_in() {
        let d = dir();
        let ann = d.user("ann@x.io").unwrap().clone();
        let by_group = AccessFlow { approver_policy: ApproverPolicy::of(Conditions::of(&[], &["dev".into()])), ..flow("f", FlowKind::SelfServe) };
        let ask = |f: &AccessFlow| decide(&draft(&ann, "read_only", 60, Some("x")), std::slice::from_ref(f), &d, &Owners::default(), Timestamp(0));
        assert_eq!(ask(&by_group), Decision::Refuse(Refusal::NoApprover { flow: "f".into() }), "ann is the only dev: nobody else approves");
        match ask(&AccessFlow { self_approval: true, ..by_group }) {
            Decision::Pending { approvers, .. } => assert_eq!(approvers, ["ann@x.io"]),
            other => panic!("{other:?}"),
        }
    }

    /// The seed's `request_for`: self by default; others; direct reports
    /// (the grantee's manager is the requester).
    #[test]
    fn request_for_says_for_whom_requestors_may_ask() {
        let ann = user("ann@x.io", &["dev"]);
        let bob = User { manager: Some("ANN@x.io".into()), ..user("bob@x.io", &[]) };
        let eve = user("eve@x.io", &[]);
        let d = Directory { users: vec![ann.clone(), bob.clone(), eve.clone()] };
        let ask = |rf: RequestFor, grantee: Option<&User>| {
            let f = AccessFlow { request_for: rf, ..flow("f", FlowKind::Automatic) };
            decide(&RequestDraft { grantee, ..draft(&ann, "read_only", 60, Some("x")) }, std::slice::from_ref(&f), &d, &Owners::default(), Timestamp(0))
        };
        let granted = |d: Decision| matches!(d, Decision::Grant { .. });
        let own = RequestFor::default();
        let reports = RequestFor { own: false, others: false, direct_reports: true };
        let others = RequestFor { own: true, others: true, direct_reports: false };
        assert!(granted(ask(own, None)) && granted(ask(own, Some(&ann))));
        assert_eq!(ask(own, Some(&bob)), Decision::Refuse(Refusal::NoMatchingFlow { closest: Some(("f".into(), Miss::RequestFor)) }));
        assert!(granted(ask(reports, Some(&bob))), "ann manages bob (any case)");
        assert!(!granted(ask(reports, Some(&eve))), "not eve");
        assert!(!granted(ask(reports, None)), "nor herself, unless `self` is listed");
        assert!(granted(ask(others, Some(&eve))) && granted(ask(others, None)));
    }

    /// The refusal names the flow that came closest and what it misses:
    /// the one meeting the most of integration, requester, type, permission
    /// and resources.
    #[test]
    fn a_refusal_names_the_closest_flow_and_what_it_misses() {
        let d = dir();
        let ann = d.user("ann@x.io").unwrap().clone();
        let other_db = AccessFlow { integration: "mysql".into(), ..flow("other-db", FlowKind::Automatic) };
        let schemas = AccessFlow { resource_types: vec!["schema".into()], ..flow("schemas", FlowKind::Automatic) };
        let writers = AccessFlow { permissions: vec!["read_write".into()], ..flow("writers", FlowKind::Automatic) };
        let paused = AccessFlow { active: false, ..flow("paused", FlowKind::Automatic) };
        let refuse = |flows: &[AccessFlow], perm: &str| decide(&draft(&ann, perm, 60, Some("x")), flows, &d, &Owners::default(), Timestamp(0));
        let closest = |flow: &str, miss: Miss| Decision::Refuse(Refusal::NoMatchingFlow { closest: Some((flow.into(), miss)) });
        assert_eq!(refuse(std::slice::from_ref(&other_db), "read_only"), closest("other-db", Miss::Integration { covers: "mysql".into() }));
        assert_eq!(refuse(&[other_db.clone(), schemas.clone()], "read_only"), closest("schemas", Miss::ResourceType { covers: vec!["schema".into()] }));
        assert_eq!(refuse(&[schemas, writers, other_db], "read_only"), closest("writers", Miss::Permission { covers: vec!["read_write".into()] }));
        assert_eq!(refuse(&[paused], "read_only"), closest("paused", Miss::Inactive));
        assert_eq!(refuse(&[], "read_only"), Decision::Refuse(Refusal::NoMatchingFlow { closest: None }));
        // A flow for others meets less than one for the requester that misses the permission.
        let for_others = AccessFlow { requestors: Conditions::of(&["eve@x.io".into()], &[]), ..flow("eves", FlowKind::Automatic) };
        let ann_writers = AccessFlow { permissions: vec!["read_write".into()], ..flow("ann-writers", FlowKind::Automatic) };
        assert_eq!(refuse(&[for_others, ann_writers], "read_only"), closest("ann-writers", Miss::Permission { covers: vec!["read_write".into()] }));
    }

    #[test]
    fn resource_owners_join_and_integration_owners_fall_back() {
        let d = Directory {
            users: vec![user("ann@x.io", &["dev"]), user("owner@x.io", &[]), user("io@x.io", &[])],
        };
        let ann = d.user("ann@x.io").unwrap().clone();
        let mut f = flow("ss", FlowKind::SelfServe);
        f.approver_policy = ApproverPolicy::of(Conditions::of(&["ann@x.io".into()], &[]));
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
    fn across_a_bundle_each_integrations_owners_approve_only_its_resources() {
        let d = Directory { users: vec![user("ann@x.io", &["dev"]), user("own@x.io", &[]), user("io-a@x.io", &[]), user("io-b@x.io", &[])] };
        let ann = d.user("ann@x.io").unwrap().clone();
        let mut f = flow("ss", FlowKind::SelfServe);
        f.approver_policy = ApproverPolicy { owners_join: false, ..ApproverPolicy::of(group(&[("Owner", &[])])) };
        let a = Owners { resource_owners: vec![("t".into(), vec!["own@x.io".into()])], integration_owners: Principals { users: strs(&["io-a@x.io"]), groups: vec![] } };
        let b = Owners { resource_owners: vec![("t".into(), vec![])], integration_owners: Principals { users: strs(&["io-b@x.io", "ann@x.io"]), groups: vec![] } };
        let owners = Owners::across(vec![("pg".into(), a), ("app".into(), b)], &d);
        let dr = draft(&ann, "read_only", 60, Some("x"));
        assert_eq!(pending(decide(&dr, &[f], &d, &owners, Timestamp(0))), vec![
            (strs(&["pg/t"]), strs(&["io-a@x.io", "own@x.io"])),
            (strs(&["app/t"]), strs(&["io-b@x.io"])),
        ], "same-named resources of two integrations stay apart; never the requester");
    }

    fn group(conditions: &[(&str, &[&str])]) -> Conditions {
        use crate::people::{Attribute, Condition, Logical, MatchOp};
        Conditions {
            logical: Logical::Or,
            conditions: conditions
                .iter()
                .map(|(t, v)| Condition { attribute: Attribute::parse(t), op: MatchOp::Is, values: v.iter().map(|x| x.to_string()).collect() })
                .collect(),
        }
    }

    fn pending(d: Decision) -> Vec<(Vec<String>, Vec<String>)> {
        match d {
            Decision::Pending { parts, .. } => parts.into_iter().map(|p| (p.resources, p.approvers)).collect(),
            other => panic!("not pending: {other:?}"),
        }
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// Approver policies, table by table: ANY_OF merges its groups, ALL_OF
    /// needs one approval per group, managers and owners resolve per
    /// request, and the requester is never an approver in any disguise.
    #[test]
    fn approver_policies_resolve_as_the_table_says() {
        let d = Directory {
            users: vec![
                User { manager: Some("boss@x.io".into()), ..user("ann@x.io", &["dev", "sec"]) },
                user("boss@x.io", &["leads"]),
                user("sam@x.io", &["sec"]),
                user("owner@x.io", &[]),
                user("io@x.io", &[]),
            ],
        };
        let ann = d.user("ann@x.io").unwrap().clone();
        let owners = Owners {
            resource_owners: vec![("t1".into(), strs(&["owner@x.io", "ann@x.io"])), ("t2".into(), strs(&["ann@x.io"]))],
            integration_owners: Principals { users: strs(&["io@x.io", "ann@x.io"]), groups: vec![] },
        };
        let no_owners = Owners { resource_owners: vec![("t1".into(), vec![]), ("t2".into(), vec![])], ..Owners::default() };
        let policy = |mode, groups: Vec<Conditions>| ApproverPolicy { mode, groups, owners_join: false };
        let run = |p: ApproverPolicy, o: &Owners| {
            let f = AccessFlow { approver_policy: p, ..flow("ss", FlowKind::SelfServe) };
            decide(&draft(&ann, "read_only", 60, Some("x")), &[f], &d, o, Timestamp(0))
        };
        let both = strs(&["t1", "t2"]);
        // ANY_OF: one part, anyone of either group (never ann, though she is in `sec`).
        let any = policy(ApprovalMode::AnyOf, vec![group(&[("group", &["leads"])]), group(&[("group", &["sec"])])]);
        assert_eq!(pending(run(any, &no_owners)), vec![(both.clone(), strs(&["boss@x.io", "sam@x.io"]))]);
        // ALL_OF: one part per group, kept apart even when alike.
        let all = policy(ApprovalMode::AllOf, vec![group(&[("group", &["leads"])]), group(&[("group", &["sec"])]), group(&[("group", &["sec"])])]);
        assert_eq!(pending(run(all, &no_owners)), vec![(both.clone(), strs(&["boss@x.io"])), (both.clone(), strs(&["sam@x.io"])), (both.clone(), strs(&["sam@x.io"]))]);
        // The requester's manager.
        let mgr = policy(ApprovalMode::AnyOf, vec![group(&[("manager", &[])])]);
        assert_eq!(pending(run(mgr, &no_owners)), vec![(both.clone(), strs(&["boss@x.io"]))]);
        // Owners: each resource its own owner (not ann, who owns both), the integration owner for all.
        let own = policy(ApprovalMode::AllOf, vec![group(&[("group", &["leads"])]), group(&[("Owner", &[])])]);
        assert_eq!(
            pending(run(own, &owners)),
            vec![
                (both.clone(), strs(&["boss@x.io"])),
                (strs(&["t1"]), strs(&["io@x.io", "owner@x.io"])),
                (strs(&["t2"]), strs(&["io@x.io"])),
            ]
        );
        // Self-approval in every disguise leaves nobody: refused, not self-approved.
        for disguise in [group(&[("user", &["ANN@x.io"])]), group(&[("group", &["dev"])]), group(&[("Owner", &[])])] {
            let only_owners = Owners { resource_owners: vec![("t2".into(), strs(&["ann@x.io"]))], integration_owners: Principals { users: strs(&["ann@x.io"]), groups: vec![] } };
            assert_eq!(run(policy(ApprovalMode::AnyOf, vec![disguise.clone()]), &only_owners), Decision::Refuse(Refusal::NoApprover { flow: "ss".into() }), "{disguise:?}");
        }
        let selfish = Directory { users: vec![User { manager: Some("ann@x.io".into()), ..user("ann@x.io", &[]) }] };
        let me = selfish.users[0].clone();
        let f = AccessFlow { approver_policy: policy(ApprovalMode::AnyOf, vec![group(&[("manager", &[])])]), ..flow("ss", FlowKind::SelfServe) };
        let f = AccessFlow { requestors: Conditions::of(&["ann@x.io".into()], &[]), ..f };
        assert_eq!(decide(&draft(&me, "read_only", 60, Some("x")), &[f], &selfish, &no_owners, Timestamp(0)), Decision::Refuse(Refusal::NoApprover { flow: "ss".into() }), "as her own manager");
        // ALL_OF where one group resolves to nobody: refused, the other group cannot stand in.
        let half = policy(ApprovalMode::AllOf, vec![group(&[("group", &["leads"])]), group(&[("group", &["nobody-here"])])]);
        assert_eq!(run(half, &no_owners), Decision::Refuse(Refusal::NoApprover { flow: "ss".into() }));
    }

    #[test]
    fn nobody_approves_their_own_request() {
        use crate::approval::{may_decide, ApprovalRefusal};
        let parts = vec![ApprovalPart { resources: vec![], approvers: vec!["ann@x.io".to_string(), "boss@x.io".to_string()] }];
        assert_eq!(may_decide("ANN@x.io", "ann@x.io", &parts), Err(ApprovalRefusal::OwnRequest));
        assert_eq!(may_decide("eve@x.io", "ann@x.io", &parts), Err(ApprovalRefusal::NotAnApprover));
        assert_eq!(may_decide("boss@x.io", "ann@x.io", &parts), Ok(()));
    }

    #[test]
    fn a_bundle_flow_covers_requests_for_its_bundle_and_nothing_else() {
        let d = dir();
        let ann = d.user("ann@x.io").unwrap().clone();
        let oncall = AccessFlow { bundle: Some("oncall".into()), integration: String::new(), ..flow("oncall-flow", FlowKind::Automatic) };
        let plain = flow("plain", FlowKind::Automatic);
        let flows = [oncall.clone(), plain.clone()];
        let for_bundle = |b: &'static str| RequestDraft { bundle: Some(b), integration: "", resource_type: "", permission: "", ..draft(&ann, "", 60, Some("x")) };
        assert_eq!(decide(&for_bundle("oncall"), &flows, &d, &Owners::default(), Timestamp(0)), Decision::Grant { flow: "oncall-flow".into() });
        // Another bundle: refused, naming the flow that covers which bundle.
        match decide(&for_bundle("payroll"), &flows, &d, &Owners::default(), Timestamp(0)) {
            Decision::Refuse(Refusal::NoMatchingFlow { closest: Some((_, Miss::Bundle { .. })) }) => {}
            other => panic!("{other:?}"),
        }
        // A plain request is not covered by the bundle's flow.
        assert_eq!(decide(&draft(&ann, "read_only", 60, Some("x")), std::slice::from_ref(&oncall), &d, &Owners::default(), Timestamp(0)), Decision::Refuse(Refusal::NoMatchingFlow { closest: Some(("oncall-flow".into(), Miss::Bundle { covers: Some("oncall".into()) })) }));
        // The bundle flow's requestors still decide who may ask.
        let eve = d.user("eve@x.io").unwrap().clone();
        let eves = RequestDraft { requester: &eve, ..for_bundle("oncall") };
        assert!(matches!(decide(&eves, &flows, &d, &Owners::default(), Timestamp(0)), Decision::Refuse(Refusal::NoMatchingFlow { closest: Some((_, Miss::Requester)) })));
    }
}
