//! Who may ask and who may approve, as the seed's access flows say it:
//! conditions on a person (`type` user, group, manager, Owner or any custom
//! attribute; `match_operator` is, is_not, contains, does_not_contain,
//! starts_with; `values`) joined by a logical operator. Pure.

use crate::model::{Directory, User};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Is,
    IsNot,
    Contains,
    DoesNotContain,
    StartsWith,
}

impl MatchOp {
    pub fn parse(s: &str) -> Option<MatchOp> {
        Some(match s.to_ascii_lowercase().as_str() {
            "is" => MatchOp::Is,
            "is_not" => MatchOp::IsNot,
            "contains" => MatchOp::Contains,
            "does_not_contain" => MatchOp::DoesNotContain,
            "starts_with" => MatchOp::StartsWith,
            _ => return None,
        })
    }

    /// Any of `texts` against any of `values`, case-insensitively; the
    /// negative operators are the negation of their positive twin (a person
    /// in no group `is_not` in any).
    fn test<'a>(self, texts: impl IntoIterator<Item = &'a str>, values: &[String]) -> bool {
        let (positive, negate) = match self {
            MatchOp::IsNot => (MatchOp::Is, true),
            MatchOp::DoesNotContain => (MatchOp::Contains, true),
            other => (other, false),
        };
        let hit = texts.into_iter().any(|t| {
            let t = t.to_lowercase();
            values.iter().any(|v| {
                let v = v.to_lowercase();
                match positive {
                    MatchOp::Contains => t.contains(&v),
                    MatchOp::StartsWith => t.starts_with(&v),
                    _ => t == v,
                }
            })
        });
        hit != negate
    }
}

/// What a condition reads about a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// The e-mail.
    User,
    /// Any of the person's groups.
    Group,
    /// Of a requester: their manager's e-mail. Of an approver: whether they
    /// are the requester's manager (values are not read).
    Manager,
    /// Approvers only: the owners of the requested resources (each owner
    /// approves only their own resources) and the integration owners.
    Owner,
    /// A free attribute of the person (`department`, `cost_center`...).
    Custom(String),
}

impl Attribute {
    pub fn parse(s: &str) -> Attribute {
        match s.to_ascii_lowercase().as_str() {
            "user" => Attribute::User,
            "group" => Attribute::Group,
            "manager" => Attribute::Manager,
            "owner" => Attribute::Owner,
            _ => Attribute::Custom(s.to_owned()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub attribute: Attribute,
    pub op: MatchOp,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logical {
    And,
    Or,
}

/// Conditions joined by one logical operator. With `Or` and no condition,
/// nobody; with `And` and none, everybody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conditions {
    pub logical: Logical,
    pub conditions: Vec<Condition>,
}

impl std::fmt::Display for Conditions {
    /// As people read it: `group is developers or department is payments`;
    /// `nobody` / `everybody` for no condition.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.conditions.is_empty() {
            return f.write_str(if self.logical == Logical::And { "everybody" } else { "nobody" });
        }
        let join = if self.logical == Logical::And { " and " } else { " or " };
        let parts: Vec<String> = self
            .conditions
            .iter()
            .map(|c| {
                let what = match &c.attribute {
                    Attribute::User => "user",
                    Attribute::Group => "group",
                    Attribute::Manager => "manager",
                    Attribute::Owner => "Owner",
                    Attribute::Custom(a) => a.as_str(),
                };
                let op = match c.op {
                    MatchOp::Is => "is",
                    MatchOp::IsNot => "is_not",
                    MatchOp::Contains => "contains",
                    MatchOp::DoesNotContain => "does_not_contain",
                    MatchOp::StartsWith => "starts_with",
                };
                if c.values.is_empty() {
                    what.to_owned()
                } else {
                    format!("{what} {op} {}", c.values.join(", "))
                }
            })
            .collect();
        f.write_str(&parts.join(join))
    }
}

impl Conditions {
    /// `users` or `groups` by name: the flows of Sesame's first configs.
    pub fn of(users: &[String], groups: &[String]) -> Conditions {
        let mut conditions = Vec::new();
        if !users.is_empty() {
            conditions.push(Condition { attribute: Attribute::User, op: MatchOp::Is, values: users.to_vec() });
        }
        if !groups.is_empty() {
            conditions.push(Condition { attribute: Attribute::Group, op: MatchOp::Is, values: groups.to_vec() });
        }
        Conditions { logical: Logical::Or, conditions }
    }

    fn holds(&self, f: impl Fn(&Condition) -> bool) -> bool {
        match self.logical {
            Logical::And => self.conditions.iter().all(f),
            Logical::Or => self.conditions.iter().any(f),
        }
    }

    /// Whether a requester is among these people.
    pub fn admits_requester(&self, u: &User) -> bool {
        self.holds(|c| match &c.attribute {
            Attribute::User => c.op.test([u.email.as_str()], &c.values),
            Attribute::Group => c.op.test(u.groups.iter().map(String::as_str), &c.values),
            Attribute::Manager => c.op.test(u.manager.as_deref(), &c.values),
            Attribute::Owner => false,
            Attribute::Custom(k) => c.op.test(u.attributes.get(k).map(String::as_str), &c.values),
        })
    }

    /// Whether `a` may approve `requester`'s request by these conditions;
    /// an `Owner` condition holds for nobody here (owners are per resource).
    pub fn admits_approver(&self, a: &User, requester: &User) -> bool {
        self.holds(|c| match &c.attribute {
            Attribute::Manager => requester.manager.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(&a.email)),
            Attribute::Owner => false,
            _ => Conditions { logical: Logical::And, conditions: vec![c.clone()] }.admits_requester(a),
        })
    }

    pub fn names_owners(&self) -> bool {
        self.conditions.iter().any(|c| c.attribute == Attribute::Owner)
    }

    /// Everybody in the directory these conditions admit as approvers of
    /// `requester`'s request (never the requester), sorted.
    pub fn approvers(&self, dir: &Directory, requester: &User) -> Vec<String> {
        self.approvers_of(dir, requester, false)
    }

    /// [`Conditions::approvers`], the requester included when `self_ok`
    /// (a flow with `requester_cannot_approve_self = false`).
    pub fn approvers_of(&self, dir: &Directory, requester: &User, self_ok: bool) -> Vec<String> {
        let mut out: Vec<String> = dir
            .users
            .iter()
            .filter(|a| (self_ok || !a.email.eq_ignore_ascii_case(&requester.email)) && self.admits_approver(a, requester))
            .map(|a| a.email.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub fn person(email: &str, groups: &[&str], manager: Option<&str>, attrs: &[(&str, &str)]) -> User {
        User {
            email: email.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            admin: false,
            auditor: false,
            name: None,
            manager: manager.map(str::to_owned),
            attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    fn cond(attr: &str, op: &str, values: &[&str]) -> Condition {
        Condition { attribute: Attribute::parse(attr), op: MatchOp::parse(op).unwrap(), values: values.iter().map(|v| v.to_string()).collect() }
    }

    #[test]
    fn requestor_conditions_read_each_attribute_as_the_table_says() {
        let ann = person("Ann@Payments.io", &["dev", "oncall"], Some("boss@payments.io"), &[("department", "Payments")]);
        let nobody = person("eve@x.io", &[], None, &[]);
        let one = |c: Condition| Conditions { logical: Logical::And, conditions: vec![c] };
        for (c, for_ann, for_nobody) in [
            (cond("user", "is", &["ann@payments.io"]), true, false),
            (cond("user", "is_not", &["ann@payments.io"]), false, true),
            (cond("user", "contains", &["@payments"]), true, false),
            (cond("user", "does_not_contain", &["@payments"]), false, true),
            (cond("user", "starts_with", &["ann@"]), true, false),
            (cond("group", "is", &["oncall", "sre"]), true, false),
            (cond("group", "is_not", &["oncall"]), false, true),
            (cond("group", "starts_with", &["on"]), true, false),
            (cond("manager", "is", &["boss@payments.io"]), true, false),
            (cond("manager", "is_not", &["boss@payments.io"]), false, true),
            (cond("department", "is", &["payments"]), true, false),
            (cond("department", "does_not_contain", &["pay"]), false, true),
            (cond("Owner", "is", &[]), false, false),
        ] {
            assert_eq!(one(c.clone()).admits_requester(&ann), for_ann, "{c:?} for ann");
            assert_eq!(one(c.clone()).admits_requester(&nobody), for_nobody, "{c:?} for eve");
        }
        let both = Conditions { logical: Logical::And, conditions: vec![cond("group", "is", &["dev"]), cond("department", "is", &["risk"])] };
        let either = Conditions { logical: Logical::Or, ..both.clone() };
        assert!(!both.admits_requester(&ann) && either.admits_requester(&ann));
        assert!(!Conditions::of(&[], &[]).admits_requester(&ann), "naming nobody admits nobody");
    }

    #[test]
    fn the_manager_approver_is_the_requesters_manager_and_never_the_requester() {
        let dir = Directory {
            users: vec![
                person("ann@x.io", &["dev"], Some("boss@x.io"), &[]),
                person("boss@x.io", &["dev"], Some("ann@x.io"), &[]),
                person("eve@x.io", &["dev"], None, &[]),
            ],
        };
        let ann = dir.user("ann@x.io").unwrap();
        let manager = Conditions { logical: Logical::Or, conditions: vec![cond("manager", "is", &[])] };
        assert_eq!(manager.approvers(&dir, ann), ["boss@x.io"]);
        let devs = Conditions::of(&[], &["dev".into()]);
        assert_eq!(devs.approvers(&dir, ann), ["boss@x.io", "eve@x.io"], "the requester is never their own approver, even through a group");
        let me = Conditions::of(&["ANN@x.io".into()], &[]);
        assert!(me.approvers(&dir, ann).is_empty(), "nor named directly, in another case");
        let selfish = person("ann@x.io", &["dev"], Some("ann@x.io"), &[]);
        let dir2 = Directory { users: vec![selfish.clone()] };
        assert!(manager.approvers(&dir2, &selfish).is_empty(), "nor as their own manager");
    }
}
