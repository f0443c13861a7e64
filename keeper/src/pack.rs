//! Packing settlements into transactions: as many receipts as fit Solana's 1,232-byte packet.
//! Receipts of one consumer go side by side: they share its signer key in the ed25519
//! instruction, and its accounts when a lookup table holds them, which is what lets a third
//! receipt fit.
use anchor_lang::prelude::Pubkey;
use media_sdk::settlement::{settlement_instructions, Settlement};
use solana_message::{v0, AddressLookupTableAccount, Message, VersionedMessage};

/// The most bytes a transaction may take on the wire.
pub const PACKET_DATA_SIZE: usize = 1232;
/// A signature and the one-byte count before the signatures.
const SIGNATURE_LEN: usize = 64;

/// The serialized size of the transaction settling `items`, resolving accounts through
/// `table` when given (a v0 transaction) or naming them all (legacy).
pub fn transaction_size(
    keeper: &Pubkey,
    items: &[Settlement],
    table: Option<&AddressLookupTableAccount>,
) -> usize {
    let instructions = settlement_instructions(keeper, items, 0);
    let message = match table {
        Some(table) => {
            match v0::Message::try_compile(
                keeper,
                &instructions,
                std::slice::from_ref(table),
                Default::default(),
            ) {
                Ok(message) => VersionedMessage::V0(message),
                // More than 256 accounts cannot happen with a handful of receipts; measure it
                // as legacy so the caller still gets a size.
                Err(_) => VersionedMessage::Legacy(Message::new(&instructions, Some(keeper))),
            }
        }
        None => VersionedMessage::Legacy(Message::new(&instructions, Some(keeper))),
    };
    let signatures = usize::from(message.header().num_required_signatures);
    1 + signatures * SIGNATURE_LEN + message.serialize().len()
}

/// Splits `items` into transactions of at most `max_per_tx` receipts that each fit a packet,
/// grouping receipts by consumer. Order within a consumer is kept.
pub fn pack(
    keeper: &Pubkey,
    mut items: Vec<Settlement>,
    table: Option<&AddressLookupTableAccount>,
    max_per_tx: usize,
) -> Vec<Vec<Settlement>> {
    items.sort_by_key(|s| s.signed.receipt.consumer);
    let mut batches: Vec<Vec<Settlement>> = Vec::new();
    let mut current: Vec<Settlement> = Vec::new();
    for item in items {
        current.push(item);
        let fits = current.len() <= max_per_tx.max(1)
            && transaction_size(keeper, &current, table) <= PACKET_DATA_SIZE;
        if !fits && current.len() > 1 {
            let overflow = current.pop().expect("just pushed");
            batches.push(std::mem::replace(&mut current, vec![overflow]));
        }
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// The accounts of `items`' settlement that a lookup table can hold: everything but the
/// signer and the invoked programs (a v0 transaction must name those itself).
pub fn table_candidates(keeper: &Pubkey, items: &[Settlement]) -> Vec<Pubkey> {
    let instructions = settlement_instructions(keeper, items, 0);
    let programs: Vec<Pubkey> = instructions.iter().map(|ix| ix.program_id).collect();
    let mut accounts: Vec<Pubkey> = instructions
        .iter()
        .flat_map(|ix| ix.accounts.iter().map(|meta| meta.pubkey))
        .filter(|k| k != keeper && !programs.contains(k))
        .collect();
    accounts.sort();
    accounts.dedup();
    accounts
}

/// Consumers with at least `min` receipts among `items`: where a lookup table pays off.
pub fn busy_consumers(items: &[Settlement], min: usize) -> Vec<Pubkey> {
    let mut consumers: Vec<Pubkey> = items.iter().map(|s| s.signed.receipt.consumer).collect();
    consumers.sort();
    let mut busy = Vec::new();
    for run in consumers.chunk_by(|a, b| a == b) {
        if run.len() >= min {
            busy.push(run[0]);
        }
    }
    busy
}

#[cfg(test)]
mod tests {
    use super::*;
    use media_sdk::pda;

    /// A settlement by relay `relay` for consumer `consumer`.
    fn settlement(relay: u8, consumer: u8) -> Settlement {
        media_test_harness::fixtures::settlement(relay, consumer, 4, 1 << 30)
    }

    fn table_for(keeper: &Pubkey, items: &[Settlement]) -> AddressLookupTableAccount {
        AddressLookupTableAccount {
            key: Pubkey::new_unique(),
            addresses: table_candidates(keeper, items),
        }
    }

    fn sizes(batches: &[Vec<Settlement>]) -> Vec<usize> {
        batches.iter().map(Vec::len).collect()
    }

    #[test]
    fn legacy_transactions_carry_two_receipts() {
        let keeper = Pubkey::new_unique();
        let items: Vec<_> = (0..5).map(|r| settlement(r, r)).collect();
        let batches = pack(&keeper, items, None, 8);
        assert_eq!(sizes(&batches), [2, 2, 1]);
        for batch in &batches {
            assert!(transaction_size(&keeper, batch, None) <= PACKET_DATA_SIZE);
        }
    }

    #[test]
    fn a_table_fits_three_receipts_of_one_consumer_but_not_of_three() {
        let keeper = Pubkey::new_unique();
        let one: Vec<_> = (0..3).map(|r| settlement(r, 7)).collect();
        assert!(transaction_size(&keeper, &one, None) > PACKET_DATA_SIZE);
        let table = table_for(&keeper, &one);
        assert!(transaction_size(&keeper, &one, Some(&table)) <= PACKET_DATA_SIZE);
        assert_eq!(sizes(&pack(&keeper, one.clone(), Some(&table), 8)), [3]);
        assert_eq!(sizes(&pack(&keeper, one.clone(), None, 8)), [2, 1]);
        // The configured ceiling still applies.
        assert_eq!(sizes(&pack(&keeper, one, Some(&table), 2)), [2, 1]);

        let three: Vec<_> = (0..3).map(|r| settlement(r, r)).collect();
        let table = table_for(&keeper, &three);
        assert_eq!(sizes(&pack(&keeper, three, Some(&table), 8)), [2, 1]);
    }

    #[test]
    fn receipts_are_grouped_by_consumer_before_packing() {
        let keeper = Pubkey::new_unique();
        // Interleaved: a, b, a, b, a, b → the three of each consumer travel together.
        let items: Vec<_> = (0..6).map(|i| settlement(i, i % 2)).collect();
        let table = table_for(&keeper, &items);
        let batches = pack(&keeper, items, Some(&table), 8);
        assert_eq!(sizes(&batches), [3, 3]);
        for batch in &batches {
            let consumer = batch[0].signed.receipt.consumer;
            assert!(batch.iter().all(|s| s.signed.receipt.consumer == consumer));
        }
        assert_eq!(busy_consumers(&batches.concat(), 3).len(), 2);
        assert!(busy_consumers(&batches.concat(), 4).is_empty());
    }

    #[test]
    fn candidates_leave_out_the_signer_and_the_invoked_programs() {
        let keeper = Pubkey::new_unique();
        let candidates = table_candidates(&keeper, &[settlement(0, 0)]);
        assert!(!candidates.contains(&keeper));
        assert!(!candidates.contains(&media_network::ID));
        assert!(!candidates.contains(&media_sdk::settlement::ED25519_PROGRAM_ID));
        assert!(candidates.contains(&pda::config()) && candidates.contains(&pda::keeper(&keeper)));
    }
}
