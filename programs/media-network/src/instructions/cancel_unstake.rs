use crate::constants::*;
use crate::events::UnstakeCancelled;
use crate::state::{Config, StakeAccount};
use anchor_lang::prelude::*;

#[derive(Accounts)]
pub struct CancelUnstake<'info> {
    pub owner: Signer<'info>,

    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(mut, seeds = [STAKE_SEED, owner.key().as_ref()], bump = stake_account.bump)]
    pub stake_account: Box<Account<'info, StakeAccount>>,
}

pub fn handler(ctx: Context<CancelUnstake>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let config = &mut ctx.accounts.config;
    config.require_not_paused(now)?;
    let stake = &mut ctx.accounts.stake_account;
    stake.refresh(now, config.epoch)?;
    let amount = stake.cancel_unstake()?;
    config.add_stake(amount)?;
    emit!(UnstakeCancelled {
        owner: stake.owner,
        amount,
    });
    config.invariant()
}
