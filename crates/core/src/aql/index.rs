//! An inventory laid out for queries: one row per access unit (a resource
//! with one of its permissions), each text column interned. A condition is
//! tested once per distinct value of its column, then read across the rows
//! as bits; `and`, `or` and `not` are bitwise. This is how a scope is
//! evaluated over a large inventory (`sesame bench scopes`); it answers
//! exactly what [`Query::matches`] answers row by row (a property test
//! holds the two together).

use super::ast::Field;
use super::eval::{field_test, type_test, Node, PermissionFacts, ResourceFacts};
use super::Query;
use std::collections::{BTreeMap, HashMap};

const MISSING: u32 = u32::MAX;

/// One text column: distinct values, and each row's value id (or none).
#[derive(Debug, Default)]
struct Column {
    dict: Vec<String>,
    lookup: HashMap<String, u32>,
    ids: Vec<u32>,
}

impl Column {
    fn intern(&mut self, v: &str) -> u32 {
        if let Some(&i) = self.lookup.get(v) {
            return i;
        }
        let i = u32::try_from(self.dict.len()).unwrap_or(MISSING - 1);
        self.dict.push(v.to_owned());
        self.lookup.insert(v.to_owned(), i);
        i
    }

    /// The value of row `row` (rows before the first push of a keyed column
    /// and after its last are missing).
    fn set(&mut self, row: usize, v: &str) {
        let id = self.intern(v);
        if self.ids.len() < row {
            self.ids.resize(row, MISSING);
        }
        self.ids.push(id);
    }

    fn id(&self, row: usize) -> u32 {
        self.ids.get(row).copied().unwrap_or(MISSING)
    }

    fn value(&self, row: usize) -> &str {
        self.dict.get(self.id(row) as usize).map_or("", String::as_str)
    }
}

#[derive(Debug, Clone)]
struct Permission {
    id: String,
    name: String,
    status: String,
    risk_level: String,
    tags: BTreeMap<String, String>,
    context: BTreeMap<String, String>,
}

/// The permissions offered for one resource type of one integration, added
/// once and shared by every resource of that type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermissionSet(usize);

#[derive(Debug, Default)]
pub struct Inventory {
    integration: Column,
    /// `kind` NUL `type`.
    kind_type: Column,
    id: Column,
    name: Column,
    path: Column,
    source_id: Column,
    status: Column,
    risk_level: Column,
    tags: HashMap<String, Column>,
    context: HashMap<String, Column>,
    resources: usize,
    permissions: Vec<Permission>,
    sets: Vec<Vec<u32>>,
    unit_resource: Vec<u32>,
    unit_permission: Vec<u32>,
}

/// Bits over the access units.
struct Bits(Vec<u64>);

impl Bits {
    fn from_fn(n: usize, f: impl Fn(usize) -> bool) -> Bits {
        let mut words = vec![0u64; n.div_ceil(64)];
        for (u, w) in (0..n).map(|u| (u, u / 64)) {
            if f(u) {
                words[w] |= 1 << (u % 64);
            }
        }
        Bits(words)
    }

    fn not(mut self, n: usize) -> Bits {
        for w in &mut self.0 {
            *w = !*w;
        }
        if n & 63 != 0 {
            if let Some(last) = self.0.last_mut() {
                *last &= (1u64 << (n % 64)) - 1;
            }
        }
        self
    }
}

impl Inventory {
    pub fn new() -> Inventory {
        Inventory::default()
    }

    /// Add the permissions of one resource type of one integration.
    pub fn permission_set(&mut self, permissions: &[PermissionFacts<'_>]) -> PermissionSet {
        let mut ids = Vec::with_capacity(permissions.len());
        for p in permissions {
            ids.push(u32::try_from(self.permissions.len()).unwrap_or(MISSING));
            self.permissions.push(Permission {
                id: p.id.to_owned(),
                name: p.name.to_owned(),
                status: p.status.to_owned(),
                risk_level: p.risk_level.to_owned(),
                tags: p.tags.clone(),
                context: p.context.clone(),
            });
        }
        self.sets.push(ids);
        PermissionSet(self.sets.len() - 1)
    }

    /// Add a resource with the permissions it offers; answers its row.
    pub fn push(&mut self, r: &ResourceFacts<'_>, permissions: PermissionSet) -> usize {
        let row = self.resources;
        self.integration.set(row, r.integration);
        self.kind_type.set(row, &format!("{}\0{}", r.integration_kind, r.resource_type));
        self.id.set(row, r.id);
        self.name.set(row, r.name);
        self.path.set(row, r.path);
        self.source_id.set(row, r.source_id);
        self.status.set(row, r.status);
        self.risk_level.set(row, r.risk_level);
        for (k, v) in r.tags {
            self.tags.entry(k.clone()).or_default().set(row, v);
        }
        for (k, v) in r.context {
            self.context.entry(k.clone()).or_default().set(row, v);
        }
        let row32 = u32::try_from(row).unwrap_or(MISSING);
        for &p in self.sets.get(permissions.0).map_or(&[][..], Vec::as_slice) {
            self.unit_resource.push(row32);
            self.unit_permission.push(p);
        }
        self.resources += 1;
        row
    }

    pub fn resources(&self) -> usize {
        self.resources
    }

    pub fn units(&self) -> usize {
        self.unit_resource.len()
    }

    /// The resource row and the permission id of an access unit.
    pub fn unit(&self, u: usize) -> (usize, &str) {
        let r = self.unit_resource.get(u).map_or(0, |r| *r as usize);
        let p = self.unit_permission.get(u).and_then(|p| self.permissions.get(*p as usize)).map_or("", |p| p.id.as_str());
        (r, p)
    }

    pub fn integration(&self, row: usize) -> &str {
        self.integration.value(row)
    }

    pub fn resource_type(&self, row: usize) -> &str {
        self.kind_type.value(row).split_once('\0').map_or("", |(_, t)| t)
    }

    pub fn resource_id(&self, row: usize) -> &str {
        self.id.value(row)
    }

    pub fn resource_name(&self, row: usize) -> &str {
        self.name.value(row)
    }

    fn resource_column(&self, f: &Field) -> Option<&Column> {
        Some(match f {
            Field::ResourceName => &self.name,
            Field::ResourcePath => &self.path,
            Field::Resource => &self.id,
            Field::ResourceSourceId => &self.source_id,
            Field::ResourceStatus => &self.status,
            Field::ResourceRiskLevel => &self.risk_level,
            Field::Integration | Field::IntegrationName => &self.integration,
            Field::ResourceTag(k) => return self.tags.get(k),
            Field::ResourceContext(k) => return self.context.get(k),
            _ => return None,
        })
    }

    fn eval(&self, n: &Node) -> Bits {
        let units = self.units();
        match n {
            Node::Not(inner) => self.eval(inner).not(units),
            Node::And(parts) | Node::Or(parts) => {
                let and = matches!(n, Node::And(_));
                let mut acc: Option<Bits> = None;
                for p in parts {
                    let b = self.eval(p);
                    acc = Some(match acc {
                        None => b,
                        Some(mut a) => {
                            for (x, y) in a.0.iter_mut().zip(b.0) {
                                if and { *x &= y } else { *x |= y }
                            }
                            a
                        }
                    });
                }
                acc.unwrap_or_else(|| Bits::from_fn(units, |_| and))
            }
            Node::Test { field, op, negate, values, types } => {
                if field.is_permission() {
                    let hit: Vec<bool> = self
                        .permissions
                        .iter()
                        .map(|p| {
                            let s = match field {
                                Field::Permission => Some(p.id.as_str()),
                                Field::PermissionName => Some(p.name.as_str()),
                                Field::PermissionStatus => Some(p.status.as_str()),
                                Field::PermissionRiskLevel => Some(p.risk_level.as_str()),
                                Field::PermissionTag(k) => p.tags.get(k).map(String::as_str),
                                Field::PermissionContext(k) => p.context.get(k).map(String::as_str),
                                _ => None,
                            };
                            s.is_some_and(|s| field_test(field, *op, values, s)) != *negate
                        })
                        .collect();
                    return Bits::from_fn(units, |u| hit[self.unit_permission[u] as usize]);
                }
                let (column, dict_hit): (Option<&Column>, Vec<bool>) = if *field == Field::ResourceType {
                    let hit = self.kind_type.dict.iter().map(|kt| {
                        let (k, t) = kt.split_once('\0').unwrap_or(("", kt));
                        type_test(*op, values, types, k, t)
                    });
                    (Some(&self.kind_type), hit.collect())
                } else {
                    let c = self.resource_column(field);
                    (c, c.map_or(Vec::new(), |c| c.dict.iter().map(|s| field_test(field, *op, values, s)).collect()))
                };
                // Each resource once, then each of its units.
                let row_hit: Vec<bool> = (0..self.resources)
                    .map(|r| {
                        let id = column.map_or(MISSING, |c| c.id(r));
                        dict_hit.get(id as usize).copied().unwrap_or(false) != *negate
                    })
                    .collect();
                Bits::from_fn(units, |u| row_hit[self.unit_resource[u] as usize])
            }
        }
    }

    /// The access units the query selects, in the order they were added.
    pub fn select(&self, q: &Query) -> Vec<usize> {
        let bits = self.eval(&q.node);
        let mut out = Vec::new();
        for (w, word) in bits.0.iter().enumerate() {
            let mut x = *word;
            while x != 0 {
                out.push(w * 64 + x.trailing_zeros() as usize);
                x &= x - 1;
            }
        }
        out
    }
}
