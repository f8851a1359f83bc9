#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::ast::{Cond, Expr, Field, Op, KEYED_FIELDS, OPS, PLAIN_FIELDS};
use super::{types, PermissionFacts, Query, ResourceFacts};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn q(src: &str) -> Query {
    src.parse().unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn error(src: &str) -> (u32, u32, String) {
    let e = src.parse::<Query>().expect_err(src);
    (e.line, e.column, e.message)
}

#[test]
fn the_reference_examples_parse_and_print_canonically() {
    for (src, canonical) in [
        (r#"resource_type = "aws-rds-mysql""#, r#"resource_type = "aws-rds-mysql""#),
        (r#"resource_tag["env"] = "prd""#, r#"resource_tag["env"] = "prd""#),
        (r#"NOT resource_tag["env"] = "test""#, r#"not resource_tag["env"] = "test""#),
        (
            "resource_type = \"aws-rds-mysql\" AND resource_name contains \"prod\"\n   and resource_context[\"region\"] = \"us-east-1\"",
            r#"resource_type = "aws-rds-mysql" and resource_name contains "prod" and resource_context["region"] = "us-east-1""#,
        ),
        (r#"permission_risk_level in ("high","critical")"#, r#"permission_risk_level in ("high", "critical")"#),
        (r#"integration != "xxxxxxxx-xxxx""#, r#"integration != "xxxxxxxx-xxxx""#),
        (r#"(resource_tag["env"] = "prd" or resource_tag["env"] = "stg") and permission_name = "ReadOnly""#, r#"(resource_tag["env"] = "prd" or resource_tag["env"] = "stg") and permission_name = "ReadOnly""#),
        (r#"((resource_name starts_with "a"))"#, r#"resource_name starts_with "a""#),
        (r#"not (resource_name ends_with "-tmp" OR resource_status not_in ("deleted"))"#, r#"not (resource_name ends_with "-tmp" or resource_status not_in ("deleted"))"#),
        (r#"resource_source_id = "arn:aws:iam::123:role/admin" and resource_path contains "us-east-1""#, r#"resource_source_id = "arn:aws:iam::123:role/admin" and resource_path contains "us-east-1""#),
        (r#"resource_name = "say \"hi\" \\ back""#, r#"resource_name = "say \"hi\" \\ back""#),
        (r#"resource_name = "\q""#, r#"resource_name = "q""#),
        (r#"permission_tag["type"] = "temporary" and permission_context["access"] not_contains "write""#, r#"permission_tag["type"] = "temporary" and permission_context["access"] not_contains "write""#),
    ] {
        assert_eq!(q(src).to_string(), canonical, "{src}");
        assert_eq!(q(canonical), q(src));
    }
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_and() {
    let e = q(r#"resource = "a" or resource = "b" and not resource = "c""#);
    let cond = |v: &str| Expr::Cond(Cond { field: Field::Resource, op: Op::Eq, values: vec![v.into()] });
    assert_eq!(*e.expr(), Expr::Or(vec![cond("a"), Expr::And(vec![cond("b"), Expr::Not(Box::new(cond("c")))])]));
}

#[test]
fn errors_name_the_line_the_column_and_what_to_write() {
    for (src, line, column, says) in [
        (r#"Resource_Type = "x""#, 1, 1, "field names are case-sensitive, write `resource_type`"),
        (r#"resource_types = "x""#, 1, 1, "did you mean `resource_type`?"),
        ("resource_name = \"a\" and\n  colour = \"red\"", 2, 3, "unknown field `colour`"),
        (r#"resource_name == "x""#, 1, 16, "expected a value in double quotes after `=`, found `=`"),
        (r#"resource_name is "x""#, 1, 15, "expected an operator (=, !=, contains, not_contains, starts_with, ends_with, in, not_in) after `resource_name`, found `is`"),
        (r#"resource_name contain "x""#, 1, 15, "did you mean `contains`?"),
        (r#"resource_name = 'prod'"#, 1, 17, "single quotes are not allowed"),
        (r#"resource_name = "it's""#, 1, 20, "single quotes are not allowed in values"),
        ("resource_name = \"pro\nd\"", 1, 21, "a value cannot span lines"),
        (r#"resource_name = "prod"#, 1, 17, "no closing `\"`"),
        (r#"resource_name = prod"#, 1, 17, "write `\"prod\"`"),
        (r#"resource_name = "a" And resource = "b""#, 1, 21, "`And` (write `and` or `AND`)"),
        (r#"resource_name = "a" resource = "b""#, 1, 21, "expected `and`, `or` or the end of the query, found `resource`"),
        (r#"(resource_name = "a""#, 1, 1, "this `(` is never closed"),
        (r#"resource_name = "a")"#, 1, 20, "this `)` closes no `(`"),
        (r#"resource_type in ()"#, 1, 19, "the list is empty"),
        (r#"resource_type in "a""#, 1, 18, "`in` takes a list in parentheses"),
        (r#"resource_type = ("a", "b")"#, 1, 17, "for a list write `in (\"a\", \"b\")`"),
        (r#"resource_type in ("a" "b")"#, 1, 23, "expected `,` or `)` in the list"),
        (r#"resource_tag = "x""#, 1, 14, "`resource_tag` needs a key in brackets"),
        (r#"resource_tag[env] = "x""#, 1, 14, "expected the key in double quotes"),
        (r#"resource_name["k"] = "x""#, 1, 14, "`resource_name` takes no key"),
        ("", 1, 1, "the query is empty"),
        ("resource_name = \"a\" and", 1, 24, "expected a field"),
        (r#"resource_name ! "a""#, 1, 15, "unexpected `!`"),
        (r#"resource_name = "a" ; drop"#, 1, 21, "unexpected character `;`"),
        (r#""prod""#, 1, 1, "expected a field before the value"),
    ] {
        let (l, c, m) = error(src);
        assert_eq!((l, c), (line, column), "{src}: {m}");
        assert!(m.contains(says), "{src}: `{m}` does not say `{says}`");
    }
    let e = "resource_name = \"a\" and\n  colour = \"red\"".parse::<Query>().unwrap_err();
    assert!(e.to_string().starts_with("line 2, column 3: unknown field `colour`"), "{e}");
}

#[test]
fn hostile_sizes_are_refused_not_overflowed() {
    let deep = format!("{}resource = \"a\"{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(error(&deep).2.contains("nests deeper than"));
    let nots = format!("{}resource = \"a\"", "not ".repeat(10_000));
    assert!(error(&nots).2.contains("nests deeper than"));
    let long = format!("resource = \"{}\"", "a".repeat(super::parse::MAX_LEN));
    assert!(error(&long).2.contains("longer than"));
    let wide = vec![r#"resource = "a""#; 2000].join(" or ");
    assert_eq!(q(&wide).to_string(), wide);
}

#[derive(Debug)]
struct Res {
    integration: String,
    kind: &'static str,
    resource_type: String,
    id: String,
    name: String,
    path: String,
    source_id: String,
    status: String,
    risk: String,
    tags: BTreeMap<String, String>,
    context: BTreeMap<String, String>,
}

#[derive(Debug)]
struct Perm {
    id: String,
    name: String,
    risk: String,
    tags: BTreeMap<String, String>,
    context: BTreeMap<String, String>,
}

impl Res {
    fn facts(&self) -> ResourceFacts<'_> {
        ResourceFacts {
            integration: &self.integration,
            integration_kind: self.kind,
            resource_type: &self.resource_type,
            id: &self.id,
            name: &self.name,
            path: &self.path,
            source_id: &self.source_id,
            status: &self.status,
            risk_level: &self.risk,
            tags: &self.tags,
            context: &self.context,
        }
    }
}

impl Perm {
    fn facts(&self) -> PermissionFacts<'_> {
        PermissionFacts { id: &self.id, name: &self.name, status: "active", risk_level: &self.risk, tags: &self.tags, context: &self.context }
    }
}

fn bucket(name: &str, env: Option<&str>, region: &str) -> Res {
    Res {
        integration: "aws-prod".into(),
        kind: "aws-account",
        resource_type: "s3_bucket".into(),
        id: name.into(),
        name: name.into(),
        path: format!("{region}/{name}"),
        source_id: format!("arn:aws:s3:::{name}"),
        status: "active".into(),
        risk: "medium".into(),
        tags: env.map(|e| [("env".to_string(), e.to_string())].into()).unwrap_or_default(),
        context: [("region".to_string(), region.to_string())].into(),
    }
}

fn perm(id: &str, risk: &str) -> Perm {
    Perm { id: id.into(), name: id.replace('_', " "), risk: risk.into(), tags: BTreeMap::new(), context: BTreeMap::new() }
}

#[test]
fn evaluation_reads_each_field_as_documented() {
    let prod = bucket("prod-logs", Some("prd"), "us-east-1");
    let untagged = bucket("scratch", None, "eu-west-1");
    let ro = perm("read_only", "low");
    let rw = perm("read_write", "high");
    let sel = |src: &str, r: &Res, p: &Perm| q(src).matches(&r.facts(), &p.facts());
    assert!(sel(r#"resource_type = "s3_bucket""#, &prod, &ro));
    assert!(sel(r#"resource_type = "aws-account-s3-bucket""#, &prod, &ro));
    assert!(!sel(r#"resource_type = "aws-rds-mysql""#, &prod, &ro));
    assert!(sel(r#"resource_type ends_with "s3-bucket""#, &prod, &ro), "the seed's spelling answers to the text operators too");
    assert!(sel(r#"resource_type in ("table", "aws-account-s3-bucket")"#, &prod, &ro));
    assert!(sel(r#"resource_tag["env"] = "prd""#, &prod, &ro));
    assert!(!sel(r#"resource_tag["env"] = "prd""#, &untagged, &ro));
    assert!(sel(r#"resource_tag["env"] != "prd""#, &untagged, &ro), "a missing tag is != anything");
    assert!(sel(r#"resource_tag["env"] not_in ("prd")"#, &untagged, &ro));
    assert!(sel(r#"resource_context["region"] starts_with "us-""#, &prod, &ro));
    assert!(sel(r#"resource_source_id = "arn:aws:s3:::prod-logs""#, &prod, &ro));
    assert!(sel(r#"resource_path contains "us-east-1/""#, &prod, &ro));
    assert!(sel(r#"integration = "aws-prod" and integration_name = "aws-prod""#, &prod, &ro));
    assert!(sel(r#"resource_name contains "prod" and permission = "read_only""#, &prod, &ro));
    assert!(!sel(r#"resource_name contains "prod" and permission = "read_only""#, &prod, &rw));
    assert!(sel(r#"permission_risk_level in ("high", "critical")"#, &prod, &rw));
    assert!(sel(r#"permission_name = "read write""#, &prod, &rw));
    assert!(sel(r#"permission_risk_level = "3""#, &prod, &rw), "the seed's numbers: 3 is high");
    assert!(sel(r#"resource_risk_level in ("2", "3")"#, &prod, &rw), "2 is medium");
    assert!(!sel(r#"permission_risk_level = "1""#, &prod, &rw));
    assert!(!sel(r#"resource_name contains "PROD""#, &prod, &ro), "comparisons are case-sensitive");
    let query = q(r#"resource_name contains "prod" and permission = "read_only""#);
    assert_eq!(query.matches_resource(&prod.facts()), None, "depends on the permission");
    assert_eq!(query.matches_resource(&untagged.facts()), Some(false));
    assert!(query.reads_permissions());
    let query = q(r#"resource_name contains "prod" or permission = "read_only""#);
    assert_eq!(query.matches_resource(&prod.facts()), Some(true));
    assert!(!q(r#"resource_name contains "prod""#).reads_permissions());
}

/// Queries in the shape of the seed's published access scopes (indented
/// heredoc lines, trailing spaces, parentheses, risk levels as numbers, the
/// seed's type names) run unchanged.
#[test]
fn queries_shaped_like_the_seeds_published_scopes_run_unchanged() {
    let dbs = q("  resource_type = \"aws-rds-mysql-database\" \n    and resource_name contains \"prod\" \n    and (resource_tag[\"region\"] = \"us-east-1\") \n    and resource_risk_level = \"3\" \n    and permission_risk_level = \"3\"\n  ");
    let db = Res {
        integration: "orders-db".into(),
        kind: "mysql",
        resource_type: "database".into(),
        id: "prod_orders".into(),
        name: "prod_orders".into(),
        path: "prod_orders".into(),
        source_id: "prod_orders".into(),
        status: "active".into(),
        risk: "high".into(),
        tags: [("region".to_string(), "us-east-1".to_string())].into(),
        context: BTreeMap::new(),
    };
    assert!(dbs.matches(&db.facts(), &perm("admin", "high").facts()));
    assert!(!dbs.matches(&db.facts(), &perm("read_only", "low").facts()));
    let ec2 = q("  resource_type = \"aws-account-ec2-instance\"\n    and resource_tag[\"env\"] = \"production\" \n    and resource_risk_level = \"1\"\n  ");
    assert!(ec2.matches(&Res { kind: "aws-account", resource_type: "ec2_instance".into(), risk: "low".into(), tags: [("env".to_string(), "production".to_string())].into(), ..bucket("i-1", None, "eu-west-1") }.facts(), &perm("session", "high").facts()));
}

// ---- properties ----

const WORDS: [&str; 8] = ["prod", "dev", "us-east-1", "a\"b", "x\\y", "", "high", "3"];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![prop::sample::select(WORDS.to_vec()).prop_map(String::from), "[ -&(-~]{0,6}".prop_map(|s| s.replace('\'', ""))]
}

fn field() -> impl Strategy<Value = Field> {
    let plain = prop::sample::select(PLAIN_FIELDS.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>());
    let keyed = (prop::sample::select(KEYED_FIELDS.to_vec()), prop::sample::select(vec!["env", "region", "owner", "k\"1"]))
        .prop_map(|(name, key)| Field::keyed(name, key.to_string()).unwrap());
    prop_oneof![plain, keyed]
}

fn cond() -> impl Strategy<Value = Cond> {
    (field(), prop::sample::select(OPS.iter().map(|(_, o)| *o).collect::<Vec<_>>()), prop::collection::vec(value(), 1..4)).prop_map(|(field, op, mut values)| {
        if !op.takes_list() {
            values.truncate(1);
        }
        Cond { field, op, values }
    })
}

fn expr() -> impl Strategy<Value = Expr> {
    cond().prop_map(Expr::Cond).prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::and),
            prop::collection::vec(inner, 2..4).prop_map(Expr::or),
        ]
    })
}

/// Queries made mostly of what a grant decides and tag equalities, so that
/// many of them compile to selectors.
fn grant_and_tag_expr() -> impl Strategy<Value = Expr> {
    let tag = (prop::sample::select(vec!["env", "owner"]), prop::collection::vec(prop::sample::select(vec!["prod", "dev", "high"]), 1..3), any::<bool>())
        .prop_map(|(k, vs, list)| Cond { field: Field::ResourceTag(k.into()), op: if list { Op::In } else { Op::Eq }, values: if list { vs.iter().map(|v| (*v).to_owned()).collect() } else { vec![vs[0].to_owned()] } });
    let grant = (prop::sample::select(vec![Field::ResourceType, Field::Permission, Field::Integration, Field::ResourceStatus, Field::PermissionRiskLevel]), prop::sample::select(vec!["s3_bucket", "aws-account-s3-bucket", "read_only", "aws-prod", "active", "low", "table"]), any::<bool>())
        .prop_map(|(field, v, ne)| Cond { field, op: if ne { Op::Ne } else { Op::Eq }, values: vec![v.to_owned()] });
    prop_oneof![2 => tag.prop_map(Expr::Cond), 2 => grant.prop_map(Expr::Cond), 1 => cond().prop_map(Expr::Cond)].prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::and),
            prop::collection::vec(inner, 2..4).prop_map(Expr::or),
        ]
    })
}

/// The evaluator written the slow, obvious way: every spelling of the type,
/// negative operators as `not` of the positive ones, two-valued.
fn reference(e: &Expr, r: &Res, p: &Perm) -> bool {
    match e {
        Expr::Not(inner) => !reference(inner, r, p),
        Expr::And(parts) => parts.iter().all(|x| reference(x, r, p)),
        Expr::Or(parts) => parts.iter().any(|x| reference(x, r, p)),
        Expr::Cond(c) => {
            let texts: Vec<&str> = match &c.field {
                Field::ResourceType => types::spellings(r.kind, &r.resource_type).collect(),
                Field::ResourceName => vec![&r.name],
                Field::ResourcePath => vec![&r.path],
                Field::Resource => vec![&r.id],
                Field::ResourceSourceId => vec![&r.source_id],
                Field::ResourceStatus => vec![&r.status],
                Field::ResourceRiskLevel => types::risk_spellings(&r.risk).collect(),
                Field::Permission => vec![&p.id],
                Field::PermissionName => vec![&p.name],
                Field::PermissionStatus => vec!["active"],
                Field::PermissionRiskLevel => types::risk_spellings(&p.risk).collect(),
                Field::Integration | Field::IntegrationName => vec![&r.integration],
                Field::ResourceTag(k) => r.tags.get(k).map(String::as_str).into_iter().collect(),
                Field::ResourceContext(k) => r.context.get(k).map(String::as_str).into_iter().collect(),
                Field::PermissionTag(k) => p.tags.get(k).map(String::as_str).into_iter().collect(),
                Field::PermissionContext(k) => p.context.get(k).map(String::as_str).into_iter().collect(),
            };
            let v = &c.values[0];
            let positive = |t: &str| match c.op {
                Op::Eq | Op::Ne => t == v,
                Op::Contains | Op::NotContains => t.contains(v.as_str()),
                Op::StartsWith => t.starts_with(v.as_str()),
                Op::EndsWith => t.ends_with(v.as_str()),
                Op::In | Op::NotIn => c.values.iter().any(|x| x == t),
            };
            let hit = texts.iter().any(|t| positive(t));
            if matches!(c.op, Op::Ne | Op::NotContains | Op::NotIn) { !hit } else { hit }
        }
    }
}

fn resource() -> impl Strategy<Value = Res> {
    let kinds = vec![("aws-account", "s3_bucket"), ("aws-account", "iam_role"), ("mysql", "database"), ("postgresql", "table"), ("postgresql", "database")];
    let map = || prop::collection::btree_map(prop::sample::select(vec!["env".to_string(), "region".into(), "owner".into()]), value(), 0..3);
    (prop::sample::select(kinds), value(), value(), map(), map(), prop::sample::select(vec!["low", "medium", "high"]), any::<bool>()).prop_map(
        |((kind, ty), name, path, tags, context, risk, arn)| Res {
            integration: if kind == "aws-account" { "aws-prod".into() } else { "db".into() },
            kind,
            resource_type: ty.into(),
            id: format!("{name}-id"),
            source_id: if arn { format!("arn:aws:x:::{name}") } else { format!("{name}-id") },
            name,
            path,
            status: "active".into(),
            risk: risk.into(),
            tags,
            context,
        },
    )
}

fn permission() -> impl Strategy<Value = Perm> {
    (prop::sample::select(vec!["read_only", "read_write", "admin"]), prop::sample::select(vec!["low", "high", "critical"]), prop::collection::btree_map(prop::sample::select(vec!["env".to_string(), "k\"1".into()]), value(), 0..2))
        .prop_map(|(id, risk, tags)| Perm { tags: tags.clone(), context: tags, ..perm(id, risk) })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printing_then_parsing_gives_the_same_query(e in expr()) {
        let printed = e.to_string();
        let back = super::parse::parse(&printed).map_err(|err| TestCaseError::fail(format!("{printed}: {err}")))?;
        prop_assert_eq!(back, e);
    }

    #[test]
    fn the_evaluator_agrees_with_the_reference(e in expr(), inventory in prop::collection::vec((resource(), prop::collection::vec(permission(), 1..3)), 1..8)) {
        let query = Query::new(e.clone());
        for (r, perms) in &inventory {
            let whole = query.matches_resource(&r.facts());
            for p in perms {
                let expected = reference(&e, r, p);
                prop_assert_eq!(query.matches(&r.facts(), &p.facts()), expected, "{} on {} / {}", e, r.name, p.id);
                if let Some(b) = whole {
                    prop_assert_eq!(b, expected, "matches_resource said {:?} for {}", whole, e);
                }
            }
        }
    }

    #[test]
    fn the_columnar_inventory_selects_what_the_rows_select(e in expr(), inventory in prop::collection::vec((resource(), prop::collection::vec(permission(), 0..3)), 0..12)) {
        let query = Query::new(e.clone());
        let mut index = super::Inventory::new();
        let mut expected = Vec::new();
        for (r, perms) in &inventory {
            let facts: Vec<PermissionFacts<'_>> = perms.iter().map(Perm::facts).collect();
            let set = index.permission_set(&facts);
            let row = index.push(&r.facts(), set);
            for p in perms {
                if query.matches(&r.facts(), &p.facts()) {
                    expected.push((row, p.id.clone()));
                }
            }
            prop_assert_eq!(query.select(&r.facts(), &facts).count(), perms.iter().filter(|p| query.matches(&r.facts(), &p.facts())).count());
        }
        let got: Vec<(usize, String)> = index.select(&query).into_iter().map(|u| { let (r, p) = index.unit(u); (r, p.to_owned()) }).collect();
        prop_assert_eq!(got, expected, "{}", e);
    }

    /// A grant by selectors reaches exactly the resources the query selects
    /// for it (every one for `*`, those with the tag for `tag:k=v`).
    #[test]
    fn selectors_reach_what_the_query_selects(e in prop_oneof![expr(), grant_and_tag_expr(), grant_and_tag_expr()], inventory in prop::collection::vec((resource(), prop::collection::vec(permission(), 1..3)), 1..8)) {
        let query = Query::new(e.clone());
        for (r, perms) in &inventory {
            for p in perms {
                let g = super::Grant { integration: &r.integration, integration_kind: r.kind, resource_type: &r.resource_type, resource_status: &r.status, permission: p.facts() };
                if let Some(selectors) = query.reach(&g) {
                    let reached = selectors.iter().any(|s| match s.tag() {
                        None => true,
                        Some((k, v)) => r.tags.get(k).is_some_and(|t| t == v),
                    });
                    prop_assert_eq!(reached, reference(&e, r, p), "{} on {} / {}: {:?}", e, r.name, p.id, selectors);
                }
            }
        }
    }

    #[test]
    fn any_text_parses_or_fails_with_a_position_inside_it(src in "[a-z_\\[\\]()\"=!, \n'\\\\]{0,60}|(resource_name|and|or|not|in|\\(|\\)|\"x\"|=| ){0,12}") {
        match src.parse::<Query>() {
            Ok(q) => prop_assert_eq!(q.to_string().parse::<Query>().unwrap(), q),
            Err(e) => {
                let lines = src.split('\n').count() as u32;
                prop_assert!(e.line >= 1 && e.line <= lines.max(1), "{:?}: {}", src, e);
                prop_assert!(e.column >= 1, "{:?}: {}", src, e);
            }
        }
    }
}
