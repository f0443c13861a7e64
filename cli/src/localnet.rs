//! `media localnet`: the embedded JSON-RPC endpoint, bootstrapped once on start.
use anchor_lang::prelude::Pubkey;
use anyhow::{Context, Result};
use media_governance::state::GovParams;
use media_localnet::{programs, serve, Chain};
use media_migrations::{Deployment, Plan};
use media_network::state::Params;
use media_sdk::client::Cluster;
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
    let voting_period = (epoch_secs * 2).max(10);
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
    let faucet = chain.faucet().pubkey();
    let listener = TcpListener::bind(("127.0.0.1", options.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", options.port))?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(serve(listener, chain));

    let rpc = Cluster::new(&url, CommitmentConfig::confirmed());
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
    let deployment = media_migrations::run(&rpc, &deployer, &plan)
        .await
        .context("bootstrap")?;
    stock_token_faucet(&rpc, &deployer, &faucet, &deployment).await?;
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
        println!(
            "Get SOL and test tokens with `media airdrop 10 --media 1000 --payment 100`. Ctrl-C stops."
        );
    }
    tokio::select! {
        result = server => result?.context("localnet server stopped")?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping localnet"),
    }
    Ok(())
}

/// Test MEDIA and payment tokens handed out by `requestTokenAirdrop` (`media airdrop`).
const FAUCET_MEDIA: u64 = 100_000_000 * 1_000_000;
const FAUCET_PAYMENT: u64 = 1_000_000_000_000 * 1_000_000;

/// Moves part of the deployer's test supply to the chain faucet's token accounts, from which
/// the localnet's `requestTokenAirdrop` pays.
async fn stock_token_faucet(
    rpc: &Cluster,
    deployer: &Keypair,
    faucet: &Pubkey,
    deployment: &Deployment,
) -> Result<()> {
    use anchor_spl::associated_token::{
        get_associated_token_address, spl_associated_token_account::instruction as ata,
    };
    use anchor_spl::token::spl_token;
    let owner = deployer.pubkey();
    let mut instructions = Vec::new();
    for (mint, amount) in [
        (&deployment.media_mint, FAUCET_MEDIA),
        (&deployment.payment_mint, FAUCET_PAYMENT),
    ] {
        let mint: Pubkey = mint.parse()?;
        instructions.push(ata::create_associated_token_account_idempotent(
            &owner,
            faucet,
            &mint,
            &spl_token::ID,
        ));
        instructions.push(spl_token::instruction::transfer(
            &spl_token::ID,
            &get_associated_token_address(&owner, &mint),
            &get_associated_token_address(faucet, &mint),
            &owner,
            &[],
            amount,
        )?);
    }
    rpc.send_and_confirm(&instructions, deployer, &[])
        .await
        .context("stock the token faucet")?;
    Ok(())
}
