use crate::constants::*;
use crate::errors::GovernanceError;
use crate::events::ProposalFinalized;
use crate::state::{GovConfig, Proposal, ProposalStatus, Proposer};
use anchor_lang::prelude::*;

/// Permissionless: counts a proposal's votes once voting has ended, or marks a passed proposal
/// expired once its execution window is over. A closed proposal frees its proposer's slot.
#[derive(Accounts)]
pub struct FinalizeProposal<'info> {
    /// Not read since proposals carry their own rules (L-3); kept so clients' account lists
    /// stay valid.
    #[account(seeds = [GOVERNANCE_SEED], bump = gov_config.bump)]
    pub gov_config: Box<Account<'info, GovConfig>>,

    #[account(mut, seeds = [PROPOSAL_SEED, proposal.proposer.as_ref(), &proposal.nonce.to_le_bytes()], bump = proposal.bump)]
    pub proposal: Box<Account<'info, Proposal>>,

    #[account(mut, seeds = [PROPOSER_SEED, proposal.proposer.as_ref()], bump = proposer_record.bump)]
    pub proposer_record: Box<Account<'info, Proposer>>,
}

pub fn handler(ctx: Context<FinalizeProposal>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut *ctx.accounts;
    match a.proposal.status {
        ProposalStatus::Voting => {
            let passed = a.proposal.finalize_vote(now)?;
            emit!(ProposalFinalized {
                id: a.proposal.id,
                passed,
                yes: a.proposal.yes,
                no: a.proposal.no,
                abstain: a.proposal.abstain,
            });
        }
        ProposalStatus::Passed => {
            require!(
                now >= a.proposal.expires_at,
                GovernanceError::ProposalNotExpired
            );
            a.proposal.status = ProposalStatus::Expired;
        }
        _ => return err!(GovernanceError::ProposalNotVoting),
    }
    if a.proposal.is_closed() {
        release_proposer(&mut a.proposer_record, a.proposal.id);
    }
    Ok(())
}

/// Frees the proposer's single open-proposal slot if `id` holds it.
pub fn release_proposer(record: &mut Proposer, id: u64) {
    if record.open_proposal == Some(id) {
        record.open_proposal = None;
    }
}
