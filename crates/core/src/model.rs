//! People and groups, as declared in configuration (and later synced by SCIM).

use std::collections::{BTreeMap, BTreeSet};

/// A person who can request or approve access. The e-mail is the identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    pub email: String,
    pub groups: BTreeSet<String>,
    pub admin: bool,
    /// Reads the audit log and reports; changes nothing.
    pub auditor: bool,
    /// Display name.
    pub name: Option<String>,
    /// The manager's e-mail: `manager` conditions and approvers read it.
    pub manager: Option<String>,
    /// Free attributes (`department`...) that requestor and approver
    /// conditions read.
    pub attributes: BTreeMap<String, String>,
}

/// Who exists: the identity facts that decisions need.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub users: Vec<User>,
}

/// Sesame's own roles, granted to groups (so an identity provider's groups
/// decide who administers Sesame): admins, auditors (read the audit log and
/// reports, change nothing) and who may request at all (everybody when
/// `requesters` is `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    pub admins: Vec<String>,
    pub auditors: Vec<String>,
    pub requesters: Option<Vec<String>>,
}

impl Roles {
    /// Grant the roles of each person's groups (a role given by name stays).
    pub fn apply(&self, d: &mut Directory) {
        let any = |groups: &BTreeSet<String>, of: &[String]| of.iter().any(|g| groups.contains(g));
        for u in &mut d.users {
            u.admin |= any(&u.groups, &self.admins);
            u.auditor |= u.admin || any(&u.groups, &self.auditors);
        }
    }

    /// Whether a person may ask for access at all.
    pub fn may_request(&self, u: &User) -> bool {
        u.admin || self.requesters.as_ref().is_none_or(|gs| gs.iter().any(|g| u.groups.contains(g)))
    }
}

impl Directory {
    pub fn user(&self, email: &str) -> Option<&User> {
        self.users.iter().find(|u| u.email.eq_ignore_ascii_case(email))
    }

    pub fn members_of<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a User> + 'a {
        self.users.iter().filter(move |u| u.groups.contains(group))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_groups() {
        let u = |email: &str, groups: &[&str], admin: bool| User { email: email.into(), groups: groups.iter().map(|g| (*g).to_owned()).collect(), admin, ..Default::default() };
        let mut d = Directory { users: vec![u("a@x.io", &["ops"], false), u("b@x.io", &["audit"], false), u("c@x.io", &["dev"], false), u("d@x.io", &[], true)] };
        let roles = Roles { admins: vec!["ops".into()], auditors: vec!["audit".into()], requesters: Some(vec!["dev".into()]) };
        roles.apply(&mut d);
        let f = |e: &str| d.user(e).map(|u| (u.admin, u.auditor, roles.may_request(u))).unwrap();
        assert_eq!(f("a@x.io"), (true, true, true), "an admin audits and requests");
        assert_eq!(f("b@x.io"), (false, true, false), "an auditor only reads");
        assert_eq!(f("c@x.io"), (false, false, true));
        assert_eq!(f("d@x.io"), (true, true, true), "named an admin in the file");
        assert!(Roles::default().may_request(&u("e@x.io", &[], false)), "no requesters: everybody");
    }
}
