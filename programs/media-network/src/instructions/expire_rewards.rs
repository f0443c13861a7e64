use crate::constants::*;
use crate::errors::MediaError;
use crate::events::RewardsExpired;
use crate::state::{Config, Epoch};
use anchor_lang::prelude::*;

/// Permissionless: once an epoch's claim period (`reward_claim_epochs` after finalization) is
/// over, what its providers did not accrue returns from the reserve to the reward pool.
#[derive(Accounts)]
pub struct ExpireRewards<'info> {
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(mut, seeds = [EPOCH_SEED, &epoch.epoch.to_le_bytes()], bump = epoch.bump)]
    pub epoch: Box<Account<'info, Epoch>>,
}

pub fn handler(ctx: Context<ExpireRewards>) -> Result<()> {
    let a = &mut *ctx.accounts;
    let expires_at = a
        .epoch
        .expires_at_epoch(a.config.params.reward_claim_epochs)?;
    require!(a.config.epoch >= expires_at, MediaError::RewardsNotExpired);
    let returned = a.epoch.expire()?;
    a.config.release_rewards(returned)?;
    emit!(RewardsExpired {
        epoch: a.epoch.epoch,
        returned,
    });
    a.config.invariant()
}
