//! `sesame eks check`: each piece of the setup — the account's side, and
//! the cluster's access entry through the EKS API — checked through the SDK
//! and named when missing or different, with what to do about it.

use super::apply::POLICY_NAME;
use super::setup::{Federation, Mapping, Setup};
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

/// The cluster's side through the EKS API, for access entries: the cluster
/// authenticates through the EKS API, and the role has its access entry
/// with the username the setup gives. (An `aws-auth` mapping lives inside
/// the cluster: reading it needs the cluster's own API.)
pub async fn check_cluster(s: &Setup, eks: &aws_sdk_eks::Client) -> Result<Vec<Finding>, IntegrationError> {
    if s.mapping != Mapping::AccessEntry {
        return Ok(vec![]);
    }
    let fix = format!("as a cluster admin, run: {}", s.mapping().trim_end());
    let cluster = match eks.describe_cluster().name(&s.cluster).send().await {
        Ok(c) => c,
        Err(e) if e.as_service_error().and_then(|x| x.code()) == Some("ResourceNotFoundException") => {
            return Ok(vec![Finding { ok: false, what: format!("cluster `{}` is not in {} of account {}: check --cluster and --region", s.cluster, s.region, s.account) }]);
        }
        Err(e) => return Err(sdk_err("cannot describe the cluster", e)),
    };
    let mode = cluster.cluster().and_then(|c| c.access_config()).and_then(|a| a.authentication_mode()).map(|m| m.as_str().to_owned()).unwrap_or_default();
    let mut out = vec![match mode.as_str() {
        "API" | "API_AND_CONFIG_MAP" => Finding { ok: true, what: format!("cluster `{}` authenticates through the EKS API ({mode})", s.cluster) },
        other => Finding {
            ok: false,
            what: format!(
                "cluster `{}` authenticates through {}: access entries need API or API_AND_CONFIG_MAP (aws eks update-cluster-config --name {} --access-config authenticationMode=API_AND_CONFIG_MAP), or use --auth config-map",
                s.cluster,
                if other.is_empty() { "the aws-auth ConfigMap only" } else { other },
                s.cluster
            ),
        },
    }];
    let entry = match eks.describe_access_entry().cluster_name(&s.cluster).principal_arn(s.role_arn()).send().await {
        Ok(e) => e.access_entry().cloned(),
        Err(e) if e.as_service_error().and_then(|x| x.code()) == Some("ResourceNotFoundException") => None,
        Err(e) => return Err(sdk_err("cannot read the role's access entry", e)),
    };
    out.push(match entry.as_ref().map(|e| e.username().unwrap_or_default().to_owned()) {
        None => Finding { ok: false, what: format!("role `{}` has no access entry in cluster `{}`: {fix}", s.role, s.cluster) },
        Some(u) if u == s.username_template() => Finding { ok: true, what: format!("its access entry maps it to the Kubernetes user `{u}`") },
        Some(u) => Finding { ok: false, what: format!("its access entry maps it to `{u}`, not `{}`: delete the entry and {fix}", s.username_template()) },
    });
    Ok(out)
}

/// One `mapRoles` entry of the `aws-auth` ConfigMap.
#[derive(serde::Deserialize)]
struct MapRole {
    rolearn: Option<String>,
    username: Option<String>,
}

/// The cluster's side for the `aws-auth` mapping, from the ConfigMap's
/// `mapRoles` (`None`: no ConfigMap, or no `mapRoles` in it): the role's
/// entry, with the username `{{SessionNameRaw}}`.
pub fn check_map_roles(s: &Setup, map_roles: Option<&str>) -> Vec<Finding> {
    let fix = format!("as a cluster admin, add to mapRoles (kubectl edit -n kube-system configmap/aws-auth):\n{}", s.mapping().trim_end());
    let Some(yaml) = map_roles else {
        return vec![Finding { ok: false, what: format!("the cluster has no aws-auth ConfigMap with mapRoles in kube-system: {fix}") }];
    };
    let entries: Vec<MapRole> = match serde_saphyr::from_str(yaml) {
        Ok(e) => e,
        Err(e) => return vec![Finding { ok: false, what: format!("aws-auth's mapRoles is not a YAML list of entries ({e}): fix it, then {fix}") }],
    };
    let arn = s.role_arn();
    let want = s.username_template();
    let mine: Vec<&MapRole> = entries.iter().filter(|e| e.rolearn.as_deref() == Some(arn.as_str())).collect();
    vec![match mine.iter().find_map(|e| e.username.as_deref()) {
        None if mine.is_empty() => Finding { ok: false, what: format!("aws-auth's mapRoles has no entry for `{arn}`: {fix}") },
        Some(u) if u == want => Finding { ok: true, what: format!("aws-auth maps `{arn}` to the Kubernetes user `{u}`") },
        found => Finding { ok: false, what: format!("aws-auth maps `{arn}` to `{}`, not `{want}`: change the entry's username ({fix})", found.unwrap_or("no username")) },
    }]
}

/// [`check_map_roles`] on the cluster's own ConfigMap, read through its API.
pub async fn check_config_map(s: &Setup, cluster: &super::cluster::Cluster) -> Result<Vec<Finding>, IntegrationError> {
    Ok(check_map_roles(s, cluster.aws_auth_map_roles().await?.as_deref()))
}

/// [`check`] (and, for access entries, [`check_cluster`]) with the default
/// credential chain (or `profile`), at `endpoint` when given (`eks_endpoint`
/// for the EKS API alone).
pub async fn check_account(s: &Setup, endpoint: Option<&str>, eks_endpoint: Option<&str>, profile: Option<&str>) -> Result<Vec<Finding>, IntegrationError> {
    let sdk = crate::sdk_config(&s.region, endpoint, profile).await;
    let mut out = check(s, &aws_sdk_iam::Client::new(&sdk)).await?;
    let mut eks = aws_sdk_eks::config::Builder::from(&sdk);
    if let Some(u) = eks_endpoint {
        eks = eks.endpoint_url(u);
    }
    out.extend(check_cluster(s, &aws_sdk_eks::Client::from_conf(eks.build())).await?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn setup() -> Setup {
        Setup {
            account: "123456789012".into(),
            cluster: "prod-eu".into(),
            region: "eu-west-1".into(),
            role: "apono-k8s-access".into(),
            federation: Federation::IdentityCenter,
            mapping: Mapping::ConfigMap,
            user_prefix: "apono:".into(),
        }
    }

    #[test]
    fn the_map_roles_entry_is_found_or_named() {
        let s = setup();
        let one = |y: Option<&str>| {
            let f = check_map_roles(&s, y);
            assert_eq!(f.len(), 1);
            (f[0].ok, f[0].what.clone())
        };
        let (ok, what) = one(None);
        assert!(!ok && what.contains("no aws-auth ConfigMap") && what.contains("username: \"{{SessionNameRaw}}\""), "{what}");
        let (ok, what) = one(Some("not: [a list"));
        assert!(!ok && what.contains("not a YAML list"), "{what}");
        let (ok, what) = one(Some("- rolearn: arn:aws:iam::123456789012:role/other\n  username: x\n"));
        assert!(!ok && what.contains("has no entry for `arn:aws:iam::123456789012:role/apono-k8s-access`"), "{what}");
        let (ok, what) = one(Some("- rolearn: arn:aws:iam::123456789012:role/apono-k8s-access\n  groups: [a]\n"));
        assert!(!ok && what.contains("to `no username`"), "{what}");
        let (ok, what) = one(Some("- rolearn: arn:aws:iam::123456789012:role/apono-k8s-access\n  username: '{{SessionName}}'\n"));
        assert!(!ok && what.contains("to `{{SessionName}}`, not `{{SessionNameRaw}}`"), "{what}");
        let (ok, what) = one(Some("- rolearn: arn:aws:iam::123456789012:role/apono-k8s-access\n  username: \"{{SessionNameRaw}}\"\n  groups: []\n"));
        assert!(ok, "{what}");
        // A role of another account with the same name is not this one.
        let (ok, _) = one(Some("- rolearn: arn:aws:iam::999999999999:role/apono-k8s-access\n  username: \"{{SessionNameRaw}}\"\n"));
        assert!(!ok);
    }
}
