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

/// The shell command that connects with a fresh IAM token.
pub fn token_command(host: &str, port: u16, region: &str, user: &str) -> String {
    format!("aws rds generate-db-auth-token --hostname {host} --port {port} --region {region} --username {user}")
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
}
