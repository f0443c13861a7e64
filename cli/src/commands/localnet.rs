//! `media localnet`: the embedded JSON-RPC endpoint, bootstrapped once on start.
use crate::context::Ctx;
use anyhow::{Context, Result};
use media_migrations::localnet::{localnet_params, BootstrappedLocalnet};
use media_migrations::Plan;
use std::io::Write;
use tokio::net::TcpListener;

#[derive(clap::Args)]
pub struct LocalnetArgs {
    /// Port on 127.0.0.1 to serve JSON-RPC on, and PubSub (WebSocket) on the next one, as
    /// solana-test-validator does (0 picks free ones).
    #[arg(long, default_value_t = 8899)]
    pub port: u16,
    /// Epoch length in seconds (short epochs for demos).
    #[arg(long, default_value_t = 60)]
    pub epoch_secs: i64,
    /// Slot time in milliseconds, 10 to 1000: slots, block heights and blockhash expiry (150
    /// blocks) follow wall time at this pace, as on a cluster (mainnet: 400).
    #[arg(long, default_value_t = 400)]
    pub slot_ms: u64,
    /// Slots of transaction history kept for getTransaction, getBlock and
    /// getSignaturesForAddress (216000: a day at 400 ms slots). At most 100,000 transactions
    /// and about 256 MiB are kept whatever this says; the oldest go first.
    #[arg(long, default_value_t = media_localnet::ledger::DEFAULT_HISTORY_SLOTS)]
    pub history_slots: u64,
}

impl LocalnetArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        run(self, ctx.json).await
    }
}

/// JSON-RPC on `port` and PubSub on `port + 1`, as solana-test-validator (web3.js finds the
/// WebSocket that way); with 0, a free pair of adjacent ports.
async fn bind_pair(port: u16) -> Result<(TcpListener, TcpListener)> {
    let bind = |port: u16| TcpListener::bind(("127.0.0.1", port));
    if port != 0 {
        let next = port
            .checked_add(1)
            .context("--port leaves no port for PubSub")?;
        let rpc = bind(port)
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
        let pubsub = bind(next)
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{next} for PubSub"))?;
        return Ok((rpc, pubsub));
    }
    for _ in 0..32 {
        let rpc = bind(0).await.context("cannot listen on 127.0.0.1")?;
        let Some(next) = rpc.local_addr()?.port().checked_add(1) else {
            continue;
        };
        if let Ok(pubsub) = bind(next).await {
            return Ok((rpc, pubsub));
        }
    }
    anyhow::bail!("found no two adjacent free ports on 127.0.0.1")
}

async fn run(options: LocalnetArgs, output_json: bool) -> Result<()> {
    anyhow::ensure!(
        (10..=1_000).contains(&options.slot_ms),
        "--slot-ms must be between 10 and 1000, got {}",
        options.slot_ms
    );
    anyhow::ensure!(
        options.history_slots >= 1,
        "--history-slots must be at least 1"
    );
    anyhow::ensure!(
        (1..=86_400).contains(&options.epoch_secs),
        "--epoch-secs must be between 1 and 86400, got {}",
        options.epoch_secs
    );
    // The programs' logs go to stderr, as a validator's log would.
    let mut out = media_service::reserve_stdout(media_service::ProgramLogs::Stderr)
        .context("keeping stdout for the localnet's own output")?;
    let (listener, pubsub) = bind_pair(options.port).await?;
    let (params, gov_params) = localnet_params(options.epoch_secs);
    let plan = Plan {
        params,
        gov_params,
        media_mint: None,
        payment_mint: None,
        reward_funding: 10_000_000 * 1_000_000,
    };
    let chain_options = media_localnet::ChainOptions {
        slot_duration: std::time::Duration::from_millis(options.slot_ms),
        history: media_localnet::ledger::Limits {
            slots: options.history_slots,
            ..media_localnet::ledger::Limits::default()
        },
    };
    let localnet =
        BootstrappedLocalnet::start_with_pubsub(listener, Some(pubsub), &plan, chain_options)
            .await?;
    let (url, deployment) = (localnet.url.clone(), &localnet.deployment);
    let ws_url = localnet.ws_url.clone().unwrap_or_default();
    if output_json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"rpc_url": url, "websocket_url": ws_url, "deployment": deployment})
        )?;
    } else {
        writeln!(out, "Media Network localnet listening on {url}")?;
        writeln!(out, "  PubSub         {ws_url}")?;
        writeln!(out, "  config         {}", deployment.config)?;
        writeln!(out, "  MEDIA mint     {}", deployment.media_mint)?;
        writeln!(out, "  payment mint   {}", deployment.payment_mint)?;
        writeln!(
            out,
            "  authority      {} (governance)",
            deployment.authority
        )?;
        writeln!(out, "  epoch length   {} s", options.epoch_secs)?;
        writeln!(out, "  slot time      {} ms", options.slot_ms)?;
        writeln!(out, "  history        {} slots", options.history_slots)?;
        writeln!(
            out,
            "Get SOL and test tokens with `media airdrop 10 --media 1000 --payment 100`. Ctrl-C stops."
        )?;
    }
    localnet
        .serve_until(media_service::shutdown_signal())
        .await?;
    tracing::info!("localnet stopped");
    Ok(())
}
