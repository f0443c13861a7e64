use crate::constants::*;
use crate::errors::MediaError;
use crate::events::LaneClosed;
use crate::state::{Config, Lane, Provider};
use anchor_lang::prelude::*;

/// Closes a lane that can no longer settle anything and returns its rent to whoever paid it.
#[derive(Accounts)]
pub struct CloseLane<'info> {
    #[account(
        constraint = signer.key() == provider.owner || signer.key() == provider.node_key
            @ MediaError::NotProviderOrNodeKey,
    )]
    pub signer: Signer<'info>,

    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(address = lane.provider @ MediaError::WrongProvider)]
    pub provider: Box<Account<'info, Provider>>,

    #[account(
        mut, close = rent_payer,
        seeds = [LANE_SEED, lane.node_key.as_ref(), lane.consumer.as_ref()], bump = lane.bump,
    )]
    pub lane: Box<Account<'info, Lane>>,

    /// CHECK: receives the rent; must be who paid it.
    #[account(mut, address = lane.rent_payer @ MediaError::Unauthorized)]
    pub rent_payer: UncheckedAccount<'info>,
}

pub fn handler(ctx: Context<CloseLane>) -> Result<()> {
    let lane = &ctx.accounts.lane;
    require!(
        lane.is_closable(ctx.accounts.config.epoch),
        MediaError::LaneStillActive
    );
    emit!(LaneClosed {
        node_key: lane.node_key,
        consumer: lane.consumer,
    });
    Ok(())
}
