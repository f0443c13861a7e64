//! Signed sample data for tests that need no chain.
use anchor_lang::prelude::Pubkey;
use ed25519_dalek::SigningKey;
use media_sdk::pda;
use media_sdk::receipt::{pubkey_of, ReceiptV1, SignedReceipt};
use media_sdk::settlement::Settlement;

/// A settlement of `cumulative` bytes in `epoch` by relay number `relay` for consumer number
/// `consumer`. Equal numbers give equal keys, so settlements of one consumer share its accounts
/// and receipt signer as they would on chain.
pub fn settlement(relay: u8, consumer: u8, epoch: u64, cumulative: u64) -> Settlement {
    let node = SigningKey::from_bytes(&[relay.wrapping_add(1); 32]);
    let gateway = SigningKey::from_bytes(&[consumer.wrapping_add(101); 32]);
    let receipt = ReceiptV1 {
        config: pda::config(),
        node_key: pubkey_of(&node),
        consumer: Pubkey::new_from_array([consumer.wrapping_add(201); 32]),
        epoch,
        cumulative,
    };
    Settlement {
        signed: SignedReceipt::sign(receipt, &node, &gateway).expect("distinct sample keys"),
        provider: pda::provider(&Pubkey::new_from_array([relay.wrapping_add(51); 32])),
    }
}
