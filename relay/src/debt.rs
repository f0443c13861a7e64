//! What each consumer owes this relay: bytes its viewers acknowledged (in the epochs that can
//! still settle) that its gateway has not co-signed. A relay whose co-signatures lag stops
//! serving that consumer rather than growing debt it may never be paid (PROTOCOL.md, data
//! plane hardening), and serves it again as soon as the gateway catches up.
use crate::metering::Refusal;
use anchor_lang::prelude::Pubkey;
use std::collections::HashMap;
use std::sync::RwLock;

/// Bytes acknowledged but not co-signed, for one epoch.
pub fn uncosigned(acknowledged: u64, cosigned: u64) -> u64 {
    acknowledged.saturating_sub(cosigned)
}

pub struct Debts {
    limit: u64,
    owed: RwLock<HashMap<Pubkey, u64>>,
}

impl Debts {
    /// Serving stops once a consumer owes more than `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Debts {
            limit,
            owed: RwLock::new(HashMap::new()),
        }
    }

    /// Records what `consumer` owes after a co-signing round.
    pub fn set(&self, consumer: Pubkey, owed: u64) {
        self.owed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(consumer, owed);
    }

    pub fn owed(&self, consumer: &Pubkey) -> u64 {
        self.owed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(consumer)
            .copied()
            .unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.owed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .fold(0u64, |sum, owed| sum.saturating_add(*owed))
    }

    /// Refuses a consumer whose gateway lags more than the limit.
    pub fn check(&self, consumer: &Pubkey) -> Result<(), Refusal> {
        let owed = self.owed(consumer);
        if owed > self.limit {
            return Err(Refusal::CosignLagging {
                owed,
                limit: self.limit,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumer_is_refused_only_while_it_owes_more_than_the_limit() {
        let debts = Debts::new(1_000);
        let (a, b) = (Pubkey::new_unique(), Pubkey::new_unique());
        assert!(debts.check(&a).is_ok(), "nothing recorded: nothing owed");
        debts.set(a, 1_000);
        assert!(debts.check(&a).is_ok(), "the limit itself is allowed");
        debts.set(a, 1_001);
        debts.set(b, 7);
        assert_eq!(
            debts.check(&a),
            Err(Refusal::CosignLagging {
                owed: 1_001,
                limit: 1_000
            })
        );
        assert!(debts.check(&b).is_ok());
        assert_eq!(debts.total(), 1_008);
        debts.set(a, 0);
        assert!(debts.check(&a).is_ok(), "the gateway caught up");
    }

    #[test]
    fn co_signed_beyond_acknowledged_owes_nothing() {
        assert_eq!(uncosigned(10, 4), 6);
        assert_eq!(uncosigned(4, 10), 0);
    }
}
