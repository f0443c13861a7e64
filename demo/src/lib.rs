//! `media demo`: the whole network on one machine. An embedded localnet with short epochs,
//! a publisher's live origin and gateway, relays, a keeper and viewers, all over real
//! sockets on 127.0.0.1; viewers watch for a few epochs, the keeper settles their receipts,
//! providers claim fees and MEDIA rewards, a buy-back auction burns MEDIA, and a governance
//! proposal changes a parameter. [`run`] returns the numbers read back from the chain.
//!
//! Half-way through, one relay is SIGKILLed and later restarted: the viewers fail over to the
//! others and every relay is still paid exactly what it delivered.
//!
//! `actors`: funded wallets, staking, registration; `origin`: the live stream; `services`:
//! gateway, keeper, and the relays (`relays`: each a `media relay` process); `viewers`: the
//! audience; `phases`: watching, the outage, settling, claiming, burning, voting; `ledger`:
//! chain reads; `report`: the summary.
pub mod actors;
pub mod ledger;
pub mod origin;
mod phases;
pub mod relays;
pub mod report;
pub mod services;
pub mod viewers;

use actors::Actors;
use anchor_lang::prelude::Pubkey;
use anyhow::{Context, Result};
use ledger::Ledger;
use media_governance::state::{ParamField, ProposalAction, VoteChoice};
use media_migrations::localnet::{localnet_params, BootstrappedLocalnet};
use media_migrations::Plan;
use media_network::state::BuybackParams;
use media_sdk::gov;
use report::Report;
use solana_signer::Signer;
use std::time::Duration;
use tokio::sync::watch;

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub epoch_secs: i64,
    /// Epochs the viewers watch for after the registration epoch (rewards count from then).
    pub epochs: u64,
    pub relays: usize,
    pub viewers: usize,
    /// SIGKILL one relay half-way through the watching and restart it later (needs two
    /// relays or more).
    pub outage: bool,
    /// How relays are started; `None` is this executable's `relay` subcommand (`media relay`).
    pub relay_program: Option<relays::RelayProgram>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            epoch_secs: 6,
            epochs: 3,
            relays: 3,
            viewers: 4,
            outage: true,
            relay_program: None,
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
            !self.outage || self.relays >= 2,
            "the relay outage needs at least 2 relays (or turn it off)"
        );
        anyhow::ensure!(
            (1..=64).contains(&self.viewers),
            "--viewers must be between 1 and 64"
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
    pub localnet: BootstrappedLocalnet,
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
    let mut interrupt = Interrupt(interrupt);
    let network = Network::start_guarded(options, progress, &mut interrupt).await?;
    let ledger = Ledger::new(&network.localnet)?;
    let stage = phases::Stage {
        options,
        progress,
        localnet: &network.localnet,
        ledger: &ledger,
        actors: &network.actors,
        services: &network.services,
    };
    let result = stage
        .play(&mut interrupt, network.proposal, network.supply_before)
        .await;
    let localnet = network.shutdown(progress).await;
    let report = result?;
    Ok(Outcome { report, localnet })
}

/// The whole network, running, with the stream live and no viewer yet: what [`run`] plays
/// its phases on, and what `media demo --watch` and the browser test watch.
pub struct Network {
    pub localnet: BootstrappedLocalnet,
    pub actors: Actors,
    pub services: services::Running,
    /// The governance proposal every staker voted for.
    pub proposal: Pubkey,
    pub supply_before: u64,
    /// The run's stores and keys, removed when the network is dropped.
    _stores: media_service::TempStores,
}

impl Network {
    /// Starts everything; raising `interrupt` stops the start (`Interrupted`).
    pub async fn start(
        options: &Options,
        progress: &dyn Progress,
        interrupt: watch::Receiver<bool>,
    ) -> Result<Network> {
        Self::start_guarded(options, progress, &mut Interrupt(interrupt)).await
    }

    async fn start_guarded(
        options: &Options,
        progress: &dyn Progress,
        interrupt: &mut Interrupt,
    ) -> Result<Network> {
        options.validate()?;
        let stores =
            media_service::TempStores::new("demo").context("creating the demo's directory")?;
        let dir = stores.dir();
        progress.step("starting the localnet and bootstrapping the programs");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let plan = plan(options);
        let localnet = interrupt
            .guard(BootstrappedLocalnet::start(listener, &plan))
            .await??;
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
            .guard(actors.register(&localnet, &sockets.relay_urls(), &sockets.gateway_url()))
            .await??;
        progress.step("relays and the publisher registered; the publisher deposited its escrow");
        let proposal = interrupt
            .guard(propose(&localnet, &ledger, &actors))
            .await??;
        let id = ledger.proposal(&proposal).await?.id;
        progress.step(&format!(
            "governance proposal {id}: double price_per_gib; every staker voted yes"
        ));

        let relay_program = match &options.relay_program {
            Some(program) => program.clone(),
            None => relays::RelayProgram::this_executable()?,
        };
        progress.step(&format!(
            "starting the ingest (an ffmpeg broadcaster publishing its test pattern over RTMP), \
             the gateway, the keeper and {} relay processes (serve = \"all\": each finds the \
             publisher on chain and asks its gateway for the origin)",
            options.relays
        ));
        let services = interrupt
            .guard(services::start(
                sockets,
                &localnet,
                &actors,
                dir,
                &relay_program,
            ))
            .await??;
        Ok(Network {
            localnet,
            actors,
            services,
            proposal,
            supply_before,
            _stores: stores,
        })
    }

    /// The relays' node keys, in the order of `services.relays`.
    pub fn nodes(&self) -> Vec<Pubkey> {
        self.actors
            .operators
            .iter()
            .map(|o| o.node.pubkey())
            .collect()
    }

    /// Records the most each relay's lane has settled per epoch of `epochs` into `settled`
    /// (keyed by relay index and epoch).
    pub async fn sample_settled(
        &self,
        epochs: std::ops::RangeInclusive<u64>,
        settled: &mut std::collections::BTreeMap<(usize, u64), u64>,
    ) -> Result<()> {
        let ledger = Ledger::new(&self.localnet)?;
        ledger
            .sample_lanes(
                &self.nodes(),
                epochs,
                &self.actors.publisher.pubkey(),
                settled,
            )
            .await
    }

    /// The chain's current epoch.
    pub async fn epoch(&self) -> Result<u64> {
        Ok(Ledger::new(&self.localnet)?.config().await?.epoch)
    }

    /// Stops every service; the localnet keeps serving until dropped.
    pub async fn shutdown(self, progress: &dyn Progress) -> BootstrappedLocalnet {
        progress.step("stopping the broadcaster, ingest, relays, gateway and keeper");
        self.services.shutdown().await;
        self.localnet
    }
}

/// Makes the demo's proposal and votes for it with every staker; returns its address.
async fn propose(
    localnet: &BootstrappedLocalnet,
    ledger: &Ledger<'_>,
    actors: &Actors,
) -> Result<Pubkey> {
    let config = ledger.config().await?;
    let field = ParamField::PricePerGib;
    let action = ProposalAction::SetParam {
        field,
        old: field.get(&config.params),
        new: field.get(&config.params) * 2,
    };
    let proposer = &actors.publisher;
    // The publisher has never proposed before, so this is its nonce 0.
    let nonce = gov::next_nonce(None);
    let address = gov::pda::proposal(&proposer.pubkey(), nonce);
    localnet
        .cluster
        .send_and_confirm(
            &[gov::create_proposal(&proposer.pubkey(), nonce, action)],
            proposer,
            &[],
        )
        .await
        .context("creating the proposal")?;
    for voter in actors.stakers() {
        localnet
            .cluster
            .send_and_confirm(
                &[gov::cast_vote(&voter.pubkey(), &address, VoteChoice::Yes)],
                voter,
                &[],
            )
            .await
            .context("voting")?;
    }
    Ok(address)
}
