//! `sesame eks setup` and `sesame eks check`: the once-per-cluster setup of
//! EKS access (the IAM policy, the role's trust policy, the cluster's
//! mapping), printed, applied in the account, and checked, from
//! `sesame_aws::eks`.

use clap::{Args, Subcommand, ValueEnum};
use sesame_aws::eks::setup::{render, Federation, Mapping, Setup, DEFAULT_ROLE, DEFAULT_USER_PREFIX};

#[derive(Subcommand)]
pub enum EksCmd {
    /// Print the IAM policy, the role's trust policy and the cluster's
    /// mapping (an access entry or the aws-auth mapRoles entry), names
    /// checked and command words quoted; `--apply` also makes the role.
    Setup {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Also create (or bring up to date) the role, its trust policy and
        /// its permissions in the account, with the default AWS credentials.
        #[arg(long)]
        apply: bool,
    },
    /// Check the account's side of the setup, naming what is missing.
    Check {
        #[command(flatten)]
        cluster: ClusterArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Auth {
    /// EKS API access entries (username PREFIX{{SessionName}}).
    AccessEntry,
    /// The aws-auth ConfigMap's mapRoles (username {{SessionNameRaw}}).
    ConfigMap,
}

#[derive(Args)]
pub struct ClusterArgs {
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
    /// The AWS endpoint (e.g. a local emulator).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// The EKS API endpoint alone (e.g. a local stand-in).
    #[arg(long)]
    eks_endpoint_url: Option<String>,
    /// The AWS profile to use.
    #[arg(long)]
    profile: Option<String>,
}

impl ClusterArgs {
    fn setup(&self) -> anyhow::Result<Setup> {
        Ok(Setup {
            account: self.account.clone(),
            cluster: self.cluster.clone(),
            region: self.region.clone(),
            role: self.role_name.clone(),
            federation: self.saml_provider.clone().map_or(Federation::IdentityCenter, |provider| Federation::Saml { provider }),
            mapping: match self.auth {
                Auth::AccessEntry => Mapping::AccessEntry,
                Auth::ConfigMap => Mapping::ConfigMap,
            },
            user_prefix: self.username_prefix.clone(),
        }
        .checked()?)
    }
}

/// Whether everything is in place (`check`); `setup` is always true.
pub async fn run(cmd: EksCmd) -> anyhow::Result<bool> {
    match cmd {
        EksCmd::Setup { cluster, apply } => {
            let s = cluster.setup()?;
            print!("{}", render(&s));
            if apply {
                let done = sesame_aws::eks::apply::apply_to_account(&s, cluster.endpoint_url.as_deref(), cluster.profile.as_deref()).await?;
                println!("\nApplied in account {}:", s.account);
                for line in done {
                    println!("- {line}");
                }
                println!("The cluster's side (step 3) is for a cluster admin to apply.");
            }
            Ok(true)
        }
        EksCmd::Check { cluster } => {
            let s = cluster.setup()?;
            let found = sesame_aws::eks::check::check_account(&s, cluster.endpoint_url.as_deref(), cluster.eks_endpoint_url.as_deref(), cluster.profile.as_deref()).await?;
            for f in &found {
                println!("{} {}", if f.ok { "ok     " } else { "MISSING" }, f.what);
            }
            if s.mapping == Mapping::ConfigMap {
                println!("not checked: the aws-auth mapRoles entry, which lives inside the cluster (kubectl -n kube-system get configmap aws-auth -o yaml)");
            }
            Ok(found.iter().all(|f| f.ok))
        }
    }
}
