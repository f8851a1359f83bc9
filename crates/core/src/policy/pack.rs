//! Documents sized as AWS sizes them (white space excluded) and placed
//! within the quotas of the principal that will carry them.

use super::compile::{Effect, Statement};
use std::collections::BTreeMap;
use crate::time::{rfc3339, Timestamp};
use serde_json::{json, Map, Value};

/// Where the policies go, with its quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A per-grant IAM role: inline up to 10,240; managed policies 6,144 each.
    Role,
    /// A per-grant IAM user: inline (aggregate) 2,048; managed 6,144 each.
    User,
    /// An Identity Center permission set: inline 10,240; customer-managed policies.
    PermissionSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub inline_max: usize,
    pub managed_max: usize,
    /// Managed policies per principal: 10 by default, 20 with a raised quota
    /// (read from GetAccountSummary when available); 20 for permission sets.
    pub managed_count: usize,
}

impl Quotas {
    pub fn for_target(t: Target, managed_per_principal: usize) -> Quotas {
        match t {
            Target::Role => Quotas { inline_max: 10_240, managed_max: 6_144, managed_count: managed_per_principal },
            Target::User => Quotas { inline_max: 2_048, managed_max: 6_144, managed_count: managed_per_principal },
            Target::PermissionSet => Quotas { inline_max: 10_240, managed_max: 6_144, managed_count: 20 },
        }
    }

    pub fn capacity(&self) -> usize {
        self.inline_max + self.managed_max * self.managed_count
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub inline: Option<Value>,
    pub managed: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooBig {
    pub needed: usize,
    pub capacity: usize,
    pub documents: usize,
    pub allowed_documents: usize,
}

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the grant needs about {} policy characters in {} documents, but AWS allows {} characters in {} documents for this principal: \
             select fewer resources or split the request; an admin can make room with the integration's \
             `managed_policies_per_principal` (when the account's quota was raised) or per-grant role delivery \
             (`delivery = \"identity_center_role\"` or `\"saml_role\"`: roles hold larger inline policies than users)",
            self.needed, self.documents, self.capacity, self.allowed_documents
        )
    }
}

/// The size AWS counts: characters, white space excluded.
pub fn policy_size(doc: &Value) -> usize {
    doc.to_string().chars().filter(|c| !c.is_whitespace()).count()
}

/// Add Sesame's deadline to an Allow's condition, on top of any date bound
/// it has. Keys inside one operator are ANDed, values of one key ORed: so
/// the deadline takes the first free (operator, key) slot rather than
/// joining or replacing a copied policy's own value (`aws:EpochTime` takes
/// ISO 8601 dates as well as epoch seconds).
fn bound(condition: &mut Map<String, Value>, deadline: &str) {
    const SLOTS: [(&str, &str); 4] = [
        ("DateLessThan", "aws:CurrentTime"),
        ("DateLessThan", "aws:EpochTime"),
        ("DateLessThanEquals", "aws:CurrentTime"),
        ("DateLessThanEquals", "aws:EpochTime"),
    ];
    for (op, key) in SLOTS {
        let block = condition.entry(op).or_insert_with(|| json!({}));
        if let Some(keys) = block.as_object_mut() {
            if !keys.contains_key(key) {
                keys.insert(key.into(), json!(deadline));
                return;
            }
        }
    }
    // Every slot taken: keep the earlier of theirs and ours (same ISO form).
    if let Some(keys) = condition.get_mut("DateLessThan").and_then(Value::as_object_mut) {
        let theirs = keys.get("aws:CurrentTime").and_then(Value::as_str).filter(|t| t.len() == deadline.len() && *t < deadline);
        if theirs.is_none() {
            keys.insert("aws:CurrentTime".into(), json!(deadline));
        }
    }
}

fn statement_json(s: &Statement, sid: usize, deadline: &str) -> Value {
    let mut condition = Map::new();
    for (op, kv) in &s.condition {
        condition.insert(op.clone(), json!(kv));
    }
    if s.effect == Effect::Allow {
        bound(&mut condition, deadline);
    }
    let mut out = Map::new();
    out.insert("Sid".into(), json!(format!("Sesame{sid}")));
    out.insert("Effect".into(), json!(if s.effect == Effect::Allow { "Allow" } else { "Deny" }));
    out.insert(if s.not_actions { "NotAction" } else { "Action" }.into(), json!(s.actions));
    out.insert(if s.not_resources { "NotResource" } else { "Resource" }.into(), json!(s.resources));
    if !condition.is_empty() {
        out.insert("Condition".into(), Value::Object(condition));
    }
    Value::Object(out)
}

/// One policy document of `statements`, every Allow ending at `deadline`.
pub fn document(statements: &[Statement], deadline: Timestamp) -> Value {
    let d = rfc3339(deadline);
    json!({
        "Version": "2012-10-17",
        "Statement": statements.iter().enumerate().map(|(i, s)| statement_json(s, i, &d)).collect::<Vec<_>>(),
    })
}

/// The smallest pieces a statement may be split into: one per resource, or
/// the whole statement when it uses `NotResource` (splitting would widen it).
fn pieces(s: &Statement) -> Vec<Statement> {
    if s.not_resources {
        return vec![s.clone()];
    }
    s.resources.iter().map(|r| Statement { resources: vec![r.clone()], ..s.clone() }).collect()
}

/// Split `statements` into documents that each fit their limit: the first
/// (inline) up to `inline_max`, the rest (managed) up to `managed_max`.
pub fn pack(statements: &[Statement], deadline: Timestamp, q: Quotas) -> Result<Placement, TooBig> {
    let mut docs: Vec<Vec<Statement>> = vec![vec![]];
    let limit = |i: usize| if i == 0 { q.inline_max } else { q.managed_max };
    let fits = |doc: &[Statement], i: usize| policy_size(&document(doc, deadline)) <= limit(i);
    for piece in statements.iter().flat_map(pieces) {
        loop {
            let i = docs.len() - 1;
            let cur = &mut docs[i];
            let pos = cur.iter().position(|x| x.same_shape(&piece));
            match pos {
                Some(p) => cur[p].resources.extend(piece.resources.iter().cloned()),
                None => cur.push(piece.clone()),
            }
            if fits(cur, i) {
                break;
            }
            // Undo, and continue in a new document.
            match pos {
                Some(p) => {
                    let n = cur[p].resources.len() - piece.resources.len();
                    cur[p].resources.truncate(n);
                }
                None => {
                    cur.pop();
                }
            }
            if cur.is_empty() {
                // A single piece does not fit an empty document.
                return Err(TooBig { needed: usize::MAX, capacity: q.capacity(), documents: docs.len(), allowed_documents: 1 + q.managed_count });
            }
            docs.push(vec![]);
        }
    }
    let allowed = 1 + q.managed_count;
    if docs.len() > allowed {
        let needed = docs.iter().map(|d| policy_size(&document(d, deadline))).sum();
        return Err(TooBig { needed, capacity: q.capacity(), documents: docs.len(), allowed_documents: allowed });
    }
    let mut docs = docs.into_iter().filter(|d| !d.is_empty()).map(|d| document(&d, deadline));
    Ok(Placement { inline: docs.next(), managed: docs.collect() })
}

/// A Deny of everything from `deadline` on: added to a permission set or
/// role that also carries AWS-managed policies (which cannot carry the
/// deadline themselves), so nothing outlives the grant even if Sesame is down.
pub fn deny_after(deadline: Timestamp) -> Statement {
    let mut s = Statement::allow(vec!["*".into()], vec!["*".into()]);
    s.effect = Effect::Deny;
    s.condition.insert("DateGreaterThan".into(), BTreeMap::from([("aws:CurrentTime".to_owned(), json!(rfc3339(deadline)))]));
    s
}

#[cfg(test)]
mod tests {
    use super::super::compile::{compile, AccessUnit};
    use super::*;

    const DEADLINE: Timestamp = Timestamp(1_795_687_200_000);

    fn buckets(n: usize) -> Vec<AccessUnit> {
        (0..n).map(|i| AccessUnit::S3Bucket { bucket: format!("team-data-bucket-{i:05}"), write: false, kms_key_arn: None }).collect()
    }

    #[test]
    fn size_excludes_white_space() {
        let doc: Value = serde_json::from_str("{ \"Version\" : \"2012-10-17\" ,\n \"Statement\" : [] }").unwrap();
        assert_eq!(policy_size(&doc), r#"{"Version":"2012-10-17","Statement":[]}"#.len());
    }

    #[test]
    fn every_allow_ends_at_the_deadline() {
        let doc = document(&compile(&buckets(2), DEADLINE), DEADLINE);
        for s in doc["Statement"].as_array().unwrap() {
            assert_eq!(s["Effect"], "Allow");
            assert_eq!(s["Condition"]["DateLessThan"]["aws:CurrentTime"], "2026-11-26T10:00:00Z");
        }
    }

    #[test]
    fn a_thousand_buckets_fit_a_role_with_a_raised_quota() {
        let st = compile(&buckets(1000), DEADLINE);
        let p = pack(&st, DEADLINE, Quotas::for_target(Target::Role, 20)).unwrap();
        let inline = p.inline.as_ref().unwrap();
        assert!(policy_size(inline) <= 10_240);
        for m in &p.managed {
            assert!(policy_size(m) <= 6_144, "{}", policy_size(m));
        }
        assert!(p.managed.len() <= 20);
        // Every bucket is there, by its exact ARN; no wildcard but the object suffix.
        let all: String = std::iter::once(inline).chain(&p.managed).map(|d| d.to_string()).collect();
        for i in 0..1000 {
            assert!(all.contains(&format!("\"arn:aws:s3:::team-data-bucket-{i:05}\"")));
            assert!(all.contains(&format!("\"arn:aws:s3:::team-data-bucket-{i:05}/*\"")));
        }
        assert!(!all.contains("arn:aws:s3:::*") && !all.contains("bucket-*"));
        // And a permission set (inline + 20 customer-managed) holds them too.
        assert!(pack(&st, DEADLINE, Quotas::for_target(Target::PermissionSet, 20)).is_ok());
    }

    #[test]
    fn a_copied_date_condition_never_replaces_the_deadline() {
        let mut s = Statement::allow(vec!["s3:GetObject".into()], vec!["arn:aws:s3:::b/*".into()]);
        s.condition.insert("DateLessThan".into(), [("aws:CurrentTime".to_string(), json!("2099-01-01T00:00:00Z"))].into());
        s.condition.insert("StringEquals".into(), [("aws:RequestedRegion".to_string(), json!("eu-west-1"))].into());
        let doc = document(&[s.clone()], DEADLINE);
        let c = &doc["Statement"][0]["Condition"];
        // Both bounds apply (keys of one operator are ANDed), and the policy's own conditions stay.
        assert_eq!(c["DateLessThan"]["aws:CurrentTime"], "2099-01-01T00:00:00Z");
        assert_eq!(c["DateLessThan"]["aws:EpochTime"], "2026-11-26T10:00:00Z");
        assert_eq!(c["StringEquals"]["aws:RequestedRegion"], "eu-west-1");
        // Its own epoch bound too: the deadline moves to the next free slot.
        s.condition.get_mut("DateLessThan").unwrap().insert("aws:EpochTime".into(), json!("1000"));
        let c = &document(&[s.clone()], DEADLINE)["Statement"][0]["Condition"];
        assert_eq!((c["DateLessThan"]["aws:EpochTime"].as_str(), c["DateLessThanEquals"]["aws:CurrentTime"].as_str()), (Some("1000"), Some("2026-11-26T10:00:00Z")));
        // Without a date condition of its own, the usual single bound.
        let plain = document(&[Statement::allow(vec!["s3:GetObject".into()], vec!["arn:aws:s3:::b/*".into()])], DEADLINE);
        assert_eq!(plain["Statement"][0]["Condition"], json!({"DateLessThan": {"aws:CurrentTime": "2026-11-26T10:00:00Z"}}));
    }

    #[test]
    fn not_resource_statements_stay_whole_and_denies_have_no_deadline() {
        let mut s = Statement::allow(vec!["s3:*".into()], (0..400).map(|i| format!("arn:aws:s3:::excluded-{i:04}")).collect());
        s.not_resources = true;
        // Too big for one document, and it must not be split: refused.
        assert!(pack(&[s.clone()], DEADLINE, Quotas::for_target(Target::Role, 10)).is_err());
        s.resources.truncate(10);
        let p = pack(&[s, deny_after(DEADLINE)], DEADLINE, Quotas::for_target(Target::Role, 10)).unwrap();
        let st = &p.inline.unwrap()["Statement"];
        assert_eq!(st[0]["NotResource"].as_array().unwrap().len(), 10);
        assert_eq!(st[0]["Condition"]["DateLessThan"]["aws:CurrentTime"], "2026-11-26T10:00:00Z");
        assert_eq!(st[1]["Effect"], "Deny");
        assert_eq!(st[1]["Condition"], json!({"DateGreaterThan": {"aws:CurrentTime": "2026-11-26T10:00:00Z"}}));
    }

    #[test]
    fn too_big_says_the_numbers_and_what_to_do() {
        let st = compile(&buckets(3000), DEADLINE);
        let e = pack(&st, DEADLINE, Quotas::for_target(Target::User, 10)).unwrap_err();
        assert_eq!(e.allowed_documents, 11);
        assert_eq!(e.capacity, 2_048 + 10 * 6_144);
        let msg = e.to_string();
        assert!(msg.contains("AWS allows 63488 characters in 11 documents") && msg.contains("managed_policies_per_principal") && msg.contains("per-grant role delivery"), "{msg}");
    }
}
