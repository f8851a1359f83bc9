//! Trust policies of per-grant roles: only the grantee's federated principal
//! may assume the role, with `sts:SourceIdentity` bound to the grantee, and
//! only until the deadline.

use crate::time::{rfc3339, Timestamp};
use serde_json::{json, Value};

/// How the account's people sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Federation {
    /// IAM Identity Center: people arrive as `AWSReservedSSO_*` role sessions
    /// named after their user name.
    IdentityCenter,
    /// A SAML identity provider whose `NameID` is the grantee's e-mail.
    Saml { provider_arn: String },
}

/// The trust policy of a per-grant role for `grantee` (as the identity
/// provider names them) in `account`.
pub fn trust_policy(f: &Federation, account: &str, grantee: &str, deadline: Timestamp) -> Value {
    let until = json!({ "aws:CurrentTime": rfc3339(deadline) });
    let statement = match f {
        Federation::IdentityCenter => json!({
            "Sid": "SesameGrantee",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
            "Condition": {
                "ArnLike": { "aws:PrincipalArn": format!("arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/*") },
                "StringLike": { "aws:userid": format!("*:{grantee}") },
                "StringEquals": { "sts:SourceIdentity": grantee },
                "DateLessThan": until,
            }
        }),
        Federation::Saml { provider_arn } => {
            // SAML keys apply to AssumeRoleWithSAML only; the source identity
            // is bound in a statement of its own.
            return json!({ "Version": "2012-10-17", "Statement": [
                {
                    "Sid": "SesameGrantee",
                    "Effect": "Allow",
                    "Principal": { "Federated": provider_arn },
                    "Action": "sts:AssumeRoleWithSAML",
                    "Condition": {
                        "StringEquals": { "SAML:aud": "https://signin.aws.amazon.com/saml", "SAML:sub": grantee },
                        "DateLessThan": until.clone(),
                    }
                },
                {
                    "Sid": "SesameSourceIdentity",
                    "Effect": "Allow",
                    "Principal": { "Federated": provider_arn },
                    "Action": "sts:SetSourceIdentity",
                    "Condition": {
                        "StringEquals": { "sts:SourceIdentity": grantee },
                        "DateLessThan": until,
                    }
                }
            ]});
        }
    };
    json!({ "Version": "2012-10-17", "Statement": [statement] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_grantee_and_only_until_the_deadline() {
        let t = trust_policy(&Federation::IdentityCenter, "123456789012", "alice@example.com", Timestamp(1_795_687_200_000));
        let s = &t["Statement"][0];
        assert_eq!(s["Condition"]["StringEquals"]["sts:SourceIdentity"], "alice@example.com");
        assert_eq!(s["Condition"]["StringLike"]["aws:userid"], "*:alice@example.com");
        assert_eq!(s["Condition"]["DateLessThan"]["aws:CurrentTime"], "2026-11-26T10:00:00Z");
        let saml = trust_policy(&Federation::Saml { provider_arn: "arn:aws:iam::1:saml-provider/okta".into() }, "1", "bob@example.com", Timestamp(0));
        assert_eq!(saml["Statement"][0]["Principal"]["Federated"], "arn:aws:iam::1:saml-provider/okta");
        assert_eq!(saml["Statement"][0]["Condition"]["StringEquals"]["SAML:sub"], "bob@example.com");
        assert_eq!(saml["Statement"][1]["Condition"]["StringEquals"]["sts:SourceIdentity"], "bob@example.com");
    }
}
