use crate::constants::*;
use crate::state::GovConfig;
use anchor_lang::prelude::*;
use media_network::cpi::accounts::AcceptAuthority;
use media_network::program::MediaNetwork;
use media_network::state::Config as NetworkConfig;

/// Permissionless: completes the bootstrap hand-over after media-network's authority proposed
/// governance's authority PDA, once the stake-lock rule holds for today's parameters.
#[derive(Accounts)]
pub struct AcceptNetworkAuthority<'info> {
    #[account(seeds = [GOVERNANCE_SEED], bump = gov_config.bump)]
    pub gov_config: Box<Account<'info, GovConfig>>,

    /// CHECK: governance's authority PDA.
    #[account(seeds = [AUTHORITY_SEED], bump = gov_config.authority_bump)]
    pub governance_authority: UncheckedAccount<'info>,

    #[account(
        mut, seeds = [media_network::constants::CONFIG_SEED], bump = network_config.bump,
        seeds::program = media_network::ID,
    )]
    pub network_config: Box<Account<'info, NetworkConfig>>,

    pub media_network_program: Program<'info, MediaNetwork>,
}

pub fn handler(ctx: Context<AcceptNetworkAuthority>) -> Result<()> {
    let a = &ctx.accounts;
    require_network_trusts(&crate::ID)?;
    a.gov_config
        .params
        .check_stake_locks(&a.network_config.params)?;
    let seeds: &[&[u8]] = &[AUTHORITY_SEED, &[a.gov_config.authority_bump]];
    media_network::cpi::accept_authority(CpiContext::new_with_signer(
        media_network::ID,
        AcceptAuthority {
            new_authority: a.governance_authority.to_account_info(),
            config: a.network_config.to_account_info(),
        },
        &[seeds],
    ))
}
