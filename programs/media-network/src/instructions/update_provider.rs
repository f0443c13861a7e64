use crate::constants::*;
use crate::errors::MediaError;
use crate::events::ProviderUpdated;
use crate::state::{parse_region, validate_endpoint, Config, Provider};
use anchor_lang::prelude::*;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, Default)]
pub struct UpdateProviderArgs {
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

#[derive(Accounts)]
pub struct UpdateProvider<'info> {
    pub owner: Signer<'info>,

    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(
        mut, has_one = owner @ MediaError::Unauthorized,
        seeds = [PROVIDER_SEED, owner.key().as_ref()], bump = provider.bump,
    )]
    pub provider: Box<Account<'info, Provider>>,
}

pub fn handler(ctx: Context<UpdateProvider>, args: UpdateProviderArgs) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    ctx.accounts.config.require_not_paused(now)?;
    let provider = &mut ctx.accounts.provider;
    require!(provider.is_active(), MediaError::ProviderInactive);
    if let Some(endpoint) = args.endpoint {
        validate_endpoint(&endpoint)?;
        provider.endpoint = endpoint;
    }
    if let Some(region) = args.region {
        provider.region = parse_region(&region)?;
    }
    emit!(ProviderUpdated {
        owner: provider.owner,
        node_key: provider.node_key,
    });
    Ok(())
}
