//! What `getSignaturesForAddress` reads: for each address, the signatures of the landed
//! transactions that named it, newest first. Bounded as a whole: beyond `capacity` entries
//! the oldest are forgotten, whatever address they belong to, so a flood of transactions
//! naming fresh addresses cannot grow the process without end.
use anchor_lang::prelude::Pubkey;
use solana_transaction::Signature;
use std::collections::{HashMap, VecDeque};

/// Address-signature pairs kept by default (every landed transaction adds one per address
/// it loads). An entry costs about 104 bytes (its signature in the address's queue, its
/// place in the global queue); an address seen once costs about 450 (its map entry and a
/// queue's smallest allocation), so a million entries hold 100 to 450 MB.
pub const DEFAULT_ENTRIES: usize = 1_000_000;

/// `getSignaturesForAddress`'s most signatures per call, as a validator's.
pub const MAX_SIGNATURES_PER_CALL: usize = 1_000;

pub struct AddressHistory {
    /// Per address, oldest first.
    by_address: HashMap<Pubkey, VecDeque<Signature>>,
    /// Every entry (address, slot) in the order it was added: the front is the oldest.
    oldest_first: VecDeque<(Pubkey, u64)>,
    capacity: usize,
}

/// Which of an address's signatures a call asks for.
#[derive(Debug, Default, Clone, Copy)]
pub struct Page {
    /// Start after this signature (exclusive), going back in time.
    pub before: Option<Signature>,
    /// Stop at this signature (exclusive).
    pub until: Option<Signature>,
    pub limit: usize,
}

impl AddressHistory {
    pub fn new(capacity: usize) -> Self {
        AddressHistory {
            by_address: HashMap::new(),
            oldest_first: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records that `signature`, landed in `slot`, named each of `addresses` (duplicates
    /// count once).
    pub fn record(&mut self, signature: Signature, slot: u64, addresses: &[Pubkey]) {
        for (i, address) in addresses.iter().enumerate() {
            if addresses[..i].contains(address) {
                continue;
            }
            self.by_address
                .entry(*address)
                .or_default()
                .push_back(signature);
            self.oldest_first.push_back((*address, slot));
        }
        while self.oldest_first.len() > self.capacity {
            self.forget_oldest();
        }
    }

    /// Forgets the entries of transactions that landed before `slot` (the ledger no longer
    /// holds them).
    pub fn forget_before(&mut self, slot: u64) {
        while self
            .oldest_first
            .front()
            .is_some_and(|(_, landed)| *landed < slot)
        {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        let Some((address, _)) = self.oldest_first.pop_front() else {
            return;
        };
        // Entries are added in global order, so this address's oldest is the one to go.
        if let Some(signatures) = self.by_address.get_mut(&address) {
            signatures.pop_front();
            if signatures.is_empty() {
                self.by_address.remove(&address);
            }
        }
    }

    /// `address`'s signatures newest first, within `page`. As agave: a `before` signature
    /// the history does not hold (never seen, or forgotten) gives nothing, an unknown
    /// `until` is ignored. One pass over the address's entries at most.
    pub fn signatures(&self, address: &Pubkey, page: Page) -> Vec<Signature> {
        let Some(signatures) = self.by_address.get(address) else {
            return Vec::new();
        };
        let mut newest_first = signatures.iter().rev();
        if let Some(before) = page.before {
            if !newest_first.by_ref().any(|signature| *signature == before) {
                return Vec::new();
            }
        }
        newest_first
            .take_while(|signature| Some(**signature) != page.until)
            .take(page.limit.min(MAX_SIGNATURES_PER_CALL))
            .copied()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.oldest_first.len()
    }

    pub fn is_empty(&self) -> bool {
        self.oldest_first.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature(i: u8) -> Signature {
        Signature::from([i; 64])
    }

    #[test]
    fn pages_go_back_in_time_between_before_and_until() {
        let mut history = AddressHistory::new(100);
        let alice = Pubkey::new_unique();
        let bob = Pubkey::new_unique();
        for i in 0..6 {
            history.record(signature(i), u64::from(i), &[alice, alice]);
        }
        history.record(signature(9), 9, &[bob]);
        let page = |before, until, limit| Page {
            before,
            until,
            limit,
        };
        let all = history.signatures(&alice, page(None, None, 1_000));
        assert_eq!(all, (0..6).rev().map(signature).collect::<Vec<_>>());
        assert_eq!(
            history.signatures(&alice, page(Some(signature(4)), Some(signature(1)), 1_000)),
            vec![signature(3), signature(2)]
        );
        assert_eq!(
            history.signatures(&alice, page(None, None, 2)),
            vec![signature(5), signature(4)]
        );
        assert_eq!(
            history.signatures(&bob, page(None, None, 10)),
            vec![signature(9)]
        );
        assert!(history
            .signatures(&Pubkey::new_unique(), page(None, None, 10))
            .is_empty());
        // An unknown `before` gives nothing; an unknown `until` is ignored.
        assert!(history
            .signatures(&alice, page(Some(signature(9)), None, 10))
            .is_empty());
        assert_eq!(
            history.signatures(&alice, page(Some(signature(2)), Some(signature(8)), 10)),
            vec![signature(1), signature(0)]
        );
    }

    /// The whole history is bounded: the oldest entries go first, whichever address they are
    /// of, and an address with none left is dropped.
    #[test]
    fn m10_the_history_keeps_only_the_newest_entries() {
        let mut history = AddressHistory::new(3);
        let first = Pubkey::new_unique();
        let second = Pubkey::new_unique();
        history.record(signature(1), 1, &[first]);
        history.record(signature(2), 2, &[second]);
        history.record(signature(3), 3, &[second]);
        history.record(signature(4), 4, &[second]);
        assert_eq!(history.len(), 3);
        assert!(!history.by_address.contains_key(&first));
        let page = Page {
            limit: 10,
            ..Page::default()
        };
        assert_eq!(
            history.signatures(&second, page),
            vec![signature(4), signature(3), signature(2)]
        );
        history.forget_before(4);
        assert_eq!(history.signatures(&second, page), vec![signature(4)]);
        assert_eq!(history.len(), 1);
    }
}
