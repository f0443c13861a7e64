//! Buy-back auction math (pure; unit- and property-tested below).
//!
//! Prices are Q32.32 fixed point: MEDIA base units per payment-mint base unit, times 2^32.
//! A lot's price falls linearly from `start_multiplier` x reference to reference /
//! `floor_divisor` over the auction; a bidder pays the current price, the MEDIA owed is
//! rounded up, and only lots that sold at least `min_lot` move the reference.
use crate::errors::MediaError;
use anchor_lang::prelude::*;

pub const PRICE_SHIFT: u32 = 32;

pub fn start_price(reference: u64, multiplier: u64) -> Result<u64> {
    reference
        .checked_mul(multiplier)
        .ok_or_else(|| error!(MediaError::MathOverflow))
}

/// reference / divisor, never below one unit so an auction can always clear.
pub fn floor_price(reference: u64, divisor: u64) -> u64 {
    (reference / divisor.max(1)).max(1)
}

/// The price at `now`; rounds up (towards the start price), never in the bidder's favour.
pub fn current_price(start: u64, floor: u64, started_at: i64, duration: i64, now: i64) -> u64 {
    if start <= floor || duration <= 0 {
        return floor;
    }
    let elapsed = now.saturating_sub(started_at).clamp(0, duration);
    let drop = u128::from(start - floor) * elapsed as u128 / duration as u128;
    start - drop as u64
}

/// MEDIA owed for `payment` units at `price`, rounded up.
pub fn media_owed(payment: u64, price: u64) -> Result<u64> {
    let product = u128::from(payment) * u128::from(price);
    let owed = product.div_ceil(1u128 << PRICE_SHIFT);
    u64::try_from(owed).map_err(|_| error!(MediaError::MathOverflow))
}

/// The next auction's reference price. A lot that sold at least `min_lot` sets it to its
/// volume-weighted price; a lot that sold nothing lowers it to reference / `floor_divisor`;
/// a dust sale leaves it alone.
pub fn next_reference(
    reference: u64,
    sold: u64,
    media_paid: u64,
    min_lot: u64,
    floor_divisor: u64,
) -> u64 {
    if sold >= min_lot && sold > 0 {
        let vwap = (u128::from(media_paid) << PRICE_SHIFT) / u128::from(sold);
        u64::try_from(vwap).unwrap_or(u64::MAX).max(1)
    } else if sold == 0 {
        floor_price(reference, floor_divisor)
    } else {
        reference
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    const ONE: u64 = 1 << PRICE_SHIFT;

    #[test]
    fn price_decays_linearly_from_start_to_floor() {
        let (start, floor) = (start_price(ONE, 2).unwrap(), floor_price(ONE, 2));
        assert_eq!((start, floor), (2 * ONE, ONE / 2));
        assert_eq!(current_price(start, floor, 100, 1_000, 100), 2 * ONE);
        assert_eq!(current_price(start, floor, 100, 1_000, 600), ONE + ONE / 4);
        assert_eq!(current_price(start, floor, 100, 1_000, 1_100), ONE / 2);
        assert_eq!(current_price(start, floor, 100, 1_000, 50_000), ONE / 2);
        assert_eq!(current_price(start, floor, 100, 1_000, 0), 2 * ONE);
        assert_eq!(
            start_price(u64::MAX, 2).unwrap_err(),
            error!(MediaError::MathOverflow)
        );
        assert_eq!(floor_price(1, 1_000), 1);
    }

    #[test]
    fn owed_media_rounds_up() {
        assert_eq!(media_owed(10, ONE).unwrap(), 10);
        assert_eq!(media_owed(10, ONE + 1).unwrap(), 11);
        assert_eq!(media_owed(1, 1).unwrap(), 1);
        assert_eq!(media_owed(0, ONE).unwrap(), 0);
        assert_eq!(
            media_owed(u64::MAX, u64::MAX).unwrap_err(),
            error!(MediaError::MathOverflow)
        );
    }

    #[test]
    fn reference_moves_only_on_real_volume() {
        // Sold 1,000 for 3,000 MEDIA: the reference becomes 3.0.
        assert_eq!(next_reference(ONE, 1_000, 3_000, 1_000, 2), 3 * ONE);
        // A dust sale, however extreme its price, changes nothing.
        assert_eq!(next_reference(ONE, 999, 1, 1_000, 2), ONE);
        assert_eq!(next_reference(ONE, 0, 0, 1_000, 2), ONE / 2);
    }

    /// Random auctions and bids: a bidder never pays less than the exact price (rounding
    /// favours the protocol) and prices stay within [floor, start].
    #[test]
    fn random_bids_never_favour_the_bidder() {
        let mut rng = Rng::new(42);
        for _ in 0..20_000 {
            let reference = rng.range(1, 1 << 40);
            let start = start_price(reference, rng.range(1, 10)).unwrap();
            let floor = floor_price(reference, rng.range(1, 10));
            let duration = rng.range(1, 100_000) as i64;
            let now = rng.range(0, 200_000) as i64;
            let price = current_price(start, floor, 0, duration, now);
            assert!(price <= start.max(floor) && price >= floor.min(start));
            let payment = rng.range(0, 1 << 30);
            let owed = media_owed(payment, price).unwrap();
            assert!(u128::from(owed) << PRICE_SHIFT >= u128::from(payment) * u128::from(price));
            assert!(
                u128::from(owed.saturating_sub(1)) << PRICE_SHIFT
                    < u128::from(payment) * u128::from(price)
                    || owed == 0
            );
        }
    }

    /// Whatever dust sales happen, the reference only changes through lots of at least
    /// `min_lot`, or falls by the floor divisor after a lot that sold nothing.
    #[test]
    fn dust_fills_cannot_move_the_reference() {
        let mut rng = Rng::new(7);
        for _ in 0..20_000 {
            let reference = rng.range(1, 1 << 40);
            let min_lot = rng.range(1, 1 << 30);
            let sold = rng.range(1, min_lot);
            let paid = rng.range(0, u64::MAX >> 1);
            assert_eq!(next_reference(reference, sold, paid, min_lot, 3), reference);
        }
    }
}
