//! Epoch reward math (pure; unit- and property-tested below).
//!
//! E = min(emission_per_epoch, unreserved reward vault, B * max_reward_per_gib / 2^30,
//! the fee-backed cap), and a provider with reward-eligible bytes b and bond s earns
//! min(floor(E b / B), floor(E s / S)). Because sum(b) = B and sum(s) = S, the floors make the
//! total at most E; the stake cap makes fake traffic worth no more than honest stake earns; the
//! per-GiB cap stops a tiny B from unlocking the whole emission.
//!
//! The fee-backed cap (docs/economics.md) is what makes wash traffic unprofitable: E is at
//! most `reward_fee_cap_bps` of the MEDIA value of the treasury revenue that B's bytes paid.
//! The revenue is a lower bound computed from B at the epoch's price and split
//! (`treasury_revenue_floor`), so whoever owns b of the B bytes paid the treasury at least b/B
//! of it; the MEDIA value is 1:1 when fees are paid in MEDIA (they are burned), else at the
//! `Backing` the last buy-back lot left: at most its reference price and its own average, for
//! at most the volume it sold, a slice per epoch. Bidding above market to raise that price
//! costs the bidder at least what the raised cap can return.
use crate::auction::PRICE_SHIFT;
use crate::constants::{BPS_DENOMINATOR, GIB_SHIFT};
use crate::math::ensure_invariant;
use anchor_lang::prelude::*;

/// The caps E is the smallest of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmissionCaps {
    pub emission_per_epoch: u64,
    /// Reward vault balance not yet reserved by earlier epochs.
    pub unreserved: u64,
    pub max_reward_per_gib: u64,
    /// MEDIA the epoch's treasury revenue backs (`fee_backed_cap`).
    pub fee_backed: u64,
}

/// E for an epoch with `reward_bytes` = B and `provider_stake` = S.
pub fn epoch_emission(reward_bytes: u64, provider_stake: u64, caps: &EmissionCaps) -> u64 {
    if reward_bytes == 0 || provider_stake == 0 {
        return 0;
    }
    let byte_cap = (u128::from(reward_bytes) * u128::from(caps.max_reward_per_gib)) >> GIB_SHIFT;
    let byte_cap = u64::try_from(byte_cap).unwrap_or(u64::MAX);
    caps.emission_per_epoch
        .min(caps.unreserved)
        .min(byte_cap)
        .min(caps.fee_backed)
}

/// The treasury's part of the fees of `reward_bytes` bytes at `price_per_gib` when providers
/// and keepers take `shares_bps` together, rounded down twice: the whole fee floor(B x price /
/// 2^30), then its share floor(fee x (10^4 - shares) / 10^4). Every lane's fees for an epoch
/// are rounded up and the shares down, so each lane paid the treasury at least this rate on
/// its bytes, and this never exceeds what the epoch's settlements put in the treasury. It
/// cannot fail, so it can never block an epoch from finalizing.
pub fn treasury_revenue_floor(reward_bytes: u64, price_per_gib: u64, shares_bps: u32) -> u64 {
    let treasury_bps = u32::from(BPS_DENOMINATOR).saturating_sub(shares_bps);
    let fees = (u128::from(reward_bytes) * u128::from(price_per_gib)) >> GIB_SHIFT;
    let revenue = fees * u128::from(treasury_bps) / u128::from(BPS_DENOMINATOR);
    u64::try_from(revenue).unwrap_or(u64::MAX)
}

/// What payment-mint revenue is worth in MEDIA for the cap, and how much of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backing {
    /// Q32.32 MEDIA base units per payment base unit.
    pub price: u64,
    /// Payment units one epoch may value at `price` at most.
    pub per_epoch: u64,
    /// Payment units left to value before the next lot sells.
    pub remaining: u64,
}

impl Backing {
    /// Fees paid in MEDIA are burned as they are: one to one, without a volume limit.
    pub const MEDIA: Backing = Backing {
        price: 1 << PRICE_SHIFT,
        per_epoch: u64::MAX,
        remaining: u64::MAX,
    };
}

/// The fee-backed cap for `revenue` payment units: (the MEDIA `backing` values them at) x
/// `cap_bps` / 10^4, rounded down, and the payment units it valued (which leave
/// `backing.remaining`).
pub fn fee_backed_cap(revenue: u64, backing: &Backing, cap_bps: u16) -> (u64, u64) {
    let valued = revenue.min(backing.per_epoch).min(backing.remaining);
    let media = (u128::from(valued) * u128::from(backing.price)) >> PRICE_SHIFT;
    let capped = media * u128::from(cap_bps) / u128::from(BPS_DENOMINATOR);
    // cap_bps <= 10^4 and price < 2^64, so this fits; saturate rather than trust it.
    (u64::try_from(capped).unwrap_or(u64::MAX), valued)
}

/// A provider's share of E: the smaller of its byte share and its stake share, rounded down.
pub fn provider_reward(
    emission: u64,
    bytes: u64,
    reward_bytes: u64,
    bond: u64,
    provider_stake: u64,
) -> Result<u64> {
    if reward_bytes == 0 || provider_stake == 0 {
        return Ok(0);
    }
    // A provider's bytes and bond are parts of the epoch's totals.
    ensure_invariant(bytes <= reward_bytes && bond <= provider_stake)?;
    let by_bytes = u128::from(emission) * u128::from(bytes) / u128::from(reward_bytes);
    let by_stake = u128::from(emission) * u128::from(bond) / u128::from(provider_stake);
    // Both are at most `emission`, so this fits.
    Ok(by_bytes.min(by_stake) as u64)
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::MediaError;

    const GIB: u64 = 1 << 30;

    fn caps(emission_per_epoch: u64, unreserved: u64, max_reward_per_gib: u64) -> EmissionCaps {
        EmissionCaps {
            emission_per_epoch,
            unreserved,
            max_reward_per_gib,
            fee_backed: u64::MAX,
        }
    }

    #[test]
    fn emission_takes_the_smallest_cap() {
        assert_eq!(
            epoch_emission(10 * GIB, 1, &caps(1_000, 5_000, 1_000)),
            1_000
        );
        assert_eq!(epoch_emission(10 * GIB, 1, &caps(1_000, 300, 1_000)), 300);
        // One GiB may unlock at most max_reward_per_gib.
        assert_eq!(epoch_emission(GIB, 1, &caps(1_000, 5_000, 7)), 7);
        assert_eq!(epoch_emission(GIB / 2, 1, &caps(1_000, 5_000, 7)), 3);
        assert_eq!(epoch_emission(0, 1, &caps(1_000, 5_000, 7)), 0);
        assert_eq!(epoch_emission(GIB, 0, &caps(1_000, 5_000, 7)), 0);
        let fee_backed = EmissionCaps {
            fee_backed: 42,
            ..caps(1_000, 5_000, 1_000)
        };
        assert_eq!(epoch_emission(10 * GIB, 1, &fee_backed), 42);
        let unbounded = caps(u64::MAX, u64::MAX, u64::MAX);
        assert_eq!(epoch_emission(u64::MAX, 1, &unbounded), u64::MAX);
    }

    #[test]
    fn treasury_revenue_is_rounded_down_from_the_bytes() {
        // 10 GiB at 10,000 a GiB with 82% to providers and keepers: 18% of 100,000.
        assert_eq!(treasury_revenue_floor(10 * GIB, 10_000, 8_200), 18_000);
        // One byte less rounds down.
        assert_eq!(treasury_revenue_floor(10 * GIB - 1, 10_000, 8_200), 17_999);
        assert_eq!(treasury_revenue_floor(GIB, 10_000, 10_000), 0);
        assert_eq!(treasury_revenue_floor(0, 10_000, 0), 0);
        // Shares above the whole (never valid params) leave the treasury nothing.
        assert_eq!(treasury_revenue_floor(GIB, 1, 10_001), 0);
        // The largest inputs neither overflow nor fail: this must never block an epoch.
        assert_eq!(treasury_revenue_floor(u64::MAX, u64::MAX, 0), u64::MAX);
    }

    #[test]
    fn the_fee_backed_cap_values_at_most_the_backing_and_its_slice() {
        const ONE: u64 = 1 << PRICE_SHIFT;
        // Fees in MEDIA: one to one, times kappa.
        assert_eq!(
            fee_backed_cap(18_000, &Backing::MEDIA, 10_000),
            (18_000, 18_000)
        );
        assert_eq!(
            fee_backed_cap(18_000, &Backing::MEDIA, 5_000),
            (9_000, 18_000)
        );
        assert_eq!(fee_backed_cap(18_000, &Backing::MEDIA, 0), (0, 18_000));
        // Another mint at 2.5 MEDIA a unit, at most 10,000 units an epoch, 15,000 left.
        let backing = Backing {
            price: 2 * ONE + ONE / 2,
            per_epoch: 10_000,
            remaining: 15_000,
        };
        assert_eq!(fee_backed_cap(4_000, &backing, 10_000), (10_000, 4_000));
        assert_eq!(fee_backed_cap(18_000, &backing, 10_000), (25_000, 10_000));
        let last = Backing {
            remaining: 3_000,
            ..backing
        };
        assert_eq!(fee_backed_cap(18_000, &last, 10_000), (7_500, 3_000));
        // No lot has sold yet: nothing is backed.
        let none = Backing {
            remaining: 0,
            ..backing
        };
        assert_eq!(fee_backed_cap(18_000, &none, 10_000), (0, 0));
        assert_eq!(
            fee_backed_cap(
                u64::MAX,
                &Backing {
                    price: u64::MAX,
                    ..Backing::MEDIA
                },
                10_000
            )
            .0,
            u64::MAX,
            "saturates"
        );
    }

    #[test]
    fn both_caps_bind() {
        // Half the bytes but a tenth of the stake: the stake share wins.
        assert_eq!(provider_reward(1_000, 50, 100, 10, 100).unwrap(), 100);
        assert_eq!(provider_reward(1_000, 5, 100, 90, 100).unwrap(), 50);
        assert_eq!(provider_reward(1_000, 0, 0, 90, 100).unwrap(), 0);
        assert_eq!(
            provider_reward(1_000, 101, 100, 1, 100).unwrap_err(),
            error!(MediaError::InvariantViolated)
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 1_000, ..Default::default() })]

        /// Emission bounds: E is within every cap; the total paid never exceeds E, nobody gets
        /// more than either share, and rounding only ever loses a fraction of a unit per
        /// provider.
        #[test]
        fn rewards_stay_within_the_emission_and_the_emission_within_its_caps(
            providers in proptest::collection::vec((0u64..50 * GIB, 0u64..1_000_000_000_000), 1..40),
            emission_per_epoch in 0u64..1 << 50,
            unreserved in 0u64..1 << 52,
            max_reward_per_gib in 0u64..1 << 40,
            fee_backed in 0u64..1 << 52,
        ) {
            let b: u64 = providers.iter().map(|p| p.0).sum();
            let s: u64 = providers.iter().map(|p| p.1).sum();
            let caps = EmissionCaps { emission_per_epoch, unreserved, max_reward_per_gib, fee_backed };
            let e = epoch_emission(b, s, &caps);
            proptest::prop_assert!(e <= emission_per_epoch && e <= unreserved && e <= fee_backed);
            let per_gib_cap = (u128::from(max_reward_per_gib) * u128::from(b)) >> GIB_SHIFT;
            proptest::prop_assert!(u128::from(e) <= per_gib_cap);
            let mut total = 0u128;
            for (bi, si) in &providers {
                let r = provider_reward(e, *bi, b, *si, s).unwrap();
                proptest::prop_assert!(u128::from(r) * u128::from(b) <= u128::from(e) * u128::from(*bi));
                proptest::prop_assert!(u128::from(r) * u128::from(s) <= u128::from(e) * u128::from(*si));
                total += u128::from(r);
            }
            proptest::prop_assert!(total <= u128::from(e), "paid {total} > E {e}");
        }
    }
}
