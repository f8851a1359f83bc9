//! The seed product's spellings of resource types, so that its queries run
//! unchanged: `resource_type = "aws-account-s3-bucket"` selects Sesame's
//! `s3_bucket` resources of an AWS account integration.

/// (the seed's spelling, integration kind, Sesame's resource type).
pub const ALIASES: [(&str, &str, &str); 34] = [
    ("aws-account-iam-role", "aws-account", "iam_role"),
    ("aws-account-iam-group", "aws-account", "iam_group"),
    ("aws-account-iam-policy", "aws-account", "iam_policy"),
    ("aws-account-s3-bucket", "aws-account", "s3_bucket"),
    ("aws-account-ec2-instance", "aws-account", "ec2_instance"),
    ("aws-account-rds-instance", "aws-account", "rds_instance"),
    ("aws-account-redshift-cluster", "aws-account", "redshift_cluster"),
    ("aws-account-secret", "aws-account", "secret"),
    ("aws-account-sns-topic", "aws-account", "sns_topic"),
    ("aws-account-sqs-queue", "aws-account", "sqs_queue"),
    ("aws-organization-account", "aws-organization", "aws_account"),
    ("aws-organization-organizational-unit", "aws-organization", "aws_ou"),
    ("aws-rds-mysql", "mysql", "database"),
    ("aws-rds-postgresql", "postgresql", "database"),
    ("aws-redshift", "redshift", "database"),
    ("mysql-database", "mysql", "database"),
    ("mysql-table", "mysql", "table"),
    ("mysql-role", "mysql", "role"),
    ("postgresql-database", "postgresql", "database"),
    ("postgresql-schema", "postgresql", "schema"),
    ("postgresql-table", "postgresql", "table"),
    ("postgresql-role", "postgresql", "role"),
    ("aws-rds-postgresql-database", "postgresql", "database"),
    ("aws-rds-postgresql-schema", "postgresql", "schema"),
    ("aws-rds-postgresql-table", "postgresql", "table"),
    ("aws-rds-postgresql-role", "postgresql", "role"),
    ("aws-rds-mysql-database", "mysql", "database"),
    ("aws-rds-mysql-table", "mysql", "table"),
    ("aws-rds-mysql-role", "mysql", "role"),
    ("redshift-database", "redshift", "database"),
    ("redshift-schema", "redshift", "schema"),
    ("redshift-table", "redshift", "table"),
    ("aws-redshift-schema", "redshift", "schema"),
    ("aws-redshift-table", "redshift", "table"),
];

/// What a spelling in a query stands for: an alias names one type of one
/// kind of integration; any other spelling is Sesame's own type name, of any
/// integration.
pub fn meaning(spelling: &str) -> (Option<&'static str>, &str) {
    match ALIASES.iter().find(|(a, _, _)| *a == spelling) {
        Some((_, kind, ty)) => (Some(kind), ty),
        None => (None, spelling),
    }
}

/// Every spelling a resource's type answers to: its own, then the seed's.
pub fn spellings<'a>(kind: &'a str, resource_type: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    std::iter::once(resource_type).chain(ALIASES.iter().filter(move |(_, k, t)| *k == kind && *t == resource_type).map(|(a, _, _)| *a))
}

/// Risk levels in words and in the seed's numbers (`resource_risk_level =
/// "3"` is `"high"`).
pub const RISK_LEVELS: [(&str, &str); 4] = [("low", "1"), ("medium", "2"), ("high", "3"), ("critical", "4")];

/// Every spelling a risk level answers to: its own, then its twin.
pub fn risk_spellings(level: &str) -> impl Iterator<Item = &str> {
    let twin = RISK_LEVELS.iter().find_map(|(w, n)| if *w == level { Some(*n) } else if *n == level { Some(*w) } else { None });
    std::iter::once(level).chain(twin)
}
