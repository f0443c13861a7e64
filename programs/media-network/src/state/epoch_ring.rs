//! The two-slot rings that keep per-epoch counters while an epoch can still settle (the
//! current epoch and the one before): epoch `e` lives in slot `e % 2`, and a slot is reused
//! only by a later epoch. Config's running totals, a lane's settled bytes, a consumer's quota
//! use and a provider's reward bytes are all such rings.
use crate::constants::EMPTY_SLOT;
use crate::errors::MediaError;
use anchor_lang::prelude::*;

/// What a ring holds: a counter tagged with its epoch, with an empty value.
pub trait EpochSlot: Copy {
    const EMPTY: Self;
    fn epoch(&self) -> u64;
}

/// Two epoch-tagged slots; serialized exactly as the `[T; 2]` it wraps.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochRing<T> {
    pub slots: [T; 2],
}

impl<T: Space> Space for EpochRing<T> {
    const INIT_SPACE: usize = 2 * T::INIT_SPACE;
}

impl<T: EpochSlot> EpochRing<T> {
    pub const EMPTY: Self = EpochRing {
        slots: [T::EMPTY; 2],
    };

    fn index(epoch: u64) -> usize {
        (epoch % 2) as usize
    }

    /// The slot of `epoch`, if the ring holds it.
    pub fn get(&self, epoch: u64) -> Option<&T> {
        Some(&self.slots[Self::index(epoch)]).filter(|s| s.epoch() == epoch)
    }

    /// The slot of `epoch`, if the ring holds it.
    pub fn get_mut(&mut self, epoch: u64) -> Option<&mut T> {
        Some(&mut self.slots[Self::index(epoch)]).filter(|s| s.epoch() == epoch)
    }

    /// Whatever the slot `epoch` maps to holds (that epoch, an older one, or nothing).
    pub fn slot(&self, epoch: u64) -> &T {
        &self.slots[Self::index(epoch)]
    }

    /// The slot of `epoch`; when it still holds an older epoch (or nothing), `reset` checks
    /// what is there and gives the fresh value that replaces it. A slot holding a later epoch
    /// is `EpochOutOfWindow`: a ring never goes back.
    pub fn entry(&mut self, epoch: u64, reset: impl FnOnce(&T) -> Result<T>) -> Result<&mut T> {
        let slot = &mut self.slots[Self::index(epoch)];
        if slot.epoch() != epoch {
            let held = slot.epoch();
            require!(
                held == EMPTY_SLOT || held < epoch,
                MediaError::EpochOutOfWindow
            );
            *slot = reset(slot)?;
        }
        Ok(slot)
    }

    /// Replaces the slot of `epoch` with `value` (starting a new epoch); returns what it held.
    pub fn replace(&mut self, epoch: u64, value: T) -> T {
        std::mem::replace(&mut self.slots[Self::index(epoch)], value)
    }

    /// Empties the slot of `epoch` and returns it, if the ring holds that epoch.
    pub fn take(&mut self, epoch: u64) -> Option<T> {
        let index = Self::index(epoch);
        (self.slots[index].epoch() == epoch)
            .then(|| std::mem::replace(&mut self.slots[index], T::EMPTY))
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter()
    }
}

impl<T> std::ops::Index<usize> for EpochRing<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.slots[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Count {
        epoch: u64,
        n: u64,
    }

    impl EpochSlot for Count {
        const EMPTY: Count = Count {
            epoch: EMPTY_SLOT,
            n: 0,
        };
        fn epoch(&self) -> u64 {
            self.epoch
        }
    }

    fn fresh(epoch: u64) -> impl FnOnce(&Count) -> Result<Count> {
        move |_| Ok(Count { epoch, n: 0 })
    }

    #[test]
    fn epochs_take_turns_and_never_go_back() {
        let mut ring = EpochRing::<Count>::EMPTY;
        assert_eq!(ring.get(4), None);
        ring.entry(4, fresh(4)).unwrap().n += 3;
        ring.entry(5, fresh(5)).unwrap().n += 1;
        ring.entry(4, fresh(4)).unwrap().n += 1;
        assert_eq!(ring.get(4).map(|c| c.n), Some(4), "epoch 4 keeps its count");
        assert_eq!(ring.get(5).map(|c| c.n), Some(1));
        // Epoch 6 reuses epoch 4's slot; epoch 4 is gone, and cannot come back.
        ring.entry(6, fresh(6)).unwrap();
        assert_eq!(ring.get(4), None);
        assert_eq!(ring.get(6).map(|c| c.n), Some(0));
        assert_eq!(
            ring.entry(4, fresh(4)).unwrap_err(),
            error!(MediaError::EpochOutOfWindow)
        );
        assert_eq!(ring.take(5).map(|c| c.n), Some(1));
        assert_eq!(ring.get(5), None);
        assert_eq!(ring.take(5), None);
        assert_eq!(ring.replace(7, Count { epoch: 7, n: 9 }), Count::EMPTY);
        assert_eq!(ring[1].n, 9);
    }

    #[test]
    fn a_ring_is_serialized_as_its_two_slots() {
        let slots = [(3u64, 30u64), (4, 40)];
        let ring = EpochRing { slots };
        let (mut wrapped, mut bare) = (Vec::new(), Vec::new());
        ring.serialize(&mut wrapped).unwrap();
        slots.serialize(&mut bare).unwrap();
        assert_eq!(wrapped, bare);
        assert_eq!(<EpochRing<u64> as Space>::INIT_SPACE, 16);
    }

    #[test]
    fn a_refused_reset_leaves_the_slot_alone() {
        let mut ring = EpochRing::<Count>::EMPTY;
        ring.entry(2, fresh(2)).unwrap().n = 5;
        let refused = ring.entry(4, |_| err!(MediaError::RewardSlotNotAccrued));
        assert_eq!(
            refused.unwrap_err(),
            error!(MediaError::RewardSlotNotAccrued)
        );
        assert_eq!(ring.get(2).map(|c| c.n), Some(5));
    }
}
