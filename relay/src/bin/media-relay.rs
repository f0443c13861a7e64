//! `media-relay`: serve consumers' media through a metered cache and earn MEDIA for it.
use clap::Parser;
use media_relay::cli::RelayFlags;

/// glibc's malloc serialises the relay's worker threads on its arena locks under load (the
/// profile in docs/operators.md); mimalloc keeps a heap per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
                  docs/relay-protocol.md. `media relay` runs the same relay."
)]
struct Args {
    #[command(flatten)]
    flags: RelayFlags,
    /// RPC URL or moniker (localhost, devnet, mainnet-beta).
    #[arg(short = 'u', long = "url")]
    rpc_url: Option<String>,
}

#[tokio::main]
async fn main() {
    media_service::init_tracing("info");
    let args = Args::parse();
    media_service::exit_on_error(args.flags.run(args.rpc_url).await);
}
