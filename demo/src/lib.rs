//! `media demo`: the whole network on one machine. An embedded localnet with short epochs,
//! a publisher's live origin and gateway, relays, a keeper and viewers, all over real
//! sockets on 127.0.0.1; viewers watch for a few epochs, the keeper settles their receipts,
//! providers claim fees and MEDIA rewards, a buy-back auction burns MEDIA, and a governance
//! proposal changes a parameter. [`run`] returns the numbers read back from the chain.
//!
//! `actors`: funded wallets, staking, registration; `origin`: the live stream; `services`:
//! gateway, relays and keeper; `viewers`: the audience; `ledger`: chain reads; `report`: the
//! summary.
pub mod actors;
pub mod ledger;
pub mod origin;
pub mod report;
pub mod services;
pub mod viewers;

use actors::Actors;
use anyhow::{Context, Result};
use ledger::Ledger;
use media_governance::state::{ParamField, ProposalAction, ProposalStatus, VoteChoice};
use media_migrations::localnet::{localnet_params, Localnet};
use media_migrations::Plan;
use media_network::state::BuybackParams;
use media_sdk::gov;
use report::{GovernanceReport, RelayReport, Report};
use solana_signer::Signer;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub epoch_secs: i64,
    /// Epochs the viewers watch for after the registration epoch (rewards count from then).
    pub epochs: u64,
    pub relays: usize,
    pub viewers: usize,
    /// Bytes per live segment (one appears every second).
    pub segment_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            epoch_secs: 6,
            epochs: 3,
            relays: 2,
            viewers: 4,
            segment_bytes: 256 << 10,
        }
    }
}

impl Options {
    pub fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            (3..=600).contains(&self.epoch_secs),
            "--epoch-secs must be between 3 and 600, got {}",
            self.epoch_secs
        );
        anyhow::ensure!(
            (1..=50).contains(&self.epochs),
            "--epochs must be between 1 and 50"
        );
        anyhow::ensure!(
            (1..=8).contains(&self.relays),
            "--relays must be between 1 and 8"
        );
        anyhow::ensure!(
            (1..=64).contains(&self.viewers),
            "--viewers must be between 1 and 64"
        );
        anyhow::ensure!(
            (1_024..=8 << 20).contains(&self.segment_bytes),
            "--segment-bytes must be between 1 KiB and 8 MiB"
        );
        Ok(())
    }
}

/// Where the demo reports how it is doing.
pub trait Progress: Send + Sync {
    /// A step started or finished: one line each.
    fn step(&self, message: &str);
    /// The live status while viewers watch, replaced by the next one.
    fn status(&self, message: &str);
}

#[derive(Debug, thiserror::Error)]
#[error("interrupted; every service was stopped")]
pub struct Interrupted;

/// The report, and the localnet it ran on (still serving until dropped, for inspection).
pub struct Outcome {
    pub report: Report,
    pub localnet: Localnet,
}

/// Stops waiting when the interrupt flag is raised.
struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    async fn guard<T>(&mut self, work: impl std::future::Future<Output = T>) -> Result<T> {
        if *self.0.borrow() {
            return Err(Interrupted.into());
        }
        tokio::select! {
            out = work => Ok(out),
            _ = self.0.wait_for(|stop| *stop) => Err(Interrupted.into()),
        }
    }

    async fn sleep(&mut self, duration: Duration) -> Result<()> {
        self.guard(tokio::time::sleep(duration)).await
    }
}

/// The demo's protocol parameters: the localnet's, with prices and buy-back timings that make
/// a minute of video show fees, rewards and a burn.
pub fn plan(options: &Options) -> Plan {
    let (mut params, gov_params) = localnet_params(options.epoch_secs);
    params.price_per_gib = 100 * actors::PAYMENT;
    params.max_reward_per_gib = 100_000 * actors::MEDIA;
    params.buyback = BuybackParams {
        interval_secs: 2 * options.epoch_secs,
        duration_secs: options.epoch_secs,
        min_lot: 1,
        min_bid: 1,
        ..params.buyback
    };
    Plan {
        params,
        gov_params,
        media_mint: None,
        payment_mint: None,
        reward_funding: 10_000_000 * actors::MEDIA,
    }
}

/// Runs the demo; raising `interrupt` stops it cleanly (services shut down, `Interrupted`).
pub async fn run(
    options: &Options,
    progress: &dyn Progress,
    interrupt: watch::Receiver<bool>,
) -> Result<Outcome> {
    options.validate()?;
    let mut interrupt = Interrupt(interrupt);
    let dir = std::env::temp_dir().join(format!(
        "media-demo-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = run_in(options, progress, &mut interrupt, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(
    options: &Options,
    progress: &dyn Progress,
    interrupt: &mut Interrupt,
    dir: &std::path::Path,
) -> Result<Outcome> {
    progress.step("starting the localnet and bootstrapping the programs");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let plan = plan(options);
    let localnet = interrupt.guard(Localnet::start(listener, &plan)).await??;
    let ledger = Ledger::new(&localnet)?;
    let supply_before = ledger.media_supply().await?;
    progress.step(&format!("localnet on {}", localnet.url));

    progress.step(&format!(
        "funding and staking: a publisher, {} relay operators, a keeper",
        options.relays
    ));
    let actors = interrupt
        .guard(Actors::fund_and_stake(&localnet, options.relays, dir))
        .await??;
    let warmup = plan.params.warmup_secs;
    progress.step(&format!("waiting {warmup} s for the stakes to warm up"));
    interrupt
        .sleep(Duration::from_secs(u64::try_from(warmup)? + 1))
        .await?;

    let sockets = services::Sockets::bind(options.relays).await?;
    interrupt
        .guard(actors.register(&localnet, &sockets.relay_urls()))
        .await??;
    progress.step("relays and the publisher registered; the publisher deposited its escrow");
    let proposal = interrupt
        .guard(propose(&localnet, &ledger, &actors))
        .await??;
    progress.step(&format!(
        "governance proposal {proposal}: double price_per_gib; every staker voted yes"
    ));

    let services = services::start(sockets, &localnet, &actors, dir, options.segment_bytes).await?;
    let result = watch_and_settle(
        options,
        progress,
        interrupt,
        &localnet,
        &ledger,
        &actors,
        &services,
        proposal,
        supply_before,
    )
    .await;
    progress.step("stopping the relays, gateway, keeper and origin");
    services.shutdown().await;
    let report = result?;
    Ok(Outcome { report, localnet })
}

async fn propose(localnet: &Localnet, ledger: &Ledger<'_>, actors: &Actors) -> Result<u64> {
    let config = ledger.config().await?;
    let id = ledger.gov_config().await?.proposal_count;
    let field = ParamField::PricePerGib;
    let action = ProposalAction::SetParam {
        field,
        old: field.get(&config.params),
        new: field.get(&config.params) * 2,
    };
    let proposer = &actors.publisher;
    localnet
        .cluster
        .send_and_confirm(
            &[gov::create_proposal(&proposer.pubkey(), id, action)],
            proposer,
            &[],
        )
        .await
        .context("creating the proposal")?;
    for voter in actors.stakers() {
        localnet
            .cluster
            .send_and_confirm(
                &[gov::cast_vote(&voter.pubkey(), id, VoteChoice::Yes)],
                voter,
                &[],
            )
            .await
            .context("voting")?;
    }
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
async fn watch_and_settle(
    options: &Options,
    progress: &dyn Progress,
    interrupt: &mut Interrupt,
    localnet: &Localnet,
    ledger: &Ledger<'_>,
    actors: &Actors,
    services: &services::Running,
    proposal: u64,
    supply_before: u64,
) -> Result<Report> {
    let nodes: Vec<_> = actors.operators.iter().map(|o| o.node.pubkey()).collect();
    let publisher = actors.publisher.pubkey();
    let first_epoch = ledger.config().await?.epoch;
    // Bonds count from the epoch after registration: from then on relays earn MEDIA too.
    let rewarded_from = first_epoch + 1;
    let until = rewarded_from + options.epochs;
    progress.step(&format!(
        "{} viewers watching the live stream through {} relays until epoch {until} \
         (relays earn fees at once, MEDIA rewards from epoch {rewarded_from})",
        options.viewers, options.relays
    ));
    let audience = viewers::Audience::start(
        services.gateway_url.clone(),
        services.relay_urls.clone(),
        options.viewers,
    );
    let mut settled: BTreeMap<(usize, u64), u64> = BTreeMap::new();
    let mut epoch = first_epoch;
    while epoch < until {
        interrupt.sleep(Duration::from_secs(1)).await?;
        epoch = ledger.config().await?.epoch;
        ledger
            .sample_lanes(&nodes, first_epoch..=epoch, &publisher, &mut settled)
            .await?;
        let received = audience.received();
        progress.status(&format!(
            "epoch {epoch} · served {} · settled {} · MEDIA burned {}",
            mib(received.iter().sum()),
            mib(settled.values().sum()),
            ledger.buyback().await?.map_or(0, |b| b.total_media_burned) as f64 / 1e6
        ));
    }
    let (received, viewer_errors) = interrupt.guard(audience.stop()).await?;
    let last_epoch = ledger.config().await?.epoch;
    let serving: Vec<u64> = (first_epoch..=last_epoch).collect();
    progress.step(&format!(
        "viewers left after receiving {}; waiting for their receipts to settle",
        mib(received.iter().sum())
    ));

    // Every acknowledged byte goes relay → gateway co-signature → keeper → chain.
    let deadline = Instant::now() + Duration::from_secs(4 * options.epoch_secs as u64 + 10);
    loop {
        ledger
            .sample_lanes(&nodes, first_epoch..=last_epoch, &publisher, &mut settled)
            .await?;
        let per_relay = per_relay(&settled, nodes.len());
        if per_relay == received {
            progress.step("every byte the viewers received is settled on chain");
            break;
        }
        if Instant::now() > deadline {
            progress.step(&format!(
                "gave up waiting: settled {per_relay:?} bytes per relay, received {received:?}"
            ));
            break;
        }
        interrupt.sleep(Duration::from_millis(500)).await?;
    }

    progress.step("waiting for the keeper to finalize the epochs and accrue rewards");
    let deadline = Instant::now() + Duration::from_secs(6 * options.epoch_secs as u64 + 20);
    while !ledger.rewards_accrued(actors, &serving).await? {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the keeper did not finalize epochs {serving:?} and accrue their rewards in time"
        );
        interrupt.sleep(Duration::from_millis(500)).await?;
    }
    let claims = interrupt.guard(ledger.claim(actors)).await??;
    progress.step("relay operators claimed their fees and MEDIA rewards");

    progress.step("waiting for a buy-back auction to burn MEDIA");
    let deadline = Instant::now() + Duration::from_secs(4 * options.epoch_secs as u64 + 20);
    let buyback = loop {
        let buyback = ledger.buyback().await?;
        if let Some(b) = buyback.filter(|b| b.total_media_burned > 0) {
            break b;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no buy-back auction burned MEDIA in time"
        );
        interrupt.sleep(Duration::from_millis(500)).await?;
    };

    let governance = interrupt
        .guard(execute(localnet, ledger, actors, proposal))
        .await??;
    progress.step(&format!(
        "proposal {proposal} executed: price_per_gib {} → {} per GiB",
        report::units(governance.old, 6),
        report::units(governance.new, 6)
    ));

    let (receipts_settled, settlement_transactions) = services.keeper_counts().await;
    let per_relay = per_relay(&settled, nodes.len());
    let consumer = ledger.consumer(&actors.publisher.pubkey()).await?;
    let relays = actors
        .operators
        .iter()
        .enumerate()
        .map(|(i, operator)| RelayReport {
            endpoint: services.relay_urls[i].to_string(),
            node_key: operator.node.pubkey().to_string(),
            bytes_received_by_viewers: received[i],
            bytes_settled: per_relay[i],
            fees_claimed: claims[i].fees,
            media_rewarded: claims[i].rewards,
        })
        .collect();
    Ok(Report {
        rpc_url: localnet.url.clone(),
        epoch_secs: options.epoch_secs,
        serving_epochs: serving,
        viewers: options.viewers,
        viewer_errors,
        relays,
        receipts_settled,
        settlement_transactions,
        fees_paid: actors::ESCROW - consumer.escrow,
        keeper_fees: ledger.keeper_fees(&actors.keeper.pubkey()).await?,
        media_rewarded: claims.iter().map(|c| c.rewards).sum(),
        media_burned: buyback.total_media_burned,
        buyback_auctions: buyback.auctions,
        media_supply_before: supply_before,
        media_supply_after: ledger.media_supply().await?,
        governance,
    })
}

/// Finalizes the vote once it ended and executes once the timelock passed.
async fn execute(
    localnet: &Localnet,
    ledger: &Ledger<'_>,
    actors: &Actors,
    id: u64,
) -> Result<GovernanceReport> {
    let executor = &actors.keeper.keypair;
    let mut proposal = ledger.proposal(id).await?;
    if proposal.status == ProposalStatus::Voting {
        ledger.sleep_until(proposal.voting_ends_at).await;
        localnet
            .cluster
            .send_and_confirm(
                &[gov::finalize_proposal(id, &proposal.proposer)],
                executor,
                &[],
            )
            .await
            .context("finalizing the proposal")?;
        proposal = ledger.proposal(id).await?;
    }
    anyhow::ensure!(
        proposal.status == ProposalStatus::Passed,
        "proposal {id} is {:?}",
        proposal.status
    );
    ledger.sleep_until(proposal.executable_at).await;
    localnet
        .cluster
        .send_and_confirm(
            &[gov::execute_proposal(id, &proposal.proposer)],
            executor,
            &[],
        )
        .await
        .context("executing the proposal")?;
    let (old, new) = match proposal.action {
        ProposalAction::SetParam { old, new, .. } => (old, new),
        _ => (0, 0),
    };
    let executed = ledger.config().await?.params.price_per_gib == new;
    Ok(GovernanceReport {
        proposal: id,
        parameter: "price_per_gib".into(),
        old,
        new,
        yes_votes: proposal.yes,
        executed,
    })
}

fn per_relay(settled: &BTreeMap<(usize, u64), u64>, relays: usize) -> Vec<u64> {
    let mut sums = vec![0u64; relays];
    for ((relay, _), bytes) in settled {
        sums[*relay] += bytes;
    }
    sums
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}
