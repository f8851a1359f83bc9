//! What an integration made through the API must be before it is stored:
//! valid against its type's published JSON Schema (the error names the field
//! and the problem), a declaration Sesame reads, and no way into this
//! server. An admin of Sesame is not an operator of its host: the secret
//! references of what they make may read only what `[api_integrations]`
//! sets aside (environment variables with a prefix, files in a directory,
//! AWS secrets with a name prefix, RDS tokens for the integration's own
//! host), and custom integrations over `exec` (a command on this host) are
//! declared in the configuration file only.

use crate::config::ApiIntegrations;
use serde_json::Value;
use sesame_integrations::custom::TransportConfig;
use sesame_integrations::registry::IntegrationDecl;
use sesame_integrations::secret::SecretRef;
use sesame_proto::IntegrationTypeView;
use std::path::{Component, Path};

/// Check one declaration (without nulls) and read it.
pub fn check(v: &Value, types: &[IntegrationTypeView], rules: &ApiIntegrations) -> Result<IntegrationDecl, String> {
    let type_name = v.get("type").and_then(Value::as_str).ok_or("`type` is missing: name the integration type")?;
    let Some(t) = types.iter().find(|t| t.type_name == type_name) else {
        let known: Vec<&str> = types.iter().map(|t| t.type_name.as_str()).collect();
        return Err(format!("`type` `{type_name}` is not an integration type here: one of `{}`", known.join("`, `")));
    };
    let validator = jsonschema::validator_for(&t.schema).map_err(|e| format!("the `{type_name}` schema does not compile: {e}"))?;
    let problems: Vec<String> = validator
        .iter_errors(v)
        .take(5)
        .map(|e| {
            let at = e.instance_path().to_string();
            let field = if at.is_empty() { "the declaration".to_owned() } else { format!("`{}`", at.trim_start_matches('/').replace('/', ".")) };
            // The value itself is not repeated: it may be a secret written
            // where a reference belongs.
            let shown = e.instance().to_string();
            let message = e.to_string().replace(&shown, "the value");
            format!("{field}: {message}")
        })
        .collect();
    if !problems.is_empty() {
        return Err(format!("does not match the `{type_name}` schema (GET /api/v1/integration-types): {}", problems.join("; ")));
    }
    let decl: IntegrationDecl = serde_json::from_value(v.clone()).map_err(|e| format!("not a declaration Sesame reads: {e}"))?;
    if let IntegrationDecl::Custom(c) = &decl {
        if matches!(c.transport, TransportConfig::Exec { .. }) {
            return Err("`transport.kind` `exec` runs a command on the Sesame server: such integrations are declared in the server's configuration file, not through the API".into());
        }
    }
    let mut refs = Vec::new();
    secret_refs(v, String::new(), &mut refs);
    let host = v.get("host").and_then(Value::as_str);
    for (at, r) in refs {
        allowed(&r, host, rules).map_err(|m| format!("`{}`: {m}", at.trim_start_matches('.')))?;
    }
    Ok(decl)
}

/// Every secret reference in a declaration, with where it is.
fn secret_refs(v: &Value, at: String, out: &mut Vec<(String, SecretRef)>) {
    match v {
        Value::Object(m) => {
            let kinds = ["env", "file", "aws_secrets_manager", "rds_iam_token"];
            if m.len() == 1 && m.keys().all(|k| kinds.contains(&k.as_str())) {
                if let Ok(r) = serde_json::from_value::<SecretRef>(v.clone()) {
                    out.push((at.clone(), r));
                }
            }
            for (k, x) in m {
                secret_refs(x, format!("{at}.{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                secret_refs(x, format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Whether an integration made through the API may read this secret.
fn allowed(r: &SecretRef, host: Option<&str>, rules: &ApiIntegrations) -> Result<(), String> {
    match r {
        SecretRef::Env(var) => {
            let p = &rules.secret_env_prefix;
            if var.len() > p.len() && var.starts_with(p.as_str()) {
                return Ok(());
            }
            Err(format!("integrations made through the API read only environment variables named `{p}…` (`[api_integrations] secret_env_prefix`), not `{var}`"))
        }
        SecretRef::File(path) => {
            let Some(dir) = &rules.secret_dir else {
                return Err("integrations made through the API read secret files only inside `[api_integrations] secret_dir`, which is not set".into());
            };
            let p = Path::new(path);
            let plain = p.is_absolute() && p.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
            // A link inside the directory must not lead out of it.
            let real = |x: &Path| std::fs::canonicalize(x).unwrap_or_else(|_| x.to_owned());
            if plain && p.starts_with(dir) && real(p).starts_with(real(dir)) {
                return Ok(());
            }
            Err(format!("integrations made through the API read secret files only inside `{}` (`[api_integrations] secret_dir`), not `{path}`", dir.display()))
        }
        SecretRef::AwsSecretsManager(s) => {
            let name = s.secret_id.split_once(":secret:").map_or(s.secret_id.as_str(), |(_, n)| n);
            let p = &rules.aws_secret_prefix;
            if name.starts_with(p.as_str()) && name.len() > p.len() {
                return Ok(());
            }
            Err(format!("integrations made through the API read only AWS secrets named `{p}…` (`[api_integrations] aws_secret_prefix`), not `{}`", s.secret_id))
        }
        SecretRef::RdsIamToken(t) => {
            if host.is_some_and(|h| h.eq_ignore_ascii_case(&t.host)) {
                return Ok(());
            }
            Err(format!("an RDS IAM token is made only for the integration's own `host`, not `{}`", t.host))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn types() -> Vec<IntegrationTypeView> {
        sesame_integrations::registry::Registry::new().config_schemas().into_iter().map(|(type_name, schema)| IntegrationTypeView { type_name, schema }).collect()
    }

    fn rules(dir: Option<&Path>) -> ApiIntegrations {
        ApiIntegrations { secret_dir: dir.map(Path::to_owned), ..Default::default() }
    }

    fn pg(password: Value) -> Value {
        json!({ "type": "postgresql", "name": "pg", "host": "db.internal", "username": "sesame", "password": password })
    }

    #[test]
    fn the_schema_names_the_field_and_the_problem() {
        let e = check(&json!({ "type": "postgresql", "name": "pg", "host": "h", "username": "u", "port": "five" }), &types(), &rules(None)).unwrap_err();
        assert!(e.contains("`port`") && e.contains("integer"), "{e}");
        let e = check(&json!({ "type": "postgresql", "name": "pg", "username": "u" }), &types(), &rules(None)).unwrap_err();
        assert!(e.contains("host"), "{e}");
        let e = check(&json!({ "type": "nosuch", "name": "x" }), &types(), &rules(None)).unwrap_err();
        assert!(e.contains("`nosuch`") && e.contains("postgresql"), "{e}");
        assert!(check(&pg(json!({ "env": "SESAME_SECRET_PG" })), &types(), &rules(None)).is_ok());
        let e = check(&pg(json!("hunter2-literal")), &types(), &rules(None)).unwrap_err();
        assert!(e.contains("`password`") && !e.contains("hunter2"), "a value where a reference belongs is refused without repeating it: {e}");
    }

    #[test]
    fn secrets_of_the_server_are_out_of_reach() {
        let base = std::env::temp_dir().join(format!("sesame-made-{}", uuid::Uuid::new_v4().simple()));
        let dir = base.join("secrets");
        std::fs::create_dir_all(&dir).unwrap();
        let inside = dir.join("pg");
        std::fs::write(&inside, "pw").unwrap();
        let outside = base.join("server-key");
        std::fs::write(&outside, "not for admins").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
        let r = rules(Some(&dir));
        let ok = |p: Value| check(&pg(p), &types(), &r);
        assert!(ok(json!({ "file": inside.display().to_string() })).is_ok());
        for bad in [
            json!({ "env": "HOME" }),
            json!({ "env": "SESAME_SECRET_" }),
            json!({ "file": "/etc/passwd" }),
            json!({ "file": format!("{}/../server-key", dir.display()) }),
            json!({ "file": dir.join("link").display().to_string() }),
            json!({ "file": "pg" }),
            json!({ "aws_secrets_manager": { "secret_id": "prod/db", "region": "eu-west-1" } }),
            json!({ "aws_secrets_manager": { "secret_id": "arn:aws:secretsmanager:eu-west-1:1:secret:prod/sesame/x", "region": "eu-west-1" } }),
            json!({ "rds_iam_token": { "host": "other.internal", "port": 5432, "username": "sesame", "region": "eu-west-1" } }),
            json!({ "aws_secrets_manager": { "secret_id": "sesame/db", "region": "eu-west-1", "identity": { "secret_access_key": { "env": "AWS_SECRET_ACCESS_KEY" } } } }),
        ] {
            let e = ok(bad.clone()).unwrap_err();
            assert!(e.contains("`password"), "{bad}: {e}");
        }
        assert!(check(&pg(json!({ "file": "/etc/passwd" })), &types(), &rules(None)).unwrap_err().contains("not set"));
        assert!(ok(json!({ "aws_secrets_manager": { "secret_id": "arn:aws:secretsmanager:eu-west-1:1:secret:sesame/db-AbCd", "region": "eu-west-1" } })).is_ok());
        assert!(ok(json!({ "rds_iam_token": { "host": "DB.internal", "port": 5432, "username": "sesame", "region": "eu-west-1" } })).is_ok());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn the_readmes_apply_example_reads_and_passes() {
        let readme = include_str!("../../../README.md");
        let start = readme.find("```toml\n# access.toml").expect("the apply example") + "```toml\n".len();
        let len = readme[start..].find("```").expect("its end");
        let d = sesame_proto::Declarations::parse(&readme[start..start + len], sesame_proto::DeclarationFormat::Toml).unwrap();
        assert_eq!((d.integrations.len(), d.connectors.len(), d.groups.len(), d.access_flows.len(), d.access_scopes.len()), (2, 1, 1, 1, 1));
        for i in &d.integrations {
            check(i, &types(), &ApiIntegrations::default()).unwrap_or_else(|e| panic!("{i}: {e}"));
        }
    }

    #[test]
    fn commands_on_the_server_are_declared_in_its_file_only() {
        let exec = json!({ "type": "custom", "name": "c", "resource_types": ["thing"], "transport": { "kind": "exec", "command": ["/bin/sh", "-c", "id"] } });
        let e = check(&exec, &types(), &rules(None)).unwrap_err();
        assert!(e.contains("exec"), "{e}");
    }
}
