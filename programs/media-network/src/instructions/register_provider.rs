use crate::constants::*;
use crate::errors::MediaError;
use crate::events::ProviderRegistered;
use crate::state::{
    parse_region, validate_endpoint, Config, NodeKey, Provider, ProviderKind, Registration,
    StakeAccount,
};
use anchor_lang::prelude::*;
use media_pda::{create, load, store};

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

    /// CHECK: the owner's provider PDA, created by the handler (see `media_pda`), or a
    /// deactivated one that registers again (loaded and checked by the handler).
    #[account(mut, seeds = [PROVIDER_SEED, owner.key().as_ref()], bump)]
    pub provider: UncheckedAccount<'info>,

    /// CHECK: the node key's registry PDA, created by the handler (or already this provider's).
    #[account(mut, seeds = [NODE_KEY_SEED, node_key.key().as_ref()], bump)]
    pub node_key_record: UncheckedAccount<'info>,

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

    let again = if ctx.accounts.provider.data_is_empty() {
        None
    } else {
        let existing: Provider = load(&ctx.accounts.provider)?;
        require!(!existing.is_active(), MediaError::ProviderAlreadyRegistered);
        Some(existing)
    };
    let stake = &mut ctx.accounts.stake_account;
    stake.refresh(now, config.epoch)?;
    // A deactivated provider's old bond must have been released first (ProviderBondPending).
    stake.bond_provider(args.bond)?;
    config.bond_provider_next(args.bond)?;

    let epoch = config.epoch;
    let owner = ctx.accounts.owner.key();
    let node_key = ctx.accounts.node_key.key();
    NodeKey::claim(
        &ctx.accounts.owner,
        &ctx.accounts.node_key_record,
        &ctx.accounts.system_program,
        ctx.bumps.node_key_record,
        node_key,
        ctx.accounts.provider.key(),
    )?;
    let registration = Registration {
        node_key,
        kind: args.kind,
        endpoint: args.endpoint,
        region,
        bond: args.bond,
    };
    match again {
        Some(mut provider) => {
            provider.reactivate(registration, epoch)?;
            store(&ctx.accounts.provider, &provider)?;
        }
        None => {
            let provider = Provider::register(ctx.bumps.provider, owner, registration, epoch);
            create(
                &ctx.accounts.owner,
                &ctx.accounts.provider,
                &ctx.accounts.system_program,
                8 + Provider::INIT_SPACE,
                &[PROVIDER_SEED, owner.as_ref(), &[ctx.bumps.provider]],
                &provider,
            )?;
        }
    }
    emit!(ProviderRegistered {
        owner,
        node_key,
        kind: args.kind,
        bond: args.bond,
    });
    config.invariant()
}
