//! Bootstrapping the protocol on a fresh cluster: mints (test mints on localnet, the real
//! MEDIA mint elsewhere), `initialize`, the reward-vault funding, governance, and the hand-over
//! of media-network's authority to governance. Every step checks what is already on chain
//! first, so running it again finishes an interrupted bootstrap and otherwise does nothing.
//!
//! `media localnet` runs it in-process; the `media-bootstrap` binary runs it against any
//! cluster (and `anchor migrate` runs that binary through `migrations/deploy.ts`).
pub mod localnet;
pub mod plan;

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::program_pack::Pack;
use anchor_lang::solana_program::system_instruction;
use anchor_spl::associated_token::{
    get_associated_token_address, spl_associated_token_account::instruction as ata,
};
use anchor_spl::token::spl_token;
use anchor_spl::token_2022::spl_token_2022::instruction as token_ix;
use anyhow::{Context, Result};
use media_governance::state::GovParams;
use media_network::instructions::InitializeArgs;
use media_network::state::{Config, Params};
use media_sdk::client::Cluster;
use media_sdk::{gov, ix, pda};
use serde::Serialize;
use solana_keypair::Keypair;
use solana_signer::Signer;

/// One billion MEDIA, the test mint's whole fixed supply.
pub const TEST_MEDIA_SUPPLY: u64 = 1_000_000_000 * 1_000_000;
/// The test payment mint's fixed supply (6 decimals, like USDC).
pub const TEST_PAYMENT_SUPPLY: u64 = u64::MAX / 2;

#[derive(Debug, Clone)]
pub struct Plan {
    pub params: Params,
    pub gov_params: GovParams,
    /// The MEDIA mint to use; `None` creates a fixed-supply test mint (localnet only).
    pub media_mint: Option<Pubkey>,
    /// The payment mint to use; `None` creates a test mint (localnet only).
    pub payment_mint: Option<Pubkey>,
    /// MEDIA base units moved from the deployer into the reward vault.
    pub reward_funding: u64,
}

/// What a bootstrapped deployment looks like.
#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    pub config: String,
    pub media_mint: String,
    pub payment_mint: String,
    pub authority: String,
    pub governance: String,
    pub reward_vault_balance: u64,
}

pub async fn run(rpc: &Cluster, deployer: &Keypair, plan: &Plan) -> Result<Deployment> {
    let owner = deployer.pubkey();
    if rpc.account(&pda::config()).await?.is_none() {
        let media_mint = match plan.media_mint {
            Some(mint) => mint,
            None => create_test_mint(rpc, deployer, TEST_MEDIA_SUPPLY).await?,
        };
        let payment_mint = match plan.payment_mint {
            Some(mint) => mint,
            None => create_test_mint(rpc, deployer, TEST_PAYMENT_SUPPLY).await?,
        };
        let args = InitializeArgs {
            params: plan.params,
            guardian: None,
        };
        let initialize = ix::initialize(&owner, &media_mint, &payment_mint, args);
        rpc.send_and_confirm(&[initialize], deployer, &[])
            .await
            .context("initialize")?;
        tracing::info!(config = %pda::config(), "media-network initialized");
    }
    let config: Config = rpc.decode(&pda::config()).await?;
    // Funding belongs to a fresh deployment only: a vault that has been paid into, or a
    // network past its first epoch, is never topped up by a re-run.
    let vault_balance = rpc.token_balance(&pda::reward_vault()).await?;
    if plan.reward_funding > 0 && vault_balance == 0 && config.epoch == 0 {
        let source = get_associated_token_address(&owner, &config.media_mint);
        let held = rpc.token_balance(&source).await?;
        anyhow::ensure!(
            held >= plan.reward_funding,
            "the deployer's MEDIA account {source} holds {held} base units; funding the reward \
             vault needs {}",
            plan.reward_funding
        );
        let fund = spl_token::instruction::transfer(
            &spl_token::ID,
            &source,
            &pda::reward_vault(),
            &owner,
            &[],
            plan.reward_funding,
        )?;
        rpc.send_and_confirm(&[fund], deployer, &[])
            .await
            .context("fund reward vault")?;
        tracing::info!(amount = plan.reward_funding, "reward vault funded");
    }
    if rpc.account(&gov::pda::gov_config()).await?.is_none() {
        let init = gov::initialize_governance(&owner, plan.gov_params);
        rpc.send_and_confirm(&[init], deployer, &[])
            .await
            .context("initialize governance")?;
        tracing::info!("media-governance initialized");
    }
    if config.authority != gov::pda::authority() {
        let mut steps = Vec::new();
        if config.pending_authority != Some(gov::pda::authority()) {
            steps.push(ix::propose_authority(&owner, &gov::pda::authority()));
        }
        steps.push(gov::accept_network_authority());
        rpc.send_and_confirm(&steps, deployer, &[])
            .await
            .context("hand authority to governance")?;
        tracing::info!("protocol authority handed to governance");
    }
    let config: Config = rpc.decode(&pda::config()).await?;
    Ok(Deployment {
        config: pda::config().to_string(),
        media_mint: config.media_mint.to_string(),
        payment_mint: config.payment_mint.to_string(),
        authority: config.authority.to_string(),
        governance: media_governance::ID.to_string(),
        reward_vault_balance: rpc.token_balance(&pda::reward_vault()).await?,
    })
}

/// A 6-decimal classic SPL mint whose whole `supply` goes to the deployer's associated
/// token account, after which the mint authority is removed: the supply is fixed.
async fn create_test_mint(rpc: &Cluster, deployer: &Keypair, supply: u64) -> Result<Pubkey> {
    let mint = Keypair::new();
    let owner = deployer.pubkey();
    let reserve = get_associated_token_address(&owner, &mint.pubkey());
    let mint_rent = rpc.rent_exempt(spl_token::state::Mint::LEN).await?;
    let token = spl_token::ID;
    let instructions = vec![
        system_instruction::create_account(
            &owner,
            &mint.pubkey(),
            mint_rent,
            spl_token::state::Mint::LEN as u64,
            &token,
        ),
        token_ix::initialize_mint2(&token, &mint.pubkey(), &owner, None, 6)?,
        ata::create_associated_token_account_idempotent(&owner, &owner, &mint.pubkey(), &token),
        token_ix::mint_to(&token, &mint.pubkey(), &reserve, &owner, &[], supply)?,
        token_ix::set_authority(
            &token,
            &mint.pubkey(),
            None,
            token_ix::AuthorityType::MintTokens,
            &owner,
            &[],
        )?,
    ];
    rpc.send_and_confirm(&instructions, deployer, &[&mint])
        .await
        .context("create test mint")?;
    tracing::info!(mint = %mint.pubkey(), supply, "test mint created");
    Ok(mint.pubkey())
}
