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
    #[msg("An account already exists at that address")]
    AccountAlreadyExists,

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

    // Arithmetic.
    #[msg("Arithmetic overflow")]
    MathOverflow,
}
