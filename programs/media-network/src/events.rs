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
