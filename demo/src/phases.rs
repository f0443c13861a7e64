//! The demo once everything runs: viewers watch, their bytes settle, the keeper finalizes
//! and accrues, relay operators claim, a buy-back burns MEDIA, the proposal is executed, and
//! the numbers are read back.
use crate::actors::{self, Actors};
use crate::ledger::{Claim, Ledger};
use crate::report::{units, GovernanceReport, RelayReport, Report};
use crate::services::Running;
use crate::viewers::Audience;
use crate::{Interrupt, Options, Progress};
use anchor_lang::prelude::Pubkey;
use anyhow::{Context, Result};
use media_governance::state::{ProposalAction, ProposalStatus};
use media_migrations::localnet::BootstrappedLocalnet;
use media_network::state::Buyback;
use media_sdk::gov;
use solana_signer::Signer;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Settled bytes per (relay index, epoch), as sampled from the lanes.
type Settled = BTreeMap<(usize, u64), u64>;

pub struct Stage<'a> {
    pub options: &'a Options,
    pub progress: &'a dyn Progress,
    pub localnet: &'a BootstrappedLocalnet,
    pub ledger: &'a Ledger<'a>,
    pub actors: &'a Actors,
    pub services: &'a Running,
}

/// What the viewers did.
struct Watched {
    serving: Vec<u64>,
    received: Vec<u64>,
    errors: u64,
}

impl Stage<'_> {
    pub async fn play(
        &self,
        interrupt: &mut Interrupt,
        proposal: Pubkey,
        supply_before: u64,
    ) -> Result<Report> {
        let mut settled = Settled::new();
        let watched = self.watch(interrupt, &mut settled).await?;
        self.wait_settled(interrupt, &watched, &mut settled).await?;
        let claims = self.claim(interrupt, &watched.serving).await?;
        let buyback = self.wait_burn(interrupt).await?;
        let governance = interrupt.guard(self.execute(&proposal)).await??;
        self.progress.step(&format!(
            "proposal {} executed: price_per_gib {} → {} per GiB",
            governance.proposal,
            units(governance.old, 6),
            units(governance.new, 6)
        ));
        self.report(
            watched,
            &settled,
            &claims,
            &buyback,
            governance,
            supply_before,
        )
        .await
    }

    fn nodes(&self) -> Vec<Pubkey> {
        self.actors
            .operators
            .iter()
            .map(|o| o.node.pubkey())
            .collect()
    }

    async fn sample(
        &self,
        epochs: std::ops::RangeInclusive<u64>,
        settled: &mut Settled,
    ) -> Result<()> {
        self.ledger
            .sample_lanes(
                &self.nodes(),
                epochs,
                &self.actors.publisher.pubkey(),
                settled,
            )
            .await
    }

    /// Viewers follow the stream until `options.epochs` epochs past registration have passed.
    async fn watch(&self, interrupt: &mut Interrupt, settled: &mut Settled) -> Result<Watched> {
        let options = self.options;
        let first_epoch = self.ledger.config().await?.epoch;
        interrupt
            .guard(
                self.services
                    .wait_relays_in(first_epoch, self.epochs(2) + Duration::from_secs(10)),
            )
            .await??;
        // Bonds count from the epoch after registration: from then on relays earn MEDIA too.
        let rewarded_from = first_epoch + 1;
        let until = rewarded_from + options.epochs;
        self.progress.step(&format!(
            "{} viewers watching the live stream through {} relays until epoch {until} \
             (relays earn fees at once, MEDIA rewards from epoch {rewarded_from})",
            options.viewers, options.relays
        ));
        let audience = Audience::start(
            self.services.gateway_url.clone(),
            self.services.relay_urls.clone(),
            options.viewers,
        );
        let mut epoch = first_epoch;
        while epoch < until {
            interrupt.sleep(Duration::from_secs(1)).await?;
            epoch = self.ledger.config().await?.epoch;
            self.sample(first_epoch..=epoch, settled).await?;
            let burned = self
                .ledger
                .buyback()
                .await?
                .map_or(0, |b| b.total_media_burned);
            self.progress.status(&format!(
                "epoch {epoch} · served {} · settled {} · MEDIA burned {}",
                mib(audience.received().iter().sum()),
                mib(settled.values().sum()),
                units(burned, 6)
            ));
        }
        let (received, errors) = interrupt.guard(audience.stop()).await?;
        let last_epoch = self.ledger.config().await?.epoch;
        self.progress.step(&format!(
            "viewers left after receiving {}; waiting for their receipts to settle",
            mib(received.iter().sum())
        ));
        Ok(Watched {
            serving: (first_epoch..=last_epoch).collect(),
            received,
            errors,
        })
    }

    /// Every acknowledged byte goes relay → gateway co-signature → keeper → chain; waits
    /// until the lanes hold what the viewers received (or reports the gap).
    async fn wait_settled(
        &self,
        interrupt: &mut Interrupt,
        watched: &Watched,
        settled: &mut Settled,
    ) -> Result<()> {
        let (first, last) = (
            watched.serving[0],
            watched.serving[watched.serving.len() - 1],
        );
        let deadline = Instant::now() + self.epochs(4) + Duration::from_secs(10);
        loop {
            self.sample(first..=last, settled).await?;
            let per_relay = per_relay(settled, self.actors.operators.len());
            if per_relay == watched.received {
                self.progress
                    .step("every byte the viewers received is settled on chain");
                return Ok(());
            }
            if Instant::now() > deadline {
                self.progress.step(&format!(
                    "gave up waiting: settled {per_relay:?} bytes per relay, received {:?}",
                    watched.received
                ));
                return Ok(());
            }
            interrupt.sleep(Duration::from_millis(500)).await?;
        }
    }

    /// Waits for the keeper to finalize the serving epochs and accrue their rewards, then has
    /// every relay operator claim.
    async fn claim(&self, interrupt: &mut Interrupt, serving: &[u64]) -> Result<Vec<Claim>> {
        self.progress
            .step("waiting for the keeper to finalize the epochs and accrue rewards");
        let deadline = Instant::now() + self.epochs(6) + Duration::from_secs(20);
        while !self.ledger.rewards_accrued(self.actors, serving).await? {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the keeper did not finalize epochs {serving:?} and accrue their rewards in time"
            );
            interrupt.sleep(Duration::from_millis(500)).await?;
        }
        let claims = interrupt.guard(self.ledger.claim(self.actors)).await??;
        self.progress
            .step("relay operators claimed their fees and MEDIA rewards");
        Ok(claims)
    }

    /// Waits for the keeper's bids to burn MEDIA in a buy-back auction.
    async fn wait_burn(&self, interrupt: &mut Interrupt) -> Result<Buyback> {
        self.progress
            .step("waiting for a buy-back auction to burn MEDIA");
        let deadline = Instant::now() + self.epochs(4) + Duration::from_secs(20);
        loop {
            if let Some(b) = self
                .ledger
                .buyback()
                .await?
                .filter(|b| b.total_media_burned > 0)
            {
                return Ok(b);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "no buy-back auction burned MEDIA in time"
            );
            interrupt.sleep(Duration::from_millis(500)).await?;
        }
    }

    /// Finalizes the vote once it ended and executes once the timelock passed.
    async fn execute(&self, address: &Pubkey) -> Result<GovernanceReport> {
        let executor = &self.actors.keeper.keypair;
        let send = |instruction, what: &'static str| async move {
            self.localnet
                .cluster
                .send_and_confirm(&[instruction], executor, &[])
                .await
                .context(what)
        };
        let mut proposal = self.ledger.proposal(address).await?;
        let id = proposal.id;
        if proposal.status == ProposalStatus::Voting {
            self.ledger.sleep_until(proposal.voting_ends_at).await;
            send(
                gov::finalize_proposal(address, &proposal.proposer),
                "finalizing the proposal",
            )
            .await?;
            proposal = self.ledger.proposal(address).await?;
        }
        anyhow::ensure!(
            proposal.status == ProposalStatus::Passed,
            "proposal {id} is {:?}",
            proposal.status
        );
        self.ledger.sleep_until(proposal.executable_at).await;
        send(
            gov::execute_proposal(address, &proposal.proposer),
            "executing the proposal",
        )
        .await?;
        let (old, new) = match proposal.action {
            ProposalAction::SetParam { old, new, .. } => (old, new),
            _ => (0, 0),
        };
        let executed = self.ledger.config().await?.params.price_per_gib == new;
        Ok(GovernanceReport {
            proposal: id,
            parameter: "price_per_gib".into(),
            old,
            new,
            yes_votes: proposal.yes,
            executed,
        })
    }

    async fn report(
        &self,
        watched: Watched,
        settled: &Settled,
        claims: &[Claim],
        buyback: &Buyback,
        governance: GovernanceReport,
        supply_before: u64,
    ) -> Result<Report> {
        let (receipts_settled, settlement_transactions) = self.services.keeper_counts().await;
        let per_relay = per_relay(settled, self.actors.operators.len());
        let consumer = self
            .ledger
            .consumer(&self.actors.publisher.pubkey())
            .await?;
        let relays = self
            .actors
            .operators
            .iter()
            .enumerate()
            .map(|(i, operator)| RelayReport {
                endpoint: self.services.relay_urls[i].to_string(),
                node_key: operator.node.pubkey().to_string(),
                bytes_received_by_viewers: watched.received[i],
                bytes_settled: per_relay[i],
                fees_claimed: claims[i].fees,
                media_rewarded: claims[i].rewards,
            })
            .collect();
        Ok(Report {
            rpc_url: self.localnet.url.clone(),
            epoch_secs: self.options.epoch_secs,
            serving_epochs: watched.serving,
            viewers: self.options.viewers,
            viewer_errors: watched.errors,
            relays,
            receipts_settled,
            settlement_transactions,
            fees_paid: actors::ESCROW - consumer.escrow,
            keeper_fees: self
                .ledger
                .keeper_fees(&self.actors.keeper.pubkey())
                .await?,
            media_rewarded: claims.iter().map(|c| c.rewards).sum(),
            media_burned: buyback.total_media_burned,
            buyback_auctions: buyback.auctions,
            media_supply_before: supply_before,
            media_supply_after: self.ledger.media_supply().await?,
            governance,
        })
    }

    /// `n` epochs of wall time.
    fn epochs(&self, n: u64) -> Duration {
        Duration::from_secs(n * self.options.epoch_secs.unsigned_abs())
    }
}

fn per_relay(settled: &Settled, relays: usize) -> Vec<u64> {
    let mut sums = vec![0u64; relays];
    for ((relay, _), bytes) in settled {
        sums[*relay] += bytes;
    }
    sums
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}
