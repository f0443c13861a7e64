use super::finalize_proposal::release_proposer;
use crate::constants::*;
use crate::errors::GovernanceError;
use crate::events::ProposalCancelled;
use crate::state::{Proposal, ProposalStatus, Proposer};
use anchor_lang::prelude::*;

/// The proposer withdraws a proposal nobody has voted on yet.
#[derive(Accounts)]
pub struct CancelProposal<'info> {
    pub proposer: Signer<'info>,

    #[account(
        mut, seeds = [PROPOSAL_SEED, proposal.proposer.as_ref(), &proposal.nonce.to_le_bytes()], bump = proposal.bump,
        constraint = proposal.proposer == proposer.key() @ GovernanceError::NotProposer,
    )]
    pub proposal: Box<Account<'info, Proposal>>,

    #[account(mut, seeds = [PROPOSER_SEED, proposer.key().as_ref()], bump = proposer_record.bump)]
    pub proposer_record: Box<Account<'info, Proposer>>,
}

pub fn handler(ctx: Context<CancelProposal>) -> Result<()> {
    let a = &mut *ctx.accounts;
    require!(
        a.proposal.status == ProposalStatus::Voting,
        GovernanceError::ProposalNotVoting
    );
    require!(a.proposal.voters == 0, GovernanceError::ProposalHasVotes);
    a.proposal.status = ProposalStatus::Cancelled;
    release_proposer(&mut a.proposer_record, a.proposal.id);
    emit!(ProposalCancelled { id: a.proposal.id });
    Ok(())
}
