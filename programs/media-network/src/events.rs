use crate::state::{Params, ProviderKind};
use anchor_lang::prelude::*;

#[event]
pub struct ProtocolInitialized {
    pub authority: Pubkey,
    pub media_mint: Pubkey,
    pub payment_mint: Pubkey,
}

#[event]
pub struct Staked {
    pub owner: Pubkey,
    pub amount: u64,
    pub active_at: i64,
}

#[event]
pub struct UnstakeRequested {
    pub owner: Pubkey,
    pub amount: u64,
    pub unlock_at: i64,
}

#[event]
pub struct UnstakeCancelled {
    pub owner: Pubkey,
    pub amount: u64,
}

#[event]
pub struct StakeWithdrawn {
    pub owner: Pubkey,
    pub amount: u64,
}

#[event]
pub struct ProviderRegistered {
    pub owner: Pubkey,
    pub node_key: Pubkey,
    pub kind: ProviderKind,
    pub bond: u64,
}

#[event]
pub struct ProviderUpdated {
    pub owner: Pubkey,
    pub node_key: Pubkey,
}

#[event]
pub struct ProviderDeactivated {
    pub owner: Pubkey,
    pub bond_release_epoch: u64,
}

#[event]
pub struct ParamsUpdated {
    pub params: Params,
}

#[event]
pub struct AuthorityProposed {
    pub current: Pubkey,
    pub proposed: Pubkey,
}

#[event]
pub struct AuthorityAccepted {
    pub authority: Pubkey,
}

#[event]
pub struct GuardianSet {
    pub guardian: Option<Pubkey>,
}

#[event]
pub struct PauseChanged {
    pub by: Pubkey,
    pub paused_until: i64,
}

#[event]
pub struct ConsumerRegistered {
    pub owner: Pubkey,
    pub receipt_signer: Pubkey,
    pub bond: u64,
}

#[event]
pub struct ConsumerUpdated {
    pub owner: Pubkey,
    pub gateway_url: Option<String>,
}

#[event]
pub struct ReceiptSignerRotated {
    pub owner: Pubkey,
    pub receipt_signer: Pubkey,
    pub effective_epoch: u64,
}

#[event]
pub struct FeesDeposited {
    pub consumer: Pubkey,
    pub amount: u64,
}

#[event]
pub struct FeeWithdrawalRequested {
    pub consumer: Pubkey,
    pub amount: u64,
    pub payable_from_epoch: u64,
}

#[event]
pub struct FeesWithdrawn {
    pub consumer: Pubkey,
    pub amount: u64,
}

#[event]
pub struct ConsumerDeactivated {
    pub owner: Pubkey,
    pub release_epoch: u64,
}

#[event]
pub struct LaneOpened {
    pub node_key: Pubkey,
    pub consumer: Pubkey,
    pub provider: Pubkey,
}

#[event]
pub struct LaneClosed {
    pub node_key: Pubkey,
    pub consumer: Pubkey,
}

#[event]
pub struct EpochAdvanced {
    pub epoch: u64,
    pub started_at: i64,
    pub price_per_gib: u64,
    pub provider_stake: u64,
    pub finalized_epoch: Option<u64>,
    pub bounty: u64,
}

#[event]
pub struct ReceiptSettled {
    pub node_key: Pubkey,
    pub consumer: Pubkey,
    pub epoch: u64,
    pub cumulative: u64,
    pub bytes: u64,
    pub reward_bytes: u64,
    pub fee: u64,
    pub provider_fee: u64,
    pub keeper_fee: u64,
    pub treasury_fee: u64,
    pub keeper: Pubkey,
}

#[event]
pub struct FeesClaimed {
    pub claimant: Pubkey,
    pub amount: u64,
}

#[event]
pub struct EpochFinalized {
    pub epoch: u64,
    pub reward_bytes: u64,
    pub provider_stake: u64,
    pub fees: u64,
    pub emission: u64,
    /// Treasury revenue (payment units) that backed E, and the Q32.32 MEDIA price it was
    /// valued at.
    pub backed_revenue: u64,
    pub backing_price: u64,
}

#[event]
pub struct RewardsAccrued {
    pub provider: Pubkey,
    pub epoch: u64,
    pub bytes: u64,
    pub bond: u64,
    pub reward: u64,
}

#[event]
pub struct RewardsClaimed {
    pub provider: Pubkey,
    pub amount: u64,
}

#[event]
pub struct RewardsExpired {
    pub epoch: u64,
    pub returned: u64,
}

#[event]
pub struct FeesBurned {
    pub amount: u64,
}

#[event]
pub struct AuctionStarted {
    pub lot: u64,
    pub start_price: u64,
    pub floor_price: u64,
    pub ends_at: i64,
}

#[event]
pub struct AuctionBid {
    pub bidder: Pubkey,
    pub payment: u64,
    pub media_burned: u64,
    pub price: u64,
    pub remaining: u64,
}

#[event]
pub struct AuctionClosed {
    pub sold: u64,
    pub media_burned: u64,
    pub unsold: u64,
    pub reference_price: u64,
}
