//! The demo once everything runs: viewers watch, their bytes settle, the keeper finalizes
//! and accrues, relay operators claim, a buy-back burns MEDIA, the proposal is executed, and
//! the numbers are read back.
use crate::actors::{self, Actors};
use crate::ledger::{Claim, Ledger};
use crate::report::{units, GovernanceReport, OutageReport, RelayReport, Report};
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
    /// Bytes received through each relay, and the times viewers left it (by index).
    received: Vec<u64>,
    left: Vec<u64>,
    errors: u64,
    failovers: u64,
    relay_failures: u64,
    longest_gap: Duration,
    outage: Option<OutageReport>,
}

/// The relay (the busiest) SIGKILLed half an epoch after the first epoch boundary past
/// half-way through the watching, and restarted two segments (4 s; a third of an epoch if
/// longer, four fifths at most) later. Only the current and the previous epoch settle, so
/// what a relay took receipts for just before a crash is paid only if it co-signs and ships
/// them again after the restart before the next epoch ends. A crash at a boundary is the
/// worst case: a relay learns of a new epoch up to a refresh late, so its last receipts are
/// of the epoch before, which would have to settle within the epoch the relay is down in.
/// Half an epoch in, those are co-signed and shipped (every second here), and the receipts
/// in flight are of the crash's epoch, which settle until the end of the next.
struct Outage {
    relay: usize,
    kill_after: Instant,
    /// When the kill is due: half an epoch past the boundary that follows `kill_after`.
    kill_at: Option<Instant>,
    restart_after: Duration,
    /// The epoch seen at the last tick, to notice a boundary.
    seen_epoch: u64,
    killed_at: Option<Instant>,
    report: Option<OutageReport>,
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
        let audience = interrupt
            .guard(Audience::start(
                self.services.gateway_url.clone(),
                &self.actors.publisher.pubkey(),
                options.viewers,
            ))
            .await??;
        let started = Instant::now();
        let watching = self.epochs(until - first_epoch);
        let mut outage = options.outage.then(|| Outage {
            relay: options.relays - 1,
            kill_after: started + watching / 2,
            // Down for two segments at least, so viewers request from it while it is down
            // and leave it, yet back early in the next epoch, so its bytes settle.
            restart_after: (self.epochs(1) / 3)
                .max(Duration::from_secs(
                    2 * u64::from(crate::origin::SEGMENT_SECS),
                ))
                .min(self.epochs(1) * 4 / 5),
            seen_epoch: first_epoch,
            kill_at: None,
            killed_at: None,
            report: None,
        });
        let mut epoch = first_epoch;
        while epoch < until {
            interrupt.sleep(Duration::from_secs(1)).await?;
            epoch = self.ledger.config().await?.epoch;
            if let Some(outage) = &mut outage {
                if outage.report.is_none()
                    && Instant::now() >= outage.kill_after
                    && epoch > outage.seen_epoch
                {
                    // The relay the viewers use most: they are sure to ask it while it is
                    // down (they favour fast relays, so a little-used one may go unasked).
                    if let Some(busiest) = self.services.busiest_relay().await {
                        outage.relay = busiest;
                    }
                }
                self.stage_outage(outage, epoch)?;
            }
            self.sample(first_epoch..=epoch, settled).await?;
            let burned = self
                .ledger
                .buyback()
                .await?
                .map_or(0, |b| b.total_media_burned);
            self.progress.status(&format!(
                "epoch {epoch} · served {} · settled {} · MEDIA burned {}",
                mib(audience.received()),
                mib(settled.values().sum()),
                units(burned, 6)
            ));
        }
        if let Some(outage) = &mut outage {
            // Back, and serving, before the viewers leave, so their last receipts reach it.
            if outage.killed_at.is_some() {
                outage.restart_after = Duration::ZERO;
                self.stage_outage(outage, epoch)?;
            }
            if outage.report.is_some() {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()?;
                let relay = &self.services.relays[outage.relay];
                interrupt
                    .guard(relay.wait_serving(
                        &http,
                        &self.actors.publisher.pubkey(),
                        crate::services::RELAY_START_TIMEOUT,
                    ))
                    .await??;
            }
        }
        let viewers = interrupt.guard(audience.stop()).await?;
        let last_epoch = self.ledger.config().await?.epoch;
        let urls = &self.services.relay_urls;
        if let Some(unknown) = viewers.received.keys().find(|u| !urls.contains(u)) {
            anyhow::bail!("the viewers were served by {unknown}, which the demo did not start");
        }
        let per_url = |counts: &std::collections::BTreeMap<url::Url, u64>| -> Vec<u64> {
            urls.iter()
                .map(|url| counts.get(url).copied().unwrap_or(0))
                .collect()
        };
        let received = per_url(&viewers.received);
        let left = per_url(&viewers.left);
        let relay_failures: u64 = left.iter().sum();
        self.progress.step(&format!(
            "viewers left after receiving {} ({} transfers resumed at another relay part-way, \
             {} requests moved off a failing relay; longest wait between segments {:.1} s); \
             waiting for their receipts to settle",
            mib(received.iter().sum()),
            viewers.failovers,
            relay_failures,
            viewers.longest_gap.as_secs_f64()
        ));
        Ok(Watched {
            serving: (first_epoch..=last_epoch).collect(),
            received,
            errors: viewers.errors,
            failovers: viewers.failovers,
            relay_failures,
            left,
            longest_gap: viewers.longest_gap,
            outage: outage.and_then(|o| o.report),
        })
    }

    /// SIGKILLs the outage's relay when its time comes, and restarts it later.
    fn stage_outage(&self, outage: &mut Outage, epoch: u64) -> Result<()> {
        let relay = &self.services.relays[outage.relay];
        let now = Instant::now();
        let boundary = epoch > outage.seen_epoch;
        outage.seen_epoch = epoch;
        if outage.report.is_none()
            && outage.kill_at.is_none()
            && now >= outage.kill_after
            && boundary
        {
            outage.kill_at = Some(now + self.epochs(1) / 2);
        }
        match (&mut outage.report, outage.killed_at) {
            (None, _) if outage.kill_at.is_some_and(|at| now >= at) => {
                let pid = relay.pid();
                relay.kill();
                self.progress.step(&format!(
                    "SIGKILLed relay {} (pid {}) half-way through epoch {epoch}: the viewers \
                     move to the others",
                    outage.relay + 1,
                    pid.map_or("?".into(), |p| p.to_string())
                ));
                outage.killed_at = Some(now);
                outage.report = Some(OutageReport {
                    relay: outage.relay + 1,
                    killed_in_epoch: epoch,
                    restarted_in_epoch: None,
                });
            }
            (Some(report), Some(killed_at))
                if report.restarted_in_epoch.is_none()
                    && now >= killed_at + outage.restart_after =>
            {
                relay.restart()?;
                self.progress.step(&format!(
                    "relay {} restarted on its store in epoch {epoch}, {:.1} s after the kill; \
                     viewers take it back after their back-off",
                    outage.relay + 1,
                    now.duration_since(killed_at).as_secs_f64()
                ));
                report.restarted_in_epoch = Some(epoch);
                outage.killed_at = None;
            }
            _ => {}
        }
        Ok(())
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
                times_left: watched.left[i],
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
            failovers: watched.failovers,
            relay_failures: watched.relay_failures,
            longest_gap_ms: u64::try_from(watched.longest_gap.as_millis()).unwrap_or(u64::MAX),
            segment_ms: u64::from(crate::origin::SEGMENT_SECS) * 1000,
            outage: watched.outage,
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
