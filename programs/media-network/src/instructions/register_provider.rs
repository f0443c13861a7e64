use crate::constants::*;
use crate::errors::MediaError;
use crate::events::ProviderRegistered;
use crate::pda_account::create_program_account;
use crate::state::{
    parse_region, validate_endpoint, Config, EpochBytes, Provider, ProviderKind, ProviderStatus,
    StakeAccount,
};
use anchor_lang::prelude::*;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct RegisterProviderArgs {
    pub kind: ProviderKind,
    pub endpoint: String,
    pub region: String,
    /// MEDIA base units of active stake to bond; at least `min_provider_stake`.
    pub bond: u64,
}

#[derive(Accounts)]
pub struct RegisterProvider<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,

    /// The relay's key co-signs, so nobody can register a key they do not hold.
    pub node_key: Signer<'info>,

    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(mut, seeds = [STAKE_SEED, owner.key().as_ref()], bump = stake_account.bump)]
    pub stake_account: Box<Account<'info, StakeAccount>>,

    /// CHECK: the owner's provider PDA, created by the handler (see `pda_account`).
    #[account(
        mut, seeds = [PROVIDER_SEED, owner.key().as_ref()], bump,
        constraint = provider.data_is_empty() @ MediaError::ProviderAlreadyRegistered,
    )]
    pub provider: UncheckedAccount<'info>,

    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<RegisterProvider>, args: RegisterProviderArgs) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let config = &mut ctx.accounts.config;
    config.require_not_paused(now)?;
    validate_endpoint(&args.endpoint)?;
    let region = parse_region(&args.region)?;
    require!(
        args.bond >= config.params.min_provider_stake,
        MediaError::BondBelowMinimum
    );

    let stake = &mut ctx.accounts.stake_account;
    stake.refresh(now, config.epoch)?;
    stake.bond_provider(args.bond)?;
    config.bond_provider_next(args.bond)?;

    let epoch = config.epoch;
    let owner = ctx.accounts.owner.key();
    let provider = Provider {
        bump: ctx.bumps.provider,
        owner,
        node_key: ctx.accounts.node_key.key(),
        kind: args.kind,
        status: ProviderStatus::Active,
        endpoint: args.endpoint,
        region,
        // The bond counts from the next epoch, whose provider-stake total S includes it.
        bond_current: 0,
        bond_next: args.bond,
        bond_previous: 0,
        bond_epoch: epoch,
        registered_epoch: epoch,
        deactivated_epoch: 0,
        reward_slots: [EpochBytes::EMPTY; 2],
        fees_claimable: 0,
        rewards_claimable: 0,
    };
    create_program_account(
        &ctx.accounts.owner,
        &ctx.accounts.provider,
        &ctx.accounts.system_program,
        8 + Provider::INIT_SPACE,
        &[PROVIDER_SEED, owner.as_ref(), &[ctx.bumps.provider]],
        &provider,
    )?;
    emit!(ProviderRegistered {
        owner,
        node_key: ctx.accounts.node_key.key(),
        kind: args.kind,
        bond: args.bond,
    });
    Ok(())
}
