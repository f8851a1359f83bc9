//! The directory decisions read: the configuration's people, overlaid by
//! those an identity provider pushed through SCIM (the provider wins for an
//! e-mail both name; an inactive person is nobody). Groups are SCIM groups'
//! display names; the manager is the person the enterprise `manager.value`
//! names; the enterprise attributes and `title` are attributes flows read.

use super::filter::get_ci;
use super::schema::ENTERPRISE;
use sesame_core::{Directory, Roles, User};
use sesame_store::SignedIn;
use serde_json::Value;
use std::collections::BTreeMap;

/// The e-mail a SCIM user is known by: the primary e-mail, else the first,
/// else the userName.
pub fn email_of(u: &Value) -> Option<String> {
    let emails = get_ci(u, "emails").and_then(Value::as_array);
    let value = |e: &Value| get_ci(e, "value").and_then(Value::as_str).map(str::to_owned);
    emails
        .and_then(|es| es.iter().find(|e| get_ci(e, "primary").and_then(Value::as_bool) == Some(true)).and_then(value))
        .or_else(|| emails.and_then(|es| es.iter().find_map(value)))
        .or_else(|| get_ci(u, "userName").and_then(Value::as_str).map(str::to_owned))
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
}

pub fn active(u: &Value) -> bool {
    get_ci(u, "active").and_then(Value::as_bool) != Some(false)
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// `users` and `groups`: (id, resource) of every stored SCIM resource;
/// `roles` granted by group to everybody.
pub fn directory(config: &Directory, users: &[(String, Value)], groups: &[(String, Value)], signed_in: &[SignedIn], roles: &Roles) -> Directory {
    let by_id: BTreeMap<&str, &Value> = users.iter().map(|(id, u)| (id.as_str(), u)).collect();
    let mut out: Vec<User> = config.users.clone();
    for (id, u) in users {
        let Some(email) = email_of(u) else { continue };
        let admin = out.iter().find(|x| x.email.eq_ignore_ascii_case(&email)).is_some_and(|x| x.admin);
        out.retain(|x| !x.email.eq_ignore_ascii_case(&email));
        if !active(u) {
            continue;
        }
        let ext = get_ci(u, ENTERPRISE);
        let manager = ext
            .and_then(|e| get_ci(e, "manager"))
            .and_then(|m| text(get_ci(m, "value")))
            .and_then(|mid| by_id.get(mid.as_str()).and_then(|m| email_of(m)));
        let mut attributes = BTreeMap::new();
        for k in ["department", "costCenter", "organization", "division", "employeeNumber"] {
            if let Some(v) = text(ext.and_then(|e| get_ci(e, k))) {
                attributes.insert(k.to_owned(), v);
            }
        }
        if let Some(t) = text(get_ci(u, "title")) {
            attributes.insert("title".into(), t);
        }
        let name = text(get_ci(u, "displayName")).or_else(|| get_ci(u, "name").and_then(|n| text(get_ci(n, "formatted")).or_else(|| {
            let parts: Vec<String> = ["givenName", "familyName"].iter().filter_map(|k| text(get_ci(n, k))).collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })));
        let member_of = groups
            .iter()
            .filter(|(_, g)| get_ci(g, "members").and_then(Value::as_array).is_some_and(|ms| ms.iter().any(|m| get_ci(m, "value").and_then(Value::as_str) == Some(id.as_str()))))
            .filter_map(|(_, g)| text(get_ci(g, "displayName")))
            .collect();
        out.push(User { email, groups: member_of, admin, auditor: false, name, manager, attributes });
    }
    // Who signed in through the identity provider: SCIM's word stands for
    // those it pushed (a deactivated person stays out); the file's people
    // gain the provider's groups; anyone else is who the provider said.
    let pushed: Vec<String> = users.iter().filter_map(|(_, u)| email_of(u)).collect();
    for s in signed_in {
        if pushed.iter().any(|p| p.eq_ignore_ascii_case(&s.email)) {
            continue;
        }
        match out.iter_mut().find(|x| x.email.eq_ignore_ascii_case(&s.email)) {
            Some(known) => {
                known.groups.extend(s.groups.iter().cloned());
                if known.name.is_none() {
                    known.name = s.name.clone();
                }
            }
            None => out.push(User {
                email: s.email.clone(),
                groups: s.groups.iter().cloned().collect(),
                admin: false,
                auditor: false,
                name: s.name.clone(),
                manager: None,
                attributes: BTreeMap::new(),
            }),
        }
    }
    let mut d = Directory { users: out };
    roles.apply(&mut d);
    d
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn signed_in_people_join_with_their_providers_groups() {
        let config = Directory { users: vec![User { email: "ann@x.io".into(), groups: ["ops".to_string()].into(), ..Default::default() }] };
        let users = vec![("u3".to_string(), json!({"userName": "gone@x.io", "active": false}))];
        let signed = |email: &str, groups: &[&str]| SignedIn {
            email: email.into(),
            subject: "s".into(),
            name: Some("From The Provider".into()),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            until: sesame_core::Timestamp(1),
        };
        let roles = Roles { admins: vec!["sesame-admins".into()], ..Roles::default() };
        let d = directory(&config, &users, &[], &[signed("ann@x.io", &["eng"]), signed("new@x.io", &["sesame-admins"]), signed("gone@x.io", &["eng"])], &roles);
        let ann = d.user("ann@x.io").unwrap();
        assert_eq!(ann.groups.iter().collect::<Vec<_>>(), ["eng", "ops"], "the file's groups and the provider's");
        assert_eq!(ann.name.as_deref(), Some("From The Provider"));
        assert!(d.user("new@x.io").unwrap().admin, "the provider's group grants a role");
        assert!(d.user("gone@x.io").is_none(), "SCIM deactivated them: a sign-in does not bring them back");
    }

    #[test]
    fn scim_people_overlay_the_configuration() {
        let config = Directory { users: vec![User { email: "ann@x.io".into(), admin: true, ..Default::default() }, User { email: "gone@x.io".into(), ..Default::default() }] };
        let users = vec![
            ("u1".to_string(), json!({"userName": "ANN", "emails": [{"value": "other@x.io"}, {"value": "ann@x.io", "primary": true}], "name": {"givenName": "Ann", "familyName": "Lee"}, "title": "SRE",
                ENTERPRISE: {"department": "Payments", "manager": {"value": "u2"}}})),
            ("u2".to_string(), json!({"userName": "boss@x.io", "displayName": "The Boss"})),
            ("u3".to_string(), json!({"userName": "gone@x.io", "active": false})),
        ];
        let groups = vec![("g1".to_string(), json!({"displayName": "developers", "members": [{"value": "u1"}, {"value": "u3"}]}))];
        let roles = Roles { auditors: vec!["developers".into()], ..Roles::default() };
        let d = directory(&config, &users, &groups, &[], &roles);
        assert!(d.user("ann@x.io").unwrap().auditor, "a pushed group grants a role");
        let ann = d.user("ann@x.io").unwrap();
        assert!(ann.admin, "an admin of the file stays one");
        assert_eq!((ann.name.as_deref(), ann.manager.as_deref()), (Some("Ann Lee"), Some("boss@x.io")));
        assert_eq!(ann.groups.iter().collect::<Vec<_>>(), ["developers"]);
        assert_eq!((ann.attributes["department"].as_str(), ann.attributes["title"].as_str()), ("Payments", "SRE"));
        assert_eq!(d.user("boss@x.io").unwrap().name.as_deref(), Some("The Boss"));
        assert!(d.user("gone@x.io").is_none(), "deactivated: nobody, even though the file names them");
        assert_eq!(d.users.len(), 2);
    }
}
