//! `sesame bench scopes`: five access scopes evaluated over a synthetic
//! inventory (1,000,000 resources by default) on one core, the way the
//! control plane evaluates a scope: over the inventory laid out in columns
//! (`sesame_core::aql::Inventory`), each condition tested once per distinct
//! value. Laying the inventory out is timed apart (it happens when the
//! inventory changes, not per evaluation).

use clap::Args;
use sesame_core::aql::{Inventory, PermissionFacts, Query, ResourceFacts};
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Args)]
pub struct ScopesArgs {
    /// Resources in the synthetic inventory.
    #[arg(long, default_value_t = 1_000_000)]
    resources: usize,
    /// Evaluations of each scope (the table shows the median and the slowest).
    #[arg(long, default_value_t = 7)]
    runs: usize,
}

/// The scopes measured: the reference's example, tags, the seed's type
/// spellings with `not in`, permissions, and text operators.
pub const SCOPES: [&str; 5] = [
    r#"resource_type = "aws-rds-mysql" and resource_name contains "prod" and resource_context["region"] = "us-east-1""#,
    r#"resource_tag["env"] = "prd""#,
    r#"resource_type in ("aws-account-s3-bucket", "postgresql-table") and not resource_tag["team"] in ("payments", "risk")"#,
    r#"permission_risk_level in ("high", "critical") and resource_path starts_with "us-west-2/""#,
    r#"(resource_name ends_with "-01" or resource_source_id contains ":role/admin") and integration != "aws-dev""#,
];

struct Resource {
    integration: String,
    kind: &'static str,
    resource_type: &'static str,
    id: String,
    name: String,
    path: String,
    source_id: String,
    risk: &'static str,
    tags: BTreeMap<String, String>,
    context: BTreeMap<String, String>,
}

struct Permission {
    id: &'static str,
    risk: &'static str,
}

const REGIONS: [&str; 4] = ["us-east-1", "us-west-2", "eu-west-1", "ap-south-1"];
const ENVS: [&str; 3] = ["prd", "stg", "dev"];
const TEAMS: [&str; 5] = ["payments", "risk", "search", "growth", "platform"];
const WORDS: [&str; 6] = ["orders", "users", "ledger", "events", "admin", "billing"];

/// The same inventory on every run: a small xorshift generator, no entropy.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as usize
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.next() % from.len()]
    }
}

fn inventory(n: usize) -> Vec<Resource> {
    let mut g = Gen(0x5e5a_3e00_dead_beef);
    let kinds = [("aws-account", "s3_bucket"), ("aws-account", "iam_role"), ("mysql", "database"), ("postgresql", "table"), ("aws-account", "ec2_instance")];
    (0..n)
        .map(|i| {
            let (kind, resource_type) = g.pick(&kinds);
            let env = g.pick(&ENVS);
            let region = g.pick(&REGIONS);
            let account = format!("{:012}", 100_000_000_000 + g.next() % 8);
            let name = format!("{}-{}-{:02}", if env == "prd" { "prod" } else { env }, g.pick(&WORDS), i % 100);
            let integration = if kind == "aws-account" { format!("aws-{env}") } else { format!("{kind}-{region}") };
            let source_id = match resource_type {
                "iam_role" => format!("arn:aws:iam::{account}:role/{name}"),
                "s3_bucket" => format!("arn:aws:s3:::{name}"),
                _ => format!("{name}.{i}"),
            };
            let mut tags = BTreeMap::new();
            tags.insert("env".to_owned(), env.to_owned());
            if g.next() & 3 != 0 {
                tags.insert("team".to_owned(), g.pick(&TEAMS).to_owned());
            }
            let context = [("region".to_owned(), region.to_owned()), ("account".to_owned(), account)].into();
            Resource {
                integration,
                kind,
                resource_type,
                id: format!("{name}.{i}"),
                path: format!("{region}/{name}"),
                name,
                source_id,
                risk: g.pick(&["low", "medium", "high"]),
                tags,
                context,
            }
        })
        .collect()
}

fn permissions(resource_type: &str) -> &'static [Permission] {
    const DATA: [Permission; 3] = [Permission { id: "read_only", risk: "low" }, Permission { id: "read_write", risk: "high" }, Permission { id: "admin", risk: "critical" }];
    const ROLE: [Permission; 1] = [Permission { id: "assume", risk: "high" }];
    const EC2: [Permission; 1] = [Permission { id: "session", risk: "medium" }];
    match resource_type {
        "iam_role" => &ROLE,
        "ec2_instance" => &EC2,
        _ => &DATA,
    }
}

/// The synthetic inventory laid out as the control plane lays out the
/// stored one for a scope.
fn index(inv: &[Resource]) -> Inventory {
    let empty = BTreeMap::new();
    let mut index = Inventory::new();
    let mut sets = BTreeMap::new();
    for r in inv {
        let set = *sets.entry(r.resource_type).or_insert_with(|| {
            let facts: Vec<PermissionFacts<'_>> =
                permissions(r.resource_type).iter().map(|p| PermissionFacts { id: p.id, name: p.id, status: "active", risk_level: p.risk, tags: &empty, context: &empty }).collect();
            index.permission_set(&facts)
        });
        let facts = ResourceFacts {
            integration: &r.integration,
            integration_kind: r.kind,
            resource_type: r.resource_type,
            id: &r.id,
            name: &r.name,
            path: &r.path,
            source_id: &r.source_id,
            status: "active",
            risk_level: r.risk,
            tags: &r.tags,
            context: &r.context,
        };
        index.push(&facts, set);
    }
    index
}

pub fn run(a: ScopesArgs) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let inv = inventory(a.resources);
    let generated = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let index = index(&inv);
    drop(inv);
    eprintln!("generated {} resources in {generated:.1} s, laid them out in {:.1} s", index.resources(), t1.elapsed().as_secs_f64());
    println!("## Access scopes over {} resources ({} access units), one core (goal: < 200 ms per scope)\n", index.resources(), index.units());
    println!("| # | scope | resources | access units | median ms | slowest ms | goal met |");
    println!("|---|---|---:|---:|---:|---:|---|");
    for (i, src) in SCOPES.iter().enumerate() {
        let q: Query = src.parse()?;
        let mut times = Vec::with_capacity(a.runs);
        // One evaluation untimed: the first touches memory the process has
        // not used yet (the generated inventory was just freed).
        let mut selected = index.select(&q);
        for _ in 0..a.runs.max(1) {
            let t = Instant::now();
            selected = std::hint::black_box(index.select(&q));
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let (median, slowest) = (times[times.len() / 2], times[times.len() - 1]);
        let mut resources: Vec<usize> = selected.iter().map(|u| index.unit(*u).0).collect();
        resources.dedup();
        println!("| {} | `{}` | {} | {} | {median:.1} | {slowest:.1} | {} |", i + 1, src, resources.len(), selected.len(), if median < 200.0 { "yes" } else { "no" });
    }
    Ok(())
}
