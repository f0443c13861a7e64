use crate::constants::*;
use crate::errors::MediaError;
use crate::events::LaneOpened;
use crate::state::{Config, Consumer, EpochRing, Lane, Provider};
use anchor_lang::prelude::*;
use media_pda::create;

/// Opens the settlement lane of a provider's node key for one consumer. Signed by the
/// provider's owner or its node key, who pays the rent.
#[derive(Accounts)]
pub struct OpenLane<'info> {
    #[account(
        mut,
        constraint = signer.key() == provider.owner || signer.key() == provider.node_key
            @ MediaError::NotProviderOrNodeKey,
    )]
    pub signer: Signer<'info>,

    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(seeds = [PROVIDER_SEED, provider.owner.as_ref()], bump = provider.bump)]
    pub provider: Box<Account<'info, Provider>>,

    #[account(seeds = [CONSUMER_SEED, consumer.owner.as_ref()], bump = consumer.bump)]
    pub consumer: Box<Account<'info, Consumer>>,

    /// CHECK: the lane PDA, created by the handler (see `media_pda`).
    #[account(
        mut, seeds = [LANE_SEED, provider.node_key.as_ref(), consumer.owner.as_ref()], bump,
    )]
    pub lane: UncheckedAccount<'info>,

    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<OpenLane>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &*ctx.accounts;
    a.config.require_not_paused(now)?;
    require!(a.provider.is_active(), MediaError::ProviderInactive);
    require!(a.consumer.is_active(), MediaError::ConsumerInactive);
    let bump = ctx.bumps.lane;
    let lane = Lane {
        bump,
        node_key: a.provider.node_key,
        consumer: a.consumer.owner,
        provider: a.provider.key(),
        rent_payer: a.signer.key(),
        last_epoch: a.config.epoch,
        slots: EpochRing::EMPTY,
    };
    create(
        &a.signer,
        &a.lane,
        &a.system_program,
        8 + Lane::INIT_SPACE,
        &[
            LANE_SEED,
            lane.node_key.as_ref(),
            lane.consumer.as_ref(),
            &[bump],
        ],
        &lane,
    )?;
    emit!(LaneOpened {
        node_key: lane.node_key,
        consumer: lane.consumer,
        provider: lane.provider,
    });
    Ok(())
}
