use crate::constants::*;
use crate::errors::MediaError;
use crate::events::Staked;
use crate::state::{Config, StakeAccount};
use anchor_lang::prelude::*;
use anchor_spl::token::{self, Token, TokenAccount, Transfer};
use media_pda::load_or_create;

#[derive(Accounts)]
pub struct Stake<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,

    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    /// CHECK: the owner's stake PDA; created on the first stake, then loaded with owner and
    /// discriminator checks (see `media_pda`).
    #[account(mut, seeds = [STAKE_SEED, owner.key().as_ref()], bump)]
    pub stake_account: UncheckedAccount<'info>,

    /// The owner's MEDIA; the token program checks that the owner may spend it.
    #[account(mut, constraint = source.mint == config.media_mint @ MediaError::WrongMint)]
    pub source: Box<Account<'info, TokenAccount>>,

    #[account(mut, address = config.stake_vault @ MediaError::InvalidVault)]
    pub stake_vault: Box<Account<'info, TokenAccount>>,

    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<Stake>, amount: u64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut *ctx.accounts;
    a.config.require_not_paused(now)?;
    require!(amount > 0, MediaError::ZeroAmount);

    let owner = a.owner.key();
    let stake_info = a.stake_account.to_account_info();
    let bump = ctx.bumps.stake_account;
    let mut stake = load_or_create(
        &a.owner,
        &stake_info,
        &a.system_program,
        8 + StakeAccount::INIT_SPACE,
        &[STAKE_SEED, owner.as_ref(), &[bump]],
        || StakeAccount::new(owner, bump),
    )?;
    stake.refresh(now, a.config.epoch)?;
    let active_at = stake.deposit(amount, now, a.config.params.warmup_secs)?;
    a.config.add_stake(amount)?;
    stake.store()?;

    token::transfer(
        CpiContext::new(
            a.token_program.key(),
            Transfer {
                from: a.source.to_account_info(),
                to: a.stake_vault.to_account_info(),
                authority: a.owner.to_account_info(),
            },
        ),
        amount,
    )?;
    emit!(Staked {
        owner,
        amount,
        active_at,
    });
    a.config.invariant()
}
