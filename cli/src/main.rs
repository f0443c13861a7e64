//! `media`: the Media Network command line (Solana CLI conventions for cluster, keypair and
//! output). Exit status 0 on success, 1 on any error (with the reason on stderr), 2 on a
//! malformed command line.
mod args;
mod commands;
mod context;
mod output;
mod program_errors;
mod rpc;
mod wallet;

use anyhow::Result;

/// The allocator `media-relay` uses, so `media relay` serves as fast (glibc's malloc
/// serialises the relay's threads on its arena locks under load; see docs/operators.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Parser, Subcommand, ValueEnum};
use commands::{
    airdrop, claim, consumer, demo, epoch, gateway, gov, ingest, keygen, lane, localnet, provider,
    relay, stake, status, viewer,
};
use context::Ctx;
use solana_commitment_config::CommitmentConfig;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "media",
    version,
    about = "Media Network: a decentralized CDN settled on Solana",
    long_about = "Media Network: a decentralized CDN settled on Solana.\n\n\
        Amounts of MEDIA are in whole tokens with up to 6 decimals (25, 0.5). Commands that \
        send a transaction check what they can first, then wait for confirmation at \
        --commitment (with a spinner on a terminal); --output json includes the signatures. \
        `media demo` shows the whole network working on this machine; `media localnet` runs \
        a cluster to point other commands at with `-u localhost` (the default). Exit status: \
        0 success, 1 error, 2 bad usage, 130 interrupted demo."
)]
struct Cli {
    /// RPC URL or moniker: localhost, devnet, mainnet-beta, testnet.
    #[arg(
        short = 'u',
        long = "url",
        global = true,
        default_value = "localhost",
        env = "MEDIA_RPC_URL"
    )]
    url: String,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Display)]
    output: Output,
    /// Keypair file that signs and pays (Solana CLI format) [default: ~/.config/solana/id.json].
    #[arg(short = 'k', long = "keypair", global = true)]
    keypair: Option<PathBuf>,
    /// Commitment for reads and confirmations.
    #[arg(long, global = true, value_enum, default_value_t = Commitment::Confirmed)]
    commitment: Commitment,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Output {
    Display,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Commitment {
    Processed,
    Confirmed,
    Finalized,
}

#[derive(Subcommand)]
enum Command {
    /// See the whole network work on this machine: a localnet with short epochs, a live
    /// stream, relays, a keeper and viewers; fees settled, rewards claimed, MEDIA burned and a
    /// governance vote, then a summary. Ctrl-C stops it cleanly.
    Demo(demo::DemoArgs),
    /// Run an embedded Solana JSON-RPC localnet with the Media Network programs, bootstrapped.
    Localnet(localnet::LocalnetArgs),
    /// Write a fresh keypair file (mode 600) and print its public key: a gateway's receipt
    /// signer, a relay's node key, or a wallet.
    Keygen(keygen::KeygenArgs),
    /// Show the network's state and parameters.
    Status(status::StatusArgs),
    /// Get SOL (any cluster with a faucet) and test MEDIA or payment tokens (`media localnet`).
    Airdrop(airdrop::AirdropArgs),
    /// Stake MEDIA from the wallet's MEDIA account; it counts after the warm-up.
    Stake(stake::StakeArgs),
    /// Start the cool-down of staked MEDIA; withdraw it afterwards.
    Unstake(stake::UnstakeArgs),
    /// Return unstaking MEDIA to active stake.
    CancelUnstake(stake::CancelUnstakeArgs),
    /// Move MEDIA whose cool-down has ended back to the wallet.
    Withdraw(stake::WithdrawArgs),
    /// Relay operators: register and manage a provider.
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
    /// Publishers: register a consumer, fund its escrow, rotate its receipt signer.
    #[command(subcommand)]
    Consumer(consumer::ConsumerCommand),
    /// Open or close the lane between a provider's node key and a consumer.
    #[command(subcommand)]
    Lane(lane::LaneCommand),
    /// Claim a provider's MEDIA rewards and fees, and a keeper's fees and bounties.
    Claim(claim::ClaimArgs),
    /// Inspect epochs and turn the epoch cranks (anyone may).
    #[command(subcommand)]
    Epoch(epoch::EpochCommand),
    /// Governance: proposals and votes.
    #[command(subcommand)]
    Gov(gov::GovCommand),
    /// Publishers: run the consumer gateway (session tokens for viewers, co-signatures for
    /// relays; see docs/relay-protocol.md). Its receipt signer is --receipt-signer, the
    /// config's, or -k.
    Gateway(Box<gateway::GatewayArgs>),
    /// Publishers: live ingest. OBS (or ffmpeg) publishes RTMP to rtmp://HOST:1935/live/KEY;
    /// ffmpeg turns it into an HLS ladder that a small origin serves to relays (see
    /// docs/ingest.md).
    Ingest(Box<ingest::IngestArgs>),
    /// Relay operators: run the relay node (the same as `media-relay`; see
    /// docs/operators.md). Settings from --config (TOML), overridden by the flags.
    Relay(Box<relay::RelayArgs>),
    /// Viewers: download a consumer's file through a relay, acknowledging bytes as they arrive.
    Fetch(viewer::FetchArgs),
    /// Viewers: a local HTTP proxy so stock players (ffmpeg, VLC, browsers) play through a relay.
    Proxy(viewer::ProxyArgs),
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // The demo tells its own story on stderr; the services it runs log only errors.
    let logs = match cli.command {
        Command::Demo(_) => "error",
        _ => "warn,tarpc=error,solana_metrics=error,media=info",
    };
    media_service::init_tracing(logs);
    media_service::exit_on_error(run(cli).await);
}

async fn run(cli: Cli) -> Result<()> {
    let commitment = match cli.commitment {
        Commitment::Processed => CommitmentConfig::processed(),
        Commitment::Confirmed => CommitmentConfig::confirmed(),
        Commitment::Finalized => CommitmentConfig::finalized(),
    };
    let ctx = Ctx {
        rpc: media_sdk::client::Cluster::new(&cli.url, commitment),
        json: cli.output == Output::Json,
        keypair_path: cli.keypair.unwrap_or_else(wallet::default_keypair_path),
    };
    match cli.command {
        Command::Demo(command) => command.run(&ctx).await,
        Command::Localnet(command) => command.run(&ctx).await,
        Command::Keygen(command) => command.run(&ctx),
        Command::Status(command) => command.run(&ctx).await,
        Command::Airdrop(command) => command.run(&ctx).await,
        Command::Stake(command) => command.run(&ctx).await,
        Command::Unstake(command) => command.run(&ctx).await,
        Command::CancelUnstake(command) => command.run(&ctx).await,
        Command::Withdraw(command) => command.run(&ctx).await,
        Command::Provider(command) => command.run(&ctx).await,
        Command::Consumer(command) => command.run(&ctx).await,
        Command::Lane(command) => command.run(&ctx).await,
        Command::Claim(command) => command.run(&ctx).await,
        Command::Epoch(command) => command.run(&ctx).await,
        Command::Gov(command) => command.run(&ctx).await,
        Command::Gateway(command) => command.run(&ctx).await,
        Command::Ingest(command) => command.run().await,
        Command::Relay(command) => command.run().await,
        Command::Fetch(command) => command.run(&ctx).await,
        Command::Proxy(command) => command.run(&ctx).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
