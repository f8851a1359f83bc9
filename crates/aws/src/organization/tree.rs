//! The organization's tree: OUs (nested) and accounts, walked from the root,
//! with the configured exclusions: an excluded OU hides its whole subtree.

use super::AwsOrganization;
use crate::account::sdk_err;
use sesame_integrations::IntegrationError;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ou {
    pub id: String,
    pub name: String,
    pub arn: String,
    /// Names from the root, e.g. `Root/Prod/Payments`.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub email: String,
    /// The OU ids above the account, nearest last.
    pub ous: Vec<String>,
    pub path: String,
}

#[derive(Debug, Clone, Default)]
pub struct Tree {
    pub ous: Vec<Ou>,
    pub accounts: Vec<Account>,
}

impl Tree {
    /// Accounts a grant on `id` (an account id or an OU id) reaches.
    pub fn accounts_of(&self, id: &str) -> Vec<String> {
        if id.starts_with("ou-") || id.starts_with("r-") {
            return self.accounts.iter().filter(|a| a.ous.iter().any(|o| o == id) || id.starts_with("r-")).map(|a| a.id.clone()).collect();
        }
        self.accounts.iter().filter(|a| a.id == id).map(|a| a.id.clone()).collect()
    }
}

/// Parse the seed's comma-separated lists (`ou-aaa1-1111,ou-bbb2-2222`).
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

impl AwsOrganization {
    pub(super) async fn tree(&self) -> Result<Tree, IntegrationError> {
        let roots = self.org.list_roots().send().await.map_err(|e| sdk_err("cannot list the organization's roots", e))?;
        let mut tree = Tree::default();
        // (parent id, OU ids above it, path)
        let mut stack: Vec<(String, Vec<String>, String)> = roots.roots().iter().filter_map(|r| r.id().map(|id| (id.to_owned(), vec![], "Root".to_owned()))).collect();
        while let Some((parent, above, path)) = stack.pop() {
            let mut pages = self.org.list_accounts_for_parent().parent_id(&parent).into_paginator().send();
            while let Some(page) = pages.next().await {
                for a in page.map_err(|e| sdk_err("cannot list accounts", e))?.accounts() {
                    let Some(id) = a.id() else { continue };
                    if self.excluded_accounts.iter().any(|x| x == id) {
                        continue;
                    }
                    let name = a.name().unwrap_or(id).to_owned();
                    tree.accounts.push(Account { id: id.to_owned(), path: format!("{path}/{name}"), name, email: a.email().unwrap_or_default().to_owned(), ous: above.clone() });
                }
            }
            let mut pages = self.org.list_organizational_units_for_parent().parent_id(&parent).into_paginator().send();
            while let Some(page) = pages.next().await {
                for ou in page.map_err(|e| sdk_err("cannot list organizational units", e))?.organizational_units() {
                    let Some(id) = ou.id() else { continue };
                    if self.excluded_ous.iter().any(|x| x == id) {
                        continue;
                    }
                    let name = ou.name().unwrap_or(id).to_owned();
                    let p = format!("{path}/{name}");
                    tree.ous.push(Ou { id: id.to_owned(), name, arn: ou.arn().unwrap_or_default().to_owned(), path: p.clone() });
                    let mut a = above.clone();
                    a.push(id.to_owned());
                    stack.push((id.to_owned(), a, p));
                }
            }
        }
        tree.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        tree.ous.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(tree)
    }

    pub(super) async fn account_tags(&self, id: &str) -> BTreeMap<String, String> {
        match self.org.list_tags_for_resource().resource_id(id).send().await {
            Ok(t) => t.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
            Err(_) => BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ous_reach_their_subtree() {
        let acct = |id: &str, ous: &[&str]| Account { id: id.into(), name: id.into(), email: String::new(), ous: ous.iter().map(|s| s.to_string()).collect(), path: String::new() };
        let t = Tree { ous: vec![], accounts: vec![acct("1", &["ou-a"]), acct("2", &["ou-a", "ou-b"]), acct("3", &[])] };
        assert_eq!(t.accounts_of("ou-a"), ["1", "2"]);
        assert_eq!(t.accounts_of("ou-b"), ["2"]);
        assert_eq!(t.accounts_of("3"), ["3"]);
        assert!(t.accounts_of("4").is_empty());
        assert_eq!(split_list(" ou-aaa1-1111, ou-bbb2-2222 ,"), ["ou-aaa1-1111", "ou-bbb2-2222"]);
    }
}
