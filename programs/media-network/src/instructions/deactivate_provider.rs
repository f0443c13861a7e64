use crate::constants::*;
use crate::errors::MediaError;
use crate::events::ProviderDeactivated;
use crate::state::{Config, Provider, StakeAccount};
use anchor_lang::prelude::*;

/// Stops serving: the bond stops counting from the next epoch and is released at that epoch
/// boundary, after which the normal unstake cool-down applies.
#[derive(Accounts)]
pub struct DeactivateProvider<'info> {
    pub owner: Signer<'info>,

    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(
        mut, has_one = owner @ MediaError::Unauthorized,
        seeds = [PROVIDER_SEED, owner.key().as_ref()], bump = provider.bump,
    )]
    pub provider: Box<Account<'info, Provider>>,

    #[account(mut, seeds = [STAKE_SEED, owner.key().as_ref()], bump = stake_account.bump)]
    pub stake_account: Box<Account<'info, StakeAccount>>,
}

pub fn handler(ctx: Context<DeactivateProvider>) -> Result<()> {
    let config = &mut ctx.accounts.config;
    let provider = &mut ctx.accounts.provider;
    let unbonded = provider.deactivate(config.epoch)?;
    config.unbond_provider_next(unbonded)?;
    let release_epoch = provider.release_epoch()?;
    ctx.accounts
        .stake_account
        .schedule_provider_release(release_epoch);
    emit!(ProviderDeactivated {
        owner: provider.owner,
        bond_release_epoch: release_epoch,
    });
    config.invariant()
}
