use crate::constants::{EMPTY_SLOT, ONE_MEDIA};
use crate::errors::MediaError;
use crate::math::SafeMath;
use crate::state::{validate_endpoint, EpochRing, EpochSlot};
use anchor_lang::prelude::*;

#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerStatus {
    Active,
    Deactivated,
}

/// What one epoch's quota allows and how much of it settled receipts have used.
#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochUsage {
    pub epoch: u64,
    /// Reward-eligible bytes this epoch, snapshotted at the epoch's first settlement.
    pub quota: u64,
    pub eligible_bytes: u64,
}

impl EpochSlot for EpochUsage {
    const EMPTY: EpochUsage = EpochUsage {
        epoch: EMPTY_SLOT,
        quota: 0,
        eligible_bytes: 0,
    };
    fn epoch(&self) -> u64 {
        self.epoch
    }
}

/// A publisher or platform buying bandwidth, `["consumer", owner]`.
#[account]
#[derive(InitSpace, Debug)]
pub struct Consumer {
    pub bump: u8,
    pub owner: Pubkey,
    pub status: ConsumerStatus,
    pub registered_epoch: u64,
    pub deactivated_epoch: u64,
    /// Co-signs receipts for epochs >= `signer_since_epoch`.
    pub receipt_signer: Pubkey,
    pub signer_since_epoch: u64,
    /// Co-signs receipts for epochs before `signer_since_epoch` (default: none).
    pub previous_signer: Pubkey,
    /// Consumer stake bonded for quota (mirrors the stake account's `consumer_bond`).
    pub bond: u64,
    /// Payment-mint base units available to pay for delivered bytes.
    pub escrow: u64,
    /// Requested withdrawal (`u64::MAX`: everything), payable from `withdrawal_epoch + 2`.
    pub pending_withdrawal: u64,
    pub withdrawal_epoch: u64,
    pub usage: EpochRing<EpochUsage>,
    /// The public URL of the consumer's gateway, where relays find it (sessions, co-signing,
    /// the origin handshake); none: an unlisted consumer served only by relays configured
    /// for it. Validated like a provider endpoint: http(s), at most 128 bytes.
    #[max_len(128)]
    pub gateway_url: Option<String>,
}

impl Consumer {
    /// Publishes (or, with `None`, withdraws) the gateway URL, checked like a provider
    /// endpoint.
    pub fn set_gateway_url(&mut self, url: Option<String>) -> Result<()> {
        if let Some(url) = &url {
            validate_endpoint(url)?;
        }
        self.gateway_url = url;
        Ok(())
    }

    pub fn is_active(&self) -> bool {
        self.status == ConsumerStatus::Active
    }

    /// The key whose co-signature makes a receipt of `epoch` valid.
    pub fn signer_for(&self, epoch: u64) -> Option<Pubkey> {
        if epoch >= self.signer_since_epoch {
            Some(self.receipt_signer)
        } else if self.previous_signer != Pubkey::default() {
            Some(self.previous_signer)
        } else {
            None
        }
    }

    /// The new signer takes over from the next epoch; the one valid now keeps covering every
    /// epoch up to the current one, so receipts already co-signed stay payable.
    ///
    /// Only the current and the previous epoch settle, and `previous_signer` is the one key for
    /// every epoch before `signer_since_epoch`. A signer that took over this epoch leaves the
    /// previous epoch to `previous_signer`, so rotating again now would hand the previous
    /// epoch's receipts to a key that never signed them: refused until the next epoch.
    pub fn rotate_signer(&mut self, new_signer: Pubkey, current_epoch: u64) -> Result<()> {
        if self.signer_since_epoch <= current_epoch {
            require!(
                self.signer_since_epoch < current_epoch
                    || self.previous_signer == Pubkey::default(),
                MediaError::SignerRotationTooSoon
            );
            self.previous_signer = self.receipt_signer;
        }
        self.receipt_signer = new_signer;
        self.signer_since_epoch = current_epoch.safe_add(1)?;
        Ok(())
    }

    /// Quota of reward-eligible bytes for `epoch`: bond x quota per whole MEDIA while the
    /// consumer is active (capped at u64::MAX bytes, far beyond any real epoch).
    pub fn quota_for(&self, epoch: u64, quota_bytes_per_media: u64) -> u64 {
        let active = self.is_active() || epoch <= self.deactivated_epoch;
        if !active {
            return 0;
        }
        let quota =
            u128::from(self.bond) * u128::from(quota_bytes_per_media) / u128::from(ONE_MEDIA);
        u64::try_from(quota).unwrap_or(u64::MAX)
    }

    /// Counts up to `bytes` against `epoch`'s quota; returns how many were within it.
    pub fn count_eligible(
        &mut self,
        epoch: u64,
        bytes: u64,
        quota_bytes_per_media: u64,
    ) -> Result<u64> {
        let quota = self.quota_for(epoch, quota_bytes_per_media);
        let slot = self.usage.entry(epoch, |_| {
            Ok(EpochUsage {
                epoch,
                quota,
                eligible_bytes: 0,
            })
        })?;
        let room = slot.quota.saturating_sub(slot.eligible_bytes);
        let eligible = bytes.min(room);
        slot.eligible_bytes = slot.eligible_bytes.safe_add(eligible)?;
        Ok(eligible)
    }

    pub fn deposit(&mut self, amount: u64) -> Result<()> {
        require!(amount > 0, MediaError::ZeroAmount);
        require!(self.is_active(), MediaError::ConsumerInactive);
        self.escrow = self.escrow.safe_add(amount)?;
        Ok(())
    }

    /// What receipts of `epoch` may spend. Once a withdrawal is pending, receipts of later
    /// epochs than the request's spend only what is not being withdrawn: their grace window
    /// reaches past the moment the withdrawal becomes payable, so the withdrawn part must
    /// never have backed them.
    pub fn spendable_for(&self, epoch: u64) -> u64 {
        if self.pending_withdrawal > 0 && epoch > self.withdrawal_epoch {
            self.escrow.saturating_sub(self.pending_withdrawal)
        } else {
            self.escrow
        }
    }

    pub fn pay(&mut self, fee: u64) -> Result<()> {
        self.escrow = self.escrow.safe_sub(fee)?;
        Ok(())
    }

    pub fn request_withdrawal(&mut self, amount: u64, epoch: u64) -> Result<()> {
        require!(amount > 0, MediaError::ZeroAmount);
        require!(amount <= self.escrow, MediaError::InsufficientEscrow);
        self.pending_withdrawal = amount;
        self.withdrawal_epoch = epoch;
        Ok(())
    }

    /// Pays out the pending withdrawal once two epoch boundaries have passed, so every receipt
    /// that could still settle against the escrow has had its window. What settlement took in
    /// the meantime is not paid out.
    pub fn take_withdrawal(&mut self, epoch: u64) -> Result<u64> {
        require!(self.pending_withdrawal > 0, MediaError::NoPendingWithdrawal);
        let payable_from = self.withdrawal_epoch.safe_add(2)?;
        require!(epoch >= payable_from, MediaError::WithdrawalNotYetPayable);
        let amount = self.pending_withdrawal.min(self.escrow);
        self.escrow = self.escrow.safe_sub(amount)?;
        self.pending_withdrawal = 0;
        Ok(amount)
    }

    /// Serves again after a deactivation (review L-8) with a new bond (the old one released):
    /// the escrow stays for new traffic instead of being withdrawn. The signer given covers
    /// this epoch on and no earlier one: the consumer served nothing while deactivated, and
    /// its bond is released only once the deactivation epoch can no longer settle, so no
    /// receipt of an earlier epoch is owed, and none may spend the revived escrow.
    pub fn reactivate(&mut self, bond: u64, receipt_signer: Pubkey, epoch: u64) -> Result<()> {
        require!(!self.is_active(), MediaError::ConsumerAlreadyRegistered);
        self.receipt_signer = receipt_signer;
        self.signer_since_epoch = epoch;
        self.previous_signer = Pubkey::default();
        self.status = ConsumerStatus::Active;
        self.registered_epoch = epoch;
        self.bond = bond;
        self.pending_withdrawal = 0;
        self.withdrawal_epoch = 0;
        Ok(())
    }

    /// Stops new deposits and quota, and schedules the whole escrow for withdrawal after the
    /// grace window. Returns the bond to release.
    pub fn deactivate(&mut self, epoch: u64) -> Result<u64> {
        require!(self.is_active(), MediaError::ConsumerInactive);
        self.status = ConsumerStatus::Deactivated;
        self.deactivated_epoch = epoch;
        // No longer listed: relays stop finding a consumer that no longer pays.
        self.gateway_url = None;
        self.pending_withdrawal = u64::MAX;
        self.withdrawal_epoch = epoch;
        Ok(self.bond)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumer(bond: u64) -> Consumer {
        Consumer {
            bump: 0,
            owner: Pubkey::new_unique(),
            status: ConsumerStatus::Active,
            registered_epoch: 0,
            deactivated_epoch: 0,
            receipt_signer: Pubkey::new_unique(),
            signer_since_epoch: 0,
            previous_signer: Pubkey::default(),
            bond,
            escrow: 0,
            pending_withdrawal: 0,
            withdrawal_epoch: 0,
            usage: EpochRing::EMPTY,
            gateway_url: None,
        }
    }

    #[test]
    fn rotation_takes_effect_next_epoch_and_keeps_the_old_key_for_earlier_epochs() {
        let mut c = consumer(0);
        let first = c.receipt_signer;
        let second = Pubkey::new_unique();
        let third = Pubkey::new_unique();
        c.rotate_signer(second, 5).unwrap();
        assert_eq!(c.signer_for(5), Some(first));
        assert_eq!(c.signer_for(6), Some(second));
        // A second rotation in the same epoch replaces the pending key, not the valid one.
        c.rotate_signer(third, 5).unwrap();
        assert_eq!(
            (c.signer_for(5), c.signer_for(6)),
            (Some(first), Some(third))
        );
        // Rotating later moves the then-valid key into the past.
        let fourth = Pubkey::new_unique();
        c.rotate_signer(fourth, 8).unwrap();
        assert_eq!(
            (c.signer_for(8), c.signer_for(9)),
            (Some(third), Some(fourth))
        );
    }

    /// H-1: the key that took over this epoch cannot be rotated away before the next one,
    /// since the previous epoch's receipts still need `previous_signer`.
    #[test]
    fn h1_a_second_rotation_in_the_next_epoch_is_refused_until_the_previous_epoch_closes() {
        let mut c = consumer(0);
        let first = c.receipt_signer;
        let second = Pubkey::new_unique();
        c.rotate_signer(second, 5).unwrap();
        assert_eq!(
            c.rotate_signer(Pubkey::new_unique(), 6).unwrap_err(),
            error!(MediaError::SignerRotationTooSoon)
        );
        assert_eq!(
            (c.signer_for(5), c.signer_for(6)),
            (Some(first), Some(second))
        );
        // One epoch later epoch 5 can no longer settle, and the rotation goes through.
        let third = Pubkey::new_unique();
        c.rotate_signer(third, 7).unwrap();
        assert_eq!(
            (c.signer_for(6), c.signer_for(7), c.signer_for(8)),
            (Some(second), Some(second), Some(third))
        );
        // A consumer whose first signer started this epoch has no predecessor to lose.
        let mut fresh = consumer(0);
        fresh.signer_since_epoch = 4;
        let original = fresh.receipt_signer;
        fresh.rotate_signer(Pubkey::new_unique(), 4).unwrap();
        assert_eq!(fresh.signer_for(4), Some(original));
    }

    /// M-1: receipts of epochs after a withdrawal request spend only what is not withdrawn.
    #[test]
    fn m1_later_epochs_spend_only_what_the_withdrawal_leaves() {
        let mut c = consumer(0);
        c.deposit(1_000).unwrap();
        assert_eq!(c.spendable_for(7), 1_000);
        c.request_withdrawal(600, 7).unwrap();
        assert_eq!((c.spendable_for(6), c.spendable_for(7)), (1_000, 1_000));
        assert_eq!((c.spendable_for(8), c.spendable_for(9)), (400, 400));
        c.pay(900).unwrap();
        assert_eq!(c.spendable_for(8), 0);
        let mut leaving = consumer(0);
        leaving.deposit(500).unwrap();
        leaving.deactivate(3).unwrap();
        assert_eq!(
            (leaving.spendable_for(3), leaving.spendable_for(4)),
            (500, 0)
        );
    }

    #[test]
    fn a_first_signer_has_no_predecessor() {
        let mut c = consumer(0);
        c.signer_since_epoch = 3;
        assert_eq!(c.signer_for(2), None);
    }

    #[test]
    fn quota_caps_eligible_bytes_per_epoch() {
        let mut c = consumer(2 * ONE_MEDIA);
        assert_eq!(c.count_eligible(4, 150, 100).unwrap(), 150);
        assert_eq!(c.count_eligible(4, 100, 100).unwrap(), 50);
        assert_eq!(c.count_eligible(4, 1, 100).unwrap(), 0);
        // A new epoch brings a fresh quota in the other slot, and then reuses this one.
        assert_eq!(c.count_eligible(5, 300, 100).unwrap(), 200);
        assert_eq!(c.count_eligible(6, 10, 100).unwrap(), 10);
        assert_eq!(
            c.count_eligible(4, 1, 100).unwrap_err(),
            error!(MediaError::EpochOutOfWindow)
        );
    }

    #[test]
    fn quota_never_overflows() {
        let c = consumer(u64::MAX);
        assert_eq!(c.quota_for(0, 1 << 40), u64::MAX);
    }

    #[test]
    fn withdrawal_waits_two_epochs_and_pays_what_settlement_left() {
        let mut c = consumer(0);
        c.deposit(1_000).unwrap();
        assert_eq!(
            c.request_withdrawal(1_001, 7).unwrap_err(),
            error!(MediaError::InsufficientEscrow)
        );
        c.request_withdrawal(1_000, 7).unwrap();
        assert_eq!(
            c.take_withdrawal(8).unwrap_err(),
            error!(MediaError::WithdrawalNotYetPayable)
        );
        c.pay(300).unwrap();
        assert_eq!(c.take_withdrawal(9).unwrap(), 700);
        assert_eq!(c.escrow, 0);
        assert_eq!(
            c.take_withdrawal(9).unwrap_err(),
            error!(MediaError::NoPendingWithdrawal)
        );
    }

    #[test]
    fn deactivation_schedules_the_whole_escrow_and_ends_quota() {
        let mut c = consumer(ONE_MEDIA);
        c.deposit(500).unwrap();
        assert_eq!(c.deactivate(3).unwrap(), ONE_MEDIA);
        assert_eq!(
            c.deposit(1).unwrap_err(),
            error!(MediaError::ConsumerInactive)
        );
        assert_eq!(c.quota_for(3, 10), 10);
        assert_eq!(c.quota_for(4, 10), 0);
        assert_eq!(c.take_withdrawal(5).unwrap(), 500);
    }
}
