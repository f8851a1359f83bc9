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
    /// Check the account's side of the setup, naming what is missing (and,
    /// with --kube-server, the aws-auth mapRoles entry inside the cluster).
    Check {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        kube: KubeArgs,
    },
}

/// The cluster's own API, to read the aws-auth ConfigMap (`--auth config-map`).
#[derive(Args)]
pub struct KubeArgs {
    /// The Kubernetes API server (https://; plain http only to loopback).
    #[arg(long)]
    kube_server: Option<String>,
    /// A file holding a bearer token allowed to read ConfigMaps in kube-system.
    #[arg(long, requires = "kube_server")]
    kube_token_file: Option<std::path::PathBuf>,
    /// A PEM file with the API server's certificate authority.
    #[arg(long, requires = "kube_server")]
    kube_ca_file: Option<std::path::PathBuf>,
}

impl KubeArgs {
    fn cluster(&self) -> anyhow::Result<Option<sesame_aws::eks::cluster::Cluster>> {
        let Some(server) = &self.kube_server else { return Ok(None) };
        let read = |p: &Option<std::path::PathBuf>| -> anyhow::Result<Option<String>> {
            Ok(match p {
                Some(p) => Some(std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?.trim().to_owned()),
                None => None,
            })
        };
        let e = sesame_aws::eks::cluster::Endpoint {
            server_url: Some(server.clone()),
            certificate_authority: read(&self.kube_ca_file)?,
            token: read(&self.kube_token_file)?,
            timeout: std::time::Duration::from_secs(10),
        };
        Ok(Some(sesame_aws::eks::cluster::Cluster::connect(&e)?))
    }
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
        EksCmd::Check { cluster, kube } => {
            let s = cluster.setup()?;
            let mut found = sesame_aws::eks::check::check_account(&s, cluster.endpoint_url.as_deref(), cluster.eks_endpoint_url.as_deref(), cluster.profile.as_deref()).await?;
            let inside = match (s.mapping, kube.cluster()?) {
                (Mapping::ConfigMap, Some(k)) => Some(sesame_aws::eks::check::check_config_map(&s, &k).await?),
                _ => None,
            };
            let unchecked = s.mapping == Mapping::ConfigMap && inside.is_none();
            found.extend(inside.into_iter().flatten());
            for f in &found {
                println!("{} {}", if f.ok { "ok     " } else { "MISSING" }, f.what);
            }
            if unchecked {
                println!("not checked: the aws-auth mapRoles entry, which lives inside the cluster: give --kube-server and --kube-token-file to check it");
            }
            Ok(found.iter().all(|f| f.ok))
        }
    }
}
