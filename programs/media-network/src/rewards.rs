//! Epoch reward math (pure; unit- and property-tested below).
//!
//! E = min(emission_per_epoch, unreserved reward vault, B * max_reward_per_gib / 2^30), and a
//! provider with reward-eligible bytes b and bond s earns min(floor(E b / B), floor(E s / S)).
//! Because sum(b) = B and sum(s) = S, the floors make the total at most E; the stake cap makes
//! fake traffic worth no more than honest stake earns; the per-GiB cap stops a tiny B from
//! unlocking the whole emission.
use crate::constants::GIB_SHIFT;
use crate::errors::MediaError;
use anchor_lang::prelude::*;

/// E for an epoch with `reward_bytes` = B and `provider_stake` = S.
pub fn epoch_emission(
    emission_per_epoch: u64,
    unreserved: u64,
    reward_bytes: u64,
    provider_stake: u64,
    max_reward_per_gib: u64,
) -> u64 {
    if reward_bytes == 0 || provider_stake == 0 {
        return 0;
    }
    let byte_cap = (u128::from(reward_bytes) * u128::from(max_reward_per_gib)) >> GIB_SHIFT;
    let byte_cap = u64::try_from(byte_cap).unwrap_or(u64::MAX);
    emission_per_epoch.min(unreserved).min(byte_cap)
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
    require!(
        bytes <= reward_bytes && bond <= provider_stake,
        MediaError::MathOverflow
    );
    let by_bytes = u128::from(emission) * u128::from(bytes) / u128::from(reward_bytes);
    let by_stake = u128::from(emission) * u128::from(bond) / u128::from(provider_stake);
    // Both are at most `emission`, so this fits.
    Ok(by_bytes.min(by_stake) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    const GIB: u64 = 1 << 30;

    #[test]
    fn emission_takes_the_smallest_cap() {
        assert_eq!(epoch_emission(1_000, 5_000, 10 * GIB, 1, 1_000), 1_000);
        assert_eq!(epoch_emission(1_000, 300, 10 * GIB, 1, 1_000), 300);
        // One GiB may unlock at most max_reward_per_gib.
        assert_eq!(epoch_emission(1_000, 5_000, GIB, 1, 7), 7);
        assert_eq!(epoch_emission(1_000, 5_000, GIB / 2, 1, 7), 3);
        assert_eq!(epoch_emission(1_000, 5_000, 0, 1, 7), 0);
        assert_eq!(epoch_emission(1_000, 5_000, GIB, 0, 7), 0);
        assert_eq!(
            epoch_emission(u64::MAX, u64::MAX, u64::MAX, 1, u64::MAX),
            u64::MAX
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
            error!(MediaError::MathOverflow)
        );
    }

    /// Many random epochs with random providers: the total paid never exceeds E, nobody gets
    /// more than either share, and rounding only ever loses a fraction of a unit per provider.
    #[test]
    fn random_epochs_never_overpay() {
        let mut rng = Rng::new(0x5eed);
        for _ in 0..2_000 {
            let providers = rng.range(1, 40) as usize;
            let bytes: Vec<u64> = (0..providers).map(|_| rng.range(0, 50 * GIB)).collect();
            let bonds: Vec<u64> = (0..providers)
                .map(|_| rng.range(0, 1_000_000_000_000))
                .collect();
            let b: u64 = bytes.iter().sum();
            let s: u64 = bonds.iter().sum();
            let e = epoch_emission(
                rng.range(0, 1 << 50),
                rng.range(0, 1 << 52),
                b,
                s,
                rng.range(0, 1 << 40),
            );
            let mut total = 0u128;
            for (bi, si) in bytes.iter().zip(&bonds) {
                let r = provider_reward(e, *bi, b, *si, s).unwrap();
                let exact_bytes = u128::from(e) * u128::from(*bi);
                let exact_stake = u128::from(e) * u128::from(*si);
                assert!(u128::from(r) * u128::from(b) <= exact_bytes);
                assert!(u128::from(r) * u128::from(s) <= exact_stake);
                total += u128::from(r);
            }
            assert!(total <= u128::from(e), "paid {total} > E {e}");
        }
    }
}
