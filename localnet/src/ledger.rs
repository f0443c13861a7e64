//! What a validator's ledger keeps of landed transactions: each with its status meta (fee,
//! logs, balances, token balances, inner instructions, return data), by signature and by
//! slot. Bounded three ways, whichever binds first: transactions older than `slots` slots, more
//! than `max_transactions`, or more than `max_bytes` (approximately) are forgotten, oldest
//! first, so a flood of transactions cannot grow the process without end (review M10).
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::{Signature, TransactionError};
use solana_transaction_status::TransactionStatusMeta;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// A landed transaction, as `getTransaction` and `getBlock` show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub slot: u64,
    pub transaction: VersionedTransaction,
    pub meta: TransactionStatusMeta,
}

impl Recorded {
    pub fn err(&self) -> Option<TransactionError> {
        self.meta.status.clone().err()
    }

    pub fn logs(&self) -> &[String] {
        self.meta.log_messages.as_deref().unwrap_or_default()
    }

    /// Roughly the heap it holds: what `Limits::max_bytes` counts.
    fn approximate_bytes(&self) -> usize {
        let meta = &self.meta;
        let logs: usize = self.logs().iter().map(|line| line.len() + 24).sum();
        // An instruction: its struct plus two heap blocks (data, accounts) of 32 bytes at least.
        let instruction = |data: usize, accounts: usize| 56 + data.max(32) + accounts.max(32);
        let inner: usize = meta
            .inner_instructions
            .iter()
            .flatten()
            .map(|inner| {
                32 + inner
                    .instructions
                    .iter()
                    .map(|i| {
                        8 + instruction(i.instruction.data.len(), i.instruction.accounts.len())
                    })
                    .sum::<usize>()
            })
            .sum();
        let token_balances = meta.pre_token_balances.iter().flatten().count()
            + meta.post_token_balances.iter().flatten().count();
        let keys =
            self.transaction.message.static_account_keys().len() + meta.loaded_addresses.len();
        let instructions: usize = self
            .transaction
            .message
            .instructions()
            .iter()
            .map(|i| instruction(i.data.len(), i.accounts.len()))
            .sum();
        let return_data = meta.return_data.as_ref().map_or(0, |r| r.data.len() + 32);
        // Fixed parts, from the types: the Recorded itself (about 520 bytes), its signature
        // in the map, the queue and its slot's list (64 each), and the map's slack.
        1_400
            + logs
            + inner
            + token_balances * 400
            + keys * (32 + 16)
            + instructions
            + self.transaction.signatures.len() * 64
            + return_data
    }
}

/// How much history the ledger keeps (`media localnet --history-slots`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Transactions of the newest this many slots.
    pub slots: u64,
    pub max_transactions: usize,
    pub max_bytes: usize,
}

/// A day of slots at the default 400 ms.
pub const DEFAULT_HISTORY_SLOTS: u64 = 216_000;
pub const DEFAULT_MAX_TRANSACTIONS: usize = 100_000;
pub const DEFAULT_MAX_BYTES: usize = 256 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            slots: DEFAULT_HISTORY_SLOTS,
            max_transactions: DEFAULT_MAX_TRANSACTIONS,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

pub struct Ledger {
    by_signature: HashMap<Signature, Recorded>,
    /// Signatures in the order they landed (so also by slot): the front is the oldest.
    oldest_first: VecDeque<Signature>,
    /// Per slot, oldest first (so the oldest overall is the front of the first slot).
    by_slot: BTreeMap<u64, VecDeque<Signature>>,
    bytes: usize,
    limits: Limits,
}

impl Ledger {
    pub fn new(limits: Limits) -> Self {
        Ledger {
            by_signature: HashMap::new(),
            oldest_first: VecDeque::new(),
            by_slot: BTreeMap::new(),
            bytes: 0,
            limits: Limits {
                max_transactions: limits.max_transactions.max(1),
                ..limits
            },
        }
    }

    /// Records a landed transaction (slots never go back, so it is the newest), then
    /// forgets what the limits no longer allow.
    pub fn insert(&mut self, signature: Signature, recorded: Recorded) {
        let slot = recorded.slot;
        self.bytes = self.bytes.saturating_add(recorded.approximate_bytes());
        match self.by_signature.insert(signature, recorded) {
            Some(replaced) => {
                self.bytes = self.bytes.saturating_sub(replaced.approximate_bytes());
            }
            None => {
                self.oldest_first.push_back(signature);
                self.by_slot.entry(slot).or_default().push_back(signature);
            }
        }
        while self.oldest_first.len() > self.limits.max_transactions
            || (self.bytes > self.limits.max_bytes && self.oldest_first.len() > 1)
        {
            self.forget_oldest();
        }
    }

    /// Forgets the transactions of slots before `current_slot - slots`.
    pub fn forget_old(&mut self, current_slot: u64) {
        let first_kept = self.first_slot_kept(current_slot);
        while let Some(oldest) = self.oldest_first.front() {
            match self.by_signature.get(oldest) {
                Some(recorded) if recorded.slot >= first_kept => break,
                _ => self.forget_oldest(),
            }
        }
    }

    /// The oldest slot whose transactions the slot limit still keeps.
    pub fn first_slot_kept(&self, current_slot: u64) -> u64 {
        current_slot.saturating_sub(self.limits.slots.saturating_sub(1))
    }

    fn forget_oldest(&mut self) {
        let Some(oldest) = self.oldest_first.pop_front() else {
            return;
        };
        if let Some(recorded) = self.by_signature.remove(&oldest) {
            self.bytes = self.bytes.saturating_sub(recorded.approximate_bytes());
            if let Some(signatures) = self.by_slot.get_mut(&recorded.slot) {
                // Landed in order, so the oldest of all is the oldest of its slot.
                if signatures.front() == Some(&oldest) {
                    signatures.pop_front();
                } else {
                    signatures.retain(|s| *s != oldest);
                }
                if signatures.is_empty() {
                    self.by_slot.remove(&recorded.slot);
                }
            }
        }
    }

    pub fn get(&self, signature: &Signature) -> Option<&Recorded> {
        self.by_signature.get(signature)
    }

    /// The transactions that landed in `slot`, in order.
    pub fn in_slot(&self, slot: u64) -> Vec<&Recorded> {
        self.by_slot
            .get(&slot)
            .into_iter()
            .flatten()
            .filter_map(|signature| self.by_signature.get(signature))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.by_signature.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_signature.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(slot: u64, logs: usize) -> Recorded {
        Recorded {
            slot,
            transaction: VersionedTransaction::default(),
            meta: TransactionStatusMeta {
                log_messages: Some(vec!["x".repeat(1_000); logs]),
                ..TransactionStatusMeta::default()
            },
        }
    }

    fn signature(i: u8) -> Signature {
        Signature::from([i; 64])
    }

    /// M10: the ledger is bounded by count; the newest are kept, a re-insert counts once.
    #[test]
    fn m10_the_ledger_keeps_only_the_most_recent_transactions() {
        let mut ledger = Ledger::new(Limits {
            max_transactions: 3,
            ..Limits::default()
        });
        for i in 0..5u8 {
            ledger.insert(signature(i), recorded(u64::from(i), 1));
            ledger.insert(signature(i), recorded(u64::from(i), 1));
        }
        assert_eq!(ledger.len(), 3);
        assert!(ledger.get(&signature(1)).is_none());
        assert!(ledger.in_slot(1).is_empty());
        assert_eq!(ledger.get(&signature(4)).map(|r| r.slot), Some(4));
        assert_eq!(ledger.in_slot(2).len(), 1);
        let one = recorded(0, 1).approximate_bytes();
        assert_eq!(ledger.bytes(), 3 * one);
    }

    /// M10: by bytes (big logs evict sooner) and by age in slots.
    #[test]
    fn m10_the_ledger_forgets_by_bytes_and_by_slots() {
        let big = recorded(0, 100).approximate_bytes();
        let mut ledger = Ledger::new(Limits {
            slots: 10,
            max_transactions: 1_000,
            max_bytes: 2 * big + big / 2,
        });
        for i in 0..4u8 {
            ledger.insert(signature(i), recorded(u64::from(i) * 5, 100));
        }
        assert_eq!(ledger.len(), 2, "only two big transactions fit the bytes");
        assert!(ledger.get(&signature(3)).is_some() && ledger.get(&signature(2)).is_some());
        // At slot 24 the last 10 slots are 15..=24: slot 10's transaction goes, 15's stays.
        ledger.forget_old(24);
        assert!(ledger.get(&signature(2)).is_none());
        assert!(ledger.get(&signature(3)).is_some());
        assert_eq!(ledger.first_slot_kept(24), 15);
    }
}
