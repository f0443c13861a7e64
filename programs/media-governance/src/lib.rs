//! Media Network governance: MEDIA stakers propose and vote (weight = warmed-up stake), and
//! passed proposals change media-network by CPI signed by this program's authority PDA after
//! a timelock. This file only dispatches; each instruction lives in `instructions/`.
#![allow(unexpected_cfgs)]

use anchor_lang::prelude::*;

pub mod constants;
pub mod errors;
pub mod events;
pub mod instructions;
pub mod state;
pub mod tally;

use instructions::*;
use state::{GovParams, ProposalAction, VoteChoice};

declare_id!("FqFoXCqsCR71jEYzU2mr2hYPn5KHVu2pwkRrtgiUeX2Q");

#[program]
pub mod media_governance {
    use super::*;

    pub fn initialize_governance(
        ctx: Context<InitializeGovernance>,
        params: GovParams,
    ) -> Result<()> {
        instructions::initialize_governance::handler(ctx, params)
    }

    pub fn accept_network_authority(ctx: Context<AcceptNetworkAuthority>) -> Result<()> {
        instructions::accept_network_authority::handler(ctx)
    }

    /// `nonce` is the proposer record's `proposals_made` (0 for a wallet's first proposal).
    pub fn create_proposal(
        ctx: Context<CreateProposal>,
        action: ProposalAction,
        nonce: u64,
    ) -> Result<()> {
        instructions::create_proposal::handler(ctx, action, nonce)
    }

    pub fn cast_vote(ctx: Context<CastVote>, choice: VoteChoice) -> Result<()> {
        instructions::cast_vote::handler(ctx, choice)
    }

    pub fn finalize_proposal(ctx: Context<FinalizeProposal>) -> Result<()> {
        instructions::finalize_proposal::handler(ctx)
    }

    pub fn execute_proposal(ctx: Context<ExecuteProposal>) -> Result<()> {
        instructions::execute_proposal::handler(ctx)
    }

    pub fn cancel_proposal(ctx: Context<CancelProposal>) -> Result<()> {
        instructions::cancel_proposal::handler(ctx)
    }
}
