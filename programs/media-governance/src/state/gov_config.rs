use crate::constants::BPS;
use crate::errors::GovernanceError;
use anchor_lang::prelude::*;
use media_network::state::Params;

const DAY: i64 = 86_400;
const MAX_PERIOD_SECS: i64 = 30 * DAY;

/// Governance parameters; changeable only by proposal.
#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub struct GovParams {
    pub voting_period_secs: i64,
    /// Turnout needed, in bps of the stake snapshotted at proposal creation.
    pub quorum_bps: u16,
    /// A proposal passes when yes > approval_bps of yes + no.
    pub approval_bps: u16,
    /// Delay between a passed vote and its execution.
    pub timelock_secs: i64,
    /// How long after the timelock a passed proposal can still be executed.
    pub execution_window_secs: i64,
    /// Warmed-up stake (MEDIA base units) needed to make a proposal.
    pub proposal_min_stake: u64,
}

impl GovParams {
    pub fn validate(&self) -> Result<()> {
        let ok = (1..=MAX_PERIOD_SECS).contains(&self.voting_period_secs)
            && (1..=BPS as u16).contains(&self.quorum_bps)
            && (5_000..BPS as u16).contains(&self.approval_bps)
            && (0..=MAX_PERIOD_SECS).contains(&self.timelock_secs)
            && (1..=MAX_PERIOD_SECS).contains(&self.execution_window_secs);
        require!(ok, GovernanceError::GovParamOutOfRange);
        Ok(())
    }

    /// A voter's stake is locked until the vote ends; it must not be able to leave faster than
    /// that, nor vote with stake younger than a voting period.
    pub fn check_stake_locks(&self, network: &Params) -> Result<()> {
        require!(
            network.warmup_secs >= self.voting_period_secs
                && network.unstake_cooldown_secs >= self.voting_period_secs,
            GovernanceError::VotingPeriodExceedsStakeLocks
        );
        Ok(())
    }
}

#[derive(AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GovField {
    VotingPeriodSecs,
    QuorumBps,
    ApprovalBps,
    TimelockSecs,
    ExecutionWindowSecs,
    ProposalMinStake,
}

impl GovField {
    pub const ALL: [GovField; 6] = [
        GovField::VotingPeriodSecs,
        GovField::QuorumBps,
        GovField::ApprovalBps,
        GovField::TimelockSecs,
        GovField::ExecutionWindowSecs,
        GovField::ProposalMinStake,
    ];

    pub fn get(&self, p: &GovParams) -> u64 {
        match self {
            GovField::VotingPeriodSecs => p.voting_period_secs as u64,
            GovField::QuorumBps => p.quorum_bps.into(),
            GovField::ApprovalBps => p.approval_bps.into(),
            GovField::TimelockSecs => p.timelock_secs as u64,
            GovField::ExecutionWindowSecs => p.execution_window_secs as u64,
            GovField::ProposalMinStake => p.proposal_min_stake,
        }
    }

    pub fn set(&self, p: &GovParams, value: u64) -> Result<GovParams> {
        let mut next = *p;
        let secs = || i64::try_from(value).map_err(|_| error!(GovernanceError::ValueOutOfRange));
        let bps = || u16::try_from(value).map_err(|_| error!(GovernanceError::ValueOutOfRange));
        match self {
            GovField::VotingPeriodSecs => next.voting_period_secs = secs()?,
            GovField::QuorumBps => next.quorum_bps = bps()?,
            GovField::ApprovalBps => next.approval_bps = bps()?,
            GovField::TimelockSecs => next.timelock_secs = secs()?,
            GovField::ExecutionWindowSecs => next.execution_window_secs = secs()?,
            GovField::ProposalMinStake => next.proposal_min_stake = value,
        }
        next.validate()?;
        Ok(next)
    }
}

/// `["governance"]`.
#[account]
#[derive(InitSpace, Debug)]
pub struct GovConfig {
    pub bump: u8,
    pub authority_bump: u8,
    pub vote_bump: u8,
    pub params: GovParams,
    pub proposal_count: u64,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn params() -> GovParams {
        GovParams {
            voting_period_secs: 100,
            quorum_bps: 2_000,
            approval_bps: 5_000,
            timelock_secs: 50,
            execution_window_secs: 500,
            proposal_min_stake: 1,
        }
    }

    #[test]
    fn fields_round_trip_and_validate() {
        let p = params();
        for field in [
            GovField::VotingPeriodSecs,
            GovField::QuorumBps,
            GovField::ApprovalBps,
            GovField::TimelockSecs,
            GovField::ExecutionWindowSecs,
            GovField::ProposalMinStake,
        ] {
            let value = field.get(&p);
            assert_eq!(field.set(&p, value).unwrap(), p);
        }
        assert_eq!(
            GovField::QuorumBps.set(&p, 70_000).unwrap_err(),
            error!(GovernanceError::ValueOutOfRange)
        );
        assert_eq!(
            GovField::QuorumBps.set(&p, 0).unwrap_err(),
            error!(GovernanceError::GovParamOutOfRange)
        );
        assert_eq!(
            GovField::ApprovalBps.set(&p, 10_000).unwrap_err(),
            error!(GovernanceError::GovParamOutOfRange)
        );
        assert_eq!(
            GovField::VotingPeriodSecs.set(&p, u64::MAX).unwrap_err(),
            error!(GovernanceError::ValueOutOfRange)
        );
    }

    #[test]
    fn the_voting_period_fits_inside_stake_locks() {
        let mut network = Params {
            warmup_secs: 100,
            unstake_cooldown_secs: 100,
            ..Params::default()
        };
        params().check_stake_locks(&network).unwrap();
        network.unstake_cooldown_secs = 99;
        assert_eq!(
            params().check_stake_locks(&network).unwrap_err(),
            error!(GovernanceError::VotingPeriodExceedsStakeLocks)
        );
    }
}
