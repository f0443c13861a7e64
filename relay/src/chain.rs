//! What the relay knows of the chain: the epoch and, per consumer it serves, the receipt
//! signers valid now and whether it may still be served. Refreshed over RPC in the
//! background; requests read the latest snapshot without a network call.
use anchor_lang::prelude::Pubkey;
use media_network::state::{Config, Consumer, Lane, Provider};
use media_sdk::client::Cluster;
use media_sdk::{ix, pda};
use solana_keypair::Keypair;
use solana_signer::Signer;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerState {
    /// Keys whose session tokens are accepted: the signer for this epoch and the previous
    /// one (a rotation must not cut off sessions already granted).
    pub signers: Vec<Pubkey>,
    /// The receipt signer valid for each epoch that can still settle: a co-signed receipt
    /// must carry the one of its own epoch (review M7).
    pub signer_by_epoch: Vec<(u64, Pubkey)>,
    /// Why the consumer is not served right now, if it is not.
    pub refusal: Option<String>,
    /// What receipts of the current epoch can still be paid from: the escrow less a pending
    /// withdrawal (review M12, M-1).
    pub spendable: u64,
    /// The current epoch's price (payment-mint units per GiB).
    pub price_per_gib: u64,
    /// What this relay's lane to the consumer has settled, per epoch still settling.
    pub settled: Vec<(u64, u64)>,
}

impl ConsumerState {
    /// The receipt signer for receipts of `epoch`, if the view knows it.
    pub fn signer_for(&self, epoch: u64) -> Option<Pubkey> {
        self.signer_by_epoch
            .iter()
            .find(|(e, _)| *e == epoch)
            .map(|(_, signer)| *signer)
    }

    /// Bytes this relay's lane settled in `epoch`.
    pub fn settled_in(&self, epoch: u64) -> u64 {
        self.settled
            .iter()
            .find(|(e, _)| *e == epoch)
            .map_or(0, |(_, bytes)| *bytes)
    }
}

#[derive(Debug, Clone, Default)]
pub struct ChainView {
    pub config: Pubkey,
    pub epoch: u64,
    pub consumers: HashMap<Pubkey, ConsumerState>,
}

pub type SharedView = Arc<RwLock<ChainView>>;

/// The consumer's state as the relay judges it in `epoch`, with this relay's lane to it.
pub fn judge(
    consumer: &Consumer,
    lane: Option<&Lane>,
    epoch: u64,
    quota_bytes_per_media: u64,
    price_per_gib: u64,
) -> ConsumerState {
    let epochs: Vec<u64> = [Some(epoch), epoch.checked_sub(1)]
        .into_iter()
        .flatten()
        .collect();
    let signer_by_epoch: Vec<(u64, Pubkey)> = epochs
        .iter()
        .filter_map(|e| consumer.signer_for(*e).map(|s| (*e, s)))
        .collect();
    let mut signers: Vec<Pubkey> = signer_by_epoch.iter().map(|(_, s)| *s).collect();
    signers.dedup();
    let spendable = consumer.spendable_for(epoch);
    let quota_used_up = consumer
        .usage
        .iter()
        .find(|u| u.epoch == epoch)
        .is_some_and(|u| u.eligible_bytes >= u.quota)
        || consumer.quota_for(epoch, quota_bytes_per_media) == 0;
    let refusal = if !consumer.is_active() {
        Some("the consumer is deactivated on chain".to_string())
    } else if consumer.escrow == 0 {
        Some("the consumer's fee escrow is empty on chain".to_string())
    } else if spendable == 0 {
        Some(format!(
            "the consumer's fee escrow ({}) is all being withdrawn",
            consumer.escrow
        ))
    } else if quota_used_up {
        Some(format!(
            "the consumer's bandwidth quota for epoch {epoch} is used up"
        ))
    } else {
        None
    };
    ConsumerState {
        signers,
        signer_by_epoch,
        refusal,
        spendable,
        price_per_gib,
        settled: lane
            .map(|l| epochs.iter().map(|e| (*e, l.settled(*e))).collect())
            .unwrap_or_default(),
    }
}

/// Reads the epoch, every served consumer and this relay's lanes to them once.
pub async fn read(
    cluster: &Cluster,
    node_key: &Pubkey,
    consumers: &[Pubkey],
) -> anyhow::Result<ChainView> {
    let config: Config = cluster.decode(&pda::config()).await?;
    let mut view = ChainView {
        config: pda::config(),
        epoch: config.epoch,
        consumers: HashMap::new(),
    };
    for owner in consumers {
        let state = match cluster
            .try_decode::<Consumer>(&pda::consumer(owner))
            .await?
        {
            Some(consumer) => {
                let lane = cluster
                    .try_decode::<Lane>(&pda::lane(node_key, owner))
                    .await?;
                judge(
                    &consumer,
                    lane.as_ref(),
                    config.epoch,
                    config.params.quota_bytes_per_media,
                    config.price_for(config.epoch),
                )
            }
            None => ConsumerState {
                refusal: Some("the consumer is not registered on chain".into()),
                ..ConsumerState::default()
            },
        };
        view.consumers.insert(*owner, state);
    }
    Ok(view)
}

/// The job that keeps the relay's view of its lanes and consumers fresh; a failed read keeps
/// the last view.
pub struct Refresh {
    pub cluster: Arc<Cluster>,
    pub node_key: Pubkey,
    pub directory: Arc<crate::directory::Directory>,
    pub view: SharedView,
    pub every: Duration,
}

impl media_service::tasks::Job for Refresh {
    fn name(&self) -> &'static str {
        "chain refresh"
    }

    fn interval(&self) -> Duration {
        self.every
    }

    async fn tick(&mut self) -> anyhow::Result<()> {
        let fresh = read(&self.cluster, &self.node_key, &self.directory.consumers()).await?;
        let mut current = self.view.write().unwrap_or_else(|e| e.into_inner());
        if current.epoch != fresh.epoch {
            tracing::info!(epoch = fresh.epoch, "epoch changed");
        }
        *current = fresh;
        Ok(())
    }
}

/// The owner of the provider registered with `node_key`.
pub async fn provider_owner(cluster: &Cluster, node_key: &Pubkey) -> anyhow::Result<Pubkey> {
    cluster
        .all::<Provider>(&media_network::ID)
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .find(|p| p.node_key == *node_key)
        .map(|p| p.owner)
        .ok_or_else(|| {
            anyhow::anyhow!("no provider is registered with node key {node_key}; register first")
        })
}

/// Opens this relay's lane to every consumer that lacks one, signed and paid by the node key.
pub async fn open_lanes(
    cluster: &Cluster,
    node: &Keypair,
    consumers: &[Pubkey],
) -> anyhow::Result<()> {
    let node_key = node.pubkey();
    let provider_owner = provider_owner(cluster, &node_key).await?;
    for consumer in consumers {
        if cluster.account(&pda::consumer(consumer)).await?.is_none() {
            tracing::warn!(%consumer, "consumer not registered; no lane opened");
            continue;
        }
        open_lane(cluster, node, &provider_owner, consumer).await?;
    }
    Ok(())
}

/// Opens the lane from `node` (the node key of `provider_owner`'s provider) to `consumer`
/// unless it is open already; the node key pays its rent.
pub async fn open_lane(
    cluster: &Cluster,
    node: &Keypair,
    provider_owner: &Pubkey,
    consumer: &Pubkey,
) -> anyhow::Result<()> {
    let node_key = node.pubkey();
    if cluster
        .account(&pda::lane(&node_key, consumer))
        .await?
        .is_some()
    {
        return Ok(());
    }
    let open = ix::open_lane(&node_key, provider_owner, &node_key, consumer);
    cluster
        .send_and_confirm(&[open], node, &[])
        .await
        .map_err(|e| anyhow::anyhow!("open_lane to {consumer}: {e}"))?;
    tracing::info!(%consumer, lane = %pda::lane(&node_key, consumer), "lane opened");
    Ok(())
}
