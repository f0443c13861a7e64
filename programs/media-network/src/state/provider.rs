use crate::constants::{EMPTY_SLOT, MAX_ENDPOINT_LEN, REGION_LEN};
use crate::errors::MediaError;
use crate::math::SafeMath;
use crate::state::{EpochRing, EpochSlot};
use anchor_lang::prelude::*;

#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// Serves viewers: HTTP reverse proxy and cache in front of consumers' origins.
    Edge,
    /// Relays between edges and origins; never faces viewers.
    Guard,
}

#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderStatus {
    Active,
    Deactivated,
}

/// Reward-eligible bytes a provider delivered in one epoch, and its bond in that epoch.
#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochBytes {
    pub epoch: u64,
    pub bytes: u64,
    /// s_i: the bond counting in `epoch` (part of that epoch's S).
    pub bond: u64,
}

impl EpochSlot for EpochBytes {
    const EMPTY: EpochBytes = EpochBytes {
        epoch: EMPTY_SLOT,
        bytes: 0,
        bond: 0,
    };
    fn epoch(&self) -> u64 {
        self.epoch
    }
}

/// What a registration (first or again) sets.
pub struct Registration {
    pub node_key: Pubkey,
    pub kind: ProviderKind,
    pub endpoint: String,
    pub region: [u8; REGION_LEN],
    pub bond: u64,
}

/// A relay operator, `["provider", owner]`.
#[account]
#[derive(InitSpace, Debug)]
pub struct Provider {
    pub bump: u8,
    pub owner: Pubkey,
    /// The relay's ed25519 key that signs receipts; distinct from the owner wallet.
    pub node_key: Pubkey,
    pub kind: ProviderKind,
    pub status: ProviderStatus,
    #[max_len(MAX_ENDPOINT_LEN)]
    pub endpoint: String,
    pub region: [u8; REGION_LEN],
    /// Bond counting in epoch `bond_epoch`.
    pub bond_current: u64,
    /// Bond counting from the epoch after `bond_epoch`.
    pub bond_next: u64,
    /// Bond that counted in epoch `bond_epoch - 1` (settlement of the previous epoch needs it).
    pub bond_previous: u64,
    pub bond_epoch: u64,
    pub registered_epoch: u64,
    pub deactivated_epoch: u64,
    pub reward_slots: EpochRing<EpochBytes>,
    pub fees_claimable: u64,
    pub rewards_claimable: u64,
    /// The node key this provider rotated away from (default: none yet); its lanes settle
    /// receipts of epochs up to `retired_key_last_epoch` only (review L-4).
    pub retired_node_key: Pubkey,
    pub retired_key_last_epoch: u64,
}

impl Provider {
    /// Whether a receipt of `epoch` signed by `node_key` (the lane's key) is this provider's
    /// to settle: the current key always, the retired key for the epochs before the rotation
    /// took effect.
    pub fn accepts_node_key(&self, node_key: &Pubkey, epoch: u64) -> bool {
        *node_key == self.node_key
            || (*node_key == self.retired_node_key
                && self.retired_node_key != Pubkey::default()
                && epoch <= self.retired_key_last_epoch)
    }

    /// Moves to `new_key` in `epoch`: receipts of `epoch` and earlier may still be signed by
    /// the old key; later ones only by the new. One rotation at a time: the previous retired
    /// key must be past its settlement window (receipts of epoch n settle until n + 1 ends).
    pub fn rotate_node_key(&mut self, new_key: Pubkey, epoch: u64) -> Result<()> {
        require!(self.is_active(), MediaError::ProviderInactive);
        self.retire_node_key(new_key, epoch, epoch)
    }

    /// Replaces the node key; the old one settles receipts up to `last_epoch`.
    fn retire_node_key(&mut self, new_key: Pubkey, last_epoch: u64, epoch: u64) -> Result<()> {
        require!(
            self.retired_node_key == Pubkey::default()
                || epoch > self.retired_key_last_epoch.saturating_add(1),
            MediaError::NodeKeyRotationTooSoon
        );
        self.retired_node_key = self.node_key;
        self.retired_key_last_epoch = last_epoch;
        self.node_key = new_key;
        Ok(())
    }

    /// A provider registered for the first time in `epoch`: its bond counts from the next
    /// epoch, whose provider-stake total S includes it.
    pub fn register(bump: u8, owner: Pubkey, first: Registration, epoch: u64) -> Provider {
        Provider {
            bump,
            owner,
            node_key: first.node_key,
            kind: first.kind,
            status: ProviderStatus::Active,
            endpoint: first.endpoint,
            region: first.region,
            bond_current: 0,
            bond_next: first.bond,
            bond_previous: 0,
            bond_epoch: epoch,
            registered_epoch: epoch,
            deactivated_epoch: 0,
            reward_slots: EpochRing::EMPTY,
            fees_claimable: 0,
            rewards_claimable: 0,
            retired_node_key: Pubkey::default(),
            retired_key_last_epoch: 0,
        }
    }

    /// Serves again after a deactivation (review L-8), keeping what it has earned and not yet
    /// claimed. The caller has bonded `bond` anew (possible once the old bond was released). A
    /// new node key retires the old one as a rotation would.
    pub fn reactivate(&mut self, again: Registration, epoch: u64) -> Result<()> {
        require!(!self.is_active(), MediaError::ProviderAlreadyRegistered);
        if again.node_key != self.node_key {
            self.retire_node_key(again.node_key, self.deactivated_epoch, epoch)?;
        }
        self.roll_bond(epoch);
        self.bond_next = again.bond;
        self.kind = again.kind;
        self.endpoint = again.endpoint;
        self.region = again.region;
        self.status = ProviderStatus::Active;
        self.registered_epoch = epoch;
        Ok(())
    }

    pub fn is_active(&self) -> bool {
        self.status == ProviderStatus::Active
    }

    /// Rolls the (current, next) bond pair to `epoch`, mirroring `advance_epoch`'s roll of
    /// Config's totals, so that the sum of every provider's current bond equals S.
    pub fn roll_bond(&mut self, epoch: u64) {
        if epoch > self.bond_epoch {
            self.bond_previous = if epoch == self.bond_epoch + 1 {
                self.bond_current
            } else {
                self.bond_next
            };
            self.bond_current = self.bond_next;
            self.bond_epoch = epoch;
        }
    }

    /// The bond that counted in `epoch`, known for the epoch before `bond_epoch` onwards.
    pub fn bond_for(&self, epoch: u64) -> Result<u64> {
        if epoch > self.bond_epoch {
            Ok(self.bond_next)
        } else if epoch == self.bond_epoch {
            Ok(self.bond_current)
        } else if epoch + 1 == self.bond_epoch {
            Ok(self.bond_previous)
        } else {
            err!(MediaError::EpochOutOfWindow)
        }
    }

    /// Stops the bond from counting from the next epoch; returns the amount unbonded.
    pub fn deactivate(&mut self, epoch: u64) -> Result<u64> {
        require!(self.is_active(), MediaError::ProviderInactive);
        self.roll_bond(epoch);
        let released = self.bond_next;
        self.bond_next = 0;
        self.status = ProviderStatus::Deactivated;
        self.deactivated_epoch = epoch;
        Ok(released)
    }

    pub fn release_epoch(&self) -> Result<u64> {
        self.deactivated_epoch.safe_add(1)
    }

    /// Serves (and settles) the epochs from its (latest) registration on while active, and
    /// those up to the one it deactivated in: not the epochs it spent deactivated before
    /// registering again (review L-8).
    pub fn serves(&self, epoch: u64) -> bool {
        (self.is_active() && epoch >= self.registered_epoch) || epoch <= self.deactivated_epoch
    }

    pub fn add_fees(&mut self, amount: u64) -> Result<()> {
        self.fees_claimable = self.fees_claimable.safe_add(amount)?;
        Ok(())
    }

    pub fn take_fees(&mut self) -> u64 {
        std::mem::take(&mut self.fees_claimable)
    }

    pub fn take_rewards(&mut self) -> u64 {
        std::mem::take(&mut self.rewards_claimable)
    }

    /// Empties the reward slot holding `epoch` and returns it (none: nothing to accrue).
    pub fn take_reward_slot(&mut self, epoch: u64) -> Result<EpochBytes> {
        let has_bytes = self.reward_slots.get(epoch).is_some_and(|s| s.bytes > 0);
        require!(has_bytes, MediaError::NothingToAccrue);
        self.reward_slots
            .take(epoch)
            .ok_or_else(|| error!(MediaError::NothingToAccrue))
    }

    pub fn add_rewards(&mut self, amount: u64) -> Result<()> {
        self.rewards_claimable = self.rewards_claimable.safe_add(amount)?;
        Ok(())
    }

    /// Adds reward-eligible bytes to `epoch`'s slot. A slot still holding an older epoch's
    /// bytes must be accrued first, so no epoch's reward weight is ever overwritten.
    pub fn add_reward_bytes(&mut self, epoch: u64, bytes: u64) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        let bond = self.bond_for(epoch)?;
        let slot = self.reward_slots.entry(epoch, |held| {
            require!(
                held.epoch == EMPTY_SLOT || held.bytes == 0,
                MediaError::RewardSlotNotAccrued
            );
            Ok(EpochBytes {
                epoch,
                bytes: 0,
                bond,
            })
        })?;
        slot.bytes = slot.bytes.safe_add(bytes)?;
        Ok(())
    }
}

/// Accepts `http://` or `https://` URLs of printable ASCII with a non-empty host, at most 128
/// bytes. Relays and clients connect to this string, so it must be unambiguous.
pub fn validate_endpoint(endpoint: &str) -> Result<()> {
    require!(
        endpoint.len() <= MAX_ENDPOINT_LEN,
        MediaError::EndpointTooLong
    );
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .ok_or_else(|| error!(MediaError::InvalidEndpoint))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_name = host.rsplit_once('@').map_or(host, |(_, h)| h);
    require!(
        !host_name.is_empty() && !host_name.starts_with(':'),
        MediaError::InvalidEndpoint
    );
    require!(
        endpoint.bytes().all(|b| b.is_ascii_graphic()),
        MediaError::InvalidEndpoint
    );
    Ok(())
}

/// Region codes: 1-8 bytes of `a-z0-9-`, zero-padded to 8 bytes.
pub fn parse_region(region: &str) -> Result<[u8; REGION_LEN]> {
    require!(
        !region.is_empty()
            && region.len() <= REGION_LEN
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        MediaError::InvalidRegion
    );
    let mut code = [0u8; REGION_LEN];
    code[..region.len()].copy_from_slice(region.as_bytes());
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        for ok in [
            "https://relay.example.com",
            "http://127.0.0.1:8080/media",
            "https://a",
        ] {
            validate_endpoint(ok).unwrap();
        }
        for bad in [
            "",
            "ftp://x",
            "https://",
            "https:///path",
            "https://a b",
            "https://:80",
            "relay.example.com",
        ] {
            assert_eq!(
                validate_endpoint(bad).unwrap_err(),
                error!(MediaError::InvalidEndpoint),
                "{bad}"
            );
        }
        let long = format!("https://{}", "a".repeat(MAX_ENDPOINT_LEN - 7));
        assert_eq!(
            validate_endpoint(&long).unwrap_err(),
            error!(MediaError::EndpointTooLong)
        );
        validate_endpoint(&long[..MAX_ENDPOINT_LEN]).unwrap();
    }

    #[test]
    fn regions() {
        assert_eq!(&parse_region("eu-west").unwrap(), b"eu-west\0");
        for bad in ["", "EU", "toolongxx", "us_1"] {
            assert_eq!(
                parse_region(bad).unwrap_err(),
                error!(MediaError::InvalidRegion),
                "{bad}"
            );
        }
    }

    fn provider() -> Provider {
        Provider::register(
            0,
            Pubkey::default(),
            Registration {
                node_key: Pubkey::default(),
                kind: ProviderKind::Edge,
                endpoint: String::new(),
                region: [0; REGION_LEN],
                bond: 50,
            },
            3,
        )
    }

    #[test]
    fn bond_rolls_at_the_boundary_and_deactivation_stops_the_next_one() {
        let mut p = provider();
        p.roll_bond(3);
        assert_eq!(p.bond_current, 0);
        p.roll_bond(4);
        assert_eq!((p.bond_current, p.bond_next), (50, 50));
        assert_eq!(p.deactivate(4).unwrap(), 50);
        assert_eq!(
            (p.bond_current, p.bond_next, p.release_epoch().unwrap()),
            (50, 0, 5)
        );
        p.roll_bond(5);
        assert_eq!(p.bond_current, 0);
        assert_eq!(
            p.deactivate(5).unwrap_err(),
            error!(MediaError::ProviderInactive)
        );
    }

    /// L-8: a provider that comes back serves its deactivation epoch and the epochs from its
    /// return, not those in between (whatever the consumer co-signed for them).
    #[test]
    fn l8_the_epochs_spent_deactivated_are_not_served() {
        let mut p = provider();
        p.deactivate(4).unwrap();
        let again = Registration {
            node_key: p.node_key,
            kind: ProviderKind::Edge,
            endpoint: String::new(),
            region: [0; REGION_LEN],
            bond: 50,
        };
        p.reactivate(again, 7).unwrap();
        let served: Vec<u64> = (2..9).filter(|e| p.serves(*e)).collect();
        assert_eq!(served, [2, 3, 4, 7, 8]);
    }
}
