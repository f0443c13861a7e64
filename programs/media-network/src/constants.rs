//! PDA seeds and protocol-wide constants. Seeds are the single source of truth for the
//! program, the SDK and every off-chain component.
use anchor_lang::prelude::*;

#[constant]
pub const CONFIG_SEED: &[u8] = b"config";
#[constant]
pub const STAKE_SEED: &[u8] = b"stake";
#[constant]
pub const PROVIDER_SEED: &[u8] = b"provider";
#[constant]
pub const CONSUMER_SEED: &[u8] = b"consumer";
#[constant]
pub const LANE_SEED: &[u8] = b"lane";
/// `["node_key", key]`: which provider a relay node key belongs to, for good (review L-4).
#[constant]
pub const NODE_KEY_SEED: &[u8] = b"node_key";
#[constant]
pub const EPOCH_SEED: &[u8] = b"epoch";
#[constant]
pub const KEEPER_SEED: &[u8] = b"keeper";
#[constant]
pub const BUYBACK_SEED: &[u8] = b"buyback";
#[constant]
pub const STAKE_VAULT_SEED: &[u8] = b"stake_vault";
#[constant]
pub const REWARD_VAULT_SEED: &[u8] = b"reward_vault";
#[constant]
pub const PAYMENT_VAULT_SEED: &[u8] = b"payment_vault";

/// After a guardian pause ends, the guardian waits this many times `max_pause_secs` before it
/// may pause again: at most one part paused in four.
pub const GUARDIAN_COOLDOWN_FACTOR: i64 = 3;

/// The media-governance program, whose `["vote"]` PDA alone may lock stake for a vote.
pub const GOVERNANCE_PROGRAM_ID: Pubkey = pubkey!("FqFoXCqsCR71jEYzU2mr2hYPn5KHVu2pwkRrtgiUeX2Q");
/// Seed of media-governance's vote-lock signer.
pub const GOVERNANCE_VOTE_SEED: &[u8] = b"vote";
/// `["vote"]` under media-governance, derived at compile time.
pub const GOVERNANCE_VOTE_AUTHORITY: Pubkey = Pubkey::new_from_array(
    anchor_lang::derive_program_address(&[GOVERNANCE_VOTE_SEED], &GOVERNANCE_PROGRAM_ID.to_bytes())
        .0,
);

/// MEDIA has 6 decimals; quota is priced per whole MEDIA.
pub const MEDIA_DECIMALS: u8 = 6;
pub const ONE_MEDIA: u64 = 1_000_000;
pub const BPS_DENOMINATOR: u16 = 10_000;

/// Longest endpoint URL a provider may publish.
pub const MAX_ENDPOINT_LEN: usize = 128;
/// Region codes are short lowercase tags such as `eu-west` or `us1`.
pub const REGION_LEN: usize = 8;

/// Marks a role bond that has not been scheduled for release.
pub const NO_RELEASE_EPOCH: u64 = u64::MAX;
/// Marks an epoch-tagged slot that holds no epoch yet.
pub const EMPTY_SLOT: u64 = u64::MAX;
/// Fees are priced per GiB: F(x) = ceil(x * price / 2^30).
pub const GIB_SHIFT: u32 = 30;

// A key derived from a published seed must never reach a deployable build (review I-9).
#[cfg(all(feature = "test-bootstrap", target_os = "solana"))]
compile_error!("the test-bootstrap feature is for native tests only; never build it for SBF");

/// Only for native program-test runs, which have no ProgramData account: with the
/// `test-bootstrap` feature `initialize` also accepts this compiled-in key (derived from a
/// published seed, so it must never guard a real deployment).
#[cfg(feature = "test-bootstrap")]
pub const TEST_BOOTSTRAP_AUTHORITY: Pubkey =
    pubkey!("An9uUe3xdzuYWvS3urjaJPqUQw2AnV2nRivyuuQaVwTS");
/// The 32-byte ed25519 seed of [`TEST_BOOTSTRAP_AUTHORITY`], for test harnesses.
#[cfg(feature = "test-bootstrap")]
pub const TEST_BOOTSTRAP_SEED: [u8; 32] = *b"media-network-test-bootstrap-key";
