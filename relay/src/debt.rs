//! What each consumer owes this relay, and whether to keep serving it.
//!
//! Two limits, both checked before a request is admitted:
//! - bytes its viewers acknowledged (in the epochs that can still settle) that its gateway has
//!   not co-signed: past `max_uncosigned_bytes` the relay stops serving that consumer rather
//!   than growing debt it may never be paid (PROTOCOL.md, data plane hardening), and serves
//!   it again as soon as the gateway catches up;
//! - bytes acknowledged but not yet settled on this relay's lane, priced at the epoch's
//!   price, against what the consumer's escrow can still pay for them (the escrow less a
//!   pending withdrawal): once that is used up the relay stops (review M12), where before it
//!   stopped only at an escrow of exactly 0.
//!
//! Sessions the gateway refused to pay for (capped or rejected) count in neither: they are
//! this relay's loss, not the consumer's debt, so one viewer cannot push a consumer into 503
//! on every relay (review H2).
use crate::chain::ConsumerState;
use crate::metering::Refusal;
use anchor_lang::prelude::Pubkey;
use std::collections::HashMap;
use std::sync::RwLock;

/// Bytes acknowledged but not co-signed, for one epoch.
pub fn uncosigned(acknowledged: u64, cosigned: u64) -> u64 {
    acknowledged.saturating_sub(cosigned)
}

/// One consumer's debt to this relay after a co-signing round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Debt {
    /// Acknowledged bytes its gateway has not co-signed.
    pub uncosigned: u64,
    /// Acknowledged bytes not settled on this relay's lane yet.
    pub unsettled: u64,
}

pub struct Debts {
    limit: u64,
    owed: RwLock<HashMap<Pubkey, Debt>>,
}

impl Debts {
    /// Serving stops once a consumer owes more than `limit` un-co-signed bytes.
    pub fn new(limit: u64) -> Self {
        Debts {
            limit,
            owed: RwLock::new(HashMap::new()),
        }
    }

    /// Records what `consumer` owes after a co-signing round.
    pub fn set(&self, consumer: Pubkey, debt: Debt) {
        self.owed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(consumer, debt);
    }

    pub fn debt(&self, consumer: &Pubkey) -> Debt {
        self.owed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(consumer)
            .copied()
            .unwrap_or_default()
    }

    /// Un-co-signed bytes of `consumer`.
    pub fn owed(&self, consumer: &Pubkey) -> u64 {
        self.debt(consumer).uncosigned
    }

    pub fn total(&self) -> u64 {
        self.owed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .fold(0u64, |sum, debt| sum.saturating_add(debt.uncosigned))
    }

    /// Refuses a consumer whose gateway lags more than the limit, or whose spendable escrow
    /// no longer covers what this relay has delivered and not been paid for.
    pub fn check(&self, consumer: &Pubkey, state: &ConsumerState) -> Result<(), Refusal> {
        let debt = self.debt(consumer);
        if debt.uncosigned > self.limit {
            return Err(Refusal::CosignLagging {
                owed: debt.uncosigned,
                limit: self.limit,
            });
        }
        let fee = media_network::fees::cumulative_fee(debt.unsettled, state.price_per_gib)
            .unwrap_or(u64::MAX);
        if debt.unsettled > 0 && fee >= state.spendable {
            return Err(Refusal::EscrowShort {
                spendable: state.spendable,
                unpaid_bytes: debt.unsettled,
                fee,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn funded(spendable: u64) -> ConsumerState {
        ConsumerState {
            spendable,
            price_per_gib: 1 << 30, // one unit per byte
            ..ConsumerState::default()
        }
    }

    fn lagging(uncosigned: u64) -> Debt {
        Debt {
            uncosigned,
            unsettled: 0,
        }
    }

    #[test]
    fn a_consumer_is_refused_only_while_it_owes_more_than_the_limit() {
        let debts = Debts::new(1_000);
        let (a, b) = (Pubkey::new_unique(), Pubkey::new_unique());
        let state = funded(u64::MAX);
        assert!(
            debts.check(&a, &state).is_ok(),
            "nothing recorded: nothing owed"
        );
        debts.set(a, lagging(1_000));
        assert!(
            debts.check(&a, &state).is_ok(),
            "the limit itself is allowed"
        );
        debts.set(a, lagging(1_001));
        debts.set(b, lagging(7));
        assert_eq!(
            debts.check(&a, &state),
            Err(Refusal::CosignLagging {
                owed: 1_001,
                limit: 1_000
            })
        );
        assert!(debts.check(&b, &state).is_ok());
        assert_eq!(debts.total(), 1_008);
        debts.set(a, lagging(0));
        assert!(debts.check(&a, &state).is_ok(), "the gateway caught up");
    }

    /// M12: a dust escrow (or one far below what this relay is owed) stops service; before,
    /// only an escrow of exactly 0 did.
    #[test]
    fn m12_an_escrow_that_cannot_pay_the_unsettled_bytes_is_refused() {
        let debts = Debts::new(u64::MAX);
        let consumer = Pubkey::new_unique();
        debts.set(
            consumer,
            Debt {
                uncosigned: 0,
                unsettled: 5_000,
            },
        );
        assert!(debts.check(&consumer, &funded(5_001)).is_ok());
        assert_eq!(
            debts.check(&consumer, &funded(5_000)),
            Err(Refusal::EscrowShort {
                spendable: 5_000,
                unpaid_bytes: 5_000,
                fee: 5_000
            })
        );
        assert!(debts.check(&consumer, &funded(1)).is_err(), "dust");
        debts.set(consumer, Debt::default());
        assert!(
            debts.check(&consumer, &funded(1)).is_ok(),
            "settled: served again"
        );
    }

    #[test]
    fn co_signed_beyond_acknowledged_owes_nothing() {
        assert_eq!(uncosigned(10, 4), 6);
        assert_eq!(uncosigned(4, 10), 0);
    }
}
