use crate::constants::*;
use crate::events::RewardsAccrued;
use crate::rewards;
use crate::state::{Config, Epoch, Provider};
use anchor_lang::prelude::*;

/// Permissionless: moves a provider's reward slot for a finalized epoch into its claimable
/// rewards (and frees the slot for settlement). An expired epoch's slot is cleared unpaid.
#[derive(Accounts)]
pub struct AccrueRewards<'info> {
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(mut, seeds = [EPOCH_SEED, &epoch.epoch.to_le_bytes()], bump = epoch.bump)]
    pub epoch: Box<Account<'info, Epoch>>,

    #[account(mut, seeds = [PROVIDER_SEED, provider.owner.as_ref()], bump = provider.bump)]
    pub provider: Box<Account<'info, Provider>>,
}

pub fn handler(ctx: Context<AccrueRewards>) -> Result<()> {
    let a = &mut *ctx.accounts;
    require!(
        a.epoch.finalized,
        crate::errors::MediaError::EpochNotFinalized
    );
    let slot = a.provider.take_reward_slot(a.epoch.epoch)?;
    let reward = if a.epoch.expired {
        0
    } else {
        rewards::provider_reward(
            a.epoch.emission,
            slot.bytes,
            a.epoch.reward_bytes,
            slot.bond,
            a.epoch.provider_stake,
        )?
    };
    a.epoch.pay(reward)?;
    a.provider.add_rewards(reward)?;
    emit!(RewardsAccrued {
        provider: a.provider.key(),
        epoch: a.epoch.epoch,
        bytes: slot.bytes,
        bond: slot.bond,
        reward,
    });
    Ok(())
}
