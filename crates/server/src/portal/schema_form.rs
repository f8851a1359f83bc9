//! A form made from an integration type's JSON Schema (the one
//! `GET /api/v1/integration-types` publishes), the declaration a filled form
//! stands for, and the form a stored declaration fills. Text, numbers,
//! yes/no, lists (comma-separated), choices (a schema `enum` or `oneOf` of
//! constants), `KEY=VALUE` lines (an object of strings), secret references
//! (kind and reference, never a value) and one of several shapes told apart
//! by `kind` (a custom integration's transport: the fields of each) are
//! offered; anything else is kept as stored and declared with `sesame apply`.
//! Pure: no I/O.

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
    /// An object of strings, one `KEY=VALUE` per line.
    Pairs,
    /// One of several objects told apart by their `kind`.
    Variants { options: Vec<Variant> },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    pub kind: String,
    pub description: Option<String>,
    pub fields: Vec<Field>,
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

/// Secret references a form can show and make: `{ env = "VAR" }`, `{ file = "/path" }`.
const SECRET_KINDS: [&str; 2] = ["env", "file"];

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

/// A `oneOf` of objects, each with a constant `kind`.
fn variants(schema: &Value, def: &Value) -> Option<Vec<Variant>> {
    let one = def.get("oneOf")?.as_array()?;
    let all: Option<Vec<Variant>> = one
        .iter()
        .map(|x| {
            let kind = x.get("properties")?.get("kind")?;
            let kind = kind.get("const").or_else(|| kind.get("enum")?.get(0))?.as_str()?.to_owned();
            let description = x.get("description").and_then(Value::as_str).map(str::to_owned);
            Some(Variant { kind, description, fields: fields_of(schema, x, &["kind"]) })
        })
        .collect();
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
    fields_of(schema, schema, &["type", "settings"])
}

/// The fields of the object `obj` (its properties but `skip`), definitions
/// read from the whole `schema`.
fn fields_of(schema: &Value, obj: &Value, skip: &[&str]) -> Vec<Field> {
    let required: Vec<&str> = obj.get("required").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let Some(props) = obj.get("properties").and_then(Value::as_object) else { return vec![] };
    let mut out: Vec<Field> = props
        .iter()
        .filter(|(name, _)| !skip.contains(&name.as_str()))
        .filter_map(|(name, p)| {
            let input = match referenced(schema, p) {
                Some(("SecretRef", _)) => Input::Secret,
                Some((_, def)) => match choices(def) {
                    Some(options) => Input::Choice { options },
                    None => Input::Variants { options: variants(schema, def)? },
                },
                None if is(p, "integer") || is(p, "number") => Input::Number,
                None if is(p, "boolean") => Input::Yes,
                None if is(p, "array") && p.get("items").is_some_and(|i| is(i, "string")) => Input::List,
                None if is(p, "object") && p.get("additionalProperties").is_some_and(|i| is(i, "string")) => Input::Pairs,
                None if is(p, "string") => match choices(p) {
                    Some(options) => Input::Choice { options },
                    None => Input::Text,
                },
                None => return None,
            };
            let default = p.get("default").filter(|d| !d.is_null() && **d != json!([]) && **d != json!({})).map(|d| match d {
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

/// What the form holds under `key` for `f`; None when left empty.
fn value_of(f: &Field, key: &str, form: &BTreeMap<String, String>) -> Result<Option<Value>, String> {
    let get = |k: &str| form.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    Ok(match &f.input {
        Input::Secret => match (get(&format!("{key}.kind")), get(&format!("{key}.ref"))) {
            (Some(kind), Some(r)) if SECRET_KINDS.contains(&kind) => Some(json!({ kind: r })),
            (Some(kind), Some(_)) => return Err(format!("`{}`: `{kind}` is not a kind of secret reference this form makes (env, file)", f.name)),
            _ => None,
        },
        Input::Yes => Some(json!(form.contains_key(key))).filter(|_| form.contains_key(&format!("{key}.shown"))),
        Input::Number => match get(key) {
            Some(v) => Some(json!(v.parse::<i64>().map_err(|_| format!("`{}`: `{v}` is not a whole number", f.name))?)),
            None => None,
        },
        Input::List => get(key).map(|v| json!(v.split(',').map(str::trim).filter(|x| !x.is_empty()).collect::<Vec<_>>())),
        Input::Text | Input::Choice { .. } => get(key).map(|v| json!(v)),
        Input::Pairs => match get(key) {
            None => None,
            Some(text) => {
                let mut m = Map::new();
                for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    let (k, v) = line.split_once('=').ok_or_else(|| format!("`{}`: `{line}` is not KEY=VALUE", f.name))?;
                    m.insert(k.trim().to_owned(), json!(v.trim()));
                }
                Some(Value::Object(m))
            }
        },
        Input::Variants { options } => match get(&format!("{key}.kind")) {
            None => None,
            Some(kind) => {
                let v = options.iter().find(|v| v.kind == kind).ok_or_else(|| format!("`{}`: `{kind}` is not one of its kinds", f.name))?;
                let mut m = Map::new();
                m.insert("kind".into(), json!(kind));
                for sf in &v.fields {
                    if let Some(x) = value_of(sf, &format!("{key}.{kind}.{}", sf.name), form)? {
                        m.insert(sf.name.clone(), x);
                    }
                }
                Some(Value::Object(m))
            }
        },
    })
}

/// The declaration a filled form stands for: `f.NAME` per field (a secret:
/// `f.NAME.kind` and `f.NAME.ref`; one of several kinds: `f.NAME.kind` and
/// `f.NAME.KIND.FIELD`), `access_details` into `settings`. Empty fields are
/// left out (the schema's defaults apply).
pub fn declaration(type_name: &str, fields: &[Field], form: &BTreeMap<String, String>) -> Result<Value, String> {
    let mut out = Map::new();
    out.insert("type".into(), json!(type_name));
    for f in fields {
        if let Some(v) = value_of(f, &format!("f.{}", f.name), form)? {
            out.insert(f.name.clone(), v);
        }
    }
    if let Some(details) = form.get("access_details").map(|d| d.trim()).filter(|d| !d.is_empty()) {
        out.insert("settings".into(), json!({ "custom_access_details": details }));
    }
    Ok(Value::Object(out))
}

/// A secret reference the form can show: its kind and reference.
fn shown_secret(v: &Value) -> Option<(&str, &str)> {
    let m = v.as_object().filter(|m| m.len() == 1)?;
    let (kind, r) = m.iter().next()?;
    Some((kind.as_str(), r.as_str()?)).filter(|(k, _)| SECRET_KINDS.contains(k))
}

fn fill(f: &Field, key: &str, v: &Value, form: &mut BTreeMap<String, String>) {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match (&f.input, v) {
        (Input::Secret, v) => {
            if let Some((kind, r)) = shown_secret(v) {
                form.insert(format!("{key}.kind"), kind.to_owned());
                form.insert(format!("{key}.ref"), r.to_owned());
            }
        }
        (Input::Yes, Value::Bool(b)) => {
            form.insert(format!("{key}.shown"), "1".into());
            if *b {
                form.insert(key.to_owned(), "1".into());
            }
        }
        (Input::List, Value::Array(a)) => {
            form.insert(key.to_owned(), a.iter().map(text).collect::<Vec<_>>().join(", "));
        }
        (Input::Pairs, Value::Object(m)) => {
            form.insert(key.to_owned(), m.iter().map(|(k, v)| format!("{k}={}", text(v))).collect::<Vec<_>>().join("\n"));
        }
        (Input::Variants { options }, Value::Object(m)) => {
            let Some(kind) = m.get("kind").and_then(Value::as_str) else { return };
            form.insert(format!("{key}.kind"), kind.to_owned());
            for sf in options.iter().filter(|o| o.kind == kind).flat_map(|o| &o.fields) {
                if let Some(x) = m.get(&sf.name) {
                    fill(sf, &format!("{key}.{kind}.{}", sf.name), x, form);
                }
            }
        }
        (Input::Number | Input::Text | Input::Choice { .. }, v) if !v.is_null() && !v.is_object() && !v.is_array() => {
            form.insert(key.to_owned(), text(v));
        }
        _ => {}
    }
}

/// The form a stored declaration fills (to edit it).
pub fn form_of(fields: &[Field], decl: &Value) -> BTreeMap<String, String> {
    let mut form = BTreeMap::new();
    for f in fields {
        if let Some(v) = decl.get(&f.name) {
            fill(f, &format!("f.{}", f.name), v, &mut form);
        }
    }
    if let Some(d) = decl.get("settings").and_then(|s| s.get("custom_access_details")).and_then(Value::as_str) {
        form.insert("access_details".into(), d.to_owned());
    }
    form
}

/// An edited declaration: what the form made, with what the form does not
/// show kept as stored (fields it does not offer, settings other than the
/// access details, a secret reference of a kind it cannot show and left
/// empty).
pub fn merged(stored: &Value, fields: &[Field], from_form: Value) -> Value {
    let (Some(old), Value::Object(mut new)) = (stored.as_object(), from_form) else { return Value::Null };
    for (k, v) in old {
        let offered = fields.iter().find(|f| f.name == *k);
        match offered {
            _ if k == "type" => {}
            None if k == "settings" => {
                let mut settings = v.as_object().cloned().unwrap_or_default();
                settings.remove("custom_access_details");
                if let Some(d) = new.get("settings").and_then(|s| s.get("custom_access_details")) {
                    settings.insert("custom_access_details".into(), d.clone());
                }
                if settings.is_empty() {
                    new.remove("settings");
                } else {
                    new.insert("settings".into(), Value::Object(settings));
                }
            }
            None => {
                new.insert(k.clone(), v.clone());
            }
            Some(f) if f.input == Input::Secret && !new.contains_key(k) && shown_secret(v).is_none() => {
                new.insert(k.clone(), v.clone());
            }
            Some(_) => {}
        }
    }
    Value::Object(new)
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

    fn custom() -> Value {
        sesame_integrations::config_schema::builtin().into_iter().find(|(t, _)| t == "custom").unwrap().1
    }

    #[test]
    fn a_custom_integrations_transport_is_offered_kind_by_kind() {
        let f = fields(&custom());
        let transport = f.iter().find(|x| x.name == "transport").expect("the transport is offered");
        let Input::Variants { options } = &transport.input else { panic!("{transport:?}") };
        let kinds: Vec<&str> = options.iter().map(|o| o.kind.as_str()).collect();
        assert_eq!(kinds, ["exec", "webhook", "lambda"]);
        let webhook = &options[1].fields;
        assert!(webhook.iter().any(|x| x.name == "url" && x.required && x.input == Input::Text), "{webhook:?}");
        assert!(webhook.iter().any(|x| x.name == "secret" && x.input == Input::Secret), "{webhook:?}");
        assert!(f.iter().any(|x| x.name == "custom_parameters" && x.input == Input::Pairs), "{f:?}");
        let form: BTreeMap<String, String> = [
            ("f.name", "tickets"),
            ("f.transport.kind", "webhook"),
            ("f.transport.webhook.url", "https://hooks.internal/sesame"),
            ("f.transport.webhook.secret.kind", "env"),
            ("f.transport.webhook.secret.ref", "SESAME_SECRET_HOOK"),
            // Another kind's fields, filled and then left: not declared.
            ("f.transport.lambda.function_name", "old"),
            ("f.resource_types", "queue"),
            ("f.custom_parameters", "team = payments\n\nregion=eu-west-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let d = declaration("custom", &f, &form).unwrap();
        let want = json!({ "type": "custom", "name": "tickets", "resource_types": ["queue"],
            "transport": { "kind": "webhook", "url": "https://hooks.internal/sesame", "secret": { "env": "SESAME_SECRET_HOOK" } },
            "custom_parameters": { "team": "payments", "region": "eu-west-1" } });
        assert_eq!(d, want);
        // What the declaration fills makes the same declaration again.
        assert_eq!(declaration("custom", &f, &form_of(&f, &d)).unwrap(), want);
        let mut bad = form.clone();
        bad.insert("f.custom_parameters".into(), "no equals sign".into());
        assert!(declaration("custom", &f, &bad).unwrap_err().contains("KEY=VALUE"));
        bad = form.clone();
        bad.insert("f.transport.kind".into(), "carrier-pigeon".into());
        assert!(declaration("custom", &f, &bad).unwrap_err().contains("`carrier-pigeon`"));
    }

    #[test]
    fn an_edit_keeps_what_the_form_does_not_show() {
        let f = fields(&pg());
        let stored = json!({ "type": "postgresql", "name": "orders", "host": "db", "username": "sesame",
            "password": { "aws_secrets_manager": { "secret_id": "sesame/orders" } },
            "databases": ["orders"],
            "settings": { "custom_access_details": "old words", "credential_rotation_days": 30 } });
        let mut form = form_of(&f, &stored);
        assert_eq!(form.get("f.password.kind"), None, "a reference the form cannot show is not shown");
        assert_eq!(form.get("access_details").map(String::as_str), Some("old words"));
        form.insert("f.host".into(), "db2".into());
        form.insert("access_details".into(), "new words".into());
        let edited = merged(&stored, &f, declaration("postgresql", &f, &form).unwrap());
        assert_eq!(
            edited,
            json!({ "type": "postgresql", "name": "orders", "host": "db2", "username": "sesame",
                "password": { "aws_secrets_manager": { "secret_id": "sesame/orders" } },
                "databases": ["orders"],
                "settings": { "custom_access_details": "new words", "credential_rotation_days": 30 } })
        );
        // A reference the form shows, replaced, is replaced; details cleared are gone.
        form.insert("f.password.kind".into(), "env".into());
        form.insert("f.password.ref".into(), "SESAME_SECRET_ORDERS".into());
        form.remove("access_details");
        let edited = merged(&stored, &f, declaration("postgresql", &f, &form).unwrap());
        assert_eq!(edited["password"], json!({ "env": "SESAME_SECRET_ORDERS" }));
        assert_eq!(edited["settings"], json!({ "credential_rotation_days": 30 }));
    }
}
