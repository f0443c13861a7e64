//! The protocol's permissionless cranks, each behind a switch: `advance_epoch` when due
//! (which also finalizes), `accrue_rewards` for finalized epochs, buy-back-and-burn
//! (`burn_fees`, or `start_buyback` / `close_buyback`, and optionally `bid_buyback` under a
//! price limit), and claiming the keeper's own fees and bounties.
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use media_network::constants::EMPTY_SLOT;
use media_network::state::{Buyback, Config, Epoch, Keeper, Provider};
use media_sdk::client::Cluster;
use media_sdk::clock::unix_now;
use media_sdk::{ix, pda};
use metrics::counter;
use serde::Deserialize;
use solana_keypair::Keypair;
use solana_signer::Signer;
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Switches {
    pub advance_epoch: bool,
    pub accrue_rewards: bool,
    pub buyback: bool,
    pub claim_fees: bool,
    /// Bid in buyback auctions at or below this Q32.32 price (MEDIA per payment unit).
    pub bid_max_price: Option<u64>,
    /// Payment units to buy per bid.
    pub bid_amount: u64,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            advance_epoch: true,
            accrue_rewards: true,
            buyback: true,
            claim_fees: true,
            bid_max_price: None,
            bid_amount: 0,
        }
    }
}

impl Switches {
    /// No crank at all: the keeper only settles receipts.
    pub fn settle_only() -> Self {
        Switches {
            advance_epoch: false,
            accrue_rewards: false,
            buyback: false,
            claim_fees: false,
            bid_max_price: None,
            bid_amount: 0,
        }
    }
}

/// The crank job: a round every `every`.
pub struct CrankLoop {
    pub cranker: Cranker,
    pub every: std::time::Duration,
}

impl media_service::tasks::Job for CrankLoop {
    fn name(&self) -> &'static str {
        "cranks"
    }

    fn interval(&self) -> std::time::Duration {
        self.every
    }

    async fn tick(&mut self) -> anyhow::Result<()> {
        self.cranker.round().await
    }
}

pub struct Cranker {
    pub cluster: Arc<Cluster>,
    pub keeper: Keypair,
    pub switches: Switches,
}

impl Cranker {
    async fn send(&self, what: &'static str, instructions: &[Instruction]) -> bool {
        match self
            .cluster
            .send_and_confirm(instructions, &self.keeper, &[])
            .await
        {
            Ok(signature) => {
                counter!("media_keeper_cranks_total", "crank" => what, "result" => "ok")
                    .increment(1);
                tracing::info!(%signature, crank = what, "crank turned");
                true
            }
            Err(e) => {
                counter!("media_keeper_cranks_total", "crank" => what, "result" => "failed")
                    .increment(1);
                tracing::warn!(crank = what, error = %e, "crank failed");
                false
            }
        }
    }

    /// Turns every crank that is due and switched on.
    pub async fn round(&self) -> anyhow::Result<()> {
        let keeper = self.keeper.pubkey();
        let config: Config = self.cluster.decode(&pda::config()).await?;
        let now = unix_now();
        if self.switches.advance_epoch
            && now >= config.epoch_started_at + config.params.epoch_duration_secs
        {
            self.send("advance_epoch", &[ix::advance_epoch(&keeper, config.epoch)])
                .await;
        }
        if self.switches.accrue_rewards {
            self.accrue().await?;
        }
        if self.switches.buyback {
            self.buyback(&config, now).await?;
        }
        if self.switches.claim_fees {
            let account = self
                .cluster
                .try_decode::<Keeper>(&pda::keeper(&keeper))
                .await?;
            if account.is_some_and(|k| k.fees_claimable > 0) {
                let (destination, create) = payment_account(&keeper, &config.payment_mint);
                self.send(
                    "claim_keeper_fees",
                    &[create, ix::claim_keeper_fees(&keeper, &destination)],
                )
                .await;
            }
        }
        Ok(())
    }

    /// Accrues every provider's reward slot of a finalized epoch.
    async fn accrue(&self) -> anyhow::Result<()> {
        let providers = self.cluster.all::<Provider>(&media_network::ID).await?;
        let epochs: BTreeSet<u64> = providers
            .iter()
            .flat_map(|(_, p)| p.reward_slots.iter().map(|s| s.epoch))
            .filter(|e| *e != EMPTY_SLOT)
            .collect();
        for epoch in epochs {
            let finalized = self
                .cluster
                .try_decode::<Epoch>(&pda::epoch(epoch))
                .await?
                .is_some_and(|e| e.finalized);
            if !finalized {
                continue;
            }
            let accruals: Vec<Instruction> = providers
                .iter()
                .filter(|(_, p)| p.reward_slots.iter().any(|s| s.epoch == epoch))
                .map(|(_, p)| ix::accrue_rewards(&p.owner, epoch))
                .collect();
            for batch in accruals.chunks(8) {
                self.send("accrue_rewards", batch).await;
            }
        }
        Ok(())
    }

    async fn buyback(&self, config: &Config, now: i64) -> anyhow::Result<()> {
        if config.payment_is_media() {
            if config.treasury_accrued > 0 {
                self.send("burn_fees", &[ix::burn_fees(&config.media_mint)])
                    .await;
            }
            return Ok(());
        }
        let Some(auction) = self.cluster.try_decode::<Buyback>(&pda::buyback()).await? else {
            return Ok(());
        };
        let p = &config.params.buyback;
        if auction.active && now >= auction.ends_at {
            self.send("close_buyback", &[ix::close_buyback()]).await;
        } else if !auction.active
            && now >= auction.last_started_at + p.interval_secs
            && config.treasury_accrued >= p.min_lot
        {
            self.send("start_buyback", &[ix::start_buyback()]).await;
        } else if auction.active {
            self.bid(config, &auction, now).await;
        }
        Ok(())
    }

    async fn bid(&self, config: &Config, auction: &Buyback, now: i64) {
        let Some(max_price) = self.switches.bid_max_price else {
            return;
        };
        let price = media_network::auction::current_price(
            auction.start_price,
            auction.floor_price,
            auction.started_at,
            auction.ends_at - auction.started_at,
            now,
        );
        if price > max_price || auction.remaining == 0 || self.switches.bid_amount == 0 {
            return;
        }
        let keeper = self.keeper.pubkey();
        let (media_account, create_media) = payment_account(&keeper, &config.media_mint);
        let (payment_account, create_payment) = payment_account(&keeper, &config.payment_mint);
        let amount = self.switches.bid_amount.min(auction.remaining);
        self.send(
            "bid_buyback",
            &[
                create_media,
                create_payment,
                ix::bid_buyback(
                    &keeper,
                    &config.media_mint,
                    &media_account,
                    &payment_account,
                    amount,
                    max_price,
                ),
            ],
        )
        .await;
    }
}

/// The keeper's associated token account for `mint`, and its idempotent creation.
fn payment_account(owner: &Pubkey, mint: &Pubkey) -> (Pubkey, Instruction) {
    use anchor_spl::associated_token::{
        get_associated_token_address, spl_associated_token_account::instruction as ata,
    };
    (
        get_associated_token_address(owner, mint),
        ata::create_associated_token_account_idempotent(owner, owner, mint, &anchor_spl::token::ID),
    )
}
