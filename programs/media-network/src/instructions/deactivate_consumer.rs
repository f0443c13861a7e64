use crate::constants::*;
use crate::errors::MediaError;
use crate::events::ConsumerDeactivated;
use crate::math::SafeMath;
use crate::state::{Config, Consumer, StakeAccount};
use anchor_lang::prelude::*;

/// Stops buying bandwidth. Receipts already co-signed stay payable through the grace window;
/// after it (two epoch boundaries) the escrow can be withdrawn and the bond unstaked.
#[derive(Accounts)]
pub struct DeactivateConsumer<'info> {
    pub owner: Signer<'info>,

    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(
        mut, has_one = owner @ MediaError::Unauthorized,
        seeds = [CONSUMER_SEED, owner.key().as_ref()], bump = consumer.bump,
    )]
    pub consumer: Box<Account<'info, Consumer>>,

    #[account(mut, seeds = [STAKE_SEED, owner.key().as_ref()], bump = stake_account.bump)]
    pub stake_account: Box<Account<'info, StakeAccount>>,
}

pub fn handler(ctx: Context<DeactivateConsumer>) -> Result<()> {
    let a = &mut *ctx.accounts;
    let epoch = a.config.epoch;
    let bond = a.consumer.deactivate(epoch)?;
    a.config.unbond_consumer(bond)?;
    let release_epoch = epoch.safe_add(2)?;
    a.stake_account.schedule_consumer_release(release_epoch);
    emit!(ConsumerDeactivated {
        owner: a.consumer.owner,
        release_epoch,
    });
    a.config.invariant()
}
