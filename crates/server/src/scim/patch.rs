//! PATCH (RFC 7644 §3.5.2) on a resource held as JSON: `add`, `replace`
//! and `remove` (in any case, as Entra ID sends them), with a path —
//! `attr`, `attr.sub`, `urn:…:attr`, `attr[filter]`, `attr[filter].sub` —
//! or without one (the value's members, extension URNs included). What
//! identity providers send loosely is read as meant: `"False"` for a
//! boolean, a bare id for `manager`.

use super::filter::{self, Filter};
use serde_json::{Map, Value};

/// A change that cannot be applied: the SCIM error type and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchError {
    pub scim_type: &'static str,
    pub detail: String,
}

fn bad(scim_type: &'static str, detail: impl Into<String>) -> PatchError {
    PatchError { scim_type, detail: detail.into() }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

struct Path {
    /// The URN of an extension, when the path names one.
    urn: Option<String>,
    attr: String,
    filter: Option<Filter>,
    sub: Option<String>,
}

fn parse_path(p: &str) -> Result<Path, PatchError> {
    let (head, filter, tail) = match p.find('[') {
        Some(open) => {
            let close = p.rfind(']').filter(|c| *c > open).ok_or_else(|| bad("invalidPath", format!("`{p}`: a `[` is not closed")))?;
            let f = filter::parse(&p[open + 1..close]).map_err(|e| bad("invalidFilter", format!("`{p}`: {e}")))?;
            let tail = p[close + 1..].strip_prefix('.').map(str::to_owned);
            if !p[close + 1..].is_empty() && tail.is_none() {
                return Err(bad("invalidPath", format!("`{p}`: after `]` comes `.subAttribute` or nothing")));
            }
            (&p[..open], Some(f), tail)
        }
        None => (p, None, None),
    };
    let mut steps = filter::split_path(head);
    let urn = if steps.first().is_some_and(|s| s.to_ascii_lowercase().starts_with("urn:")) { Some(steps.remove(0)) } else { None };
    // The core schema's URN is the resource itself.
    let urn = urn.filter(|u| !u.eq_ignore_ascii_case(super::schema::USER) && !u.eq_ignore_ascii_case(super::schema::GROUP));
    let (attr, sub) = match (steps.len(), tail) {
        (1, t) => (steps.remove(0), t),
        (2, None) if filter.is_none() => {
            let sub = steps.pop();
            (steps.remove(0), sub)
        }
        _ => return Err(bad("invalidPath", format!("`{p}` is not an attribute path Sesame knows: write attr, attr.sub or attr[filter].sub"))),
    };
    if attr.is_empty() {
        return Err(bad("invalidPath", format!("`{p}` names no attribute")));
    }
    Ok(Path { urn, attr, filter, sub })
}

/// The key of `m` that is `name` in any case, or `name` itself.
fn key_of(m: &Map<String, Value>, name: &str) -> String {
    m.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned())
}

/// What a loose provider sends, as the attribute wants it.
fn coerce(attr: &str, v: Value) -> Value {
    match (attr.to_ascii_lowercase().as_str(), v) {
        ("active" | "primary", Value::String(s)) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => Value::Bool(s.eq_ignore_ascii_case("true")),
        ("manager", Value::String(id)) => serde_json::json!({ "value": id }),
        (_, v) => v,
    }
}

fn container<'a>(res: &'a mut Value, urn: Option<&str>) -> Result<&'a mut Map<String, Value>, PatchError> {
    let root = res.as_object_mut().ok_or_else(|| bad("invalidValue", "the resource is not an object"))?;
    match urn {
        None => Ok(root),
        Some(u) => {
            let k = key_of(root, u);
            let ext = root.entry(k).or_insert_with(|| Value::Object(Map::new()));
            if !ext.is_object() {
                *ext = Value::Object(Map::new());
            }
            ext.as_object_mut().ok_or_else(|| bad("invalidValue", "an extension is not an object"))
        }
    }
}

fn merge_value(m: &mut Map<String, Value>, attr: &str, v: Value, kind: Kind) {
    let k = key_of(m, attr);
    let v = coerce(attr, v);
    match (kind, m.get_mut(&k), v) {
        (Kind::Add, Some(Value::Array(have)), Value::Array(more)) => {
            for x in more {
                if !have.contains(&x) {
                    have.push(x);
                }
            }
        }
        (Kind::Add, Some(Value::Array(have)), one) => {
            if !have.contains(&one) {
                have.push(one);
            }
        }
        (Kind::Add, Some(Value::Object(have)), Value::Object(more)) => {
            for (sk, sv) in more {
                let sk2 = key_of(have, &sk);
                have.insert(sk2, sv);
            }
        }
        (_, _, v) => {
            m.insert(k, v);
        }
    }
}

fn apply_one(res: &mut Value, kind: Kind, path: Option<&str>, value: Option<Value>) -> Result<(), PatchError> {
    let Some(path) = path.filter(|p| !p.trim().is_empty()) else {
        if kind == Kind::Remove {
            return Err(bad("noTarget", "a remove needs a path"));
        }
        let Some(Value::Object(members)) = value else { return Err(bad("invalidValue", "without a path, the value is an object of attributes")) };
        for (k, v) in members {
            if k.to_ascii_lowercase().starts_with("urn:") {
                if k.eq_ignore_ascii_case(super::schema::USER) || k.eq_ignore_ascii_case(super::schema::GROUP) {
                    apply_one(res, kind, None, Some(v))?;
                    continue;
                }
                let Value::Object(ext) = v else { return Err(bad("invalidValue", format!("`{k}` takes an object"))) };
                let m = container(res, Some(&k))?;
                for (ek, ev) in ext {
                    merge_value(m, &ek, ev, kind);
                }
            } else if k.contains('.') || k.contains('[') {
                apply_one(res, kind, Some(&k), Some(v))?;
            } else {
                merge_value(container(res, None)?, &k, v, kind);
            }
        }
        return Ok(());
    };
    // The path names a whole extension.
    if path.trim().eq_ignore_ascii_case(super::schema::ENTERPRISE) {
        let root = container(res, None)?;
        let k = key_of(root, super::schema::ENTERPRISE);
        match (kind, value) {
            (Kind::Remove, _) => {
                root.remove(&k);
            }
            (Kind::Replace, Some(Value::Object(o))) => {
                root.insert(k, Value::Object(o));
            }
            (Kind::Add, Some(Value::Object(o))) => {
                let m = container(res, Some(super::schema::ENTERPRISE))?;
                for (ek, ev) in o {
                    merge_value(m, &ek, ev, Kind::Add);
                }
            }
            _ => return Err(bad("invalidValue", format!("`{path}` takes an object of its attributes"))),
        }
        return Ok(());
    }
    let p = parse_path(path)?;
    let m = container(res, p.urn.as_deref())?;
    let key = key_of(m, &p.attr);
    match (&p.filter, &p.sub, kind) {
        (None, None, Kind::Remove) => {
            m.remove(&key);
        }
        (None, None, _) => merge_value(m, &p.attr, value.ok_or_else(|| bad("invalidValue", format!("`{path}`: {kind:?} needs a value")))?, kind),
        (None, Some(sub), _) => {
            let inner = m.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !inner.is_object() {
                *inner = Value::Object(Map::new());
            }
            let inner = inner.as_object_mut().ok_or_else(|| bad("invalidPath", path))?;
            match value {
                _ if kind == Kind::Remove => {
                    let k = key_of(inner, sub);
                    inner.remove(&k);
                }
                Some(v) => merge_value(inner, sub, v, kind),
                None => return Err(bad("invalidValue", format!("`{path}` needs a value"))),
            }
        }
        (Some(f), sub, _) => {
            let items = m.entry(key.clone()).or_insert_with(|| Value::Array(vec![]));
            let Value::Array(list) = items else { return Err(bad("invalidPath", format!("`{}` is not multi-valued", p.attr))) };
            let hits: Vec<usize> = list.iter().enumerate().filter(|(_, x)| f.matches(x)).map(|(i, _)| i).collect();
            match (kind, sub) {
                (Kind::Remove, None) => {
                    for i in hits.into_iter().rev() {
                        list.remove(i);
                    }
                }
                (Kind::Remove, Some(sub)) => {
                    for i in hits {
                        if let Some(o) = list[i].as_object_mut() {
                            let k = key_of(o, sub);
                            o.remove(&k);
                        }
                    }
                }
                (_, sub) => {
                    let v = value.ok_or_else(|| bad("invalidValue", format!("`{path}` needs a value")))?;
                    if hits.is_empty() {
                        // Entra ID sets `emails[type eq "work"].value` on a
                        // person who has none yet: make the element the filter describes.
                        let mut made = Map::new();
                        if let Filter::Compare { path: fp, op: filter::Op::Eq, value: fv } = f {
                            if let [one] = fp.as_slice() {
                                made.insert(one.clone(), fv.clone());
                            }
                        }
                        match sub {
                            Some(s) => {
                                made.insert(s.clone(), coerce(s, v.clone()));
                            }
                            None => {
                                if let Value::Object(o) = &v {
                                    made.extend(o.clone());
                                }
                            }
                        }
                        list.push(Value::Object(made));
                    }
                    for i in hits {
                        match (sub, &mut list[i]) {
                            (Some(s), Value::Object(o)) => merge_value(o, s, v.clone(), Kind::Replace),
                            (None, slot) => match (slot, &v) {
                                (Value::Object(o), Value::Object(new)) => {
                                    for (k, x) in new {
                                        merge_value(o, k, x.clone(), Kind::Replace);
                                    }
                                }
                                (slot, _) => *slot = v.clone(),
                            },
                            _ => {}
                        }
                    }
                }
            }
            if list.is_empty() {
                m.remove(&key);
            }
        }
    }
    Ok(())
}

/// Apply a PatchOp's `Operations`, all or none.
pub fn apply(res: &Value, ops: &[Value]) -> Result<Value, PatchError> {
    let mut out = res.clone();
    if ops.is_empty() {
        return Err(bad("invalidValue", "`Operations` is empty: send at least one"));
    }
    for op in ops {
        let kind = match filter::get_ci(op, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
            Some("add") => Kind::Add,
            Some("replace") => Kind::Replace,
            Some("remove") => Kind::Remove,
            other => return Err(bad("invalidSyntax", format!("`op` is {other:?}: use add, replace or remove"))),
        };
        let path = filter::get_ci(op, "path").and_then(Value::as_str);
        let value = filter::get_ci(op, "value").cloned();
        apply_one(&mut out, kind, path, value)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn okta_and_entra_patches_apply_as_meant() {
        let ann = json!({"userName": "ann@x.io", "active": true, "emails": [{"value": "ann@x.io", "type": "work", "primary": true}]});
        let p = |ops: Value| apply(&ann, ops.as_array().unwrap());
        // Okta deactivates without a path.
        assert_eq!(p(json!([{"op": "replace", "value": {"active": false}}])).unwrap()["active"], false);
        // Entra: capitalised op, a string for a boolean, a bare manager id.
        let e = p(json!([{"op": "Replace", "path": "active", "value": "False"},
                         {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "M1"},
                         {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ann@y.io"},
                         {"op": "Add", "path": "name.givenName", "value": "Ann"}])).unwrap();
        assert_eq!(e["active"], false);
        assert_eq!(e[super::super::schema::ENTERPRISE]["manager"]["value"], "M1");
        assert_eq!(e["emails"], json!([{"value": "ann@y.io", "type": "work", "primary": true}]));
        assert_eq!(e["name"]["givenName"], "Ann");
        // A filter that matches nothing makes the element it describes.
        let h = p(json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "a@home.io"}])).unwrap();
        assert_eq!(h["emails"].as_array().unwrap().len(), 2);
        // Group membership: add values, remove one by filter.
        let g = json!({"displayName": "devs", "members": [{"value": "u1"}]});
        let g = apply(&g, &[json!({"op": "add", "path": "members", "value": [{"value": "u2"}, {"value": "u1"}]})]).unwrap();
        assert_eq!(g["members"], json!([{"value": "u1"}, {"value": "u2"}]));
        let g = apply(&g, &[json!({"op": "remove", "path": "members[value eq \"u1\"]"})]).unwrap();
        assert_eq!(g["members"], json!([{"value": "u2"}]));
        let g = apply(&g, &[json!({"op": "remove", "path": "members"})]).unwrap();
        assert!(g.get("members").is_none());
        // Mistakes are said, and nothing is half-applied.
        assert_eq!(p(json!([{"op": "remove"}])).unwrap_err().scim_type, "noTarget");
        assert_eq!(p(json!([{"op": "move", "path": "x"}])).unwrap_err().scim_type, "invalidSyntax");
        assert_eq!(p(json!([{"op": "replace", "path": "emails[type eq]", "value": 1}])).unwrap_err().scim_type, "invalidFilter");
        assert!(p(json!([])).is_err());
    }
}
