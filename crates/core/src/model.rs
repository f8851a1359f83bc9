//! People and groups, as declared in configuration (and later synced by SCIM).

use std::collections::{BTreeMap, BTreeSet};

/// A person who can request or approve access. The e-mail is the identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    pub email: String,
    pub groups: BTreeSet<String>,
    pub admin: bool,
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

impl Directory {
    pub fn user(&self, email: &str) -> Option<&User> {
        self.users.iter().find(|u| u.email.eq_ignore_ascii_case(email))
    }

    pub fn members_of<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a User> + 'a {
        self.users.iter().filter(move |u| u.groups.contains(group))
    }
}
