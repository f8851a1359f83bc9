//! SCIM filters (RFC 7644 §3.4.2.2): `attrPath op value` joined by `and`,
//! `or`, `not (...)` and parentheses, `attrPath pr`, and value filters on
//! multi-valued attributes (`emails[type eq "work" and value co "@x"]`).
//! Attribute names and operators are case-insensitive; strings compare
//! case-insensitively except `id` and `externalId`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare { path: Vec<String>, op: Op, value: Value },
    Present { path: Vec<String> },
    /// `attr[filter]`: some element of the multi-valued `attr` matches.
    Has { attr: String, inner: Box<Filter> },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

const MAX_LEN: usize = 4096;
const MAX_DEPTH: usize = 32;

pub fn parse(src: &str) -> Result<Filter, String> {
    if src.len() > MAX_LEN {
        return Err(format!("the filter is longer than {MAX_LEN} characters"));
    }
    let tokens = lex(src)?;
    let mut p = Parser { t: tokens, i: 0, depth: 0 };
    let f = p.or()?;
    match p.t.get(p.i) {
        None => Ok(f),
        Some(t) => Err(format!("unexpected `{}` after a complete filter", t.text())),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    LBracket,
    RBracket,
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Word(w) => w.clone(),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Open => "(".into(),
            Tok::Close => ")".into(),
            Tok::LBracket => "[".into(),
            Tok::RBracket => "]".into(),
        }
    }
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    '[' => Tok::LBracket,
                    _ => Tok::RBracket,
                });
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a string is not closed: end it with `\"`".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(e) => s.push(e),
                            None => return Err("a string ends with `\\`".into()),
                        },
                        Some(x) => s.push(x),
                    }
                }
                out.push(Tok::Str(s));
            }
            _ => {
                let mut w = String::new();
                while let Some(&x) = chars.peek() {
                    if x.is_whitespace() || "()[]\"".contains(x) {
                        break;
                    }
                    w.push(x);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

struct Parser {
    t: Vec<Tok>,
    i: usize,
    depth: usize,
}

impl Parser {
    fn keyword(&self, k: &str) -> bool {
        matches!(self.t.get(self.i), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.i += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.i += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("the filter nests deeper than {MAX_DEPTH}"));
        }
        let f = if self.keyword("not") {
            self.i += 1;
            Filter::Not(Box::new(self.group()?))
        } else if self.t.get(self.i) == Some(&Tok::Open) {
            self.group()?
        } else {
            self.comparison()?
        };
        self.depth -= 1;
        Ok(f)
    }

    fn group(&mut self) -> Result<Filter, String> {
        if self.t.get(self.i) != Some(&Tok::Open) {
            return Err("`not` takes a filter in parentheses: not (...)".into());
        }
        self.i += 1;
        let f = self.or()?;
        if self.t.get(self.i) != Some(&Tok::Close) {
            return Err("a `(` is not closed: add `)`".into());
        }
        self.i += 1;
        Ok(f)
    }

    fn comparison(&mut self) -> Result<Filter, String> {
        let Some(Tok::Word(attr)) = self.t.get(self.i).cloned() else {
            return Err("expected an attribute name, e.g. userName eq \"ann@example.com\"".into());
        };
        self.i += 1;
        if self.t.get(self.i) == Some(&Tok::LBracket) {
            self.i += 1;
            let inner = self.or()?;
            if self.t.get(self.i) != Some(&Tok::RBracket) {
                return Err("a `[` is not closed: add `]`".into());
            }
            self.i += 1;
            let f = Filter::Has { attr: attr.clone(), inner: Box::new(inner) };
            // `emails[type eq "work"].value` is not a filter: only a PATCH path.
            return Ok(f);
        }
        let path = split_path(&attr);
        let Some(Tok::Word(op)) = self.t.get(self.i).cloned() else {
            return Err(format!("expected an operator after `{attr}`: eq, ne, co, sw, ew, gt, ge, lt, le or pr"));
        };
        self.i += 1;
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Filter::Present { path }),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(format!("`{other}` is not an operator: use eq, ne, co, sw, ew, gt, ge, lt, le or pr")),
        };
        let value = match self.t.get(self.i).cloned() {
            Some(Tok::Str(s)) => Value::String(s),
            Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w).map(Value::Number).map_err(|_| format!("`{w}` is not a value: quote strings with \""))?,
            },
            _ => return Err(format!("expected a value after `{attr}`")),
        };
        self.i += 1;
        Ok(Filter::Compare { path, op, value })
    }
}

/// `name.givenName` → [name, givenName]; a schema URN prefix
/// (`urn:...:User:userName`) keeps the URN as the first step.
pub fn split_path(attr: &str) -> Vec<String> {
    if attr.to_ascii_lowercase().starts_with("urn:") {
        if let Some(i) = attr.rfind(':') {
            let (urn, rest) = (&attr[..i], &attr[i + 1..]);
            let mut v = vec![urn.to_owned()];
            v.extend(rest.split('.').map(str::to_owned));
            return v;
        }
    }
    attr.split('.').map(str::to_owned).collect()
}

/// A member of an object by name, case-insensitively.
pub fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

/// The values a path reaches (several through multi-valued attributes).
fn reach<'a>(v: &'a Value, path: &[String]) -> Vec<&'a Value> {
    let Some((first, rest)) = path.split_first() else { return vec![v] };
    match v {
        Value::Array(items) => items.iter().flat_map(|i| reach(i, path)).collect(),
        _ => match get_ci(v, first) {
            Some(next) => reach(next, rest),
            // A core attribute asked for with its schema URN.
            None if first.eq_ignore_ascii_case(super::schema::USER) || first.eq_ignore_ascii_case(super::schema::GROUP) => reach(v, rest),
            None => vec![],
        },
    }
}

fn case_exact(path: &[String]) -> bool {
    path.last().is_some_and(|l| l.eq_ignore_ascii_case("id") || l.eq_ignore_ascii_case("externalId"))
}

impl Filter {
    pub fn matches(&self, v: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(v) && b.matches(v),
            Filter::Or(a, b) => a.matches(v) || b.matches(v),
            Filter::Not(f) => !f.matches(v),
            Filter::Present { path } => reach(v, path).iter().any(|x| !x.is_null() && x.as_array().is_none_or(|a| !a.is_empty()) && x.as_str().is_none_or(|s| !s.is_empty())),
            Filter::Has { attr, inner } => match get_ci(v, attr) {
                Some(Value::Array(items)) => items.iter().any(|i| inner.matches(i)),
                Some(one) => inner.matches(one),
                None => false,
            },
            Filter::Compare { path, op, value } => {
                let found = reach(v, path);
                let hit = |x: &&Value| compare(x, *op, value, case_exact(path));
                match op {
                    // `ne`: no value equals it (a missing attribute is `ne` anything).
                    Op::Ne => !found.iter().any(|x| compare(x, Op::Eq, value, case_exact(path))),
                    _ => found.iter().any(hit),
                }
            }
        }
    }
}

fn compare(x: &Value, op: Op, want: &Value, exact: bool) -> bool {
    match (x, want) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if exact { (a.clone(), b.clone()) } else { (a.to_lowercase(), b.to_lowercase()) };
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Co => a.contains(&b),
                Op::Sw => a.starts_with(&b),
                Op::Ew => a.ends_with(&b),
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
            }
        }
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            _ => false,
        },
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
                _ => false,
            }
        }
        (_, Value::Null) => matches!(op, Op::Eq) && x.is_null(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_okta_and_entra_send_match_as_the_rfc_says() {
        let ann = json!({"id": "A1", "userName": "Ann@Example.com", "active": true, "name": {"givenName": "Ann"},
            "emails": [{"value": "ann@example.com", "type": "work", "primary": true}, {"value": "ann@home.io", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Payments"}});
        let m = |f: &str| parse(f).unwrap().matches(&ann);
        assert!(m(r#"userName eq "ann@example.com""#), "case-insensitive values");
        assert!(m(r#"USERNAME Eq "ann@example.com""#), "names and operators too");
        assert!(!m(r#"id eq "a1""#), "but id is case-exact");
        assert!(m(r#"name.givenName sw "An" and active eq true"#));
        assert!(m(r#"emails.value co "@home""#) && m(r#"emails[type eq "work" and value ew "example.com"]"#));
        assert!(!m(r#"emails[type eq "home" and primary eq true]"#), "one element must match all of it");
        assert!(m(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ann@example.com""#));
        assert!(m(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "payments""#));
        assert!(m(r#"title ne "x" and not (userName eq "bob@example.com") or externalId pr"#));
        assert!(!m("externalId pr") && m("emails pr"));
        for bad in ["userName", "userName eq", "userName like \"a\"", "(userName eq \"a\"", "not userName eq \"a\"", "userName eq unquoted", "userName eq \"open"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(&"(".repeat(100)).is_err(), "bounded depth");
    }
}
