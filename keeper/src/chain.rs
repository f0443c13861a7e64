//! What the keeper caches of the chain for ingest checks: the epoch, every provider by node
//! key and every consumer by owner. Refreshed periodically, and on demand when a receipt
//! names a key the cache does not know yet.
use anchor_lang::prelude::Pubkey;
use media_network::state::{Config, Consumer, Provider};
use media_sdk::client::Cluster;
use media_sdk::pda;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The least time between two reads made because a receipt looked stale. Anyone can post
/// receipts naming unknown keys; without this, each such request would cost a full read.
pub const ON_DEMAND_MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Lets an on-demand read through at most once per `min_interval`.
#[derive(Debug)]
pub struct ReadGate {
    min_interval: Duration,
    last: Option<Instant>,
}

impl ReadGate {
    pub fn new(min_interval: Duration) -> Self {
        ReadGate {
            min_interval,
            last: None,
        }
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
        .map(|(_, p)| (p.node_key, p))
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
}
