//! What the gateway knows of the chain, read every few seconds when it has an RPC endpoint:
//! the epoch (so it co-signs only epochs that can still settle, review L9, and budgets
//! sessions per epoch) and what the consumer's escrow can still pay for (so the session
//! budget follows the escrow), and the relays the chain lists (served to clients without RPC
//! access at `GET /.media/relays`). Without an endpoint the gateway keeps its own clock.
use anchor_lang::prelude::Pubkey;
use media_network::state::{Config, Consumer, Provider, ProviderKind};
use media_sdk::api::gateway::RelaysResponse;
use media_sdk::client::Cluster;
use media_sdk::pda;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// A snapshot of the chain, as last read.
#[derive(Debug, Clone)]
pub struct ChainSnapshot {
    pub epoch: u64,
    pub epoch_started_at: i64,
    pub epoch_duration_secs: i64,
    /// Payment-mint units the consumer's current-epoch receipts can still spend.
    pub spendable: u64,
    pub price_per_gib: u64,
    /// The consumer's account (its receipt-signer schedule), once registered.
    pub consumer: Option<Consumer>,
}

impl ChainSnapshot {
    /// The receipt signer the program accepts for `epoch`, when the consumer is known.
    pub fn signer_for(&self, epoch: u64) -> Option<Pubkey> {
        self.consumer.as_ref()?.signer_for(epoch)
    }

    /// The epoch the chain is in at `now`, or will be once someone cranks it: the last read
    /// epoch plus the epochs that have since become due.
    pub fn epoch_at(&self, now: i64) -> u64 {
        let elapsed = now.saturating_sub(self.epoch_started_at).max(0);
        let due = elapsed / self.epoch_duration_secs.max(1);
        self.epoch.saturating_add(due as u64)
    }

    /// Bytes the spendable escrow pays for at the current price.
    pub fn escrow_bytes(&self) -> u64 {
        if self.price_per_gib == 0 {
            return u64::MAX;
        }
        let bytes = (u128::from(self.spendable) << 30) / u128::from(self.price_per_gib);
        u64::try_from(bytes).unwrap_or(u64::MAX)
    }
}

/// The window sessions are budgeted in when the chain is unknown.
pub const WALL_CLOCK_WINDOW_SECS: i64 = 600;

pub struct ChainClock {
    cluster: Option<Cluster>,
    consumer: Pubkey,
    snapshot: RwLock<Option<ChainSnapshot>>,
    /// The relays the last read listed (`GET /.media/relays`); kept apart from the snapshot,
    /// which co-signing clones per request.
    relays: RwLock<Option<Arc<RelaysResponse>>>,
    /// Every provider the last read saw, by node key, for the origin handshake, with the
    /// time of that read.
    providers: RwLock<Option<(i64, Arc<crate::origin::Providers>)>>,
}

/// How old the providers read from the chain may be for the origin handshake: while reads
/// fail, a provider deactivated since the last good one keeps getting the origin for at most
/// this long; after it every ask is answered 503 until a read succeeds.
pub const PROVIDERS_MAX_AGE_SECS: i64 = 300;

impl ChainClock {
    pub fn new(cluster: Option<Cluster>, consumer: Pubkey) -> Self {
        ChainClock {
            cluster,
            consumer,
            snapshot: RwLock::new(None),
            relays: RwLock::new(None),
            providers: RwLock::new(None),
        }
    }

    /// A clock that never reads the chain, with a fixed snapshot (tests).
    pub fn fixed(snapshot: ChainSnapshot, consumer: Pubkey) -> Self {
        ChainClock {
            cluster: None,
            consumer,
            snapshot: RwLock::new(Some(snapshot)),
            relays: RwLock::new(None),
            providers: RwLock::new(None),
        }
    }

    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    pub fn snapshot(&self) -> Option<ChainSnapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The relays the last chain read listed; `None` before the first read or without a
    /// chain.
    pub fn relays(&self) -> Option<Arc<RelaysResponse>> {
        self.relays
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The providers the last chain read saw, by node key, if that read was at most
    /// `PROVIDERS_MAX_AGE_SECS` before `now`; `None` before the first read, without a chain,
    /// or when reads have failed for longer.
    pub fn providers(&self, now: i64) -> Option<Arc<crate::origin::Providers>> {
        let read = self.providers.read().unwrap_or_else(|e| e.into_inner());
        let (read_at, providers) = read.as_ref()?;
        (now.saturating_sub(*read_at) <= PROVIDERS_MAX_AGE_SECS).then(|| providers.clone())
    }

    /// Sets the providers as a chain read at `read_at` would (also for tests).
    pub fn set_providers(&self, providers: crate::origin::Providers, read_at: i64) {
        *self.providers.write().unwrap_or_else(|e| e.into_inner()) =
            Some((read_at, Arc::new(providers)));
    }

    /// The budget window sessions issued at `now` count in: the chain's epoch when it is
    /// known, else a wall-clock window of `WALL_CLOCK_WINDOW_SECS`.
    pub fn window_at(&self, now: i64) -> u64 {
        match self.snapshot() {
            Some(chain) => chain.epoch_at(now),
            None => (now.max(0) / WALL_CLOCK_WINDOW_SECS) as u64,
        }
    }

    /// Reads the chain once.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        let Some(cluster) = &self.cluster else {
            return Ok(());
        };
        let config: Config = cluster.decode(&pda::config()).await?;
        let consumer: Option<Consumer> = cluster.try_decode(&pda::consumer(&self.consumer)).await?;
        let price_per_gib = config.price_for(config.epoch);
        let snapshot = ChainSnapshot {
            epoch: config.epoch,
            epoch_started_at: config.epoch_started_at,
            epoch_duration_secs: config.params.epoch_duration_secs,
            spendable: consumer
                .as_ref()
                .map_or(0, |c| c.spendable_for(config.epoch)),
            price_per_gib,
            consumer,
        };
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
        Ok(())
    }

    /// Reads the relays the chain lists (a `getProgramAccounts`), for `GET /.media/relays`.
    /// A failure leaves the last listing (which carries its read time) and is only logged:
    /// an RPC endpoint that refuses the call must not stop co-signing or pruning.
    pub async fn refresh_relays(&self, now: i64) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let epoch = self.snapshot().map_or(0, |s| s.epoch);
        match cluster.all::<Provider>(&media_network::ID).await {
            Ok(providers) => {
                let relays = RelaysResponse {
                    epoch,
                    read_at: now,
                    relays: media_sdk::discovery::listed_relays(providers.iter().map(|(_, p)| p)),
                };
                *self.relays.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(relays));
                let by_node_key = providers
                    .iter()
                    .map(|(_, p)| {
                        let listed = crate::origin::ListedProvider {
                            owner: p.owner,
                            active_edge: p.is_active() && p.kind == ProviderKind::Edge,
                            bond: p.bond_next,
                        };
                        (p.node_key, listed)
                    })
                    .collect();
                self.set_providers(by_node_key, now);
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "reading the relays the chain lists failed; the last listing stays")
            }
        }
    }
}

/// The job that keeps the clock's chain snapshot fresh (nothing to do without `rpc_url`).
pub struct ChainRead {
    pub clock: std::sync::Arc<ChainClock>,
    pub every: Duration,
}

impl media_service::tasks::Job for ChainRead {
    fn name(&self) -> &'static str {
        "chain read"
    }

    fn interval(&self) -> Duration {
        self.every
    }

    async fn tick(&mut self) -> anyhow::Result<()> {
        self.clock.refresh().await?;
        self.clock
            .refresh_relays(media_sdk::clock::unix_now())
            .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_runs_on_between_reads_and_the_escrow_is_priced() {
        let chain = ChainSnapshot {
            epoch: 7,
            epoch_started_at: 1_000,
            epoch_duration_secs: 60,
            spendable: 10_000,
            price_per_gib: 10_000,
            consumer: None,
        };
        assert_eq!(chain.epoch_at(1_000), 7);
        assert_eq!(chain.epoch_at(1_059), 7);
        assert_eq!(chain.epoch_at(1_120), 9);
        assert_eq!(chain.epoch_at(0), 7);
        assert_eq!(chain.escrow_bytes(), 1 << 30);
    }

    #[test]
    fn providers_read_too_long_ago_are_not_used_for_the_origin_handshake() {
        let clock = ChainClock::new(None, Pubkey::new_unique());
        assert!(clock.providers(1_000).is_none(), "before any read");
        let node = Pubkey::new_unique();
        let listed = crate::origin::ListedProvider {
            owner: Pubkey::new_unique(),
            active_edge: true,
            bond: 1,
        };
        clock.set_providers([(node, listed)].into_iter().collect(), 1_000);
        let fresh = clock.providers(1_000 + PROVIDERS_MAX_AGE_SECS).unwrap();
        assert!(fresh.contains_key(&node));
        assert!(
            clock.providers(1_001 + PROVIDERS_MAX_AGE_SECS).is_none(),
            "reads failing for longer: no origin for anyone"
        );
    }
}
