//! The bootstrap plan of a cluster as a TOML file (`migrations/devnet.toml`,
//! `migrations/mainnet.toml`): which mints, how much MEDIA seeds the reward vault, and the
//! parameters that differ from the programs' defaults. Everything else is changed later by
//! governance.
use crate::Plan;
use anchor_lang::prelude::Pubkey;
use anyhow::{anyhow, ensure, Context, Result};
use media_governance::state::GovParams;
use media_network::constants::ONE_MEDIA;
use media_network::state::Params;
use serde::Deserialize;
use std::path::Path;

const DAY: i64 = 86_400;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// The MEDIA mint; absent only on a local cluster, where a fixed-supply test mint is made.
    pub media_mint: Option<String>,
    /// The mint fees are paid in (MEDIA itself, or a stablecoin); absent: a test mint.
    pub payment_mint: Option<String>,
    /// Whole MEDIA moved from the deployer's MEDIA account into the reward vault.
    #[serde(default)]
    pub reward_funding_media: u64,
    #[serde(default)]
    pub network: NetworkOverrides,
    #[serde(default)]
    pub governance: GovernanceFile,
}

/// media-network parameters that may differ from `Params::default()` at bootstrap.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkOverrides {
    pub epoch_duration_secs: Option<i64>,
    pub warmup_secs: Option<i64>,
    pub unstake_cooldown_secs: Option<i64>,
    pub price_per_gib: Option<u64>,
    pub min_provider_stake_media: Option<u64>,
    pub emission_per_epoch_media: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceFile {
    pub voting_period_secs: i64,
    pub quorum_bps: u16,
    pub approval_bps: u16,
    pub timelock_secs: i64,
    pub execution_window_secs: i64,
    pub proposal_min_stake_media: u64,
}

impl Default for GovernanceFile {
    /// Mainnet defaults: a three-day vote (the default warm-up), 10 % quorum, simple
    /// majority, a two-day timelock and a two-week execution window.
    fn default() -> Self {
        GovernanceFile {
            voting_period_secs: 3 * DAY,
            quorum_bps: 1_000,
            approval_bps: 5_000,
            timelock_secs: 2 * DAY,
            execution_window_secs: 14 * DAY,
            proposal_min_stake_media: 10_000,
        }
    }
}

fn media(whole: u64, what: &str) -> Result<u64> {
    whole
        .checked_mul(ONE_MEDIA)
        .ok_or_else(|| anyhow!("{what}: {whole} MEDIA is too large"))
}

fn mint(text: &Option<String>, what: &str) -> Result<Option<Pubkey>> {
    text.as_deref()
        .map(|t| {
            t.parse()
                .map_err(|_| anyhow!("{what}: {t:?} is not a public key"))
        })
        .transpose()
}

impl PlanFile {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read bootstrap plan {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("bootstrap plan {}", path.display()))
    }

    /// The plan, checked as the programs would check it, so a bad file fails before any
    /// transaction is sent.
    pub fn plan(&self) -> Result<Plan> {
        let n = &self.network;
        let defaults = Params::default();
        let params = Params {
            epoch_duration_secs: n
                .epoch_duration_secs
                .unwrap_or(defaults.epoch_duration_secs),
            warmup_secs: n.warmup_secs.unwrap_or(defaults.warmup_secs),
            unstake_cooldown_secs: n
                .unstake_cooldown_secs
                .unwrap_or(defaults.unstake_cooldown_secs),
            price_per_gib: n.price_per_gib.unwrap_or(defaults.price_per_gib),
            min_provider_stake: match n.min_provider_stake_media {
                Some(m) => media(m, "min_provider_stake_media")?,
                None => defaults.min_provider_stake,
            },
            emission_per_epoch: match n.emission_per_epoch_media {
                Some(m) => media(m, "emission_per_epoch_media")?,
                None => defaults.emission_per_epoch,
            },
            ..defaults
        };
        params
            .validate()
            .map_err(|e| anyhow!("[network] parameters are invalid: {e}"))?;
        let g = &self.governance;
        let gov_params = GovParams {
            voting_period_secs: g.voting_period_secs,
            quorum_bps: g.quorum_bps,
            approval_bps: g.approval_bps,
            timelock_secs: g.timelock_secs,
            execution_window_secs: g.execution_window_secs,
            proposal_min_stake: media(g.proposal_min_stake_media, "proposal_min_stake_media")?,
        };
        gov_params
            .validate()
            .map_err(|e| anyhow!("[governance] parameters are invalid: {e}"))?;
        ensure!(
            params.warmup_secs >= gov_params.voting_period_secs
                && params.unstake_cooldown_secs >= gov_params.voting_period_secs,
            "warmup_secs and unstake_cooldown_secs must be at least the voting period ({} s), \
             or stake could be bought or sold during a vote",
            gov_params.voting_period_secs
        );
        Ok(Plan {
            params,
            gov_params,
            media_mint: mint(&self.media_mint, "media_mint")?,
            payment_mint: mint(&self.payment_mint, "payment_mint")?,
            reward_funding: media(self.reward_funding_media, "reward_funding_media")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Plan> {
        toml::from_str::<PlanFile>(text)?.plan()
    }

    #[test]
    fn the_committed_plans_are_valid() {
        let load = |file: &str| {
            // Run-time first: a shared target dir may hold a binary built in another checkout.
            let dir = std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
            let path = Path::new(&dir).join(file);
            PlanFile::load(&path).unwrap().plan().unwrap()
        };
        let mainnet = load("mainnet.toml");
        assert!(mainnet.media_mint.is_some() && mainnet.payment_mint.is_some());
        let devnet = load("devnet.toml");
        assert_eq!(devnet.params.epoch_duration_secs, 3_600);
        let localnet = load("localnet.toml");
        assert!(
            localnet.media_mint.is_none(),
            "a local validator gets test mints"
        );
    }

    #[test]
    fn bad_plans_fail_before_anything_is_sent() {
        let err = parse("media_mint = \"nope\"").unwrap_err().to_string();
        assert!(err.contains("not a public key"), "{err}");
        let err = parse("[network]\nwarmup_secs = 60")
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least the voting period"), "{err}");
        let err = parse("[governance]\napproval_bps = 20000")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[governance] parameters are invalid"), "{err}");
        assert!(parse("typo = 1").is_err());
        let plan = parse("reward_funding_media = 5").unwrap();
        assert_eq!(plan.reward_funding, 5 * ONE_MEDIA);
        assert_eq!(plan.params, Params::default());
    }
}
