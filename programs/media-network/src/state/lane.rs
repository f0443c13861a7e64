use crate::constants::EMPTY_SLOT;
use crate::math::ensure_invariant;
use crate::state::{EpochRing, EpochSlot};
use anchor_lang::prelude::*;

/// The cumulative bytes already settled for one epoch.
#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneSlot {
    pub epoch: u64,
    pub settled: u64,
}

impl EpochSlot for LaneSlot {
    const EMPTY: LaneSlot = LaneSlot {
        epoch: EMPTY_SLOT,
        settled: 0,
    };
    fn epoch(&self) -> u64 {
        self.epoch
    }
}

/// The settlement record of one relay (by node key) serving one consumer,
/// `["lane", node_key, consumer owner]`. Keyed by node key, a receipt settles at most once,
/// whoever presents it.
#[account]
#[derive(InitSpace, Debug)]
pub struct Lane {
    pub bump: u8,
    pub node_key: Pubkey,
    /// The consumer's owner address (as in receipts).
    pub consumer: Pubkey,
    /// The Provider account credited for this lane's receipts.
    pub provider: Pubkey,
    /// Paid the rent; gets it back when the lane is closed.
    pub rent_payer: Pubkey,
    /// The newest epoch the lane was opened in or settled for.
    pub last_epoch: u64,
    pub slots: EpochRing<LaneSlot>,
}

impl Lane {
    /// Cumulative bytes settled so far for `epoch`.
    pub fn settled(&self, epoch: u64) -> u64 {
        self.slots.get(epoch).map_or(0, |slot| slot.settled)
    }

    /// Records that `epoch` has now settled up to `cumulative` bytes.
    pub fn record(&mut self, epoch: u64, cumulative: u64) -> Result<()> {
        let slot = self
            .slots
            .entry(epoch, |_| Ok(LaneSlot { epoch, settled: 0 }))?;
        // Settlement only adds bytes to what a lane has settled.
        ensure_invariant(cumulative >= slot.settled)?;
        slot.settled = cumulative;
        self.last_epoch = self.last_epoch.max(epoch);
        Ok(())
    }

    /// Closable once nothing it could still settle lies in the settlement window
    /// (the current and the previous epoch).
    pub fn is_closable(&self, current_epoch: u64) -> bool {
        self.last_epoch.saturating_add(1) < current_epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::MediaError;

    fn lane() -> Lane {
        Lane {
            bump: 0,
            node_key: Pubkey::default(),
            consumer: Pubkey::default(),
            provider: Pubkey::default(),
            rent_payer: Pubkey::default(),
            last_epoch: 3,
            slots: EpochRing::EMPTY,
        }
    }

    #[test]
    fn slots_track_two_epochs() {
        let mut l = lane();
        assert_eq!(l.settled(3), 0);
        l.record(3, 100).unwrap();
        l.record(4, 50).unwrap();
        assert_eq!((l.settled(3), l.settled(4)), (100, 50));
        l.record(5, 7).unwrap();
        assert_eq!((l.settled(3), l.settled(5), l.last_epoch), (0, 7, 5));
        assert_eq!(
            l.record(3, 200).unwrap_err(),
            error!(MediaError::EpochOutOfWindow)
        );
    }

    #[test]
    fn closable_only_outside_the_window() {
        let l = lane();
        assert!(!l.is_closable(3));
        assert!(!l.is_closable(4));
        assert!(l.is_closable(5));
    }
}
