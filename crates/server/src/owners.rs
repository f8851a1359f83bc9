//! Who owns what: the integration settings' owners, resolved for a request.

use sesame_core::{Owners, Principals};
use sesame_integrations::settings::{IntegrationSettings, OwnerAttribute};
use sesame_store::StoredResource;

/// Metadata key under which discovery stores a resource's tag `key`.
pub fn tag_key(key: &str) -> String {
    format!("tag:{key}")
}

/// Every requested resource with the owners its configured tag names (as
/// discovery last read the tags), and the integration owners. Pure.
pub fn owners_for(settings: &IntegrationSettings, resources: &[StoredResource], dir: &sesame_core::Directory) -> Owners {
    let mut resource_owners = Vec::new();
    for r in resources {
        let mut owners = Vec::new();
        if let Some(value) = settings.resource_owner.as_ref().and_then(|map| r.metadata.get(&tag_key(&map.tag_key)).map(|v| (map, v))) {
            match value.0.attribute {
                OwnerAttribute::Email => owners.push(value.1.clone()),
                OwnerAttribute::Group => owners.extend(dir.members_of(value.1).map(|u| u.email.clone())),
            }
        }
        resource_owners.push((r.id.clone(), owners));
    }
    let io = &settings.integration_owners;
    Owners { resource_owners, integration_owners: Principals { users: io.users.clone(), groups: io.groups.clone() } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesame_core::{Directory, User};
    use sesame_integrations::settings::{Owners as CfgOwners, ResourceOwner};
    use std::collections::BTreeMap;

    #[test]
    fn tags_name_owners_by_email_or_group() {
        let dir = Directory {
            users: vec![
                User { email: "a@x.io".into(), groups: ["dba".to_string()].into(), ..Default::default() },
                User { email: "b@x.io".into(), groups: Default::default(), ..Default::default() },
            ],
        };
        let res = |owner: &str| StoredResource {
            resource_type: "table".into(),
            id: "db/s/t".into(),
            name: "t".into(),
            metadata: BTreeMap::from([(tag_key("owner"), owner.to_string())]),
        };
        let mut s = IntegrationSettings {
            integration_owners: CfgOwners { users: vec!["b@x.io".into()], groups: vec![] },
            resource_owner: Some(ResourceOwner { tag_key: "owner".into(), attribute: OwnerAttribute::Group }),
            ..Default::default()
        };
        let o = owners_for(&s, &[res("dba")], &dir);
        assert_eq!(o.resource_owners, vec![("db/s/t".to_string(), vec!["a@x.io".to_string()])]);
        assert_eq!(o.integration_owners.users, vec!["b@x.io".to_string()]);
        s.resource_owner = Some(ResourceOwner { tag_key: "owner".into(), attribute: OwnerAttribute::Email });
        assert_eq!(owners_for(&s, &[res("b@x.io")], &dir).resource_owners, vec![("db/s/t".to_string(), vec!["b@x.io".to_string()])]);
    }
}
