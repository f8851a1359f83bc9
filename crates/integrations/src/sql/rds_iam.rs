//! RDS IAM database authentication: what a grantee's AWS identity needs to
//! connect as a database user (both RDS MySQL and RDS PostgreSQL).

/// The `rds-db:connect` resource of one database user on one instance.
pub fn dbuser_arn(region: &str, account_id: &str, dbi_resource_id: &str, db_user: &str) -> String {
    format!("arn:aws:rds-db:{region}:{account_id}:dbuser:{dbi_resource_id}/{db_user}")
}

/// IAM policy letting its holder connect as `db_user`, until `deadline`
/// (RFC 3339) even if Sesame is down.
pub fn connect_policy(region: &str, account_id: &str, dbi_resource_id: &str, db_user: &str, deadline: &str) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "SesameRdsIamConnect",
            "Effect": "Allow",
            "Action": "rds-db:connect",
            "Resource": dbuser_arn(region, account_id, dbi_resource_id, db_user),
            "Condition": { "DateLessThan": { "aws:CurrentTime": deadline } }
        }]
    })
}

/// The shell command that prints a fresh IAM token; every value is quoted.
pub fn token_command(host: &str, port: u16, region: &str, user: &str) -> String {
    use super::shell_quote as q;
    format!("aws rds generate-db-auth-token --hostname {} --port {port} --region {} --username {}", q(host), q(region), q(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_exactly_one_user_and_expires() {
        let pol = connect_policy("eu-west-1", "123456789012", "db-ABCDEFG", "sesame_a_1", "2026-11-26T10:00:00Z");
        let st = &pol["Statement"][0];
        assert_eq!(st["Action"], "rds-db:connect");
        assert_eq!(st["Resource"], "arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABCDEFG/sesame_a_1");
        assert_eq!(st["Condition"]["DateLessThan"]["aws:CurrentTime"], "2026-11-26T10:00:00Z");
        assert!(!pol.to_string().contains('*'), "no wildcards");
    }

    /// Runs `command` in a POSIX shell where `aws`, `psql` and `mysql` only
    /// print their arguments, one per line: what the grantee's shell would pass.
    pub fn argv_of(command: &str) -> Vec<String> {
        let script = format!("aws() {{ printf '%s\\n' \"$@\"; }}; psql() {{ printf '%s\\n' \"$@\"; }}; mysql() {{ printf '%s\\n' \"$@\"; }}; {command}");
        let out = std::process::Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
    }

    #[test]
    fn hostile_values_stay_single_words() {
        let canary = std::env::temp_dir().join(format!("sesame-shell-{}", std::process::id()));
        let host = format!("db.example.com; touch {}", canary.display());
        let cmd = token_command(&host, 5432, "eu-west-1$(id)", "o'brien `x`");
        let argv = argv_of(&cmd);
        assert_eq!(argv, ["rds", "generate-db-auth-token", "--hostname", &host, "--port", "5432", "--region", "eu-west-1$(id)", "--username", "o'brien `x`"]);
        assert!(!canary.exists(), "the shell ran part of a value");
    }
}
