//! `media localnet`: the embedded JSON-RPC endpoint, bootstrapped once on start.
use crate::bootstrap::{self, Plan};
use crate::rpc::Rpc;
use anyhow::{Context, Result};
use media_governance::state::GovParams;
use media_localnet::{programs, serve, Chain};
use media_network::state::Params;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_signer::Signer;
use tokio::net::TcpListener;

pub struct Options {
    pub port: u16,
    pub epoch_secs: i64,
}

/// Localnet parameters: mainnet's defaults, except the epoch length (and the warm-up and
/// cool-down, which must cover the voting period).
pub fn localnet_params(epoch_secs: i64) -> (Params, GovParams) {
    let voting_period = (epoch_secs * 2).max(60);
    let params = Params {
        epoch_duration_secs: epoch_secs,
        warmup_secs: voting_period,
        unstake_cooldown_secs: voting_period,
        ..Params::default()
    };
    let gov = GovParams {
        voting_period_secs: voting_period,
        quorum_bps: 1_000,
        approval_bps: 5_000,
        timelock_secs: epoch_secs,
        execution_window_secs: 30 * epoch_secs.max(60),
        proposal_min_stake: 25 * 1_000_000,
    };
    (params, gov)
}

pub async fn run(options: Options, output_json: bool) -> Result<()> {
    anyhow::ensure!(
        (1..=86_400).contains(&options.epoch_secs),
        "--epoch-secs must be between 1 and 86400, got {}",
        options.epoch_secs
    );
    let deployer = Keypair::new();
    let mut program_test = programs::program_test();
    // The localnet's deployer is the programs' upgrade authority, as after a real deploy.
    programs::set_upgrade_authority(&mut program_test, Some(deployer.pubkey()));
    let chain = Chain::start(program_test).await;
    let listener = TcpListener::bind(("127.0.0.1", options.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", options.port))?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(serve(listener, chain));

    let rpc = Rpc::new(&url, CommitmentConfig::confirmed());
    let airdrop = rpc
        .client
        .request_airdrop(&deployer.pubkey(), 1_000_000_000_000)
        .await?;
    rpc.client.poll_for_signature(&airdrop).await?;
    let (params, gov_params) = localnet_params(options.epoch_secs);
    let plan = Plan {
        params,
        gov_params,
        media_mint: None,
        payment_mint: None,
        reward_funding: 10_000_000 * 1_000_000,
    };
    let deployment = bootstrap::run(&rpc, &deployer, &plan)
        .await
        .context("bootstrap")?;
    if output_json {
        println!(
            "{}",
            serde_json::json!({"rpc_url": url, "deployment": deployment})
        );
    } else {
        println!("Media Network localnet listening on {url}");
        println!("  config         {}", deployment.config);
        println!("  MEDIA mint     {}", deployment.media_mint);
        println!("  payment mint   {}", deployment.payment_mint);
        println!("  authority      {} (governance)", deployment.authority);
        println!("  epoch length   {} s", options.epoch_secs);
        println!("Wallets get SOL through the standard requestAirdrop RPC. Ctrl-C stops.");
    }
    tokio::select! {
        result = server => result?.context("localnet server stopped")?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping localnet"),
    }
    Ok(())
}
