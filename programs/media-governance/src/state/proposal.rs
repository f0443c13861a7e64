use super::{GovParams, ProposalAction};
use crate::errors::GovernanceError;
use crate::tally::{self, Outcome};
use anchor_lang::prelude::*;

#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteChoice {
    Yes,
    No,
    Abstain,
}

#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposalStatus {
    Voting,
    /// Passed: executable from `executable_at` until `expires_at`.
    Passed,
    Defeated,
    Executed,
    Cancelled,
    Expired,
}

/// `["proposal", proposer, nonce as u64 LE]`: keyed by the proposer's own counter, so nobody
/// else can take the address a proposer's pending transaction names (review L-2). `id` is the
/// global sequence number people refer to; it is assigned when the proposal lands.
#[account]
#[derive(InitSpace, Debug)]
pub struct Proposal {
    pub bump: u8,
    pub id: u64,
    pub proposer: Pubkey,
    /// The proposer's `Proposer::proposals_made` when this proposal was created.
    pub nonce: u64,
    pub action: ProposalAction,
    pub status: ProposalStatus,
    pub created_at: i64,
    pub voting_ends_at: i64,
    /// media-network's total stake when the proposal was made (the quorum base).
    pub stake_snapshot: u64,
    pub yes: u64,
    pub no: u64,
    pub abstain: u64,
    pub voters: u64,
    pub executable_at: i64,
    pub expires_at: i64,
    /// Governance's parameters when the proposal was made: they, not later ones, decide its
    /// quorum, approval, timelock and execution window (review L-3).
    pub rules: GovParams,
}

impl Proposal {
    pub fn record_vote(&mut self, choice: VoteChoice, weight: u64, now: i64) -> Result<()> {
        require!(
            self.status == ProposalStatus::Voting,
            GovernanceError::ProposalNotVoting
        );
        require!(now < self.voting_ends_at, GovernanceError::VotingClosed);
        let tally = match choice {
            VoteChoice::Yes => &mut self.yes,
            VoteChoice::No => &mut self.no,
            VoteChoice::Abstain => &mut self.abstain,
        };
        *tally = tally
            .checked_add(weight)
            .ok_or_else(|| error!(GovernanceError::MathOverflow))?;
        self.voters = self
            .voters
            .checked_add(1)
            .ok_or_else(|| error!(GovernanceError::MathOverflow))?;
        Ok(())
    }

    /// Counts the votes once voting has ended, by the rules the proposal was made under; a
    /// passed proposal gets its execution window.
    pub fn finalize_vote(&mut self, now: i64) -> Result<bool> {
        require!(
            self.status == ProposalStatus::Voting,
            GovernanceError::ProposalNotVoting
        );
        require!(now >= self.voting_ends_at, GovernanceError::VotingStillOpen);
        let rules = self.rules;
        let passed = tally::outcome(
            self.yes,
            self.no,
            self.abstain,
            self.stake_snapshot,
            rules.quorum_bps,
            rules.approval_bps,
        ) == Outcome::Passed;
        if passed {
            self.status = ProposalStatus::Passed;
            self.executable_at = add(self.voting_ends_at, rules.timelock_secs)?;
            self.expires_at = add(self.executable_at, rules.execution_window_secs)?;
        } else {
            self.status = ProposalStatus::Defeated;
        }
        Ok(passed)
    }

    pub fn require_executable(&self, now: i64) -> Result<()> {
        require!(
            self.status == ProposalStatus::Passed,
            GovernanceError::ProposalNotPassed
        );
        require!(
            now >= self.executable_at,
            GovernanceError::TimelockNotElapsed
        );
        require!(now < self.expires_at, GovernanceError::ProposalExpired);
        Ok(())
    }

    /// Whether the proposal no longer occupies its proposer's single open slot.
    pub fn is_closed(&self) -> bool {
        !matches!(self.status, ProposalStatus::Voting | ProposalStatus::Passed)
    }
}

fn add(a: i64, b: i64) -> Result<i64> {
    a.checked_add(b)
        .ok_or_else(|| error!(GovernanceError::MathOverflow))
}

/// `["proposer", wallet]`: enforces one open proposal per proposer and numbers its proposals.
#[account]
#[derive(InitSpace, Debug)]
pub struct Proposer {
    pub bump: u8,
    pub proposer: Pubkey,
    pub open_proposal: Option<u64>,
    /// How many proposals this wallet has created: the seed of its next one.
    pub proposals_made: u64,
}

impl Proposer {
    /// Takes the nonce a new proposal is created under; the caller's transaction named it.
    pub fn take_nonce(&mut self, named: u64) -> Result<u64> {
        require!(
            named == self.proposals_made,
            GovernanceError::StaleProposalNonce
        );
        self.proposals_made = named
            .checked_add(1)
            .ok_or_else(|| error!(GovernanceError::MathOverflow))?;
        Ok(named)
    }
}

/// `["vote_record", proposal, voter]`: its existence is the "already voted" flag.
#[account]
#[derive(InitSpace, Debug)]
pub struct VoteRecord {
    pub bump: u8,
    pub proposal: Pubkey,
    pub voter: Pubkey,
    pub choice: VoteChoice,
    pub weight: u64,
}
