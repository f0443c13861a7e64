//! `media-keeper`: settle co-signed receipts and turn Media Network's cranks, for the keeper fee.
use anyhow::Result;
use clap::Parser;
use media_keeper::config::KeeperConfig;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "media-keeper",
    version,
    about = "Media Network keeper: ingests co-signed receipts, settles them, turns the cranks",
    long_about = "Media Network keeper. Relays POST co-signed receipts to /receipts (see \
                  docs/keeper-api.md); the keeper verifies and stores them, settles them on \
                  chain for the keeper fee, and turns the permissionless cranks. Settings come \
                  from --config (TOML) and the flags below, which override it."
)]
struct Args {
    #[command(flatten)]
    service: media_service::settings::ServiceFlags,
    /// The keeper's keypair (pays fees, earns the keeper share).
    #[arg(short = 'k', long)]
    keypair: Option<PathBuf>,
    /// RPC URL or moniker (localhost, devnet, mainnet-beta).
    #[arg(short = 'u', long = "url")]
    rpc_url: Option<String>,
    /// The most receipts per settlement transaction (1-4; fewer when they do not fit).
    #[arg(long)]
    receipts_per_tx: Option<usize>,
    /// Settle with legacy transactions only (no address lookup table, no rent for one).
    #[arg(long)]
    no_lookup_table: bool,
    /// Turn no cranks (settle only).
    #[arg(long)]
    no_cranks: bool,
}

#[tokio::main]
async fn main() {
    media_service::init_tracing("info");
    media_service::exit_on_error(run(Args::parse()).await);
}

async fn run(args: Args) -> Result<()> {
    let mut config: KeeperConfig = args.service.load()?;
    if let Some(keypair) = args.keypair {
        config.keypair = keypair;
    }
    if let Some(url) = args.rpc_url {
        config.service.rpc_url = Some(url);
    }
    if let Some(n) = args.receipts_per_tx {
        config.receipts_per_tx = n;
    }
    if args.no_lookup_table {
        config.lookup_table = false;
    }
    if args.no_cranks {
        config.cranks = media_keeper::crank::Switches::settle_only();
    }
    let listener = media_service::settings::bind(config.service.listen).await?;
    media_keeper::run(config, listener, media_service::shutdown_signal()).await
}
