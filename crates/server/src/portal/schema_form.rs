//! A form made from an integration type's JSON Schema (the one
//! `GET /api/v1/integration-types` publishes), and the declaration a filled
//! form stands for. Text, numbers, yes/no, lists (comma-separated), choices
//! (a schema `enum` or `oneOf` of constants) and secret references (kind
//! and reference, never a value) are offered; anything else is declared
//! with `sesame apply`. Pure: no I/O.

use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Input {
    Text,
    Number,
    Yes,
    List,
    Choice { options: Vec<String> },
    Secret,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    pub name: String,
    pub description: Option<String>,
    pub required: bool,
    pub default: Option<String>,
    #[serde(flatten)]
    pub input: Input,
}

/// The definition a `$ref` (directly, or the first of `anyOf`/`allOf`) names.
fn referenced<'a>(schema: &'a Value, p: &'a Value) -> Option<(&'a str, &'a Value)> {
    let r = p.get("$ref").or_else(|| ["anyOf", "allOf"].iter().find_map(|k| p.get(*k)?.as_array()?.iter().find_map(|x| x.get("$ref"))))?.as_str()?;
    let name = r.strip_prefix("#/$defs/")?;
    Some((name, schema.get("$defs")?.get(name)?))
}

fn choices(def: &Value) -> Option<Vec<String>> {
    if let Some(e) = def.get("enum").and_then(Value::as_array) {
        return Some(e.iter().filter_map(Value::as_str).map(str::to_owned).collect());
    }
    let one = def.get("oneOf")?.as_array()?;
    let all: Option<Vec<String>> = one.iter().map(|x| x.get("const").or_else(|| x.get("enum")?.get(0))?.as_str().map(str::to_owned)).collect();
    all.filter(|v| !v.is_empty())
}

fn is(p: &Value, t: &str) -> bool {
    match p.get("type") {
        Some(Value::String(s)) => s == t,
        Some(Value::Array(a)) => a.iter().any(|x| x == t),
        _ => false,
    }
}

/// The fields a form offers for `schema`, in the schema's order (required
/// first); `type` is fixed by the page, `settings` is offered as its access
/// details only.
pub fn fields(schema: &Value) -> Vec<Field> {
    let required: Vec<&str> = schema.get("required").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return vec![] };
    let mut out: Vec<Field> = props
        .iter()
        .filter(|(name, _)| name.as_str() != "type" && name.as_str() != "settings")
        .filter_map(|(name, p)| {
            let input = match referenced(schema, p) {
                Some(("SecretRef", _)) => Input::Secret,
                Some((_, def)) => Input::Choice { options: choices(def)? },
                None if is(p, "integer") || is(p, "number") => Input::Number,
                None if is(p, "boolean") => Input::Yes,
                None if is(p, "array") && p.get("items").is_some_and(|i| is(i, "string")) => Input::List,
                None if is(p, "string") => match choices(p) {
                    Some(options) => Input::Choice { options },
                    None => Input::Text,
                },
                None => return None,
            };
            let default = p.get("default").filter(|d| !d.is_null() && **d != json!([])).map(|d| match d {
                Value::String(s) => s.clone(),
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
                other => other.to_string(),
            });
            let description = p.get("description").and_then(Value::as_str).map(str::to_owned);
            Some(Field { name: name.clone(), description, required: required.contains(&name.as_str()), default, input })
        })
        .collect();
    out.sort_by_key(|f| !f.required);
    out
}

/// The declaration a filled form stands for: `f.NAME` per field (a secret:
/// `f.NAME.kind` and `f.NAME.ref`), `access_details` into `settings`.
/// Empty fields are left out (the schema's defaults apply).
pub fn declaration(type_name: &str, fields: &[Field], form: &BTreeMap<String, String>) -> Result<Value, String> {
    let mut out = Map::new();
    out.insert("type".into(), json!(type_name));
    let get = |k: &str| form.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    for f in fields {
        let key = format!("f.{}", f.name);
        let value = match &f.input {
            Input::Secret => match (get(&format!("{key}.kind")), get(&format!("{key}.ref"))) {
                (Some(kind), Some(r)) => Some(json!({ kind: r })),
                _ => None,
            },
            Input::Yes => Some(json!(form.contains_key(&key))).filter(|_| form.contains_key(&format!("{key}.shown"))),
            Input::Number => match get(&key) {
                Some(v) => Some(json!(v.parse::<i64>().map_err(|_| format!("`{}`: `{v}` is not a whole number", f.name))?)),
                None => None,
            },
            Input::List => get(&key).map(|v| json!(v.split(',').map(str::trim).filter(|x| !x.is_empty()).collect::<Vec<_>>())),
            Input::Text | Input::Choice { .. } => get(&key).map(|v| json!(v)),
        };
        if let Some(v) = value {
            out.insert(f.name.clone(), v);
        }
    }
    if let Some(details) = form.get("access_details").map(|d| d.trim()).filter(|d| !d.is_empty()) {
        out.insert("settings".into(), json!({ "custom_access_details": details }));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pg() -> Value {
        sesame_integrations::config_schema::builtin().into_iter().find(|(t, _)| t == "postgresql").unwrap().1
    }

    #[test]
    fn the_postgresql_schema_makes_a_form() {
        let f = fields(&pg());
        let by = |n: &str| f.iter().find(|x| x.name == n).unwrap_or_else(|| panic!("no field {n}: {f:?}"));
        assert!(f.iter().take_while(|x| x.required).count() >= 3, "required first");
        assert_eq!((by("host").input.clone(), by("host").required), (Input::Text, true));
        assert_eq!((by("port").input.clone(), by("port").default.as_deref()), (Input::Number, Some("5432")));
        assert_eq!(by("password").input, Input::Secret);
        assert_eq!(by("databases").input, Input::List);
        assert!(matches!(&by("ssl_mode").input, Input::Choice { options } if options.iter().any(|o| o == "verify-full")), "{:?}", by("ssl_mode"));
        assert!(f.iter().all(|x| x.name != "type" && x.name != "settings"));
    }

    #[test]
    fn a_filled_form_is_a_declaration_with_references_only() {
        let f = fields(&pg());
        let form: BTreeMap<String, String> = [
            ("f.name", "orders"),
            ("f.host", "db.internal"),
            ("f.port", "5433"),
            ("f.username", "sesame"),
            ("f.password.kind", "env"),
            ("f.password.ref", "SESAME_SECRET_ORDERS"),
            ("f.databases", "orders, ledger"),
            ("f.user_prefix", ""),
            ("access_details", "Use the VPN."),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let d = declaration("postgresql", &f, &form).unwrap();
        assert_eq!(
            d,
            json!({ "type": "postgresql", "name": "orders", "host": "db.internal", "port": 5433, "username": "sesame", "password": { "env": "SESAME_SECRET_ORDERS" },
                    "databases": ["orders", "ledger"], "settings": { "custom_access_details": "Use the VPN." } })
        );
        let mut bad = form.clone();
        bad.insert("f.port".into(), "five".into());
        assert!(declaration("postgresql", &f, &bad).unwrap_err().contains("`port`"));
    }
}
