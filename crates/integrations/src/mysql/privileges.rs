//! The connector account's privileges, read from `SHOW GRANTS`. Pure.

/// One `GRANT ... ON ... TO ...` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantLine {
    pub privileges: Vec<String>,
    /// `*.*`, `` `mysql`.* `` ...
    pub object: String,
    pub grant_option: bool,
}

pub fn parse(line: &str) -> Option<GrantLine> {
    let rest = line.trim().strip_prefix("GRANT ")?;
    let (privs, rest) = rest.split_once(" ON ")?;
    let (object, tail) = rest.split_once(" TO ")?;
    Some(GrantLine {
        privileges: privs.split(',').map(|p| p.trim().to_uppercase()).collect(),
        object: object.trim().replace('`', ""),
        grant_option: tail.contains("WITH GRANT OPTION"),
    })
}

fn holds(grants: &[GrantLine], privilege: &str, objects: &[&str]) -> bool {
    grants.iter().any(|g| {
        objects.contains(&g.object.as_str())
            && (privilege == "GRANT OPTION" && g.grant_option
                || g.privileges.iter().any(|p| p == privilege || p == "ALL PRIVILEGES" || p == "ALL"))
    })
}

/// What the seed requires of the connector account and it lacks, named as
/// in a GRANT statement. `roles` adds ROLE_ADMIN (MySQL 8 and later).
pub fn missing(lines: &[String], roles: bool) -> Vec<&'static str> {
    let grants: Vec<GrantLine> = lines.iter().filter_map(|l| parse(l)).collect();
    let global = ["*.*"];
    let mut out = Vec::new();
    for p in ["SHOW DATABASES", "CREATE USER", "PROCESS", "SELECT", "GRANT OPTION"] {
        if !holds(&grants, p, &global) {
            out.push(p);
        }
    }
    if !holds(&grants, "UPDATE", &["*.*", "mysql.*"]) {
        out.push("UPDATE ON mysql.*");
    }
    if roles && !holds(&grants, "ROLE_ADMIN", &global) && !holds(&grants, "SUPER", &global) {
        out.push("ROLE_ADMIN");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_has_everything() {
        let l = vec!["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION".to_string()];
        assert!(missing(&l, true).is_empty());
    }

    #[test]
    fn names_exactly_what_is_missing() {
        let l = vec![
            "GRANT SELECT, SHOW DATABASES, CREATE USER ON *.* TO `c`@`%` IDENTIFIED BY PASSWORD '*X'".to_string(),
            "GRANT UPDATE ON `mysql`.* TO `c`@`%`".to_string(),
            "GRANT `r1` TO `c`@`%`".to_string(),
        ];
        assert_eq!(missing(&l, false), vec!["PROCESS", "GRANT OPTION"]);
        assert_eq!(missing(&l, true), vec!["PROCESS", "GRANT OPTION", "ROLE_ADMIN"]);
        let only_db = vec!["GRANT UPDATE ON `app`.* TO `c`@`%`".to_string()];
        assert!(missing(&only_db, false).contains(&"UPDATE ON mysql.*"));
    }
}
