//! `media-bootstrap`: bootstraps Media Network on a cluster whose programs are deployed
//! (`anchor deploy`), from a plan file. Idempotent: re-running finishes an interrupted
//! bootstrap and otherwise changes nothing. `anchor migrate` runs it via `deploy.ts`.
use anyhow::{Context, Result};
use clap::Parser;
use media_migrations::plan::PlanFile;
use media_sdk::client::Cluster;
use solana_commitment_config::CommitmentConfig;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "media-bootstrap", version, about)]
struct Args {
    /// RPC URL or moniker: localhost, devnet, mainnet-beta, testnet.
    #[arg(short = 'u', long = "url", default_value = "localhost")]
    url: String,
    /// The deployer: the programs' upgrade authority, which pays and signs the bootstrap.
    #[arg(short = 'k', long = "keypair")]
    keypair: PathBuf,
    /// The bootstrap plan (see migrations/devnet.toml and migrations/mainnet.toml).
    #[arg(long)]
    plan: PathBuf,
}

#[tokio::main]
async fn main() {
    media_service::init_tracing("info");
    media_service::exit_on_error(run(Args::parse()).await);
}

async fn run(args: Args) -> Result<()> {
    let plan = PlanFile::load(&args.plan)?.plan()?;
    let deployer = solana_keypair::read_keypair_file(&args.keypair)
        .map_err(|e| anyhow::anyhow!("cannot read keypair file {}: {e}", args.keypair.display()))?;
    let cluster = Cluster::new(&args.url, CommitmentConfig::confirmed());
    cluster
        .check_reachable()
        .await
        .with_context(|| format!("cannot reach the Solana RPC endpoint at {}", cluster.url))?;
    let deployment = media_migrations::run(&cluster, &deployer, &plan).await?;
    println!("{}", serde_json::to_string_pretty(&deployment)?);
    Ok(())
}
