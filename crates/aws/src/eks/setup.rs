//! The once-per-cluster setup of EKS access, as documents and commands an
//! administrator applies (`sesame eks setup`), and the commands a grantee
//! runs. Pure: no I/O. Every name is checked against AWS's and
//! Kubernetes' rules before it is written into a policy, YAML or a command
//! line, and every word of a command line is shell-quoted.

use serde_json::{json, Value};
use sesame_integrations::sql::shell_quote as q;

/// The seed's role name and Kubernetes user prefix.
pub const DEFAULT_ROLE: &str = "apono-k8s-access";
pub const DEFAULT_USER_PREFIX: &str = "apono:";

/// How people arrive in the account to assume the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Federation {
    /// IAM Identity Center: `AWSReservedSSO_*` role sessions, whose SAML
    /// subject is the person's e-mail.
    IdentityCenter,
    /// A SAML identity provider registered in the account under this name.
    Saml { provider: String },
}

/// How the cluster maps the role to a Kubernetes user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// EKS API access entries (authentication mode `API` or
    /// `API_AND_CONFIG_MAP`): username `PREFIX{{SessionName}}`.
    AccessEntry,
    /// The `aws-auth` ConfigMap's `mapRoles`: username `{{SessionNameRaw}}`.
    ConfigMap,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub account: String,
    pub cluster: String,
    pub region: String,
    pub role: String,
    pub federation: Federation,
    pub mapping: Mapping,
    pub user_prefix: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct SetupError(pub String);

fn check(ok: bool, what: &str, value: &str, rule: &str) -> Result<(), SetupError> {
    if ok {
        Ok(())
    } else {
        Err(SetupError(format!("{what} `{}` is not valid: {rule}", value.escape_debug())))
    }
}

fn all(s: &str, f: impl Fn(char) -> bool) -> bool {
    s.chars().all(f)
}

impl Setup {
    /// Check every name against its rules.
    pub fn checked(self) -> Result<Setup, SetupError> {
        let a = &self.account;
        check(a.len() == 12 && all(a, |c| c.is_ascii_digit()), "the account", a, "12 digits")?;
        let c = &self.cluster;
        check(
            (1..=100).contains(&c.len()) && c.starts_with(|x: char| x.is_ascii_alphanumeric()) && all(c, |x| x.is_ascii_alphanumeric() || x == '-' || x == '_'),
            "the cluster name",
            c,
            "1 to 100 letters, digits, `-` and `_`, starting with a letter or digit (EKS's rule)",
        )?;
        let r = &self.region;
        check(
            (1..=32).contains(&r.len()) && all(r, |x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '-'),
            "the region",
            r,
            "lower-case letters, digits and `-`, e.g. `eu-west-1`",
        )?;
        let n = &self.role;
        check((1..=64).contains(&n.len()) && all(n, |x| x.is_ascii_alphanumeric() || "+=,.@_-".contains(x)), "the role name", n, "1 to 64 letters, digits and `+=,.@_-` (IAM's rule)")?;
        if let Federation::Saml { provider } = &self.federation {
            check(
                (1..=128).contains(&provider.len()) && all(provider, |x| x.is_ascii_alphanumeric() || "._-".contains(x)),
                "the SAML provider name",
                provider,
                "1 to 128 letters, digits and `._-` (IAM's rule)",
            )?;
        }
        let p = &self.user_prefix;
        check(
            p.len() <= 32 && all(p, |x| x.is_ascii_alphanumeric() || ":._-".contains(x)),
            "the Kubernetes user prefix",
            p,
            "at most 32 letters, digits and `:._-` (the seed's is `apono:`)",
        )?;
        // Kubernetes and EKS keep these user names for themselves.
        let reserved = ["system:", "eks:", "aws:", "amazon:"].iter().find(|r| p.to_ascii_lowercase().starts_with(*r));
        check(reserved.is_none(), "the Kubernetes user prefix", p, "it must not start with `system:`, `eks:`, `aws:` or `amazon:` (reserved by Kubernetes and EKS)")?;
        Ok(self)
    }

    pub fn role_arn(&self) -> String {
        format!("arn:aws:iam::{}:role/{}", self.account, self.role)
    }

    /// The role's permissions: describing the account's clusters (what
    /// `aws eks update-kubeconfig` and authentication need).
    pub fn permissions_policy(&self) -> Value {
        json!({ "Version": "2012-10-17", "Statement": [{
            "Sid": "DescribeClusters",
            "Effect": "Allow",
            "Action": "eks:DescribeCluster",
            "Resource": format!("arn:aws:eks:*:{}:cluster/*", self.account),
        }]})
    }

    /// Who may assume the role, and only under their own name: the session
    /// name must be the person's SAML subject (their e-mail).
    pub fn trust_policy(&self) -> Value {
        let account = &self.account;
        match &self.federation {
            // The seed names `"AWS": "*"` and narrows it by the principal's
            // ARN; the account itself is the same set, said directly.
            Federation::IdentityCenter => json!({ "Version": "2012-10-17", "Statement": [{
                "Sid": "IdentityCenterUsersUnderTheirOwnName",
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEqualsIgnoreCase": { "sts:RoleSessionName": "${SAML:sub}" },
                    "ArnLike": { "aws:PrincipalArn": [
                        format!("arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_*"),
                        format!("arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_*"),
                    ]},
                },
            }]}),
            Federation::Saml { provider } => json!({ "Version": "2012-10-17", "Statement": [{
                "Sid": "SamlFederation",
                "Effect": "Allow",
                "Principal": { "Federated": format!("arn:aws:iam::{account}:saml-provider/{provider}") },
                "Action": "sts:AssumeRoleWithSAML",
                "Condition": { "StringEquals": { "SAML:aud": "https://signin.aws.amazon.com/saml" } },
            }]}),
        }
    }

    /// The Kubernetes user a grantee is inside the cluster, as the mapping
    /// writes it (`{{SessionName}}` is the session name with `@` kept;
    /// EKS's access entries expand it, `aws-auth` expands `{{SessionNameRaw}}`).
    pub fn username_template(&self) -> String {
        match self.mapping {
            Mapping::AccessEntry => format!("{}{{{{SessionName}}}}", self.user_prefix),
            Mapping::ConfigMap => "{{SessionNameRaw}}".into(),
        }
    }

    /// The Kubernetes user name of `email` in this cluster: the subject of
    /// the RBAC bindings a grant makes.
    pub fn kubernetes_user(&self, email: &str) -> String {
        match self.mapping {
            Mapping::AccessEntry => format!("{}{email}", self.user_prefix),
            Mapping::ConfigMap => email.to_owned(),
        }
    }

    /// The cluster's side of the mapping: the `mapRoles` entry to add to
    /// `aws-auth`, or the access entry to create (cluster scope, no access
    /// policy: RBAC decides).
    pub fn mapping(&self) -> String {
        match self.mapping {
            Mapping::ConfigMap => format!("- rolearn: {}\n  username: \"{}\"\n", self.role_arn(), self.username_template()),
            Mapping::AccessEntry => format!(
                "aws eks create-access-entry --region {} --cluster-name {} --principal-arn {} --username {} --type STANDARD\n",
                q(&self.region),
                q(&self.cluster),
                q(&self.role_arn()),
                q(&self.username_template())
            ),
        }
    }

    /// What a grantee runs to reach the cluster: assume the role under
    /// their e-mail (or a profile that does), then write the kubeconfig.
    pub fn grantee_commands(&self, email: &str) -> Result<GranteeCommands, SetupError> {
        check_session_name(email)?;
        let profile = format!("[profile {}]\nrole_arn = {}\nrole_session_name = {email}\nsource_profile = default\n", self.role, self.role_arn());
        Ok(GranteeCommands {
            assume_role: format!("aws sts assume-role --role-arn {} --role-session-name {} --duration-seconds 3600", q(&self.role_arn()), q(email)),
            profile,
            update_kubeconfig: format!("aws eks update-kubeconfig --region {} --name {} --profile {}", q(&self.region), q(&self.cluster), q(&self.role)),
        })
    }
}

/// The e-mail as a role session name (2 to 64 characters of `\w+=,.@-`
/// for STS); it is also a line of an INI file and a Kubernetes user name.
pub fn check_session_name(email: &str) -> Result<(), SetupError> {
    check(
        (2..=64).contains(&email.len()) && all(email, |x| x.is_ascii_alphanumeric() || "+=,.@_-".contains(x)),
        "the e-mail",
        email,
        "2 to 64 letters, digits and `+=,.@_-` (STS's rule for a session name)",
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GranteeCommands {
    pub assume_role: String,
    pub profile: String,
    pub update_kubeconfig: String,
}

/// Everything `sesame eks setup` prints, in the order it is applied.
pub fn render(s: &Setup) -> String {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let (mapping_title, mapping_how) = match s.mapping {
        Mapping::AccessEntry => ("3. The cluster: an access entry for the role (authentication mode API or API_AND_CONFIG_MAP, cluster scope, no access policy: RBAC bindings decide)", "run as a cluster admin:"),
        Mapping::ConfigMap => ("3. The cluster: a mapRoles entry in the aws-auth ConfigMap (kube-system)", "add as a cluster admin (kubectl edit -n kube-system configmap/aws-auth):"),
    };
    let how = match &s.federation {
        Federation::IdentityCenter => "IAM Identity Center users, each under their own e-mail as the session name",
        Federation::Saml { .. } => "people signed in through the SAML provider",
    };
    format!(
        "1. IAM policy (attach to the role):\n{}\n\n2. IAM role `{}` ({how}), its trust policy:\n{}\n\n{mapping_title}; {mapping_how}\n{}\nInside the cluster a grantee is the Kubernetes user `{}`: RBAC bindings for that user decide what they may do.\n",
        pretty(&s.permissions_policy()),
        s.role,
        pretty(&s.trust_policy()),
        s.mapping(),
        s.kubernetes_user("EMAIL"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn setup(mapping: Mapping, federation: Federation) -> Setup {
        Setup {
            account: "123456789012".into(),
            cluster: "prod-eu".into(),
            region: "eu-west-1".into(),
            role: DEFAULT_ROLE.into(),
            federation,
            mapping,
            user_prefix: DEFAULT_USER_PREFIX.into(),
        }
        .checked()
        .unwrap()
    }

    #[test]
    fn the_seeds_documents_with_the_names_filled_in() {
        let s = setup(Mapping::ConfigMap, Federation::IdentityCenter);
        assert_eq!(s.permissions_policy()["Statement"][0]["Resource"], "arn:aws:eks:*:123456789012:cluster/*");
        assert_eq!(s.permissions_policy()["Statement"][0]["Action"], "eks:DescribeCluster");
        let t = s.trust_policy();
        assert_eq!(t["Statement"][0]["Condition"]["StringEqualsIgnoreCase"]["sts:RoleSessionName"], "${SAML:sub}");
        assert_eq!(t["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::123456789012:root");
        assert_eq!(s.mapping(), "- rolearn: arn:aws:iam::123456789012:role/apono-k8s-access\n  username: \"{{SessionNameRaw}}\"\n");
        assert_eq!(s.kubernetes_user("ann@example.com"), "ann@example.com");
        let saml = setup(Mapping::AccessEntry, Federation::Saml { provider: "okta".into() });
        assert_eq!(saml.trust_policy()["Statement"][0]["Principal"]["Federated"], "arn:aws:iam::123456789012:saml-provider/okta");
        assert_eq!(saml.trust_policy()["Statement"][0]["Action"], "sts:AssumeRoleWithSAML");
        assert_eq!(saml.username_template(), "apono:{{SessionName}}");
        assert_eq!(saml.kubernetes_user("ann@example.com"), "apono:ann@example.com");
        assert_eq!(
            saml.mapping(),
            "aws eks create-access-entry --region eu-west-1 --cluster-name prod-eu --principal-arn arn:aws:iam::123456789012:role/apono-k8s-access --username 'apono:{{SessionName}}' --type STANDARD\n"
        );
        let text = render(&saml);
        for part in ["eks:DescribeCluster", "AssumeRoleWithSAML", "create-access-entry", "apono:EMAIL"] {
            assert!(text.contains(part), "{part} in {text}");
        }
    }

    #[test]
    fn a_grantee_is_told_the_seeds_commands_with_their_email_checked_and_quoted() {
        let s = setup(Mapping::AccessEntry, Federation::IdentityCenter);
        let c = s.grantee_commands("ann+eks@example.com").unwrap();
        assert!(s.grantee_commands("o'brien@example.com").is_err(), "STS takes no apostrophe in a session name");
        assert!(s.grantee_commands("ann@example.com\n[profile admin]").is_err(), "no line of its own in the profile");
        assert!(s.grantee_commands("ann smith@example.com").is_err());
        assert_eq!(
            c.assume_role,
            "aws sts assume-role --role-arn arn:aws:iam::123456789012:role/apono-k8s-access --role-session-name 'ann+eks@example.com' --duration-seconds 3600"
        );
        assert!(c.profile.contains("role_session_name = ann+eks@example.com\n"), "{}", c.profile);
        assert_eq!(c.update_kubeconfig, "aws eks update-kubeconfig --region eu-west-1 --name prod-eu --profile apono-k8s-access");
    }

    #[test]
    fn hostile_names_are_refused_before_they_reach_a_document_or_a_command() {
        let base = setup(Mapping::AccessEntry, Federation::IdentityCenter);
        let bad = [
            Setup { account: "12345678901*".into(), ..base.clone() },
            Setup { cluster: "prod;rm -rf /".into(), ..base.clone() },
            Setup { cluster: "-prod".into(), ..base.clone() },
            Setup { region: "eu-west-1\"}".into(), ..base.clone() },
            Setup { role: "role/../admin".into(), ..base.clone() },
            Setup { role: "x".repeat(65), ..base.clone() },
            Setup { federation: Federation::Saml { provider: "okta\nusername: admin".into() }, ..base.clone() },
            Setup { user_prefix: "{{SessionName}}".into(), ..base.clone() },
            Setup { user_prefix: "system:masters ".into(), ..base.clone() },
            Setup { user_prefix: "system:".into(), ..base.clone() },
            Setup { user_prefix: "EKS:".into(), ..base.clone() },
        ];
        for s in bad {
            let what = format!("{s:?}");
            assert!(s.checked().is_err(), "refused: {what}");
        }
    }
}
