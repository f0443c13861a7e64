//! What the demo reads from (and the few claims it sends to) the chain.
use crate::actors::Actors;
use anchor_lang::prelude::Pubkey;
use anchor_spl::associated_token::{
    get_associated_token_address, spl_associated_token_account::instruction as ata,
};
use anyhow::{Context, Result};
use media_governance::state::{GovConfig, Proposal};
use media_migrations::localnet::BootstrappedLocalnet;
use media_network::constants::EMPTY_SLOT;
use media_network::state::{Buyback, Config, Consumer, Epoch, Keeper, Lane, Provider};
use media_sdk::client::Cluster;
use media_sdk::{gov, ix, pda};
use solana_signer::Signer;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

pub struct Ledger<'a> {
    cluster: &'a Cluster,
    media_mint: Pubkey,
    payment_mint: Pubkey,
}

/// What one relay operator claimed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Claim {
    pub fees: u64,
    pub rewards: u64,
}

impl<'a> Ledger<'a> {
    pub fn new(localnet: &'a BootstrappedLocalnet) -> Result<Self> {
        Ok(Ledger {
            cluster: &localnet.cluster,
            media_mint: localnet.deployment.media_mint.parse()?,
            payment_mint: localnet.deployment.payment_mint.parse()?,
        })
    }

    pub async fn config(&self) -> Result<Config> {
        Ok(self.cluster.decode(&pda::config()).await?)
    }

    pub async fn gov_config(&self) -> Result<GovConfig> {
        Ok(self.cluster.decode(&gov::pda::gov_config()).await?)
    }

    pub async fn proposal(&self, address: &Pubkey) -> Result<Proposal> {
        Ok(self.cluster.decode(address).await?)
    }

    pub async fn consumer(&self, owner: &Pubkey) -> Result<Consumer> {
        Ok(self.cluster.decode(&pda::consumer(owner)).await?)
    }

    pub async fn buyback(&self) -> Result<Option<Buyback>> {
        Ok(self.cluster.try_decode(&pda::buyback()).await?)
    }

    pub async fn epoch(&self, epoch: u64) -> Result<Option<Epoch>> {
        Ok(self.cluster.try_decode(&pda::epoch(epoch)).await?)
    }

    pub async fn media_supply(&self) -> Result<u64> {
        let mint: anchor_spl::token::Mint = self.cluster.decode(&self.media_mint).await?;
        Ok(mint.supply)
    }

    /// Payment units the keeper earned: claimed into its wallet or still claimable.
    pub async fn keeper_fees(&self, keeper: &Pubkey) -> Result<u64> {
        let claimable = self
            .cluster
            .try_decode::<Keeper>(&pda::keeper(keeper))
            .await?
            .map_or(0, |k| k.fees_claimable);
        let claimed = self
            .cluster
            .token_balance(&get_associated_token_address(keeper, &self.payment_mint))
            .await?;
        Ok(claimable + claimed)
    }

    /// Records, per (relay index, epoch), the most each relay's lane has settled. Lanes keep
    /// two epochs, so sampling while epochs pass catches every epoch's final figure.
    pub async fn sample_lanes(
        &self,
        nodes: &[Pubkey],
        epochs: RangeInclusive<u64>,
        publisher: &Pubkey,
        settled: &mut BTreeMap<(usize, u64), u64>,
    ) -> Result<()> {
        for (i, node) in nodes.iter().enumerate() {
            let Some(lane) = self
                .cluster
                .try_decode::<Lane>(&pda::lane(node, publisher))
                .await?
            else {
                continue;
            };
            for epoch in epochs.clone() {
                let bytes = lane.settled(epoch);
                let entry = settled.entry((i, epoch)).or_default();
                *entry = (*entry).max(bytes);
            }
        }
        Ok(())
    }

    /// Every serving epoch is finalized and no provider still holds one of them unaccrued.
    pub async fn rewards_accrued(&self, actors: &Actors, serving: &[u64]) -> Result<bool> {
        for epoch in serving {
            if !self.epoch(*epoch).await?.is_some_and(|e| e.finalized) {
                return Ok(false);
            }
        }
        for operator in &actors.operators {
            let provider: Provider = self
                .cluster
                .decode(&pda::provider(&operator.owner.pubkey()))
                .await?;
            if provider
                .reward_slots
                .iter()
                .any(|s| s.epoch != EMPTY_SLOT && serving.contains(&s.epoch))
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Each relay operator claims its fees and rewards; returns what each received.
    pub async fn claim(&self, actors: &Actors) -> Result<Vec<Claim>> {
        let mut claims = Vec::new();
        for operator in &actors.operators {
            let owner = operator.owner.pubkey();
            let fees_to = get_associated_token_address(&owner, &self.payment_mint);
            let rewards_to = get_associated_token_address(&owner, &self.media_mint);
            let fees_before = self.cluster.token_balance(&fees_to).await?;
            let rewards_before = self.cluster.token_balance(&rewards_to).await?;
            let provider: Provider = self.cluster.decode(&pda::provider(&owner)).await?;
            let mut instructions = vec![
                ata::create_associated_token_account_idempotent(
                    &owner,
                    &owner,
                    &self.payment_mint,
                    &anchor_spl::token::ID,
                ),
                ata::create_associated_token_account_idempotent(
                    &owner,
                    &owner,
                    &self.media_mint,
                    &anchor_spl::token::ID,
                ),
            ];
            if provider.fees_claimable > 0 {
                instructions.push(ix::claim_provider_fees(&owner, &fees_to));
            }
            if provider.rewards_claimable > 0 {
                instructions.push(ix::claim_rewards(&owner, &rewards_to));
            }
            self.cluster
                .send_and_confirm(&instructions, &operator.owner, &[])
                .await
                .context("claiming fees and rewards")?;
            claims.push(Claim {
                fees: self.cluster.token_balance(&fees_to).await? - fees_before,
                rewards: self.cluster.token_balance(&rewards_to).await? - rewards_before,
            });
        }
        Ok(claims)
    }

    /// Sleeps until the chain's clock (wall time on the localnet) has passed `unix`.
    pub async fn sleep_until(&self, unix: i64) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        if unix >= now {
            tokio::time::sleep(Duration::from_secs((unix - now + 1) as u64)).await;
        }
    }
}
