//! What the keeper caches of the chain for ingest checks: the epoch, every provider by node
//! key and every consumer by owner. Refreshed periodically, and on demand when a receipt
//! names a key the cache does not know yet.
use anchor_lang::prelude::Pubkey;
use media_network::state::{Config, Consumer, Provider};
use media_sdk::client::Cluster;
use media_sdk::pda;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The least time between two reads made because a receipt looked stale. Anyone can post
/// receipts naming unknown keys; without this, each such request would cost a full read.
pub const ON_DEMAND_MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Lets an on-demand read through at most once per `min_interval`.
#[derive(Debug)]
pub struct ReadGate {
    min_interval: Duration,
    last: Option<Instant>,
    last_ok: Option<Instant>,
}

impl ReadGate {
    pub fn new(min_interval: Duration) -> Self {
        ReadGate {
            min_interval,
            last: None,
            last_ok: None,
        }
    }

    pub fn read_succeeded(&mut self, at: Instant) {
        self.last_ok = Some(at);
    }

    /// Whether a read that succeeded within `min_interval` made the view fresh.
    pub fn read_ok_recently(&self, now: Instant) -> bool {
        self.last_ok
            .is_some_and(|at| now.saturating_duration_since(at) < self.min_interval)
    }

    /// True (and the read is counted) when the last one let through is old enough.
    pub fn admit(&mut self, now: Instant) -> bool {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < self.min_interval)
        {
            return false;
        }
        self.last = Some(now);
        true
    }
}

/// How long a key that a fresh read did not find keeps from triggering another read (L11).
pub const UNKNOWN_KEY_TTL: Duration = Duration::from_secs(60);
/// The most keys remembered as unknown; beyond it the oldest half is forgotten.
pub const MAX_UNKNOWN_KEYS: usize = 10_000;

/// Keys (node keys, consumers) that a fresh chain read did not know: receipts naming them do
/// not trigger another on-demand read for `UNKNOWN_KEY_TTL`. The periodic refresh still picks
/// up a key that registers meanwhile, so this only bounds what strangers can make us read.
#[derive(Debug, Default)]
pub struct UnknownKeys {
    seen: HashMap<Pubkey, Instant>,
}

impl UnknownKeys {
    pub fn remember(&mut self, key: Pubkey, now: Instant) {
        if self.seen.len() >= MAX_UNKNOWN_KEYS {
            self.seen
                .retain(|_, at| now.saturating_duration_since(*at) < UNKNOWN_KEY_TTL);
            if self.seen.len() >= MAX_UNKNOWN_KEYS {
                let mut ages: Vec<Instant> = self.seen.values().copied().collect();
                ages.sort_unstable();
                let cutoff = ages[ages.len() / 2];
                self.seen.retain(|_, at| *at > cutoff);
            }
        }
        self.seen.insert(key, now);
    }

    pub fn recently_unknown(&self, key: &Pubkey, now: Instant) -> bool {
        self.seen
            .get(key)
            .is_some_and(|at| now.saturating_duration_since(*at) < UNKNOWN_KEY_TTL)
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
pub struct ChainCache {
    pub config: Pubkey,
    pub epoch: u64,
    pub epoch_started_at: i64,
    pub epoch_duration_secs: i64,
    /// Providers by node key.
    pub providers: HashMap<Pubkey, Provider>,
    /// Consumers by owner.
    pub consumers: HashMap<Pubkey, Consumer>,
}

/// Reads the whole view over RPC.
pub async fn read(cluster: &Cluster) -> anyhow::Result<ChainCache> {
    let config: Config = cluster.decode(&pda::config()).await?;
    let providers = cluster
        .all::<Provider>(&media_network::ID)
        .await?
        .into_iter()
        .flat_map(|(_, p)| {
            // A rotated provider's old key still settles the epochs before its rotation.
            let retired =
                (p.retired_node_key != Pubkey::default()).then(|| (p.retired_node_key, p.clone()));
            std::iter::once((p.node_key, p)).chain(retired)
        })
        .collect();
    let consumers = cluster
        .all::<Consumer>(&media_network::ID)
        .await?
        .into_iter()
        .map(|(_, c)| (c.owner, c))
        .collect();
    Ok(ChainCache {
        config: pda::config(),
        epoch: config.epoch,
        epoch_started_at: config.epoch_started_at,
        epoch_duration_secs: config.params.epoch_duration_secs,
        providers,
        consumers,
    })
}

/// The job that keeps the shared view fresh; a failed read keeps the last view.
pub struct Refresh {
    pub cluster: Arc<Cluster>,
    pub view: Arc<std::sync::RwLock<Arc<ChainCache>>>,
    pub every: std::time::Duration,
}

impl media_service::tasks::Job for Refresh {
    fn name(&self) -> &'static str {
        "chain refresh"
    }

    fn interval(&self) -> std::time::Duration {
        self.every
    }

    async fn tick(&mut self) -> anyhow::Result<()> {
        let fresh = read(&self.cluster).await?;
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_lets_one_read_through_per_interval() {
        let mut gate = ReadGate::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(gate.admit(t0));
        assert!(!gate.admit(t0 + Duration::from_millis(10)));
        assert!(!gate.admit(t0 + Duration::from_millis(999)));
        assert!(gate.admit(t0 + Duration::from_millis(1_000)));
        assert!(!gate.admit(t0 + Duration::from_millis(1_500)));
    }

    #[test]
    fn l11_unknown_keys_are_remembered_for_a_while_within_a_bound() {
        let mut unknown = UnknownKeys::default();
        let t0 = Instant::now();
        let key = Pubkey::new_unique();
        unknown.remember(key, t0);
        assert!(unknown.recently_unknown(&key, t0 + Duration::from_secs(59)));
        assert!(!unknown.recently_unknown(&key, t0 + UNKNOWN_KEY_TTL));
        for i in 0..3 * MAX_UNKNOWN_KEYS {
            unknown.remember(Pubkey::new_unique(), t0 + Duration::from_millis(i as u64));
        }
        assert!(unknown.len() <= MAX_UNKNOWN_KEYS);
    }
}
