//! Buy-back auction math (pure; unit- and property-tested below).
//!
//! Prices are Q32.32 fixed point: MEDIA base units per payment-mint base unit, times 2^32.
//! A lot's price falls linearly from `start_multiplier` x reference to reference /
//! `floor_divisor` over the auction; a bidder pays the current price, the MEDIA owed is
//! rounded up, and the next reference is the lot's average with its unsold rest at the floor.
use crate::math::{narrow, SafeMath};
use anchor_lang::prelude::*;

pub const PRICE_SHIFT: u32 = 32;

pub fn start_price(reference: u64, multiplier: u64) -> Result<u64> {
    reference.safe_mul(multiplier)
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
    narrow(owed)
}

/// The next auction's reference price: the lot's average price with its unsold rest valued
/// at the floor, ((MEDIA paid << 32) + unsold x floor) / lot. A lot that sold out sets it to
/// its volume-weighted price, one that sold nothing lowers it to the floor, and a dust fill
/// weighs only its share of the lot, so it can neither hold an above-market reference up
/// (review M-2) nor let a small slice price the whole lot.
pub fn next_reference(lot: u64, sold: u64, media_paid: u64, floor: u64) -> u64 {
    if lot == 0 {
        return floor.max(1);
    }
    let unsold = u128::from(lot.saturating_sub(sold));
    let value = (u128::from(media_paid) << PRICE_SHIFT) + unsold * u128::from(floor);
    u64::try_from(value / u128::from(lot))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The average price of a lot's sales, (MEDIA paid << 32) / sold, rounded down; 0 when
/// nothing sold.
pub fn average_price(sold: u64, media_paid: u64) -> u64 {
    if sold == 0 {
        return 0;
    }
    u64::try_from((u128::from(media_paid) << PRICE_SHIFT) / u128::from(sold)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::MediaError;

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
    fn reference_is_the_lot_average_with_the_unsold_rest_at_the_floor() {
        // Sold all 1,000 for 3,000 MEDIA: the reference becomes 3.0.
        assert_eq!(next_reference(1_000, 1_000, 3_000, ONE / 2), 3 * ONE);
        // Nothing sold: the floor.
        assert_eq!(next_reference(1_000, 0, 0, ONE / 2), ONE / 2);
        // Half sold at 2.0, half unsold at the floor 0.5: 1.25.
        assert_eq!(next_reference(1_000, 500, 1_000, ONE / 2), ONE + ONE / 4);
        assert_eq!(next_reference(0, 0, 0, 0), 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 5_000, ..Default::default() })]

        /// A bidder never pays less than the exact price (rounding favours the protocol) and
        /// prices stay within [floor, start].
        #[test]
        fn bids_never_favour_the_bidder(
            reference in 1u64..1 << 40,
            multiplier in 1u64..10,
            divisor in 1u64..10,
            duration in 1i64..100_000,
            now in 0i64..200_000,
            payment in 0u64..1 << 30,
        ) {
            let start = start_price(reference, multiplier).unwrap();
            let floor = floor_price(reference, divisor);
            let price = current_price(start, floor, 0, duration, now);
            proptest::prop_assert!(price <= start.max(floor) && price >= floor.min(start));
            let owed = media_owed(payment, price).unwrap();
            let exact = u128::from(payment) * u128::from(price);
            proptest::prop_assert!(u128::from(owed) << PRICE_SHIFT >= exact);
            proptest::prop_assert!(owed == 0 || u128::from(owed - 1) << PRICE_SHIFT < exact);
        }

        /// Price monotonicity: the Dutch auction's price never rises as time passes.
        #[test]
        fn the_price_never_rises(
            reference in 1u64..1 << 40,
            multiplier in 1u64..10,
            divisor in 1u64..10,
            duration in 1i64..100_000,
            earlier in 0i64..200_000,
            later_by in 0i64..200_000,
        ) {
            let start = start_price(reference, multiplier).unwrap();
            let floor = floor_price(reference, divisor);
            let before = current_price(start, floor, 0, duration, earlier);
            let after = current_price(start, floor, 0, duration, earlier + later_by);
            proptest::prop_assert!(after <= before, "{after} > {before}");
        }

        /// M-2: whatever one dust fill pays, at most its share of the lot lifts the reference
        /// above the floor, so one cheap fill per auction cannot freeze an above-market price.
        #[test]
        fn m2_a_dust_fill_each_auction_cannot_freeze_the_reference(
            reference in 2u64..1 << 40,
            multiplier in 1u64..4,
            divisor in 2u64..4,
            lot in 1_000u64..1 << 40,
            sold_fraction in 0.0f64..1.0,
            price_fraction in 0.0f64..=1.0,
        ) {
            let start = start_price(reference, multiplier).unwrap();
            let floor = floor_price(reference, divisor);
            let sold = 1 + ((lot / 1_000) as f64 * sold_fraction) as u64;
            // The dust is bought at any price up to the start price.
            let price = floor + ((start - floor) as f64 * price_fraction) as u64;
            let paid = media_owed(sold, price).unwrap();
            let next = next_reference(lot, sold, paid, floor);
            // Its share of the price range, plus the one MEDIA base unit that rounding up
            // the amount owed can add.
            let lift = (u128::from(start - floor) * u128::from(sold) + (1u128 << PRICE_SHIFT))
                / u128::from(lot)
                + 1;
            proptest::prop_assert!(next >= floor, "{next} < floor {floor}");
            proptest::prop_assert!(u128::from(next - floor) <= lift, "dust lifted {next} from {floor}");
        }
    }
}
