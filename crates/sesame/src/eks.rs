//! `sesame eks setup`: print what an administrator puts in place once for
//! EKS access (the IAM policy, the role's trust policy, the cluster's
//! mapping), from `sesame_aws::eks::setup`.

use clap::{Args, Subcommand, ValueEnum};
use sesame_aws::eks::setup::{render, Federation, Mapping, Setup, DEFAULT_ROLE, DEFAULT_USER_PREFIX};

#[derive(Subcommand)]
pub enum EksCmd {
    /// Print the IAM policy, the role's trust policy and the cluster's
    /// mapping (an access entry or the aws-auth mapRoles entry), names
    /// checked and command words quoted.
    Setup(SetupArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Auth {
    /// EKS API access entries (username PREFIX{{SessionName}}).
    AccessEntry,
    /// The aws-auth ConfigMap's mapRoles (username {{SessionNameRaw}}).
    ConfigMap,
}

#[derive(Args)]
pub struct SetupArgs {
    /// The AWS account the cluster is in (12 digits).
    #[arg(long)]
    account: String,
    /// The cluster's name.
    #[arg(long)]
    cluster: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// The IAM role people assume.
    #[arg(long, default_value = DEFAULT_ROLE)]
    role_name: String,
    #[arg(long, value_enum, default_value = "access-entry")]
    auth: Auth,
    /// People arrive through this SAML provider (its name in IAM) instead
    /// of IAM Identity Center.
    #[arg(long)]
    saml_provider: Option<String>,
    /// The Kubernetes user name's prefix in access entries.
    #[arg(long, default_value = DEFAULT_USER_PREFIX)]
    username_prefix: String,
    /// Also create (or bring up to date) the role, its trust policy and its
    /// permissions in the account, with the default AWS credentials.
    #[arg(long)]
    apply: bool,
    /// The AWS endpoint (e.g. a local emulator).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// The AWS profile to use.
    #[arg(long)]
    profile: Option<String>,
}

pub async fn run(cmd: EksCmd) -> anyhow::Result<()> {
    match cmd {
        EksCmd::Setup(a) => {
            let (apply, endpoint, profile) = (a.apply, a.endpoint_url.clone(), a.profile.clone());
            let s = Setup {
                account: a.account,
                cluster: a.cluster,
                region: a.region,
                role: a.role_name,
                federation: a.saml_provider.map_or(Federation::IdentityCenter, |provider| Federation::Saml { provider }),
                mapping: match a.auth {
                    Auth::AccessEntry => Mapping::AccessEntry,
                    Auth::ConfigMap => Mapping::ConfigMap,
                },
                user_prefix: a.username_prefix,
            }
            .checked()?;
            print!("{}", render(&s));
            if apply {
                let done = sesame_aws::eks::apply::apply_to_account(&s, endpoint.as_deref(), profile.as_deref()).await?;
                println!("\nApplied in account {}:", s.account);
                for line in done {
                    println!("- {line}");
                }
                println!("The cluster's side (step 3) is for a cluster admin to apply.");
            }
            Ok(())
        }
    }
}
