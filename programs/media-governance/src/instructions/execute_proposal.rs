use super::finalize_proposal::release_proposer;
use crate::constants::*;
use crate::events::ProposalExecuted;
use crate::state::{GovConfig, Proposal, ProposalAction, ProposalStatus, Proposer};
use anchor_lang::prelude::*;
use media_network::cpi::accounts::{AuthorityOnly, SetPaused};
use media_network::instructions::SetPausedArgs;
use media_network::program::MediaNetwork;
use media_network::state::Config as NetworkConfig;

/// Permissionless, after the timelock and before expiry: carries out a passed proposal, by CPI
/// into media-network signed by the governance authority PDA.
#[derive(Accounts)]
pub struct ExecuteProposal<'info> {
    #[account(mut, seeds = [GOVERNANCE_SEED], bump = gov_config.bump)]
    pub gov_config: Box<Account<'info, GovConfig>>,

    #[account(mut, seeds = [PROPOSAL_SEED, proposal.proposer.as_ref(), &proposal.nonce.to_le_bytes()], bump = proposal.bump)]
    pub proposal: Box<Account<'info, Proposal>>,

    #[account(mut, seeds = [PROPOSER_SEED, proposal.proposer.as_ref()], bump = proposer_record.bump)]
    pub proposer_record: Box<Account<'info, Proposer>>,

    /// CHECK: governance's authority PDA, media-network's protocol authority.
    #[account(seeds = [AUTHORITY_SEED], bump = gov_config.authority_bump)]
    pub governance_authority: UncheckedAccount<'info>,

    #[account(
        mut, seeds = [media_network::constants::CONFIG_SEED], bump = network_config.bump,
        seeds::program = media_network::ID,
    )]
    pub network_config: Box<Account<'info, NetworkConfig>>,

    pub media_network_program: Program<'info, MediaNetwork>,
}

pub fn handler(ctx: Context<ExecuteProposal>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut *ctx.accounts;
    a.proposal.require_executable(now)?;
    let action = a.proposal.action;
    // Re-checked against today's parameters: a change made since creation makes this fail.
    let applied = action.apply(&a.network_config.params, &a.gov_config.params)?;

    let seeds: &[&[u8]] = &[AUTHORITY_SEED, &[a.gov_config.authority_bump]];
    let signer = &[seeds];
    let authority_only = || AuthorityOnly {
        authority: a.governance_authority.to_account_info(),
        config: a.network_config.to_account_info(),
    };
    match action {
        ProposalAction::SetParam { .. } => media_network::cpi::update_params(
            CpiContext::new_with_signer(media_network::ID, authority_only(), signer),
            applied.network,
        )?,
        ProposalAction::SetGovParam { .. } => a.gov_config.params = applied.governance,
        ProposalAction::Pause | ProposalAction::Unpause => media_network::cpi::set_paused(
            CpiContext::new_with_signer(
                media_network::ID,
                SetPaused {
                    signer: a.governance_authority.to_account_info(),
                    config: a.network_config.to_account_info(),
                },
                signer,
            ),
            SetPausedArgs {
                paused: action == ProposalAction::Pause,
                duration_secs: 0,
            },
        )?,
        ProposalAction::SetGuardian { guardian } => media_network::cpi::set_guardian(
            CpiContext::new_with_signer(media_network::ID, authority_only(), signer),
            guardian,
        )?,
        ProposalAction::SetAuthority { new_authority } => media_network::cpi::propose_authority(
            CpiContext::new_with_signer(media_network::ID, authority_only(), signer),
            new_authority,
        )?,
    }
    a.proposal.status = ProposalStatus::Executed;
    release_proposer(&mut a.proposer_record, a.proposal.id);
    emit!(ProposalExecuted {
        id: a.proposal.id,
        action,
    });
    Ok(())
}
