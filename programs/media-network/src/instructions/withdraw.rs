use super::payout::pay_from_vault;
use crate::constants::*;
use crate::errors::MediaError;
use crate::events::StakeWithdrawn;
use crate::state::{Config, StakeAccount};
use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

/// Pays out unlocked stake. Works while the protocol is paused: nobody's exit is blocked.
#[derive(Accounts)]
pub struct Withdraw<'info> {
    pub owner: Signer<'info>,

    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(mut, seeds = [STAKE_SEED, owner.key().as_ref()], bump = stake_account.bump)]
    pub stake_account: Box<Account<'info, StakeAccount>>,

    #[account(mut, constraint = destination.mint == config.media_mint @ MediaError::WrongMint)]
    pub destination: Box<Account<'info, TokenAccount>>,

    #[account(mut, address = config.stake_vault @ MediaError::InvalidVault)]
    pub stake_vault: Box<Account<'info, TokenAccount>>,

    pub token_program: Program<'info, Token>,
}

pub fn handler(ctx: Context<Withdraw>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let config = &ctx.accounts.config;
    let stake = &mut ctx.accounts.stake_account;
    stake.refresh(now, config.epoch)?;
    let amount = stake.take_withdrawable(now)?;

    pay_from_vault(
        config,
        &ctx.accounts.stake_vault.to_account_info(),
        &ctx.accounts.destination.to_account_info(),
        &ctx.accounts.token_program,
        amount,
    )?;
    emit!(StakeWithdrawn {
        owner: stake.owner,
        amount,
    });
    Ok(())
}
