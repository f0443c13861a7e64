use crate::constants::*;
use crate::events::UnstakeRequested;
use crate::state::{Config, StakeAccount};
use anchor_lang::prelude::*;

#[derive(Accounts)]
pub struct RequestUnstake<'info> {
    pub owner: Signer<'info>,

    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(mut, seeds = [STAKE_SEED, owner.key().as_ref()], bump = stake_account.bump)]
    pub stake_account: Box<Account<'info, StakeAccount>>,
}

pub fn handler(ctx: Context<RequestUnstake>, amount: u64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let config = &mut ctx.accounts.config;
    let stake = &mut ctx.accounts.stake_account;
    stake.refresh(now, config.epoch)?;
    let unlock_at = stake.request_unstake(amount, now, config.params.unstake_cooldown_secs)?;
    config.remove_stake(amount)?;
    emit!(UnstakeRequested {
        owner: stake.owner,
        amount,
        unlock_at,
    });
    config.invariant()
}
