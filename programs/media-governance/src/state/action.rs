use super::{GovField, GovParams};
use crate::errors::GovernanceError;
use anchor_lang::prelude::*;
use media_network::state::Params;

/// A media-network parameter a proposal may change.
#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamField {
    MinProviderStake,
    WarmupSecs,
    UnstakeCooldownSecs,
    EpochDurationSecs,
    QuotaBytesPerMedia,
    PricePerGib,
    ProviderFeeBps,
    KeeperFeeBps,
    MinTreasuryBps,
    EmissionPerEpoch,
    MaxRewardPerGib,
    RewardClaimEpochs,
    CrankBounty,
    MaxPauseSecs,
    BuybackIntervalSecs,
    BuybackDurationSecs,
    BuybackMinLot,
    BuybackMinBid,
    BuybackStartMultiplier,
    BuybackFloorDivisor,
    BuybackInitialReferencePrice,
    RewardFeeCapBps,
}

impl ParamField {
    pub const ALL: [ParamField; 22] = {
        use ParamField::*;
        [
            MinProviderStake,
            WarmupSecs,
            UnstakeCooldownSecs,
            EpochDurationSecs,
            QuotaBytesPerMedia,
            PricePerGib,
            ProviderFeeBps,
            KeeperFeeBps,
            MinTreasuryBps,
            EmissionPerEpoch,
            MaxRewardPerGib,
            RewardClaimEpochs,
            CrankBounty,
            MaxPauseSecs,
            BuybackIntervalSecs,
            BuybackDurationSecs,
            BuybackMinLot,
            BuybackMinBid,
            BuybackStartMultiplier,
            BuybackFloorDivisor,
            BuybackInitialReferencePrice,
            RewardFeeCapBps,
        ]
    };

    /// The field's value, widened to u64 (time and bps fields are validated non-negative).
    pub fn get(&self, p: &Params) -> u64 {
        use ParamField::*;
        match self {
            MinProviderStake => p.min_provider_stake,
            WarmupSecs => p.warmup_secs as u64,
            UnstakeCooldownSecs => p.unstake_cooldown_secs as u64,
            EpochDurationSecs => p.epoch_duration_secs as u64,
            QuotaBytesPerMedia => p.quota_bytes_per_media,
            PricePerGib => p.price_per_gib,
            ProviderFeeBps => p.provider_fee_bps.into(),
            KeeperFeeBps => p.keeper_fee_bps.into(),
            MinTreasuryBps => p.min_treasury_bps.into(),
            EmissionPerEpoch => p.emission_per_epoch,
            MaxRewardPerGib => p.max_reward_per_gib,
            RewardClaimEpochs => p.reward_claim_epochs,
            CrankBounty => p.crank_bounty,
            MaxPauseSecs => p.max_pause_secs as u64,
            BuybackIntervalSecs => p.buyback.interval_secs as u64,
            BuybackDurationSecs => p.buyback.duration_secs as u64,
            BuybackMinLot => p.buyback.min_lot,
            BuybackMinBid => p.buyback.min_bid,
            BuybackStartMultiplier => p.buyback.start_multiplier,
            BuybackFloorDivisor => p.buyback.floor_divisor,
            BuybackInitialReferencePrice => p.buyback.initial_reference_price,
            RewardFeeCapBps => p.reward_fee_cap_bps.into(),
        }
    }

    /// `p` with this field set to `value`, validated as media-network validates params.
    pub fn set(&self, p: &Params, value: u64) -> Result<Params> {
        use ParamField::*;
        let mut n = *p;
        let secs = || i64::try_from(value).map_err(|_| error!(GovernanceError::ValueOutOfRange));
        let bps = || u16::try_from(value).map_err(|_| error!(GovernanceError::ValueOutOfRange));
        match self {
            MinProviderStake => n.min_provider_stake = value,
            WarmupSecs => n.warmup_secs = secs()?,
            UnstakeCooldownSecs => n.unstake_cooldown_secs = secs()?,
            EpochDurationSecs => n.epoch_duration_secs = secs()?,
            QuotaBytesPerMedia => n.quota_bytes_per_media = value,
            PricePerGib => n.price_per_gib = value,
            ProviderFeeBps => n.provider_fee_bps = bps()?,
            KeeperFeeBps => n.keeper_fee_bps = bps()?,
            MinTreasuryBps => n.min_treasury_bps = bps()?,
            EmissionPerEpoch => n.emission_per_epoch = value,
            MaxRewardPerGib => n.max_reward_per_gib = value,
            RewardClaimEpochs => n.reward_claim_epochs = value,
            CrankBounty => n.crank_bounty = value,
            MaxPauseSecs => n.max_pause_secs = secs()?,
            BuybackIntervalSecs => n.buyback.interval_secs = secs()?,
            BuybackDurationSecs => n.buyback.duration_secs = secs()?,
            BuybackMinLot => n.buyback.min_lot = value,
            BuybackMinBid => n.buyback.min_bid = value,
            BuybackStartMultiplier => n.buyback.start_multiplier = value,
            BuybackFloorDivisor => n.buyback.floor_divisor = value,
            BuybackInitialReferencePrice => n.buyback.initial_reference_price = value,
            RewardFeeCapBps => n.reward_fee_cap_bps = bps()?,
        }
        // media-network's own validation, reported as a governance error so the code means
        // the same in this program's error table.
        n.validate().map_err(|e| {
            msg!("media-network would reject these parameters: {}", e);
            error!(GovernanceError::InvalidNetworkParams)
        })?;
        Ok(n)
    }
}

/// What a proposal does when executed. Parameter changes are compare-and-set: they fail if
/// the field no longer holds `old`, so an old proposal cannot revert a newer change.
#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposalAction {
    SetParam {
        field: ParamField,
        old: u64,
        new: u64,
    },
    SetGovParam {
        field: GovField,
        old: u64,
        new: u64,
    },
    Pause,
    Unpause,
    SetGuardian {
        guardian: Option<Pubkey>,
    },
    /// First step of handing media-network's authority on; the new authority accepts.
    SetAuthority {
        new_authority: Pubkey,
    },
}

/// The parameter sets after a change, checked as a whole.
pub struct Applied {
    pub network: Params,
    pub governance: GovParams,
}

impl ProposalAction {
    /// Checks the action against the current parameters (at creation and again at execution)
    /// and returns the parameters it would leave in force.
    pub fn apply(&self, network: &Params, governance: &GovParams) -> Result<Applied> {
        let mut applied = Applied {
            network: *network,
            governance: *governance,
        };
        match *self {
            ProposalAction::SetParam { field, old, new } => {
                require!(field.get(network) == old, GovernanceError::StaleProposal);
                applied.network = field.set(network, new)?;
            }
            ProposalAction::SetGovParam { field, old, new } => {
                require!(field.get(governance) == old, GovernanceError::StaleProposal);
                applied.governance = field.set(governance, new)?;
            }
            ProposalAction::SetAuthority { new_authority } => {
                require_keys_neq!(
                    new_authority,
                    Pubkey::default(),
                    GovernanceError::InvalidAuthority
                );
            }
            ProposalAction::Pause
            | ProposalAction::Unpause
            | ProposalAction::SetGuardian { .. } => {}
        }
        applied.governance.check_stake_locks(&applied.network)?;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gov() -> GovParams {
        crate::state::gov_config::tests::params()
    }

    fn network() -> Params {
        Params {
            warmup_secs: 100,
            unstake_cooldown_secs: 200,
            ..Params::default()
        }
    }

    #[test]
    fn compare_and_set() {
        let n = network();
        let action = ProposalAction::SetParam {
            field: ParamField::PricePerGib,
            old: n.price_per_gib,
            new: 42,
        };
        assert_eq!(action.apply(&n, &gov()).unwrap().network.price_per_gib, 42);
        let stale = ProposalAction::SetParam {
            field: ParamField::PricePerGib,
            old: 1,
            new: 42,
        };
        assert_eq!(
            stale.apply(&n, &gov()).err().unwrap(),
            error!(GovernanceError::StaleProposal)
        );
    }

    #[test]
    fn changes_keep_params_valid_and_votes_inside_stake_locks() {
        let n = network();
        let g = gov();
        let bad_fee = ProposalAction::SetParam {
            field: ParamField::ProviderFeeBps,
            old: n.provider_fee_bps.into(),
            new: 9_900,
        };
        assert_eq!(
            bad_fee.apply(&n, &g).err().unwrap(),
            error!(GovernanceError::InvalidNetworkParams)
        );
        let short_warmup = ProposalAction::SetParam {
            field: ParamField::WarmupSecs,
            old: 100,
            new: 99,
        };
        assert_eq!(
            short_warmup.apply(&n, &g).err().unwrap(),
            error!(GovernanceError::VotingPeriodExceedsStakeLocks)
        );
        let long_vote = ProposalAction::SetGovParam {
            field: GovField::VotingPeriodSecs,
            old: 100,
            new: 101,
        };
        assert_eq!(
            long_vote.apply(&n, &g).err().unwrap(),
            error!(GovernanceError::VotingPeriodExceedsStakeLocks)
        );
        let nobody = ProposalAction::SetAuthority {
            new_authority: Pubkey::default(),
        };
        assert_eq!(
            nobody.apply(&n, &g).err().unwrap(),
            error!(GovernanceError::InvalidAuthority)
        );
    }

    #[test]
    fn every_field_round_trips() {
        let n = network();
        for f in ParamField::ALL {
            assert_eq!(f.set(&n, f.get(&n)).unwrap(), n, "{f:?}");
        }
        assert_eq!(
            ParamField::ProviderFeeBps.set(&n, 1 << 20).err().unwrap(),
            error!(GovernanceError::ValueOutOfRange)
        );
    }
}
