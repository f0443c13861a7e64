use anchor_lang::prelude::*;

#[error_code]
pub enum MediaError {
    // Deployment and authority.
    #[msg("Only the program's upgrade authority may initialize the protocol")]
    NotUpgradeAuthority,
    #[msg("The account is not this program's ProgramData")]
    InvalidProgramData,
    #[msg("Signer is not the protocol authority")]
    Unauthorized,
    #[msg("Signer is not the pending authority")]
    NotPendingAuthority,
    #[msg("Signer is neither the authority nor the guardian")]
    NotAuthorityOrGuardian,
    #[msg("A guardian pause lasts between 1 second and max_pause_secs")]
    GuardianPauseTooLong,
    #[msg("The guardian may only pause, and not again until its last pause has cooled down")]
    GuardianPauseNotAllowed,
    #[msg("The protocol is paused")]
    ProtocolPaused,

    #[msg("The protocol is already initialized")]
    AlreadyInitialized,
    /// No longer returned: an existing account is media-pda's `AccountAlreadyExists` (9000).
    /// Kept so the codes after it keep their numbers.
    #[msg("Retired: see media-pda's AccountAlreadyExists (9000)")]
    RetiredAccountAlreadyExists,

    // Mints and vaults.
    #[msg("Only classic SPL Token mints are accepted (Token-2022 is refused)")]
    UnsupportedTokenProgram,
    #[msg("The MEDIA mint must have 6 decimals")]
    InvalidMediaMint,
    #[msg("Token account has the wrong mint")]
    WrongMint,
    #[msg("Vault account does not match the one recorded in Config")]
    InvalidVault,

    // Parameters.
    #[msg("A protocol parameter is out of its allowed range")]
    ParamOutOfRange,
    #[msg("provider_fee_bps + keeper_fee_bps exceeds 10000 - min_treasury_bps")]
    FeeSplitExceedsLimit,

    // Staking.
    #[msg("Amount must be greater than zero")]
    ZeroAmount,
    #[msg("Not enough active (warmed-up) stake")]
    InsufficientActiveStake,
    #[msg("That stake is bonded to an active provider or consumer role")]
    StakeBonded,
    #[msg("Stake is locked by a governance vote until the proposal ends")]
    StakeLockedByVote,
    #[msg("No unstake request is pending")]
    NoPendingUnstake,
    #[msg("The unstake cool-down has not elapsed")]
    CooldownNotElapsed,
    #[msg("Stake account does not belong to the signer")]
    StakeOwnerMismatch,

    // Providers.
    #[msg("Provider bond is below min_provider_stake")]
    BondBelowMinimum,
    #[msg("A provider bond from an earlier registration has not been released yet")]
    ProviderBondPending,
    #[msg("Endpoint URL is longer than 128 bytes")]
    EndpointTooLong,
    #[msg("Endpoint must be an http:// or https:// URL with a host and no spaces or control characters")]
    InvalidEndpoint,
    #[msg("Region code must be 1-8 characters of a-z, 0-9 or '-'")]
    InvalidRegion,
    #[msg("This owner already has a provider account")]
    ProviderAlreadyRegistered,
    #[msg("Provider is not active")]
    ProviderInactive,

    // Consumers and escrow.
    #[msg("This owner already has a consumer account")]
    ConsumerAlreadyRegistered,
    #[msg("Consumer is not active")]
    ConsumerInactive,
    #[msg("Not enough escrow")]
    InsufficientEscrow,
    #[msg("No fee withdrawal is pending")]
    NoPendingWithdrawal,
    #[msg("A fee withdrawal requested in epoch n is payable from epoch n + 2")]
    WithdrawalNotYetPayable,

    // Epochs.
    #[msg("The current epoch has not lasted epoch_duration_secs yet")]
    EpochNotDue,
    #[msg("Only the current and the previous epoch can settle")]
    EpochOutOfWindow,
    #[msg("The epoch account does not match the epoch this instruction needs")]
    WrongEpochAccount,
    #[msg("The epoch is already finalized")]
    EpochAlreadyFinalized,

    // Lanes and settlement.
    #[msg("Signer is neither the provider's owner nor its node key")]
    NotProviderOrNodeKey,
    #[msg("The lane can still settle receipts")]
    LaneStillActive,
    #[msg("The provider account is not the one this lane credits")]
    WrongProvider,
    #[msg("The provider's reward slot for an older epoch has not been accrued yet")]
    RewardSlotNotAccrued,
    #[msg("Nothing to claim")]
    NothingToClaim,
    #[msg("The referenced instruction is not an ed25519 signature verification")]
    NotEd25519Instruction,
    #[msg("The ed25519 instruction verifies no signatures")]
    Ed25519NoSignatures,
    #[msg("No such signature entry in the ed25519 instruction")]
    Ed25519EntryOutOfRange,
    #[msg("The node and consumer signatures must be two different entries")]
    Ed25519DuplicateEntry,
    #[msg("An ed25519 entry points at data in another instruction")]
    Ed25519OtherInstruction,
    #[msg("An ed25519 entry does not sign exactly 120 bytes")]
    Ed25519MessageSize,
    #[msg("An ed25519 entry's offsets lie outside its instruction")]
    Ed25519OffsetOutOfBounds,
    #[msg("The signed bytes are not the v1 receipt for this Config, lane and consumer")]
    ReceiptMessageMismatch,
    #[msg("The node signature is not by the lane's node key")]
    NodeKeyMismatch,
    #[msg("The consumer signature is not by the consumer's receipt signer for that epoch")]
    WrongReceiptSigner,

    // Rewards and buyback.
    #[msg("The provider has no unaccrued reward bytes for that epoch")]
    NothingToAccrue,
    #[msg("The epoch is not finalized yet (its settlement window is still open)")]
    EpochNotFinalized,
    #[msg("The epoch's reward claim period has ended")]
    RewardsExpired,
    #[msg("The epoch's reward claim period has not ended yet")]
    RewardsNotExpired,
    #[msg("The payment mint is MEDIA: burn the treasury with burn_fees instead of an auction")]
    PaymentMintIsMedia,
    #[msg("The payment mint is not MEDIA: the treasury is sold by auction, not burned")]
    PaymentMintIsNotMedia,
    #[msg("Nothing to burn")]
    NothingToBurn,
    #[msg("A buyback auction is already running")]
    AuctionActive,
    #[msg("No buyback auction is running")]
    NoAuction,
    #[msg("The last buyback started less than buyback.interval_secs ago")]
    BuybackTooSoon,
    #[msg("The treasury holds less than buyback.min_lot")]
    LotTooSmall,
    #[msg("The auction has ended")]
    AuctionExpired,
    #[msg("The auction has not ended yet")]
    AuctionNotExpired,
    #[msg("A bid must be at least buyback.min_bid or the whole remainder")]
    BidTooSmall,
    #[msg("The current price is above the bidder's maximum")]
    PriceAboveLimit,

    // Governance.
    #[msg("Only media-governance's vote authority may lock stake")]
    NotGovernanceVoteAuthority,

    // Arithmetic.
    #[msg("Arithmetic overflow")]
    MathOverflow,

    // Added for the security review (appended so earlier codes keep their numbers).
    #[msg("The receipt signer took over this epoch; the previous epoch's receipts still need its predecessor, so rotate again from the next epoch")]
    SignerRotationTooSoon,
    #[msg("The MEDIA mint still has a mint or freeze authority: its supply must be fixed and its vaults unfreezable")]
    MediaMintHasAuthority,
    #[msg("This node key belongs to another provider")]
    NodeKeyInUse,
    #[msg("The lane's node key was rotated away from before this receipt's epoch")]
    NodeKeyRetired,
    #[msg("The node key was rotated this or last epoch; its receipts may still be settling, so rotate again later")]
    NodeKeyRotationTooSoon,
    #[msg(
        "An internal invariant does not hold; the instruction is refused so no state is corrupted"
    )]
    InvariantViolated,
}
