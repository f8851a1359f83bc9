//! `sesame eks check`: each piece of the account's side of the setup,
//! checked through the SDK and named when missing or different, with what
//! to do about it.

use super::apply::POLICY_NAME;
use super::setup::{Federation, Setup};
use crate::account::sdk_err;
use aws_sdk_iam::error::ProvideErrorMetadata;
use serde_json::Value;
use sesame_integrations::IntegrationError;

/// One piece: whether it is right, and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub ok: bool,
    pub what: String,
}

fn decode(raw: &str) -> Value {
    serde_json::from_str(&percent_encoding::percent_decode_str(raw).decode_utf8_lossy()).unwrap_or(Value::Null)
}

fn statements(doc: &Value) -> Vec<&Value> {
    match &doc["Statement"] {
        Value::Array(a) => a.iter().collect(),
        s @ Value::Object(_) => vec![s],
        _ => vec![],
    }
}

fn names(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Array(a) => a.iter().any(|x| x == want),
        _ => false,
    }
}

/// Whether `trust` lets in who `s` says, the way the setup writes it.
fn trust_is_right(trust: &Value, s: &Setup) -> bool {
    statements(trust).iter().any(|st| {
        st["Effect"] == "Allow"
            && match &s.federation {
                Federation::IdentityCenter => {
                    names(&st["Action"], "sts:AssumeRole")
                        && st["Condition"]["StringEqualsIgnoreCase"]["sts:RoleSessionName"] == "${SAML:sub}"
                        && st["Condition"]["ArnLike"]["aws:PrincipalArn"].to_string().contains("AWSReservedSSO_")
                }
                Federation::Saml { provider } => {
                    names(&st["Action"], "sts:AssumeRoleWithSAML") && names(&st["Principal"]["Federated"], &format!("arn:aws:iam::{}:saml-provider/{provider}", s.account))
                }
            }
    })
}

fn allows_describe(doc: &Value, account: &str) -> bool {
    statements(doc).iter().any(|st| {
        st["Effect"] == "Allow"
            && (names(&st["Action"], "eks:DescribeCluster") || names(&st["Action"], "eks:*"))
            && (names(&st["Resource"], &format!("arn:aws:eks:*:{account}:cluster/*")) || names(&st["Resource"], "*"))
    })
}

/// The role, its trust and its permissions (an inline policy, or a managed
/// one attached as the seed does it).
pub async fn check(s: &Setup, iam: &aws_sdk_iam::Client) -> Result<Vec<Finding>, IntegrationError> {
    let fix = "run `sesame eks setup ... --apply` (or apply what `sesame eks setup` prints)";
    let role = match iam.get_role().role_name(&s.role).send().await {
        Ok(r) => r,
        Err(e) if e.as_service_error().and_then(|x| x.code()) == Some("NoSuchEntity") => {
            return Ok(vec![Finding { ok: false, what: format!("role `{}` is missing from account {}: {fix}", s.role, s.account) }]);
        }
        Err(e) => return Err(sdk_err("cannot read the role", e)),
    };
    let mut out = vec![Finding { ok: true, what: format!("role `{}` exists", s.role) }];
    let trust = role.role().and_then(|r| r.assume_role_policy_document()).map(decode).unwrap_or(Value::Null);
    let who = match &s.federation {
        Federation::IdentityCenter => "IAM Identity Center users under their own e-mail".to_owned(),
        Federation::Saml { provider } => format!("people signed in through SAML provider `{provider}`"),
    };
    out.push(match trust_is_right(&trust, s) {
        true => Finding { ok: true, what: format!("its trust policy lets in {who}") },
        false => Finding { ok: false, what: format!("its trust policy does not let in {who}: {fix}") },
    });
    let mut describes = match iam.get_role_policy().role_name(&s.role).policy_name(POLICY_NAME).send().await {
        Ok(p) => allows_describe(&decode(p.policy_document()), &s.account),
        Err(e) if e.as_service_error().and_then(|x| x.code()) == Some("NoSuchEntity") => false,
        Err(e) => return Err(sdk_err("cannot read the role's policy", e)),
    };
    if !describes {
        let attached = iam.list_attached_role_policies().role_name(&s.role).send().await.map_err(|e| sdk_err("cannot list the role's policies", e))?;
        for p in attached.attached_policies() {
            let Some(arn) = p.policy_arn() else { continue };
            let policy = iam.get_policy().policy_arn(arn).send().await.map_err(|e| sdk_err("cannot read an attached policy", e))?;
            let Some(version) = policy.policy().and_then(|p| p.default_version_id()) else { continue };
            let v = iam.get_policy_version().policy_arn(arn).version_id(version).send().await.map_err(|e| sdk_err("cannot read an attached policy", e))?;
            if v.policy_version().and_then(|v| v.document()).map(decode).is_some_and(|d| allows_describe(&d, &s.account)) {
                describes = true;
                break;
            }
        }
    }
    out.push(match describes {
        true => Finding { ok: true, what: "it may describe the account's clusters (eks:DescribeCluster)".into() },
        false => Finding { ok: false, what: format!("no policy on it allows eks:DescribeCluster on arn:aws:eks:*:{}:cluster/*: {fix}", s.account) },
    });
    Ok(out)
}

/// [`check`] with the default credential chain (or `profile`), at
/// `endpoint` when given.
pub async fn check_account(s: &Setup, endpoint: Option<&str>, profile: Option<&str>) -> Result<Vec<Finding>, IntegrationError> {
    let sdk = crate::sdk_config(&s.region, endpoint, profile).await;
    check(s, &aws_sdk_iam::Client::new(&sdk)).await
}
