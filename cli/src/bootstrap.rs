//! Bootstrapping the protocol on a fresh cluster: mints (test mints on localnet, the real
//! MEDIA mint elsewhere), `initialize`, the reward-vault funding, governance, and the hand-over
//! of media-network's authority to governance. Every step checks what is already on chain
//! first, so running it again finishes an interrupted bootstrap and otherwise does nothing.
use crate::rpc::Rpc;
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::program_pack::Pack;
use anchor_lang::solana_program::system_instruction;
use anchor_spl::token::spl_token;
use anchor_spl::token_2022::spl_token_2022::instruction as token_ix;
use anyhow::{Context, Result};
use media_governance::state::GovParams;
use media_network::instructions::InitializeArgs;
use media_network::state::{Config, Params};
use media_sdk::{gov, ix, pda};
use serde::Serialize;
use solana_keypair::Keypair;
use solana_signer::Signer;

/// One billion MEDIA, the test mint's whole fixed supply.
pub const TEST_MEDIA_SUPPLY: u64 = 1_000_000_000 * 1_000_000;

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
    pub deployer_media_account: Option<String>,
    pub deployer_payment_account: Option<String>,
}

pub async fn run(rpc: &Rpc, deployer: &Keypair, plan: &Plan) -> Result<Deployment> {
    let mut deployer_media = None;
    let mut deployer_payment = None;
    if rpc.account(&pda::config()).await?.is_none() {
        let media_mint = match plan.media_mint {
            Some(mint) => mint,
            None => {
                let (mint, reserve) = create_test_mint(rpc, deployer, TEST_MEDIA_SUPPLY).await?;
                deployer_media = Some(reserve);
                mint
            }
        };
        let payment_mint = match plan.payment_mint {
            Some(mint) => mint,
            None => {
                let (mint, reserve) = create_test_mint(rpc, deployer, u64::MAX / 2).await?;
                deployer_payment = Some(reserve);
                mint
            }
        };
        let args = InitializeArgs {
            params: plan.params,
            guardian: None,
        };
        rpc.send(
            &[ix::initialize(
                &deployer.pubkey(),
                &media_mint,
                &payment_mint,
                args,
            )],
            deployer,
            &[],
        )
        .await
        .context("initialize")?;
        if let (Some(reserve), true) = (deployer_media, plan.reward_funding > 0) {
            let fund = spl_token::instruction::transfer(
                &spl_token::ID,
                &reserve,
                &pda::reward_vault(),
                &deployer.pubkey(),
                &[],
                plan.reward_funding,
            )?;
            rpc.send(&[fund], deployer, &[])
                .await
                .context("fund reward vault")?;
        }
    }
    if rpc.account(&gov::pda::gov_config()).await?.is_none() {
        let init = gov::initialize_governance(&deployer.pubkey(), plan.gov_params);
        rpc.send(&[init], deployer, &[])
            .await
            .context("initialize governance")?;
    }
    let config: Config = rpc.decode(&pda::config()).await?;
    if config.authority != gov::pda::authority() {
        let mut steps = Vec::new();
        if config.pending_authority != Some(gov::pda::authority()) {
            steps.push(ix::propose_authority(
                &deployer.pubkey(),
                &gov::pda::authority(),
            ));
        }
        steps.push(gov::accept_network_authority());
        rpc.send(&steps, deployer, &[])
            .await
            .context("hand authority to governance")?;
    }
    let config: Config = rpc.decode(&pda::config()).await?;
    Ok(Deployment {
        config: pda::config().to_string(),
        media_mint: config.media_mint.to_string(),
        payment_mint: config.payment_mint.to_string(),
        authority: config.authority.to_string(),
        governance: media_governance::ID.to_string(),
        deployer_media_account: deployer_media.map(|k| k.to_string()),
        deployer_payment_account: deployer_payment.map(|k| k.to_string()),
    })
}

/// A 6-decimal classic SPL mint whose whole `supply` goes to a new account of the deployer,
/// after which the mint authority is removed: the supply is fixed.
async fn create_test_mint(rpc: &Rpc, deployer: &Keypair, supply: u64) -> Result<(Pubkey, Pubkey)> {
    let mint = Keypair::new();
    let reserve = Keypair::new();
    let owner = deployer.pubkey();
    let mint_rent = rpc.rent_exempt(spl_token::state::Mint::LEN).await?;
    let account_rent = rpc.rent_exempt(spl_token::state::Account::LEN).await?;
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
        system_instruction::create_account(
            &owner,
            &reserve.pubkey(),
            account_rent,
            spl_token::state::Account::LEN as u64,
            &token,
        ),
        token_ix::initialize_account3(&token, &reserve.pubkey(), &mint.pubkey(), &owner)?,
        token_ix::mint_to(
            &token,
            &mint.pubkey(),
            &reserve.pubkey(),
            &owner,
            &[],
            supply,
        )?,
        token_ix::set_authority(
            &token,
            &mint.pubkey(),
            None,
            token_ix::AuthorityType::MintTokens,
            &owner,
            &[],
        )?,
    ];
    rpc.send(&instructions, deployer, &[&mint, &reserve])
        .await
        .context("create test mint")?;
    Ok((mint.pubkey(), reserve.pubkey()))
}
