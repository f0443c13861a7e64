//! What the keeper caches of the chain for ingest checks: the epoch, every provider by node
//! key and every consumer by owner. Refreshed periodically, and on demand when a receipt
//! names a key the cache does not know yet.
use anchor_lang::prelude::Pubkey;
use media_network::state::{Config, Consumer, Provider};
use media_sdk::client::Cluster;
use media_sdk::pda;
use std::collections::HashMap;

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
