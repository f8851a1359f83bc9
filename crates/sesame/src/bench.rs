//! `sesame bench`: grant latency and expiry lateness (filled in below).

use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Grant latency and expiry lateness on the local PostgreSQL, OpenBao side by side.
    Grant,
}

pub async fn run(_b: BenchCmd) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
