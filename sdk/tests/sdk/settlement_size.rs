//! Settlement transactions must fit Solana's 1232-byte packet.
use anchor_lang::prelude::Pubkey;
use media_sdk::settlement::{settlement_instructions, Settlement};
use solana_keypair::Keypair;
use solana_message::{v0, AddressLookupTableAccount, VersionedMessage};
use solana_signer::Signer;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::{Hash, Transaction};

const PACKET_DATA_SIZE: usize = 1232;

#[derive(Clone, Copy)]
enum Consumers {
    /// Every receipt for another consumer: the largest account set.
    Distinct,
    /// Many relays serving one publisher: its signer key is carried once.
    One,
}

/// `n` receipts from distinct relays.
fn settlements(n: u8, consumers: Consumers) -> Vec<Settlement> {
    (0..n)
        .map(|i| {
            let c = match consumers {
                Consumers::Distinct => i,
                Consumers::One => 0,
            };
            media_test_harness::fixtures::settlement(i, c, 12, 5 << 30)
        })
        .collect()
}

fn legacy_size(keeper: &Keypair, n: u8, consumers: Consumers) -> usize {
    let ixs = settlement_instructions(&keeper.pubkey(), &settlements(n, consumers), 0);
    let tx = Transaction::new_signed_with_payer(
        &ixs,
        Some(&keeper.pubkey()),
        &[keeper],
        Hash::default(),
    );
    bincode::serialize(&tx).unwrap().len()
}

fn with_lookup_table_size(keeper: &Keypair, n: u8, consumers: Consumers) -> usize {
    let ixs = settlement_instructions(&keeper.pubkey(), &settlements(n, consumers), 0);
    let mut addresses: Vec<Pubkey> = ixs
        .iter()
        .flat_map(|ix| ix.accounts.iter().map(|m| m.pubkey))
        .filter(|k| *k != keeper.pubkey())
        .collect();
    addresses.sort();
    addresses.dedup();
    let table = AddressLookupTableAccount {
        key: Pubkey::new_unique(),
        addresses,
    };
    let message =
        v0::Message::try_compile(&keeper.pubkey(), &ixs, &[table], Hash::default()).unwrap();
    let tx = VersionedTransaction::try_new(VersionedMessage::V0(message), &[keeper]).unwrap();
    bincode::serialize(&tx).unwrap().len()
}

/// The most receipts whose transaction fits a packet, and that transaction's size.
fn capacity(size: impl Fn(u8) -> usize) -> (u8, usize) {
    let n = (1..=20u8)
        .take_while(|n| size(*n) <= PACKET_DATA_SIZE)
        .last()
        .unwrap_or(0);
    (n, size(n.max(1)))
}

#[test]
fn two_receipts_fit_a_legacy_transaction() {
    let keeper = Keypair::new();
    let two = legacy_size(&keeper, 2, Consumers::Distinct);
    println!("legacy, two receipts for two consumers: {two} bytes");
    assert!(two <= PACKET_DATA_SIZE, "two receipts take {two} bytes");
    for consumers in [Consumers::Distinct, Consumers::One] {
        let (n, bytes) = capacity(|n| legacy_size(&keeper, n, consumers));
        println!("legacy: {n} receipts fit ({bytes} bytes)");
        assert!(n >= 2);
    }
}

#[test]
fn receipts_per_transaction_with_a_lookup_table() {
    let keeper = Keypair::new();
    let (distinct, bytes) = capacity(|n| with_lookup_table_size(&keeper, n, Consumers::Distinct));
    println!("lookup table, distinct consumers: {distinct} receipts fit ({bytes} bytes)");
    let (one, bytes) = capacity(|n| with_lookup_table_size(&keeper, n, Consumers::One));
    println!("lookup table, one consumer: {one} receipts fit ({bytes} bytes)");
    assert!(distinct >= 2 && one >= 3);
}
