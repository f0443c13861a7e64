//! `media`: the Media Network command line (Solana CLI conventions for cluster and output).
mod bootstrap;
mod localnet;
mod rpc;
mod status;
mod wallet;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use solana_commitment_config::CommitmentConfig;

#[derive(Parser)]
#[command(
    name = "media",
    version,
    about = "Media Network: a decentralized CDN settled on Solana"
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
    /// Keypair file that signs and pays (Solana CLI format).
    #[arg(short = 'k', long = "keypair", global = true)]
    keypair: Option<std::path::PathBuf>,
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
    /// Run an embedded Solana JSON-RPC localnet with the Media Network programs, bootstrapped.
    Localnet {
        /// Port on 127.0.0.1 to serve JSON-RPC on.
        #[arg(long, default_value_t = 8899)]
        port: u16,
        /// Epoch length in seconds (short epochs for demos).
        #[arg(long, default_value_t = 60)]
        epoch_secs: i64,
    },
    /// Show the network's state and parameters.
    Status,
    /// Request SOL for the keypair (localnet and test clusters).
    Airdrop {
        /// Amount of SOL.
        #[arg(default_value = "1")]
        sol: String,
    },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,tarpc=error,media=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    let json = cli.output == Output::Json;
    let commitment = match cli.commitment {
        Commitment::Processed => CommitmentConfig::processed(),
        Commitment::Confirmed => CommitmentConfig::confirmed(),
        Commitment::Finalized => CommitmentConfig::finalized(),
    };
    match cli.command {
        Command::Localnet { port, epoch_secs } => {
            localnet::run(localnet::Options { port, epoch_secs }, json).await
        }
        Command::Status => status::run(&rpc::Rpc::new(&cli.url, commitment), json).await,
        Command::Airdrop { sol } => {
            let lamports = wallet::parse_amount(&sol, 9)?;
            let path = cli.keypair.unwrap_or_else(wallet::default_keypair_path);
            let signer = wallet::load(&path)?;
            let rpc = rpc::Rpc::new(&cli.url, commitment);
            rpc.check_reachable().await?;
            airdrop(&rpc, &signer, lamports, json).await
        }
    }
}

async fn airdrop(
    rpc: &rpc::Rpc,
    signer: &solana_keypair::Keypair,
    lamports: u64,
    json: bool,
) -> Result<()> {
    use solana_signer::Signer;
    let signature = rpc
        .client
        .request_airdrop(&signer.pubkey(), lamports)
        .await?;
    rpc.client.poll_for_signature(&signature).await?;
    let balance = rpc.client.get_balance(&signer.pubkey()).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({"signature": signature.to_string(), "balance_lamports": balance})
        );
    } else {
        println!(
            "{} SOL airdropped to {}; balance {} SOL",
            lamports as f64 / 1e9,
            signer.pubkey(),
            balance as f64 / 1e9
        );
    }
    Ok(())
}
