use crate::constants::NO_RELEASE_EPOCH;
use crate::errors::MediaError;
use crate::math::SafeMath;
use anchor_lang::prelude::*;

/// A wallet's MEDIA stake, `["stake", owner]`.
///
/// Newly staked MEDIA warms up before it counts; unstaking moves active stake into a single
/// pending bucket that unlocks after the cool-down. Role bonds are slices of `active` that cannot
/// be unstaked while their role holds them.
#[account]
#[derive(InitSpace, Debug, Default)]
pub struct StakeAccount {
    pub bump: u8,
    pub owner: Pubkey,
    /// Warmed-up stake, including role bonds.
    pub active: u64,
    pub warming: u64,
    /// When `warming` becomes active. A new deposit restarts the warm-up of all warming stake.
    pub warm_at: i64,
    pub unstaking: u64,
    pub unlock_at: i64,
    pub provider_bond: u64,
    /// Epoch from which `provider_bond` is released (after the provider deactivated).
    pub provider_bond_release_epoch: u64,
    pub consumer_bond: u64,
    pub consumer_bond_release_epoch: u64,
    /// No unstake request before this time (set by governance votes).
    pub vote_lock: i64,
}

impl StakeAccount {
    pub fn new(owner: Pubkey, bump: u8) -> Self {
        StakeAccount {
            bump,
            owner,
            provider_bond_release_epoch: NO_RELEASE_EPOCH,
            consumer_bond_release_epoch: NO_RELEASE_EPOCH,
            ..StakeAccount::default()
        }
    }

    /// Applies what time and epochs have done: matured warm-up becomes active and bonds whose
    /// release epoch has come are freed. Every instruction calls this before reading balances.
    pub fn refresh(&mut self, now: i64, epoch: u64) -> Result<()> {
        if self.warming > 0 && now >= self.warm_at {
            self.active = self.active.safe_add(self.warming)?;
            self.warming = 0;
        }
        if self.provider_bond > 0 && epoch >= self.provider_bond_release_epoch {
            self.provider_bond = 0;
            self.provider_bond_release_epoch = NO_RELEASE_EPOCH;
        }
        if self.consumer_bond > 0 && epoch >= self.consumer_bond_release_epoch {
            self.consumer_bond = 0;
            self.consumer_bond_release_epoch = NO_RELEASE_EPOCH;
        }
        Ok(())
    }

    /// Governance weight at `now`: warmed-up stake, role bonds included. Stake still warming
    /// does not count, so stake bought for a vote cannot vote.
    pub fn voting_weight(&self, now: i64) -> u64 {
        let warmed = if now >= self.warm_at { self.warming } else { 0 };
        self.active.saturating_add(warmed)
    }

    pub fn bonded(&self) -> Result<u64> {
        self.provider_bond.safe_add(self.consumer_bond)
    }

    /// Active stake not held by any role.
    pub fn unbonded_active(&self) -> Result<u64> {
        self.active.safe_sub(self.bonded()?)
    }

    /// Everything this account owns in the stake vault.
    pub fn total(&self) -> Result<u64> {
        self.active.safe_add(self.warming)?.safe_add(self.unstaking)
    }

    pub fn deposit(&mut self, amount: u64, now: i64, warmup_secs: i64) -> Result<i64> {
        require!(amount > 0, MediaError::ZeroAmount);
        self.warming = self.warming.safe_add(amount)?;
        self.warm_at = now.safe_add(warmup_secs)?;
        Ok(self.warm_at)
    }

    pub fn request_unstake(&mut self, amount: u64, now: i64, cooldown_secs: i64) -> Result<i64> {
        require!(amount > 0, MediaError::ZeroAmount);
        require!(now >= self.vote_lock, MediaError::StakeLockedByVote);
        require!(amount <= self.active, MediaError::InsufficientActiveStake);
        require!(amount <= self.unbonded_active()?, MediaError::StakeBonded);
        self.active = self.active.safe_sub(amount)?;
        self.unstaking = self.unstaking.safe_add(amount)?;
        self.unlock_at = now.safe_add(cooldown_secs)?;
        Ok(self.unlock_at)
    }

    /// Returns the pending amount to active stake (it was active when requested).
    pub fn cancel_unstake(&mut self) -> Result<u64> {
        let amount = self.unstaking;
        require!(amount > 0, MediaError::NoPendingUnstake);
        self.active = self.active.safe_add(amount)?;
        self.unstaking = 0;
        self.unlock_at = 0;
        Ok(amount)
    }

    /// Takes the unlocked pending amount out of the account; the caller transfers it.
    pub fn take_withdrawable(&mut self, now: i64) -> Result<u64> {
        let amount = self.unstaking;
        require!(amount > 0, MediaError::NoPendingUnstake);
        require!(now >= self.unlock_at, MediaError::CooldownNotElapsed);
        self.unstaking = 0;
        self.unlock_at = 0;
        Ok(amount)
    }

    pub fn bond_provider(&mut self, amount: u64) -> Result<()> {
        require!(self.provider_bond == 0, MediaError::ProviderBondPending);
        require!(
            amount <= self.unbonded_active()?,
            MediaError::InsufficientActiveStake
        );
        self.provider_bond = amount;
        self.provider_bond_release_epoch = NO_RELEASE_EPOCH;
        Ok(())
    }

    pub fn schedule_provider_release(&mut self, epoch: u64) {
        self.provider_bond_release_epoch = epoch;
    }

    pub fn bond_consumer(&mut self, amount: u64) -> Result<()> {
        require!(amount > 0, MediaError::ZeroAmount);
        require!(
            self.consumer_bond == 0,
            MediaError::ConsumerAlreadyRegistered
        );
        require!(
            amount <= self.unbonded_active()?,
            MediaError::InsufficientActiveStake
        );
        self.consumer_bond = amount;
        self.consumer_bond_release_epoch = NO_RELEASE_EPOCH;
        Ok(())
    }

    pub fn schedule_consumer_release(&mut self, epoch: u64) {
        self.consumer_bond_release_epoch = epoch;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> StakeAccount {
        StakeAccount::new(Pubkey::new_unique(), 255)
    }

    #[test]
    fn warmup_then_active() {
        let mut s = account();
        assert_eq!(s.deposit(100, 1_000, 50).unwrap(), 1_050);
        s.refresh(1_049, 0).unwrap();
        assert_eq!((s.active, s.warming), (0, 100));
        s.refresh(1_050, 0).unwrap();
        assert_eq!((s.active, s.warming), (100, 0));
    }

    #[test]
    fn voting_weight_counts_only_warmed_up_stake() {
        let mut s = account();
        s.deposit(100, 1_000, 50).unwrap();
        assert_eq!(s.voting_weight(1_049), 0);
        assert_eq!(s.voting_weight(1_050), 100);
        s.refresh(1_050, 0).unwrap();
        s.bond_provider(60).unwrap();
        s.deposit(7, 1_060, 50).unwrap();
        assert_eq!(s.voting_weight(1_060), 100);
    }

    #[test]
    fn a_new_deposit_restarts_the_warmup() {
        let mut s = account();
        s.deposit(100, 1_000, 50).unwrap();
        s.deposit(1, 1_040, 50).unwrap();
        s.refresh(1_050, 0).unwrap();
        assert_eq!((s.active, s.warming), (0, 101));
    }

    #[test]
    fn unstake_respects_bonds_and_vote_lock() {
        let mut s = account();
        s.deposit(100, 0, 0).unwrap();
        s.refresh(0, 0).unwrap();
        s.bond_provider(60).unwrap();
        assert_eq!(
            s.request_unstake(41, 0, 10).unwrap_err(),
            error!(MediaError::StakeBonded)
        );
        assert_eq!(
            s.request_unstake(101, 0, 10).unwrap_err(),
            error!(MediaError::InsufficientActiveStake)
        );
        s.vote_lock = 5;
        assert_eq!(
            s.request_unstake(1, 4, 10).unwrap_err(),
            error!(MediaError::StakeLockedByVote)
        );
        assert_eq!(s.request_unstake(40, 5, 10).unwrap(), 15);
        assert_eq!((s.active, s.unstaking), (60, 40));
    }

    #[test]
    fn released_bond_becomes_unstakeable_at_its_epoch() {
        let mut s = account();
        s.deposit(100, 0, 0).unwrap();
        s.refresh(0, 3).unwrap();
        s.bond_provider(100).unwrap();
        s.schedule_provider_release(4);
        s.refresh(0, 3).unwrap();
        assert_eq!(s.unbonded_active().unwrap(), 0);
        s.refresh(0, 4).unwrap();
        assert_eq!(s.unbonded_active().unwrap(), 100);
    }

    #[test]
    fn withdraw_only_after_cooldown_and_only_once() {
        let mut s = account();
        s.deposit(10, 0, 0).unwrap();
        s.refresh(0, 0).unwrap();
        s.request_unstake(10, 0, 100).unwrap();
        assert_eq!(
            s.take_withdrawable(99).unwrap_err(),
            error!(MediaError::CooldownNotElapsed)
        );
        assert_eq!(s.take_withdrawable(100).unwrap(), 10);
        assert_eq!(
            s.take_withdrawable(100).unwrap_err(),
            error!(MediaError::NoPendingUnstake)
        );
        assert_eq!(s.total().unwrap(), 0);
    }

    #[test]
    fn cancel_returns_pending_to_active() {
        let mut s = account();
        s.deposit(10, 0, 0).unwrap();
        s.refresh(0, 0).unwrap();
        s.request_unstake(4, 0, 100).unwrap();
        assert_eq!(s.cancel_unstake().unwrap(), 4);
        assert_eq!((s.active, s.unstaking), (10, 0));
        assert_eq!(
            s.cancel_unstake().unwrap_err(),
            error!(MediaError::NoPendingUnstake)
        );
    }
}
