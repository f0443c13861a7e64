//! `media`: the Media Network command line (Solana CLI conventions for cluster, keypair and
//! output). Exit status 0 on success, 1 on any error (with the reason on stderr), 2 on a
//! malformed command line.
mod commands;
mod context;
mod localnet;
mod output;
mod program_errors;
mod rpc;
mod wallet;

use anchor_lang::prelude::Pubkey;
use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use commands::{
    airdrop, claim, consumer, demo, epoch, gateway, gov, lane, provider, stake, status, viewer,
};
use context::Ctx;
use media_governance::state::VoteChoice;
use media_network::constants::MEDIA_DECIMALS;
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

/// A MEDIA amount: whole tokens with up to 6 decimals.
fn media_amount(text: &str) -> Result<u64, String> {
    wallet::parse_amount(text, u32::from(MEDIA_DECIMALS)).map_err(|e| e.to_string())
}

pub(crate) fn pubkey(text: &str) -> Result<Pubkey, String> {
    text.parse()
        .map_err(|_| format!("invalid public key {text:?}: expected base58"))
}

#[derive(Subcommand)]
enum Command {
    /// See the whole network work on this machine: a localnet with short epochs, a live
    /// stream, relays, a keeper and viewers; fees settled, rewards claimed, MEDIA burned and a
    /// governance vote, then a summary. Ctrl-C stops it cleanly.
    Demo(demo::Flags),
    /// Run an embedded Solana JSON-RPC localnet with the Media Network programs, bootstrapped.
    Localnet {
        /// Port on 127.0.0.1 to serve JSON-RPC on (0 picks a free one).
        #[arg(long, default_value_t = 8899)]
        port: u16,
        /// Epoch length in seconds (short epochs for demos).
        #[arg(long, default_value_t = 60)]
        epoch_secs: i64,
    },
    /// Write a fresh keypair file (mode 600) and print its public key: a gateway's receipt
    /// signer, a relay's node key, or a wallet.
    Keygen {
        /// Where to write it.
        #[arg(short = 'o', long = "outfile")]
        out: std::path::PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Show the network's state and parameters.
    Status,
    /// Get SOL (any cluster with a faucet) and test MEDIA or payment tokens (`media localnet`).
    Airdrop {
        /// Amount of SOL.
        #[arg(default_value = "1")]
        sol: String,
        /// Also receive this many test MEDIA (localnet only).
        #[arg(long)]
        media: Option<String>,
        /// Also receive this many test payment tokens (localnet only).
        #[arg(long)]
        payment: Option<String>,
    },
    /// Stake MEDIA from the wallet's MEDIA account; it counts after the warm-up.
    Stake {
        #[arg(value_parser = media_amount)]
        amount: u64,
    },
    /// Start the cool-down of staked MEDIA; withdraw it afterwards.
    Unstake {
        #[arg(value_parser = media_amount)]
        amount: u64,
    },
    /// Return unstaking MEDIA to active stake.
    CancelUnstake,
    /// Move MEDIA whose cool-down has ended back to the wallet.
    Withdraw,
    /// Relay operators: register and manage a provider.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Publishers: register a consumer, fund its escrow, rotate its receipt signer.
    #[command(subcommand)]
    Consumer(ConsumerCommand),
    /// Open or close the lane between a provider's node key and a consumer.
    #[command(subcommand)]
    Lane(LaneCommand),
    /// Claim a provider's MEDIA rewards and fees, and a keeper's fees and bounties.
    Claim,
    /// Inspect epochs and turn the epoch cranks (anyone may).
    #[command(subcommand)]
    Epoch(EpochCommand),
    /// Governance: proposals and votes.
    #[command(subcommand)]
    Gov(GovCommand),
    /// Publishers: run the consumer gateway (session tokens for viewers, co-signatures for
    /// relays). Its receipt signer is --receipt-signer, the config's, or -k.
    Gateway(gateway::Flags),
    /// Viewers: download a consumer's file through a relay, acknowledging bytes as they arrive.
    Fetch {
        /// The path of the file at the consumer's origin (e.g. vod/film.ts).
        path: String,
        #[command(flatten)]
        session: SessionArgs,
        /// Write here instead of stdout.
        #[arg(short = 'o', long = "out")]
        out_file: Option<PathBuf>,
    },
    /// Viewers: a local HTTP proxy so stock players (ffmpeg, VLC, browsers) play through a relay.
    Proxy {
        /// Address for players to connect to.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        session: SessionArgs,
    },
}

#[derive(Args)]
struct SessionArgs {
    /// The relay's base URL.
    #[arg(long)]
    relay: url::Url,
    /// The consumer's gateway URL (issues the session token).
    #[arg(long)]
    gateway: url::Url,
    /// The gateway's shared secret, if it wants one.
    #[arg(long, env = "MEDIA_GATEWAY_SECRET")]
    secret: Option<String>,
}

impl SessionArgs {
    fn session(self) -> viewer::Session {
        viewer::Session {
            relay: self.relay,
            gateway: self.gateway,
            secret: self.secret,
        }
    }
}

#[derive(Subcommand)]
enum ProviderCommand {
    /// Register the wallet as a provider, bonding active stake.
    Register {
        /// Public URL of the relay (http:// or https://).
        #[arg(long)]
        endpoint: String,
        /// Region code: 1-8 characters of a-z, 0-9 and -.
        #[arg(long)]
        region: String,
        /// MEDIA of active stake to bond (at least the minimum provider stake).
        #[arg(long, value_parser = media_amount)]
        bond: u64,
        /// Register a guard (relays between edges and origins) instead of an edge.
        #[arg(long)]
        guard: bool,
        /// Keypair of the relay's node key [default: the wallet].
        #[arg(long)]
        node_keypair: Option<PathBuf>,
    },
    /// Change the endpoint, region or node key.
    Update {
        #[arg(long)]
        endpoint: Option<String>,
        #[arg(long)]
        region: Option<String>,
        /// Keypair of the new node key (it signs too).
        #[arg(long)]
        node_keypair: Option<PathBuf>,
    },
    /// Stop serving; the bond is released after the settlement window.
    Deactivate,
    /// Show a provider [default: the wallet's].
    Show {
        #[arg(value_parser = pubkey)]
        owner: Option<Pubkey>,
    },
    /// List every provider.
    List,
}

#[derive(Subcommand)]
enum ConsumerCommand {
    /// Register the wallet as a consumer, bonding active stake for bandwidth quota.
    Register {
        /// MEDIA of active stake to bond; quota per epoch grows with it.
        #[arg(long, value_parser = media_amount)]
        bond: u64,
        /// The gateway's receipt signer: a key of its own (`media keygen -o gateway.json`),
        /// never the wallet, since the gateway is online and the wallet controls stake and
        /// escrow.
        #[arg(long, value_parser = pubkey)]
        receipt_signer: Option<Pubkey>,
    },
    /// Deposit payment tokens into a consumer's fee escrow.
    Deposit {
        /// Amount in the payment mint's units (its decimals apply).
        amount: String,
        /// The consumer to fund [default: the wallet's].
        #[arg(long, value_parser = pubkey)]
        consumer: Option<Pubkey>,
    },
    /// With AMOUNT, request escrow back (payable two epochs later); without, collect it.
    Withdraw { amount: Option<String> },
    /// Rotate the receipt signer (effective next epoch).
    SetSigner {
        #[arg(value_parser = pubkey)]
        receipt_signer: Pubkey,
    },
    /// Show a consumer [default: the wallet's].
    Show {
        #[arg(value_parser = pubkey)]
        owner: Option<Pubkey>,
    },
}

#[derive(Args)]
struct LaneArgs {
    /// The consumer's owner.
    #[arg(long, value_parser = pubkey)]
    consumer: Pubkey,
    /// The provider's owner, when the wallet is the provider's node key [default: the wallet].
    #[arg(long, value_parser = pubkey)]
    provider: Option<Pubkey>,
}

#[derive(Subcommand)]
enum LaneCommand {
    /// Open the lane (pays its rent).
    Open(LaneArgs),
    /// Close the lane once it has nothing left to settle (returns the rent).
    Close(LaneArgs),
}

#[derive(Subcommand)]
enum EpochCommand {
    /// Show an epoch [default: the current one].
    Show { number: Option<u64> },
    /// Start the next epoch when it is due; finalizes the epoch whose settlement closes.
    Advance,
    /// Accrue every provider's rewards of a finalized epoch [default: the latest].
    Finalize { number: Option<u64> },
}

#[derive(Clone, Copy, ValueEnum)]
enum Choice {
    Yes,
    No,
    Abstain,
}

#[derive(Subcommand)]
enum GovCommand {
    /// Create a proposal (needs warmed-up stake of at least proposal_min_stake).
    #[command(subcommand)]
    Propose(ProposeCommand),
    /// Vote with all of the wallet's warmed-up stake (locked until the vote ends).
    Vote {
        id: u64,
        #[arg(value_enum)]
        choice: Choice,
    },
    /// Finalize the vote and execute a passed proposal after its timelock.
    Execute {
        id: u64,
        /// Wait for the vote to end and the timelock to pass instead of failing.
        #[arg(long)]
        wait: bool,
    },
    /// Show a proposal.
    Show { id: u64 },
    /// List every proposal.
    List,
}

#[derive(Subcommand)]
enum ProposeCommand {
    /// Change a media-network parameter (see `media status` for names; values in base units).
    SetParam { field: String, value: u64 },
    /// Change a governance parameter (voting_period_secs, quorum_bps, approval_bps,
    /// timelock_secs, execution_window_secs, proposal_min_stake).
    SetGovParam { field: String, value: u64 },
    /// Pause settlement, staking and registration.
    Pause,
    /// Lift a pause.
    Unpause,
    /// Set the guardian (may pause briefly), or `none` to remove it.
    SetGuardian { guardian: String },
    /// Hand the protocol authority to another key (leaves governance).
    SetAuthority {
        #[arg(value_parser = pubkey)]
        new_authority: Pubkey,
    },
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
    let json = cli.output == Output::Json;
    let commitment = match cli.commitment {
        Commitment::Processed => CommitmentConfig::processed(),
        Commitment::Confirmed => CommitmentConfig::confirmed(),
        Commitment::Finalized => CommitmentConfig::finalized(),
    };
    let ctx = Ctx {
        rpc: media_sdk::client::Cluster::new(&cli.url, commitment),
        json,
        keypair_path: cli.keypair.unwrap_or_else(wallet::default_keypair_path),
    };
    match cli.command {
        Command::Demo(flags) => demo::run(flags, json).await,
        Command::Localnet { port, epoch_secs } => {
            localnet::run(localnet::Options { port, epoch_secs }, json).await
        }
        Command::Status => status::run(&ctx).await,
        Command::Keygen { out, force } => commands::keygen::run(&out, force, json),
        Command::Airdrop {
            sol,
            media,
            payment,
        } => {
            let request = airdrop::Request {
                lamports: wallet::parse_amount(&sol, 9)?,
                media,
                payment,
            };
            airdrop::run(&ctx, request).await
        }
        Command::Stake { amount } => stake::stake(&ctx, amount).await,
        Command::Unstake { amount } => stake::unstake(&ctx, amount).await,
        Command::CancelUnstake => stake::cancel_unstake(&ctx).await,
        Command::Withdraw => stake::withdraw(&ctx).await,
        Command::Provider(command) => match command {
            ProviderCommand::Register {
                endpoint,
                region,
                bond,
                guard,
                node_keypair,
            } => {
                let node_key = node_keypair.as_deref().map(wallet::load).transpose()?;
                let registration = provider::Registration {
                    endpoint,
                    region,
                    bond,
                    guard,
                    node_key,
                };
                provider::register(&ctx, registration).await
            }
            ProviderCommand::Update {
                endpoint,
                region,
                node_keypair,
            } => {
                let node_key = node_keypair.as_deref().map(wallet::load).transpose()?;
                provider::update(&ctx, endpoint, region, node_key).await
            }
            ProviderCommand::Deactivate => provider::deactivate(&ctx).await,
            ProviderCommand::Show { owner } => provider::show(&ctx, owner).await,
            ProviderCommand::List => provider::list(&ctx).await,
        },
        Command::Consumer(command) => match command {
            ConsumerCommand::Register {
                bond,
                receipt_signer,
            } => consumer::register(&ctx, bond, receipt_signer).await,
            ConsumerCommand::Deposit { amount, consumer } => {
                consumer::deposit(&ctx, &amount, consumer).await
            }
            ConsumerCommand::Withdraw { amount } => {
                consumer::withdraw(&ctx, amount.as_deref()).await
            }
            ConsumerCommand::SetSigner { receipt_signer } => {
                consumer::set_signer(&ctx, receipt_signer).await
            }
            ConsumerCommand::Show { owner } => consumer::show(&ctx, owner).await,
        },
        Command::Lane(LaneCommand::Open(args)) => {
            lane::open(&ctx, args.consumer, args.provider).await
        }
        Command::Lane(LaneCommand::Close(args)) => {
            lane::close(&ctx, args.consumer, args.provider).await
        }
        Command::Claim => claim::run(&ctx).await,
        Command::Epoch(EpochCommand::Show { number }) => epoch::show(&ctx, number).await,
        Command::Epoch(EpochCommand::Advance) => epoch::advance(&ctx).await,
        Command::Epoch(EpochCommand::Finalize { number }) => epoch::finalize(&ctx, number).await,
        Command::Gov(command) => match command {
            GovCommand::Propose(what) => {
                let request = match what {
                    ProposeCommand::SetParam { field, value } => {
                        gov::Request::SetParam { field, value }
                    }
                    ProposeCommand::SetGovParam { field, value } => {
                        gov::Request::SetGovParam { field, value }
                    }
                    ProposeCommand::Pause => gov::Request::Pause,
                    ProposeCommand::Unpause => gov::Request::Unpause,
                    ProposeCommand::SetGuardian { guardian } => gov::Request::SetGuardian {
                        guardian: match guardian.as_str() {
                            "none" => None,
                            key => Some(pubkey(key).map_err(anyhow::Error::msg)?),
                        },
                    },
                    ProposeCommand::SetAuthority { new_authority } => {
                        gov::Request::SetAuthority { new_authority }
                    }
                };
                gov::propose(&ctx, request).await
            }
            GovCommand::Vote { id, choice } => {
                let choice = match choice {
                    Choice::Yes => VoteChoice::Yes,
                    Choice::No => VoteChoice::No,
                    Choice::Abstain => VoteChoice::Abstain,
                };
                gov::vote(&ctx, id, choice).await
            }
            GovCommand::Execute { id, wait } => gov::execute(&ctx, id, wait).await,
            GovCommand::Show { id } => gov::show(&ctx, id).await,
            GovCommand::List => gov::list(&ctx).await,
        },
        Command::Gateway(flags) => gateway::run(flags, ctx.keypair_path.clone()).await,
        Command::Fetch {
            path,
            session,
            out_file,
        } => viewer::fetch(&ctx, session.session(), &path, out_file).await,
        Command::Proxy { listen, session } => viewer::proxy(session.session(), listen).await,
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
