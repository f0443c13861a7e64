use crate::constants::{BPS_DENOMINATOR, ONE_MEDIA};
use crate::errors::MediaError;
use anchor_lang::prelude::*;

const DAY: i64 = 86_400;
/// Longest warm-up, cool-down or buyback interval governance may set.
pub const MAX_DURATION_SECS: i64 = 365 * DAY;
pub const MAX_EPOCH_DURATION_SECS: i64 = 30 * DAY;
pub const MAX_PAUSE_SECS: i64 = 30 * DAY;
/// Upper bound on the provider bond minimum: one billion MEDIA.
pub const MAX_MIN_PROVIDER_STAKE: u64 = 1_000_000_000 * ONE_MEDIA;
/// 1 TiB of quota per staked MEDIA; keeps quota arithmetic far from overflow.
pub const MAX_QUOTA_BYTES_PER_MEDIA: u64 = 1 << 40;
pub const MAX_REWARD_CLAIM_EPOCHS: u64 = 10_000;
pub const MAX_BUYBACK_MULTIPLIER: u64 = 1_000;
/// Largest epoch-crank bounty, in payment base units (1,000 units of a 6-decimal token):
/// the bounty is paid out of the treasury every epoch (review I-2).
pub const MAX_CRANK_BOUNTY: u64 = 1_000_000_000;

/// Governance-changeable protocol parameters, validated as a whole on every change.
#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Smallest provider bond, in MEDIA base units.
    pub min_provider_stake: u64,
    /// Seconds before newly staked MEDIA counts as active.
    pub warmup_secs: i64,
    /// Seconds between an unstake request and the withdrawal.
    pub unstake_cooldown_secs: i64,
    pub epoch_duration_secs: i64,
    /// Bandwidth quota per epoch for each whole MEDIA a consumer bonds.
    pub quota_bytes_per_media: u64,
    /// Payment-mint base units per GiB delivered.
    pub price_per_gib: u64,
    pub provider_fee_bps: u16,
    pub keeper_fee_bps: u16,
    pub min_treasury_bps: u16,
    /// MEDIA emitted to providers per epoch at most.
    pub emission_per_epoch: u64,
    /// MEDIA emitted per settled GiB at most.
    pub max_reward_per_gib: u64,
    /// κ: an epoch emits at most this share (bps) of the MEDIA value of the treasury revenue
    /// its reward-eligible bytes paid. At most 10,000, so rewards never exceed what fees buy
    /// back and burn (docs/economics.md).
    pub reward_fee_cap_bps: u16,
    /// Epochs an epoch's rewards stay claimable.
    pub reward_claim_epochs: u64,
    /// Paid from the treasury to whoever turns a due crank.
    pub crank_bounty: u64,
    /// Longest pause the guardian may impose.
    pub max_pause_secs: i64,
    pub buyback: BuybackParams,
}

/// Dutch-auction parameters for buying MEDIA back with the treasury (payment mint != MEDIA).
#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuybackParams {
    /// At most one auction starts per interval.
    pub interval_secs: i64,
    /// Time over which the lot price decays from start to floor.
    pub duration_secs: i64,
    /// Smallest treasury balance worth auctioning, payment-mint base units.
    pub min_lot: u64,
    /// Smallest bid unless it takes the whole remainder.
    pub min_bid: u64,
    /// The start price is `start_multiplier` x reference.
    pub start_multiplier: u64,
    /// The floor price is reference / `floor_divisor`.
    pub floor_divisor: u64,
    /// Reference price before any lot has sold, Q32.32 MEDIA base units per payment base unit.
    /// Read once, by `initialize`: changing it later has no effect (review I-3).
    pub initial_reference_price: u64,
}

impl Params {
    /// Epochs one buy-back lot's backing must cover: lots end up to interval + duration
    /// apart (one sells out at its start, the next runs to its end), so
    /// ceil((interval + duration) / epoch duration), at least one.
    pub fn epochs_per_buyback(&self) -> u64 {
        let epoch = self.epoch_duration_secs.max(1) as u64;
        let spacing = self
            .buyback
            .interval_secs
            .max(1)
            .saturating_add(self.buyback.duration_secs.max(0)) as u64;
        spacing.div_ceil(epoch)
    }

    pub fn validate(&self) -> Result<()> {
        in_range(
            "min_provider_stake",
            self.min_provider_stake,
            1,
            MAX_MIN_PROVIDER_STAKE,
        )?;
        in_range("warmup_secs", self.warmup_secs, 0, MAX_DURATION_SECS)?;
        // Free traffic would leave reward bytes bounded by quota alone (review I-2).
        in_range("price_per_gib", self.price_per_gib, 1, u64::MAX)?;
        in_range("crank_bounty", self.crank_bounty, 0, MAX_CRANK_BOUNTY)?;
        in_range(
            "unstake_cooldown_secs",
            self.unstake_cooldown_secs,
            0,
            MAX_DURATION_SECS,
        )?;
        in_range(
            "epoch_duration_secs",
            self.epoch_duration_secs,
            1,
            MAX_EPOCH_DURATION_SECS,
        )?;
        in_range(
            "quota_bytes_per_media",
            self.quota_bytes_per_media,
            1,
            MAX_QUOTA_BYTES_PER_MEDIA,
        )?;
        in_range(
            "provider_fee_bps",
            self.provider_fee_bps,
            0,
            BPS_DENOMINATOR,
        )?;
        in_range("keeper_fee_bps", self.keeper_fee_bps, 0, BPS_DENOMINATOR)?;
        in_range(
            "reward_fee_cap_bps",
            self.reward_fee_cap_bps,
            0,
            BPS_DENOMINATOR,
        )?;
        in_range(
            "min_treasury_bps",
            self.min_treasury_bps,
            0,
            BPS_DENOMINATOR,
        )?;
        let shares = u32::from(self.provider_fee_bps) + u32::from(self.keeper_fee_bps);
        let limit = u32::from(BPS_DENOMINATOR - self.min_treasury_bps);
        if shares > limit {
            msg!("provider_fee_bps + keeper_fee_bps = {} > {}", shares, limit);
            return err!(MediaError::FeeSplitExceedsLimit);
        }
        in_range(
            "reward_claim_epochs",
            self.reward_claim_epochs,
            1,
            MAX_REWARD_CLAIM_EPOCHS,
        )?;
        in_range("max_pause_secs", self.max_pause_secs, 1, MAX_PAUSE_SECS)?;
        self.buyback.validate()
    }
}

impl BuybackParams {
    pub fn validate(&self) -> Result<()> {
        in_range(
            "buyback.interval_secs",
            self.interval_secs,
            1,
            MAX_DURATION_SECS,
        )?;
        in_range(
            "buyback.duration_secs",
            self.duration_secs,
            1,
            self.interval_secs,
        )?;
        in_range("buyback.min_lot", self.min_lot, 1, u64::MAX)?;
        in_range("buyback.min_bid", self.min_bid, 1, u64::MAX)?;
        in_range(
            "buyback.start_multiplier",
            self.start_multiplier,
            1,
            MAX_BUYBACK_MULTIPLIER,
        )?;
        in_range(
            "buyback.floor_divisor",
            self.floor_divisor,
            1,
            MAX_BUYBACK_MULTIPLIER,
        )?;
        in_range(
            "buyback.initial_reference_price",
            self.initial_reference_price,
            1,
            u64::MAX,
        )
    }
}

fn in_range<T: PartialOrd + std::fmt::Display>(name: &str, value: T, min: T, max: T) -> Result<()> {
    if value < min || value > max {
        msg!(
            "parameter {} = {} is outside [{}, {}]",
            name,
            value,
            min,
            max
        );
        return err!(MediaError::ParamOutOfRange);
    }
    Ok(())
}

impl Default for Params {
    /// Mainnet-like defaults: 25 MEDIA provider minimum, one-day epochs.
    fn default() -> Self {
        Self {
            min_provider_stake: 25 * ONE_MEDIA,
            warmup_secs: 3 * DAY,
            unstake_cooldown_secs: 7 * DAY,
            epoch_duration_secs: DAY,
            quota_bytes_per_media: 1 << 30,
            price_per_gib: 10_000,
            provider_fee_bps: 8_000,
            keeper_fee_bps: 200,
            min_treasury_bps: 500,
            emission_per_epoch: 10_000 * ONE_MEDIA,
            max_reward_per_gib: 10 * ONE_MEDIA,
            reward_fee_cap_bps: BPS_DENOMINATOR,
            reward_claim_epochs: 90,
            crank_bounty: 1_000,
            max_pause_secs: 3 * DAY,
            buyback: BuybackParams {
                interval_secs: DAY,
                duration_secs: 6 * 3_600,
                min_lot: 1_000_000,
                min_bid: 10_000,
                start_multiplier: 2,
                floor_divisor: 2,
                initial_reference_price: 1 << 32,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Params::default().validate().unwrap();
    }

    #[test]
    fn fee_split_must_leave_the_treasury_minimum() {
        let mut p = Params {
            provider_fee_bps: 9_000,
            keeper_fee_bps: 600,
            min_treasury_bps: 500,
            ..Params::default()
        };
        assert_eq!(
            p.validate().unwrap_err(),
            error!(MediaError::FeeSplitExceedsLimit)
        );
        p.keeper_fee_bps = 500;
        p.validate().unwrap();
    }

    #[test]
    fn each_range_is_enforced() {
        let cases: Vec<fn(&mut Params)> = vec![
            |p| p.min_provider_stake = 0,
            |p| p.price_per_gib = 0,
            |p| p.crank_bounty = MAX_CRANK_BOUNTY + 1,
            |p| p.epoch_duration_secs = 0,
            |p| p.epoch_duration_secs = MAX_EPOCH_DURATION_SECS + 1,
            |p| p.warmup_secs = -1,
            |p| p.unstake_cooldown_secs = MAX_DURATION_SECS + 1,
            |p| p.quota_bytes_per_media = 0,
            |p| p.provider_fee_bps = 10_001,
            |p| p.reward_fee_cap_bps = 10_001,
            |p| p.reward_claim_epochs = 0,
            |p| p.max_pause_secs = 0,
            |p| p.buyback.duration_secs = p.buyback.interval_secs + 1,
            |p| p.buyback.floor_divisor = 0,
            |p| p.buyback.initial_reference_price = 0,
        ];
        for (i, mutate) in cases.into_iter().enumerate() {
            let mut p = Params::default();
            mutate(&mut p);
            assert_eq!(
                p.validate().unwrap_err(),
                error!(MediaError::ParamOutOfRange),
                "case {i}"
            );
        }
    }
}
