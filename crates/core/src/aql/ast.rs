//! The shape of a query: conditions joined by `and`, `or` and `not`.

/// Something a condition reads from a resource or a permission.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    ResourceType,
    ResourceName,
    ResourcePath,
    /// Sesame's id of the resource (its inventory id).
    Resource,
    /// The target's own id, e.g. the ARN.
    ResourceSourceId,
    ResourceStatus,
    ResourceRiskLevel,
    /// The permission's id.
    Permission,
    PermissionName,
    PermissionStatus,
    PermissionRiskLevel,
    /// The integration's id; in Sesame, its name.
    Integration,
    IntegrationName,
    ResourceTag(String),
    ResourceContext(String),
    PermissionTag(String),
    PermissionContext(String),
}

/// Every plain field with its name, in the order the reference lists them.
pub const PLAIN_FIELDS: [(&str, Field); 13] = [
    ("resource_type", Field::ResourceType),
    ("resource_name", Field::ResourceName),
    ("resource_path", Field::ResourcePath),
    ("resource", Field::Resource),
    ("resource_source_id", Field::ResourceSourceId),
    ("resource_status", Field::ResourceStatus),
    ("resource_risk_level", Field::ResourceRiskLevel),
    ("permission", Field::Permission),
    ("permission_name", Field::PermissionName),
    ("permission_status", Field::PermissionStatus),
    ("permission_risk_level", Field::PermissionRiskLevel),
    ("integration", Field::Integration),
    ("integration_name", Field::IntegrationName),
];

/// The fields that take a key in brackets: `resource_tag["env"]`.
pub const KEYED_FIELDS: [&str; 4] = ["resource_tag", "resource_context", "permission_tag", "permission_context"];

impl Field {
    /// The field's name as written in a query (without the key).
    pub fn name(&self) -> &'static str {
        match self {
            Field::ResourceTag(_) => "resource_tag",
            Field::ResourceContext(_) => "resource_context",
            Field::PermissionTag(_) => "permission_tag",
            Field::PermissionContext(_) => "permission_context",
            plain => PLAIN_FIELDS.iter().find(|(_, f)| f == plain).map_or("", |(n, _)| n),
        }
    }

    pub fn keyed(name: &str, key: String) -> Option<Field> {
        Some(match name {
            "resource_tag" => Field::ResourceTag(key),
            "resource_context" => Field::ResourceContext(key),
            "permission_tag" => Field::PermissionTag(key),
            "permission_context" => Field::PermissionContext(key),
            _ => return None,
        })
    }

    pub fn plain(name: &str) -> Option<Field> {
        PLAIN_FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| f.clone())
    }

    pub fn key(&self) -> Option<&str> {
        match self {
            Field::ResourceTag(k) | Field::ResourceContext(k) | Field::PermissionTag(k) | Field::PermissionContext(k) => Some(k),
            _ => None,
        }
    }

    /// Whether the field reads the permission rather than the resource.
    pub fn is_permission(&self) -> bool {
        matches!(self, Field::Permission | Field::PermissionName | Field::PermissionStatus | Field::PermissionRiskLevel | Field::PermissionTag(_) | Field::PermissionContext(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    In,
    NotIn,
}

pub const OPS: [(&str, Op); 8] = [
    ("=", Op::Eq),
    ("!=", Op::Ne),
    ("contains", Op::Contains),
    ("not_contains", Op::NotContains),
    ("starts_with", Op::StartsWith),
    ("ends_with", Op::EndsWith),
    ("in", Op::In),
    ("not_in", Op::NotIn),
];

impl Op {
    pub fn as_str(self) -> &'static str {
        OPS.iter().find(|(_, o)| *o == self).map_or("", |(s, _)| s)
    }

    /// `in` and `not_in` take a list in parentheses.
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::NotIn)
    }

    /// The negative operators are exactly the negation of a positive one:
    /// `!=` is `not =`, so a missing tag is `!=` anything.
    pub fn positive(self) -> (Op, bool) {
        match self {
            Op::Ne => (Op::Eq, true),
            Op::NotContains => (Op::Contains, true),
            Op::NotIn => (Op::In, true),
            other => (other, false),
        }
    }
}

/// `field op "value"`, or `field in ("a", "b")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    pub field: Field,
    pub op: Op,
    /// One value, or the list of `in`/`not_in` (at least one).
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Cond(Cond),
    Not(Box<Expr>),
    /// Two or more; none of them an `And`.
    And(Vec<Expr>),
    /// Two or more; none of them an `Or`.
    Or(Vec<Expr>),
}

impl Expr {
    /// `a and b`, flattened so that the tree has one spelling.
    pub fn and(parts: Vec<Expr>) -> Expr {
        Expr::join(parts, true)
    }

    /// `a or b`, flattened.
    pub fn or(parts: Vec<Expr>) -> Expr {
        Expr::join(parts, false)
    }

    fn join(parts: Vec<Expr>, and: bool) -> Expr {
        let mut flat = Vec::with_capacity(parts.len());
        for p in parts {
            match p {
                Expr::And(inner) if and => flat.extend(inner),
                Expr::Or(inner) if !and => flat.extend(inner),
                other => flat.push(other),
            }
        }
        match flat.len() {
            1 => flat.pop().unwrap_or(Expr::And(Vec::new())),
            _ if and => Expr::And(flat),
            _ => Expr::Or(flat),
        }
    }

    pub fn conditions(&self) -> Box<dyn Iterator<Item = &Cond> + '_> {
        match self {
            Expr::Cond(c) => Box::new(std::iter::once(c)),
            Expr::Not(e) => e.conditions(),
            Expr::And(v) | Expr::Or(v) => Box::new(v.iter().flat_map(|e| e.conditions())),
        }
    }
}
