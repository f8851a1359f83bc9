//! Each integration type's configuration as JSON Schema (draft 2019-09):
//! its fields with types, which are required, their defaults and
//! descriptions (from the doc comments), and which values are secret
//! references (`x-sesame-secret`: `{env}`, `{file}`, `{aws_secrets_manager}`
//! … — never the value itself). `GET /api/v1/integration-types` serves them.

use schemars::gen::SchemaSettings;
use schemars::schema::{Schema, SchemaObject};
use schemars::JsonSchema;
use serde_json::{json, Value};

/// The schema of `T`, the configuration of integrations whose `type` is
/// `type_name` (as the configuration file spells it).
pub fn schema_of<T: JsonSchema>(type_name: &str) -> Value {
    let mut root = SchemaSettings::draft2019_09().into_generator().into_root_schema_for::<T>();
    if let Some(Schema::Object(secret)) = root.definitions.get_mut("SecretRef") {
        mark_secret(secret);
    }
    // Every declaration names its type.
    root.schema.object().properties.insert("type".into(), Schema::Object(SchemaObject { const_value: Some(json!(type_name)), ..Default::default() }));
    root.schema.object().required.insert("type".into());
    // Draft 2019-09 keeps shared definitions under `$defs`.
    let text = serde_json::to_string(&root).unwrap_or_default().replace("\"#/definitions/", "\"#/$defs/");
    let mut v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        if let Some(defs) = o.remove("definitions") {
            o.insert("$defs".into(), defs);
        }
        o.insert("title".into(), json!(type_name));
    }
    v
}

fn mark_secret(s: &mut SchemaObject) {
    s.extensions.insert("x-sesame-secret".into(), json!(true));
    s.metadata().description = Some(
        "A reference to a secret, read where the integration runs: `{ env = \"VAR\" }`, `{ file = \"/path\" }`, \
         `{ aws_secrets_manager = {...} }` or `{ rds_iam_token = {...} }`. The value is never stored, exported or logged."
            .into(),
    );
}

/// The built-in types: PostgreSQL, MySQL, Redshift and custom integrations
/// (the registry adds `remote`, served by a connector).
pub fn builtin() -> Vec<(String, Value)> {
    vec![
        ("postgresql".into(), schema_of::<crate::postgres::PostgresConfig>("postgresql")),
        ("mysql".into(), schema_of::<crate::mysql::MysqlConfig>("mysql")),
        ("redshift".into(), schema_of::<crate::redshift::RedshiftConfig>("redshift")),
        ("custom".into(), schema_of::<crate::custom::CustomConfig>("custom")),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn a_schema_says_fields_types_required_defaults_and_secrets() {
        let all = super::builtin();
        let pg = &all.iter().find(|(t, _)| t == "postgresql").unwrap().1;
        let required: Vec<&str> = pg["required"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
        for f in ["type", "name", "host", "username"] {
            assert!(required.contains(&f), "{f} is required: {required:?}");
        }
        assert_eq!(pg["properties"]["port"]["default"], 5432);
        assert_eq!(pg["properties"]["type"]["const"], "postgresql");
        assert!(pg["properties"]["host"]["type"] == "string");
        assert!(pg["properties"]["databases"]["description"].as_str().unwrap().contains("discover"), "doc comments are descriptions");
        let password = pg["properties"]["password"].to_string();
        assert!(password.contains("#/$defs/SecretRef"), "{password}");
        assert_eq!(pg["$defs"]["SecretRef"]["x-sesame-secret"], true);
        assert!(!pg.to_string().contains("#/definitions/"), "every reference points into $defs");
        assert_eq!(all.len(), 4);
    }
}
