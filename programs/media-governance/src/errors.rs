use anchor_lang::prelude::*;

#[error_code]
pub enum GovernanceError {
    #[msg("Only the governance program's upgrade authority may initialize it")]
    NotUpgradeAuthority,
    #[msg("The account is not this program's ProgramData")]
    InvalidProgramData,
    #[msg("A governance parameter is out of its allowed range")]
    GovParamOutOfRange,
    #[msg("The voting period must not exceed media-network's warm-up or unstake cool-down")]
    VotingPeriodExceedsStakeLocks,
    #[msg("media-network would reject the resulting parameters")]
    InvalidNetworkParams,
    #[msg("Governance is already initialized")]
    AlreadyInitialized,
    #[msg("The field does not hold the proposal's old value")]
    StaleProposal,
    #[msg("The value does not fit that parameter")]
    ValueOutOfRange,
    #[msg("The proposed authority must be a real key")]
    InvalidAuthority,
    #[msg("The proposer already has an open proposal")]
    ProposerHasOpenProposal,
    #[msg("Not enough warmed-up stake to make a proposal")]
    InsufficientStakeToPropose,
    #[msg("The stake account does not belong to the signer")]
    StakeOwnerMismatch,
    #[msg("This stake account has already voted on this proposal")]
    AlreadyVoted,
    #[msg("Voting on this proposal has ended")]
    VotingClosed,
    #[msg("Voting on this proposal is still open")]
    VotingStillOpen,
    #[msg("No warmed-up stake to vote with")]
    NoVotingPower,
    #[msg("The proposal is not open for voting")]
    ProposalNotVoting,
    #[msg("The proposal has not passed")]
    ProposalNotPassed,
    #[msg("The timelock has not elapsed")]
    TimelockNotElapsed,
    #[msg("The proposal's execution window has passed")]
    ProposalExpired,
    #[msg("The proposal's execution window is still open")]
    ProposalNotExpired,
    #[msg("Only the proposer may cancel")]
    NotProposer,
    #[msg("A proposal that has votes cannot be cancelled")]
    ProposalHasVotes,
    #[msg("Arithmetic overflow")]
    MathOverflow,
    #[msg("media-network's GOVERNANCE_PROGRAM_ID is not this program: votes could never lock stake, so governance must not take over")]
    NetworkTrustsAnotherGovernanceProgram,
    #[msg("The proposal nonce is not the proposer's next one: read the proposer record again")]
    StaleProposalNonce,
}
