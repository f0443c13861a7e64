use super::{EpochRing, EpochTotals, Params};
use crate::constants::{CONFIG_SEED, EMPTY_SLOT, GUARDIAN_COOLDOWN_FACTOR};
use crate::errors::MediaError;
use crate::math::{ensure_invariant, SafeMath};
use anchor_lang::prelude::*;

/// The protocol's root account, `["config"]`. It signs for every vault.
#[account]
#[derive(InitSpace, Debug)]
pub struct Config {
    pub bump: u8,
    pub stake_vault_bump: u8,
    pub reward_vault_bump: u8,
    pub payment_vault_bump: u8,
    /// Changes parameters; the governance PDA after bootstrap.
    pub authority: Pubkey,
    /// Set by `propose_authority`, becomes `authority` when it signs `accept_authority`.
    pub pending_authority: Option<Pubkey>,
    /// May pause for at most `params.max_pause_secs`; nothing else.
    pub guardian: Option<Pubkey>,
    pub media_mint: Pubkey,
    pub payment_mint: Pubkey,
    pub stake_vault: Pubkey,
    pub reward_vault: Pubkey,
    pub payment_vault: Pubkey,
    pub params: Params,
    /// The protocol is paused while `now < paused_until`; the authority pauses with `i64::MAX`.
    pub paused_until: i64,
    /// The guardian may not pause again before this time.
    pub guardian_pause_allowed_at: i64,
    pub epoch: u64,
    pub epoch_started_at: i64,
    /// Sum of provider bonds counting in the current epoch (S is snapshotted from it).
    pub provider_stake_current: u64,
    /// Sum of provider bonds that will count from the next epoch.
    pub provider_stake_next: u64,
    pub consumer_stake: u64,
    /// Sum of active and warming stake over all stake accounts (excludes pending unstakes).
    pub staked_total: u64,
    /// Payment-mint base units owed to the protocol (inside the payment vault).
    pub treasury_accrued: u64,
    /// MEDIA in the reward vault that finalized epochs still owe.
    pub reward_reserved: u64,
    /// Running totals of the epochs that can still settle, at index `epoch % 2`.
    pub epoch_totals: EpochRing<EpochTotals>,
    /// Crank bounties paid out of a MEDIA treasury and not yet deducted from the revenue that
    /// backs rewards.
    pub bounties_to_net: u64,
}

impl Config {
    /// What holds of Config between instructions; every handler that changes Config ends by
    /// checking it, so a bug that breaks one of these fails its transaction with
    /// `InvariantViolated` instead of corrupting the protocol's books.
    /// - The parameters are valid ones (`update_params` and governance validate them).
    /// - The epoch ring holds the current epoch in its slot and, in the other, the epoch just
    ///   before it (or nothing yet).
    /// - Bonds are parts of the stake: consumer bonds and next epoch's provider bonds never
    ///   exceed the stake they are bonded from.
    /// - Crank bounties are netted against revenue only when fees are paid in MEDIA.
    pub fn invariant(&self) -> Result<()> {
        ensure_invariant(self.params.validate().is_ok())?;
        ensure_invariant(self.epoch_totals.get(self.epoch).is_some())?;
        let other = self.epoch_totals.slot(self.epoch.wrapping_add(1)).epoch;
        ensure_invariant(other == EMPTY_SLOT || other.checked_add(1) == Some(self.epoch))?;
        let bonded = self.consumer_stake.checked_add(self.provider_stake_next);
        ensure_invariant(bonded.is_some_and(|b| b <= self.staked_total))?;
        ensure_invariant(self.bounties_to_net == 0 || self.payment_is_media())?;
        Ok(())
    }

    pub fn signer_seeds(&self) -> [&[u8]; 2] {
        [CONFIG_SEED, std::slice::from_ref(&self.bump)]
    }

    pub fn is_paused(&self, now: i64) -> bool {
        now < self.paused_until
    }

    pub fn require_not_paused(&self, now: i64) -> Result<()> {
        require!(!self.is_paused(now), MediaError::ProtocolPaused);
        Ok(())
    }

    /// The authority pauses until it unpauses.
    pub fn pause_by_authority(&mut self) {
        self.paused_until = i64::MAX;
    }

    /// Ends the pause now; `paused_until` keeps when it ended, which `require_epoch_due` needs.
    pub fn unpause_by_authority(&mut self, now: i64) {
        self.paused_until = self.paused_until.min(now);
    }

    /// The guardian pauses for at most `max_pause_secs`, never extends a running pause, and must
    /// then wait `GUARDIAN_COOLDOWN_FACTOR` times that limit, so on its own it can keep the
    /// protocol paused at most a quarter of the time (review L-6), while governance removes it.
    pub fn pause_by_guardian(&mut self, now: i64, duration_secs: i64) -> Result<()> {
        require!(
            duration_secs > 0 && duration_secs <= self.params.max_pause_secs,
            MediaError::GuardianPauseTooLong
        );
        require!(
            !self.is_paused(now) && now >= self.guardian_pause_allowed_at,
            MediaError::GuardianPauseNotAllowed
        );
        self.paused_until = now.safe_add(duration_secs)?;
        let cooldown = self
            .params
            .max_pause_secs
            .safe_mul(GUARDIAN_COOLDOWN_FACTOR)?;
        self.guardian_pause_allowed_at = self.paused_until.safe_add(cooldown)?;
        Ok(())
    }

    /// The running totals of `epoch`, if it can still settle (the current or previous epoch).
    pub fn settling_totals(&mut self, epoch: u64) -> Result<&mut EpochTotals> {
        let in_window = epoch == self.epoch || epoch.checked_add(1) == Some(self.epoch);
        require!(in_window, MediaError::EpochOutOfWindow);
        self.epoch_totals
            .get_mut(epoch)
            .ok_or_else(|| error!(MediaError::EpochOutOfWindow))
    }

    /// The price receipts of `epoch` settle at: its snapshot while it can settle, else (an
    /// epoch not started yet) today's parameter.
    pub fn price_for(&self, epoch: u64) -> u64 {
        self.epoch_totals
            .get(epoch)
            .map_or(self.params.price_per_gib, |totals| totals.price_per_gib)
    }

    /// An epoch ends `epoch_duration_secs` after it started, and never sooner than that after
    /// a pause ended: settlement stops while paused, so without this a long pause would expire
    /// the previous epoch's receipts the moment it was lifted (review L-5).
    pub fn require_epoch_due(&self, now: i64) -> Result<()> {
        let duration = self.params.epoch_duration_secs;
        let due_at = self
            .epoch_started_at
            .safe_add(duration)?
            .max(self.paused_until.saturating_add(duration));
        require!(now >= due_at, MediaError::EpochNotDue);
        Ok(())
    }

    /// Starts the next epoch at `now` (a long gap yields one new epoch, not a burst): rolls the
    /// provider stake and snapshots price and S. Returns the totals of the epoch whose
    /// settlement window this closes (the one before the previous), if any.
    pub fn advance_epoch(&mut self, now: i64) -> Result<Option<EpochTotals>> {
        let next = self.epoch.safe_add(1)?;
        self.provider_stake_current = self.provider_stake_next;
        let closing = self.epoch_totals.replace(
            next,
            EpochTotals::start(next, &self.params, self.provider_stake_current),
        );
        self.epoch = next;
        self.epoch_started_at = now;
        Ok(closing
            .epoch
            .checked_add(2)
            .filter(|e| *e == next)
            .map(|_| closing))
    }

    /// The crank bounty, paid out of the treasury as far as it reaches.
    pub fn take_crank_bounty(&mut self) -> u64 {
        let bounty = self.params.crank_bounty.min(self.treasury_accrued);
        self.treasury_accrued -= bounty;
        // Fees in MEDIA are burned as they are, so a bounty paid from them is MEDIA that backs
        // no burn. Any other mint's bounty already shrinks the next buy-back lot, whose sold
        // volume is what backs rewards.
        if self.payment_mint == self.media_mint {
            self.bounties_to_net = self.bounties_to_net.saturating_add(bounty);
        }
        bounty
    }

    /// `revenue` less the bounties not yet deducted, which this deduction uses up.
    pub fn net_of_bounties(&mut self, revenue: u64) -> u64 {
        let deducted = revenue.min(self.bounties_to_net);
        self.bounties_to_net -= deducted;
        revenue - deducted
    }

    /// Sets aside an epoch's emission in the reward vault.
    pub fn reserve_rewards(&mut self, amount: u64) -> Result<()> {
        self.reward_reserved = self.reward_reserved.safe_add(amount)?;
        Ok(())
    }

    /// Rewards leave the reserve when they are paid out or expire.
    pub fn release_rewards(&mut self, amount: u64) -> Result<()> {
        self.reward_reserved = self.reward_reserved.safe_sub(amount)?;
        Ok(())
    }

    /// Moves the whole treasury out (to an auction lot or a burn).
    pub fn take_treasury(&mut self) -> u64 {
        std::mem::take(&mut self.treasury_accrued)
    }

    pub fn payment_is_media(&self) -> bool {
        self.payment_mint == self.media_mint
    }

    pub fn add_treasury(&mut self, amount: u64) -> Result<()> {
        self.treasury_accrued = self.treasury_accrued.safe_add(amount)?;
        Ok(())
    }

    pub fn bond_consumer(&mut self, amount: u64) -> Result<()> {
        self.consumer_stake = self.consumer_stake.safe_add(amount)?;
        Ok(())
    }

    pub fn unbond_consumer(&mut self, amount: u64) -> Result<()> {
        self.consumer_stake = self.consumer_stake.safe_sub(amount)?;
        Ok(())
    }

    pub fn add_stake(&mut self, amount: u64) -> Result<()> {
        self.staked_total = self.staked_total.safe_add(amount)?;
        Ok(())
    }

    pub fn remove_stake(&mut self, amount: u64) -> Result<()> {
        self.staked_total = self.staked_total.safe_sub(amount)?;
        Ok(())
    }

    pub fn bond_provider_next(&mut self, amount: u64) -> Result<()> {
        self.provider_stake_next = self.provider_stake_next.safe_add(amount)?;
        Ok(())
    }

    pub fn unbond_provider_next(&mut self, amount: u64) -> Result<()> {
        self.provider_stake_next = self.provider_stake_next.safe_sub(amount)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let params = Params::default();
        Config {
            bump: 255,
            stake_vault_bump: 255,
            reward_vault_bump: 255,
            payment_vault_bump: 255,
            authority: Pubkey::new_unique(),
            pending_authority: None,
            guardian: None,
            media_mint: Pubkey::new_unique(),
            payment_mint: Pubkey::new_unique(),
            stake_vault: Pubkey::new_unique(),
            reward_vault: Pubkey::new_unique(),
            payment_vault: Pubkey::new_unique(),
            params,
            paused_until: 0,
            guardian_pause_allowed_at: 0,
            epoch: 7,
            epoch_started_at: 0,
            provider_stake_current: 50,
            provider_stake_next: 60,
            consumer_stake: 40,
            staked_total: 100,
            treasury_accrued: 0,
            reward_reserved: 0,
            epoch_totals: EpochRing {
                slots: [
                    EpochTotals::start(6, &params, 50),
                    EpochTotals::start(7, &params, 50),
                ],
            },
            bounties_to_net: 0,
        }
    }

    fn violated(config: &Config) -> bool {
        config.invariant().unwrap_err() == error!(MediaError::InvariantViolated)
    }

    #[test]
    fn the_invariant_holds_of_a_consistent_config_and_names_each_break() {
        let good = config();
        good.invariant().unwrap();

        let mut c = config();
        c.epoch_totals.slots[1].epoch = 5;
        assert!(violated(&c), "the current epoch is not in its slot");
        let mut c = config();
        c.epoch_totals.slots[0].epoch = 4;
        assert!(
            violated(&c),
            "the other slot is neither empty nor the epoch before"
        );
        let mut c = config();
        c.epoch_totals.slots[0] = EpochTotals::EMPTY;
        c.invariant().unwrap();
        let mut c = config();
        c.consumer_stake = 41;
        assert!(violated(&c), "bonds above the stake they come from");
        let mut c = config();
        c.consumer_stake = u64::MAX;
        assert!(violated(&c), "bonds that overflow");
        let mut c = config();
        c.params.price_per_gib = 0;
        assert!(violated(&c), "invalid parameters");
        let mut c = config();
        c.bounties_to_net = 1;
        assert!(violated(&c), "bounties netted while fees are not MEDIA");
        c.payment_mint = c.media_mint;
        c.invariant().unwrap();
    }
}
