use crate::constants::*;
use crate::errors::MediaError;
use crate::events::ProtocolInitialized;
use crate::state::{Buyback, Config, Epoch, EpochRing, EpochTotals, Params};
use anchor_lang::prelude::*;
use anchor_spl::token::{self, InitializeAccount3, Token, TokenAccount};
use anchor_spl::token_interface::Mint;
use media_pda::{create, create_pda, upgrade_authority};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct InitializeArgs {
    pub params: Params,
    pub guardian: Option<Pubkey>,
}

/// Config and the vaults are created by the handler (see `media_pda`) so that every check
/// below runs first and a pre-funded address cannot block the deployment.
#[derive(Accounts)]
pub struct Initialize<'info> {
    /// Must be the program's upgrade authority; becomes the first protocol authority.
    #[account(mut)]
    pub deployer: Signer<'info>,

    /// CHECK: verified in the handler: this program's ProgramData, owned by the upgradeable loader.
    pub program_data: UncheckedAccount<'info>,

    /// CHECK: the Config PDA, created by the handler.
    #[account(
        mut, seeds = [CONFIG_SEED], bump,
        constraint = config.data_is_empty() @ MediaError::AlreadyInitialized,
    )]
    pub config: UncheckedAccount<'info>,

    // Mints are read through the token interface so that a Token-2022 mint reaches our own
    // check and gets a named error instead of a generic owner mismatch.
    #[account(
        constraint = *media_mint.to_account_info().owner == Token::id() @ MediaError::UnsupportedTokenProgram,
        constraint = media_mint.decimals == MEDIA_DECIMALS @ MediaError::InvalidMediaMint,
        // MEDIA is never minted, and a freeze authority could freeze the stake or reward vault.
        constraint = media_mint.mint_authority.is_none() && media_mint.freeze_authority.is_none()
            @ MediaError::MediaMintHasAuthority,
    )]
    pub media_mint: Box<InterfaceAccount<'info, Mint>>,

    #[account(
        constraint = *payment_mint.to_account_info().owner == Token::id() @ MediaError::UnsupportedTokenProgram,
    )]
    pub payment_mint: Box<InterfaceAccount<'info, Mint>>,

    /// CHECK: epoch 0's PDA, created by the handler.
    #[account(mut, seeds = [EPOCH_SEED, &0u64.to_le_bytes()], bump)]
    pub first_epoch: UncheckedAccount<'info>,

    /// CHECK: the buyback PDA, created by the handler.
    #[account(mut, seeds = [BUYBACK_SEED], bump)]
    pub buyback: UncheckedAccount<'info>,

    /// CHECK: the stake vault PDA, created by the handler.
    #[account(mut, seeds = [STAKE_VAULT_SEED], bump)]
    pub stake_vault: UncheckedAccount<'info>,

    /// CHECK: the reward vault PDA, created by the handler.
    #[account(mut, seeds = [REWARD_VAULT_SEED], bump)]
    pub reward_vault: UncheckedAccount<'info>,

    /// CHECK: the payment vault PDA, created by the handler.
    #[account(mut, seeds = [PAYMENT_VAULT_SEED], bump)]
    pub payment_vault: UncheckedAccount<'info>,

    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<Initialize>, args: InitializeArgs) -> Result<()> {
    let a = &ctx.accounts;
    require_upgrade_authority(&a.deployer.key(), &a.program_data)?;
    args.params.validate()?;
    let now = Clock::get()?.unix_timestamp;

    let config_info = a.config.to_account_info();
    let vaults = [
        (
            &a.stake_vault,
            &a.media_mint,
            STAKE_VAULT_SEED,
            ctx.bumps.stake_vault,
        ),
        (
            &a.reward_vault,
            &a.media_mint,
            REWARD_VAULT_SEED,
            ctx.bumps.reward_vault,
        ),
        (
            &a.payment_vault,
            &a.payment_mint,
            PAYMENT_VAULT_SEED,
            ctx.bumps.payment_vault,
        ),
    ];
    for (vault, mint, seed, bump) in vaults {
        create_pda(
            &a.deployer,
            vault,
            &a.system_program,
            TokenAccount::LEN,
            &token::ID,
            &[seed, &[bump]],
        )?;
        token::initialize_account3(CpiContext::new(
            a.token_program.key(),
            InitializeAccount3 {
                account: vault.to_account_info(),
                mint: mint.to_account_info(),
                authority: config_info.clone(),
            },
        ))?;
    }

    let config = Config {
        bump: ctx.bumps.config,
        stake_vault_bump: ctx.bumps.stake_vault,
        reward_vault_bump: ctx.bumps.reward_vault,
        payment_vault_bump: ctx.bumps.payment_vault,
        authority: a.deployer.key(),
        pending_authority: None,
        guardian: args.guardian,
        media_mint: a.media_mint.key(),
        payment_mint: a.payment_mint.key(),
        stake_vault: a.stake_vault.key(),
        reward_vault: a.reward_vault.key(),
        payment_vault: a.payment_vault.key(),
        params: args.params,
        paused_until: 0,
        guardian_pause_allowed_at: 0,
        epoch: 0,
        epoch_started_at: now,
        provider_stake_current: 0,
        provider_stake_next: 0,
        consumer_stake: 0,
        staked_total: 0,
        treasury_accrued: 0,
        reward_reserved: 0,
        epoch_totals: EpochRing {
            slots: [EpochTotals::start(0, &args.params, 0), EpochTotals::EMPTY],
        },
        bounties_to_net: 0,
    };
    config.invariant()?;
    create(
        &a.deployer,
        &config_info,
        &a.system_program,
        8 + Config::INIT_SPACE,
        &[CONFIG_SEED, &[ctx.bumps.config]],
        &config,
    )?;
    let epoch_bump = ctx.bumps.first_epoch;
    create(
        &a.deployer,
        &a.first_epoch,
        &a.system_program,
        8 + Epoch::INIT_SPACE,
        &[EPOCH_SEED, &0u64.to_le_bytes(), &[epoch_bump]],
        &Epoch::new(epoch_bump, now, &config.epoch_totals[0]),
    )?;
    let buyback_bump = ctx.bumps.buyback;
    create(
        &a.deployer,
        &a.buyback,
        &a.system_program,
        8 + Buyback::INIT_SPACE,
        &[BUYBACK_SEED, &[buyback_bump]],
        &Buyback::new(buyback_bump, args.params.buyback.initial_reference_price),
    )?;
    emit!(ProtocolInitialized {
        authority: config.authority,
        media_mint: config.media_mint,
        payment_mint: config.payment_mint,
    });
    Ok(())
}

/// Only whoever may upgrade the program may choose its mints and first authority; otherwise
/// anyone could front-run the deployment with their own Config.
fn require_upgrade_authority(deployer: &Pubkey, program_data: &AccountInfo) -> Result<()> {
    #[cfg(feature = "test-bootstrap")]
    if *deployer == TEST_BOOTSTRAP_AUTHORITY {
        return Ok(());
    }
    let authority = upgrade_authority(&crate::ID, program_data)
        .ok_or_else(|| error!(MediaError::InvalidProgramData))?;
    require!(
        authority == Some(*deployer),
        MediaError::NotUpgradeAuthority
    );
    Ok(())
}
