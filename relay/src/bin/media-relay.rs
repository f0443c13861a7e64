//! `media-relay`: serve consumers' media through a metered cache and earn MEDIA for it.
use anyhow::Result;
use clap::Parser;
use media_relay::config::RelayConfig;
use std::path::PathBuf;
use url::Url;

#[derive(Parser)]
#[command(
    name = "media-relay",
    version,
    about = "Media Network relay: an HTTP reverse proxy and cache in front of consumers' origins, \
             metered by viewer receipts",
    long_about = "Media Network relay. Viewers fetch /c/{consumer}/{path} with a session token \
                  from the consumer's gateway and acknowledge bytes with viewer receipts \
                  (POST /.media/receipt); /health and /metrics are for operators. Settings come \
                  from --config (TOML) and the flags below, which override it. See \
                  docs/relay-protocol.md."
)]
struct Args {
    #[command(flatten)]
    service: media_service::settings::ServiceFlags,
    /// The relay's node key (Solana keypair file); it signs receipts and opens lanes.
    #[arg(long)]
    node_keypair: Option<PathBuf>,
    /// RPC URL or moniker (localhost, devnet, mainnet-beta).
    #[arg(short = 'u', long = "url")]
    rpc_url: Option<String>,
    /// A keeper's ingest URL (repeatable).
    #[arg(long = "keeper")]
    keepers: Vec<Url>,
    /// Cache budget in bytes.
    #[arg(long)]
    cache_bytes: Option<u64>,
    /// Bytes a viewer session may run ahead of its last viewer receipt.
    #[arg(long)]
    credit_window: Option<u64>,
}

#[tokio::main]
async fn main() {
    media_service::init_tracing("info");
    media_service::exit_on_error(run(Args::parse()).await);
}

async fn run(args: Args) -> Result<()> {
    let mut config: RelayConfig = args.service.load()?;
    if let Some(path) = args.node_keypair {
        config.node_keypair = path;
    }
    if let Some(url) = args.rpc_url {
        config.service.rpc_url = Some(url);
    }
    if !args.keepers.is_empty() {
        config.keepers = args.keepers;
    }
    if let Some(bytes) = args.cache_bytes {
        config.cache_bytes = bytes;
    }
    if let Some(bytes) = args.credit_window {
        config.credit_window_bytes = bytes;
    }
    config.validate()?;
    let listener = media_service::settings::bind(config.service.listen).await?;
    media_relay::run(config, listener, media_relay::shutdown_signal()).await
}
