//! Bandwidth pricing. F(x) = ceil(x * price / 2^30) is the cumulative fee for x bytes at
//! `price` per GiB; a delta is charged F(settled + delta) - F(settled), so any split of the
//! same bytes into receipts costs exactly the same. Rounding up makes the first byte of every
//! lane and epoch cost at least one unit: an empty escrow settles nothing (review L-1), where
//! rounding down let the first 2^30 / price bytes of every lane settle free.
use crate::constants::{BPS_DENOMINATOR, GIB_SHIFT};
use crate::math::{narrow, SafeMath};
use anchor_lang::prelude::*;

/// F(x): the fee for the first `bytes` bytes of an epoch's lane.
pub fn cumulative_fee(bytes: u64, price_per_gib: u64) -> Result<u64> {
    let fee = (u128::from(bytes) * u128::from(price_per_gib)).div_ceil(1u128 << GIB_SHIFT);
    narrow(fee)
}

/// The fee for bytes `settled..settled + bytes`.
pub fn fee_for(settled: u64, bytes: u64, price_per_gib: u64) -> Result<u64> {
    let end = settled.safe_add(bytes)?;
    let fee = cumulative_fee(end, price_per_gib)? - cumulative_fee(settled, price_per_gib)?;
    Ok(fee)
}

/// The most bytes of `delta` (beyond `settled`) that `escrow` can pay for.
///
/// F(settled + p) <= F(settled) + escrow = T  <=>  (settled + p) * price <= T * 2^30
/// <=>  settled + p <= T * 2^30 / price; and T >= F(settled) >= settled * price / 2^30 keeps
/// that bound at or above `settled`.
pub fn payable_bytes(settled: u64, delta: u64, price_per_gib: u64, escrow: u64) -> Result<u64> {
    if price_per_gib == 0 {
        return Ok(delta);
    }
    let budget = u128::from(cumulative_fee(settled, price_per_gib)?) + u128::from(escrow);
    let max_end = (budget << GIB_SHIFT) / u128::from(price_per_gib);
    let affordable = max_end.saturating_sub(u128::from(settled));
    Ok(u64::try_from(affordable.min(u128::from(delta))).unwrap_or(delta))
}

/// How a fee divides: provider and keeper shares round down, the treasury takes the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeSplit {
    pub provider: u64,
    pub keeper: u64,
    pub treasury: u64,
}

pub fn split_fee(fee: u64, provider_bps: u16, keeper_bps: u16) -> Result<FeeSplit> {
    let share = |bps: u16| {
        let part = u128::from(fee) * u128::from(bps) / u128::from(BPS_DENOMINATOR);
        narrow(part)
    };
    let provider = share(provider_bps)?;
    let keeper = share(keeper_bps)?;
    let treasury = fee.safe_sub(provider)?.safe_sub(keeper)?;
    Ok(FeeSplit {
        provider,
        keeper,
        treasury,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::MediaError;

    const GIB: u64 = 1 << 30;

    #[test]
    fn a_gib_costs_the_price() {
        assert_eq!(cumulative_fee(GIB, 10_000).unwrap(), 10_000);
        assert_eq!(cumulative_fee(GIB - 1, 10_000).unwrap(), 10_000);
        assert_eq!(cumulative_fee(GIB + 1, 10_000).unwrap(), 10_001);
        assert_eq!(cumulative_fee(1, 10_000).unwrap(), 1);
        assert_eq!(cumulative_fee(0, 10_000).unwrap(), 0);
        assert_eq!(
            cumulative_fee(u64::MAX, u64::MAX).unwrap_err(),
            error!(MediaError::MathOverflow)
        );
    }

    #[test]
    fn many_tiny_deltas_cost_what_one_large_delta_costs() {
        let price = 7_777;
        let mut settled = 0u64;
        let mut total = 0u64;
        for step in (1..2_000u64).map(|i| i * 37 % 1_013 + 1) {
            total += fee_for(settled, step, price).unwrap();
            settled += step;
        }
        assert_eq!(total, fee_for(0, settled, price).unwrap());
    }

    #[test]
    fn payable_bytes_is_the_largest_affordable_prefix() {
        // Brute force over small numbers: p is affordable, p + 1 is not (unless p == delta).
        for price in [1u64, 3, 1_000, GIB, GIB + 1, 5 * GIB] {
            for settled in [0u64, 1, 999, GIB - 1, 3 * GIB + 5] {
                for escrow in [0u64, 1, 2, 7, 1_000] {
                    let delta = 4 * GIB;
                    let p = payable_bytes(settled, delta, price, escrow).unwrap();
                    assert!(p <= delta);
                    assert!(fee_for(settled, p, price).unwrap() <= escrow, "p={p}");
                    if p < delta {
                        assert!(fee_for(settled, p + 1, price).unwrap() > escrow);
                    }
                }
            }
        }
        assert_eq!(payable_bytes(5, 100, 0, 0).unwrap(), 100);
        // L-1: nothing in escrow, nothing settled yet: not a single byte settles.
        assert_eq!(payable_bytes(0, 4 * GIB, 10_000, 0).unwrap(), 0);
        assert_eq!(payable_bytes(0, 4 * GIB, 1, 0).unwrap(), 0);
        assert_eq!(payable_bytes(0, u64::MAX, 1, u64::MAX).unwrap(), u64::MAX);
    }

    #[test]
    fn shares_round_down_and_the_treasury_takes_the_rest() {
        let split = split_fee(999, 8_000, 200).unwrap();
        assert_eq!(
            split,
            FeeSplit {
                provider: 799,
                keeper: 19,
                treasury: 181
            }
        );
        assert_eq!(split_fee(u64::MAX, 10_000, 0).unwrap().provider, u64::MAX);
        assert_eq!(
            split_fee(0, 8_000, 200).unwrap(),
            FeeSplit {
                provider: 0,
                keeper: 0,
                treasury: 0
            }
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2_000, ..Default::default() })]

        /// Fee additivity: settling a delta in two receipts costs what one receipt of both
        /// costs, so splitting receipts never changes what a consumer pays.
        #[test]
        fn fees_are_additive_over_receipts(
            settled in 0u64..1 << 50,
            a in 0u64..1 << 45,
            b in 0u64..1 << 45,
            price in 1u64..1 << 40,
        ) {
            let split = fee_for(settled, a, price).unwrap()
                + fee_for(settled + a, b, price).unwrap();
            proptest::prop_assert_eq!(split, fee_for(settled, a + b, price).unwrap());
        }

        /// Payable maximality: the bytes settled are the longest prefix of the delta the
        /// escrow can pay for.
        #[test]
        fn payable_bytes_is_maximal(
            settled in 0u64..1 << 50,
            delta in 0u64..1 << 45,
            price in 1u64..1 << 40,
            escrow in 0u64..1 << 40,
        ) {
            let p = payable_bytes(settled, delta, price, escrow).unwrap();
            proptest::prop_assert!(p <= delta);
            proptest::prop_assert!(fee_for(settled, p, price).unwrap() <= escrow);
            if p < delta {
                proptest::prop_assert!(fee_for(settled, p + 1, price).unwrap() > escrow);
            }
        }
    }
}
