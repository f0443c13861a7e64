use crate::state::{ProposalAction, VoteChoice};
use anchor_lang::prelude::*;

#[event]
pub struct ProposalCreated {
    pub id: u64,
    pub proposal: Pubkey,
    pub proposer: Pubkey,
    pub action: ProposalAction,
    pub voting_ends_at: i64,
    pub stake_snapshot: u64,
}

#[event]
pub struct VoteCast {
    pub proposal: u64,
    pub voter: Pubkey,
    pub choice: VoteChoice,
    pub weight: u64,
}

#[event]
pub struct ProposalFinalized {
    pub id: u64,
    pub passed: bool,
    pub yes: u64,
    pub no: u64,
    pub abstain: u64,
}

#[event]
pub struct ProposalExecuted {
    pub id: u64,
    pub action: ProposalAction,
}

#[event]
pub struct ProposalCancelled {
    pub id: u64,
}
