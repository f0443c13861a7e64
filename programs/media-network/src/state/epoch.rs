use crate::constants::EMPTY_SLOT;
use crate::errors::MediaError;
use crate::math::{ensure_invariant, SafeMath};
use crate::state::{EpochSlot, Params};
use anchor_lang::prelude::*;

/// One epoch's running totals, kept in Config while the epoch can still settle (so settlement
/// touches no per-epoch account) and copied into its `Epoch` account at finalization.
#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochTotals {
    pub epoch: u64,
    /// `price_per_gib` snapshotted when the epoch started.
    pub price_per_gib: u64,
    /// The fee split snapshotted when the epoch started: every receipt of the epoch divides
    /// its fee the same way, which the fee-backed reward cap relies on.
    pub provider_fee_bps: u16,
    pub keeper_fee_bps: u16,
    /// Provider stake S snapshotted when the epoch started.
    pub provider_stake: u64,
    /// Reward-eligible bytes B settled for this epoch.
    pub reward_bytes: u64,
    /// Fees settled for this epoch.
    pub fees: u64,
}

impl EpochSlot for EpochTotals {
    const EMPTY: EpochTotals = EpochTotals::EMPTY;
    fn epoch(&self) -> u64 {
        self.epoch
    }
}

impl EpochTotals {
    pub const EMPTY: EpochTotals = EpochTotals {
        epoch: EMPTY_SLOT,
        price_per_gib: 0,
        provider_fee_bps: 0,
        keeper_fee_bps: 0,
        provider_stake: 0,
        reward_bytes: 0,
        fees: 0,
    };

    pub fn start(epoch: u64, params: &Params, provider_stake: u64) -> Self {
        EpochTotals {
            epoch,
            price_per_gib: params.price_per_gib,
            provider_fee_bps: params.provider_fee_bps,
            keeper_fee_bps: params.keeper_fee_bps,
            provider_stake,
            reward_bytes: 0,
            fees: 0,
        }
    }

    /// Provider and keeper shares together, in bps.
    pub fn shares_bps(&self) -> u32 {
        u32::from(self.provider_fee_bps) + u32::from(self.keeper_fee_bps)
    }

    pub fn add_settlement(&mut self, reward_bytes: u64, fee: u64) -> Result<()> {
        self.reward_bytes = self.reward_bytes.safe_add(reward_bytes)?;
        self.fees = self.fees.safe_add(fee)?;
        Ok(())
    }
}

/// What an epoch's finalization fixed: E and what backed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emission {
    pub emission: u64,
    pub backed_revenue: u64,
    pub backing_price: u64,
}

/// A past or current epoch, `["epoch", n as u64 LE]`.
#[account]
#[derive(InitSpace, Debug)]
pub struct Epoch {
    pub bump: u8,
    pub epoch: u64,
    pub started_at: i64,
    pub price_per_gib: u64,
    /// S: provider stake counting in this epoch.
    pub provider_stake: u64,
    /// B: reward-eligible bytes settled (final once `finalized`).
    pub reward_bytes: u64,
    pub fees: u64,
    /// E: MEDIA emitted to this epoch's providers.
    pub emission: u64,
    /// The treasury revenue (payment units) of B's bytes that backed E, and the Q32.32 MEDIA
    /// price it was valued at (`rewards::fee_backed_cap`).
    pub backed_revenue: u64,
    pub backing_price: u64,
    /// Rewards accrued to providers out of E so far.
    pub paid: u64,
    pub finalized: bool,
    /// The claim period ended and the unpaid rest of E went back to the pool.
    pub expired: bool,
}

impl Epoch {
    pub fn new(bump: u8, started_at: i64, totals: &EpochTotals) -> Self {
        Epoch {
            bump,
            epoch: totals.epoch,
            started_at,
            price_per_gib: totals.price_per_gib,
            provider_stake: totals.provider_stake,
            reward_bytes: 0,
            fees: 0,
            emission: 0,
            backed_revenue: 0,
            backing_price: 0,
            paid: 0,
            finalized: false,
            expired: false,
        }
    }

    /// Freezes the epoch's settled totals once its settlement window has closed and records
    /// its emission E (which the caller reserves in the reward vault).
    pub fn finalize(&mut self, totals: &EpochTotals, emission: &Emission) -> Result<()> {
        require!(!self.finalized, MediaError::EpochAlreadyFinalized);
        require!(totals.epoch == self.epoch, MediaError::WrongEpochAccount);
        self.reward_bytes = totals.reward_bytes;
        self.fees = totals.fees;
        self.emission = emission.emission;
        self.backed_revenue = emission.backed_revenue;
        self.backing_price = emission.backing_price;
        self.finalized = true;
        Ok(())
    }

    /// Records `amount` of E as accrued; never beyond E.
    pub fn pay(&mut self, amount: u64) -> Result<()> {
        let paid = self.paid.safe_add(amount)?;
        ensure_invariant(paid <= self.emission)?;
        self.paid = paid;
        Ok(())
    }

    /// The first epoch in which the claim period of this epoch's rewards is over: it
    /// finalizes two epochs after it starts, then stays claimable `claim_epochs` epochs.
    pub fn expires_at_epoch(&self, claim_epochs: u64) -> Result<u64> {
        self.epoch.safe_add(2)?.safe_add(claim_epochs)
    }

    /// Ends the claim period; returns the unpaid rest of E, which leaves the reserve.
    pub fn expire(&mut self) -> Result<u64> {
        require!(self.finalized, MediaError::EpochNotFinalized);
        require!(!self.expired, MediaError::RewardsExpired);
        self.expired = true;
        self.emission.safe_sub(self.paid)
    }
}
