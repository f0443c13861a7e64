use crate::constants::*;
use crate::errors::GovernanceError;
use crate::state::{GovConfig, GovParams};
use anchor_lang::prelude::*;
use media_network::state::Config as NetworkConfig;
use media_pda::{create, upgrade_authority};

#[derive(Accounts)]
pub struct InitializeGovernance<'info> {
    /// Must be this program's upgrade authority.
    #[account(mut)]
    pub deployer: Signer<'info>,

    /// CHECK: verified in the handler: this program's ProgramData.
    pub program_data: UncheckedAccount<'info>,

    /// CHECK: the governance config PDA, created by the handler.
    #[account(
        mut, seeds = [GOVERNANCE_SEED], bump,
        constraint = gov_config.data_is_empty() @ GovernanceError::AlreadyInitialized,
    )]
    pub gov_config: UncheckedAccount<'info>,

    /// CHECK: media-network's Config PDA whose parameters the voting period must fit.
    #[account(
        seeds = [media_network::constants::CONFIG_SEED], bump = network_config.bump,
        seeds::program = media_network::ID,
    )]
    pub network_config: Box<Account<'info, NetworkConfig>>,

    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<InitializeGovernance>, params: GovParams) -> Result<()> {
    let a = &ctx.accounts;
    require_upgrade_authority(&a.deployer.key(), &a.program_data)?;
    require_network_trusts(&crate::ID)?;
    params.validate()?;
    params.check_stake_locks(&a.network_config.params)?;
    let bump = ctx.bumps.gov_config;
    let (_, authority_bump) = Pubkey::find_program_address(&[AUTHORITY_SEED], &crate::ID);
    let (_, vote_bump) = Pubkey::find_program_address(&[VOTE_SEED], &crate::ID);
    create(
        &a.deployer,
        &a.gov_config,
        &a.system_program,
        8 + GovConfig::INIT_SPACE,
        &[GOVERNANCE_SEED, &[bump]],
        &GovConfig {
            bump,
            authority_bump,
            vote_bump,
            params,
            proposal_count: 0,
        },
    )
}

fn require_upgrade_authority(deployer: &Pubkey, program_data: &AccountInfo) -> Result<()> {
    #[cfg(feature = "test-bootstrap")]
    if *deployer == media_network::constants::TEST_BOOTSTRAP_AUTHORITY {
        return Ok(());
    }
    let authority = upgrade_authority(&crate::ID, program_data)
        .ok_or_else(|| error!(GovernanceError::InvalidProgramData))?;
    require!(
        authority == Some(*deployer),
        GovernanceError::NotUpgradeAuthority
    );
    Ok(())
}
