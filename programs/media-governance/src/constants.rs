//! PDA seeds of media-governance.
use anchor_lang::prelude::*;

#[constant]
pub const GOVERNANCE_SEED: &[u8] = b"governance";
/// The PDA that is media-network's protocol authority once governance is bootstrapped.
#[constant]
pub const AUTHORITY_SEED: &[u8] = b"authority";
/// The PDA that signs media-network's `lock_stake` (distinct from the authority PDA, so a
/// vote can never do more than lock the voter's own stake).
#[constant]
pub const VOTE_SEED: &[u8] = media_network::constants::GOVERNANCE_VOTE_SEED;
#[constant]
pub const PROPOSAL_SEED: &[u8] = b"proposal";
#[constant]
pub const PROPOSER_SEED: &[u8] = b"proposer";
#[constant]
pub const VOTE_RECORD_SEED: &[u8] = b"vote_record";

pub const BPS: u64 = 10_000;
