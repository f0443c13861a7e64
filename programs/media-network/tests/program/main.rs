//! Program tests for media-network, run natively in solana-program-test (or against
//! `media_network.so` when SBF_OUT_DIR is set). One test binary; one module per area.
mod admin;
mod buyback;
mod consumers;
mod fee_backed;
mod fuzz;
mod initialize;
mod lanes_and_epochs;
mod market {
    pub use media_test_harness::market::*;
}
mod providers;
mod rewards;
mod settlement;
mod staking;

use anchor_lang::prelude::Pubkey;
use media_test_harness::solana_keypair::Keypair;
use media_test_harness::solana_signer::Signer;
use media_test_harness::{test_params, TestEnv, Wallet};
use solana_transaction::Instruction;

/// An initialized protocol with test parameters.
async fn env() -> TestEnv {
    TestEnv::initialized(test_params()).await
}

/// Replaces every occurrence of `from` in the instruction's account list with `to`.
fn substitute(mut ix: Instruction, from: &Pubkey, to: &Pubkey) -> Instruction {
    let mut found = false;
    for meta in ix.accounts.iter_mut().filter(|m| m.pubkey == *from) {
        meta.pubkey = *to;
        found = true;
    }
    assert!(found, "{from} is not among the instruction's accounts");
    ix
}

/// A wallet with 1,000 MEDIA, `active` of it staked and warmed up.
async fn staker(env: &mut TestEnv, active: u64) -> Wallet {
    env.staker(active).await
}

fn node_key() -> Keypair {
    Keypair::new()
}

fn pubkey(k: &Keypair) -> Pubkey {
    k.pubkey()
}
