//! media-keeper (PROTOCOL.md §5, §7, §9): anyone can run one. It ingests co-signed receipts
//! over HTTP (verified in ed25519 batches, checked against the chain, stored durably before
//! it answers), settles them as many per transaction as fit, and turns the cranks.
//!
//! `server`: ingest; `verify`: signatures and chain checks; `store`: redb; `settle`: the
//! settlement loop; `pack`: receipts into packet-sized transactions; `lookup`: the keeper's
//! address lookup table; `crank`: the cranks; `chain`: the cached chain view.
pub mod chain;
pub mod config;
pub mod crank;
pub mod lookup;
pub mod pack;
pub mod server;
pub mod settle;
pub mod store;
pub mod verify;

use anyhow::Context;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use media_service::metrics_handle;

fn clone_keypair(keypair: &solana_keypair::Keypair) -> solana_keypair::Keypair {
    keypair.insecure_clone()
}

/// Runs a keeper on `listener` until `shutdown` completes. Every acknowledged receipt is
/// already stored, so stopping loses nothing; unsettled ones settle after the next start.
pub async fn run(
    config: config::KeeperConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config.validate()?;
    let keypair = solana_keypair::read_keypair_file(&config.keypair).map_err(|e| {
        anyhow::anyhow!(
            "cannot read keeper keypair {}: {e}",
            config.keypair.display()
        )
    })?;
    let store = Arc::new(store::Store::open(&config.service.store).with_context(|| {
        format!(
            "opening the keeper store {}",
            config.service.store.display()
        )
    })?);
    let cluster = Arc::new(media_sdk::client::Cluster::new(
        config.service.required_rpc_url()?,
        solana_commitment_config::CommitmentConfig::confirmed(),
    ));
    let view = chain::read(&cluster)
        .await
        .with_context(|| format!("reading Media Network state from {}", cluster.url))?;
    let chain = Arc::new(RwLock::new(Arc::new(view)));

    let mut supervisor = media_service::tasks::Supervisor::new();
    let keeper = Arc::new(server::KeeperService {
        store: store.clone(),
        chain: chain.clone(),
        cluster: cluster.clone(),
        metrics: metrics_handle(),
        on_demand: tokio::sync::Mutex::new(chain::ReadGate::new(chain::ON_DEMAND_MIN_INTERVAL)),
        unknown: std::sync::Mutex::new(chain::UnknownKeys::default()),
        store_health: Default::default(),
        receipts_rate: media_service::rate::PeerRateLimit::new(config.receipts_rate),
        tasks: supervisor.health(),
    });
    tracing::info!(listen = %listener.local_addr()?, "keeper serving");
    let store_health = keeper.store_health.clone();
    let router = server::router(keeper);
    // Added first, so it stops first: no receipt arrives once the jobs begin to stop.
    supervisor.add_future("http", move |stopping| async move {
        media_service::http::serve(listener, router, Default::default(), stopping.wait())
            .await
            .map_err(anyhow::Error::from)
    });
    supervisor.add(chain::Refresh {
        cluster: cluster.clone(),
        view: chain.clone(),
        every: config.service.chain_refresh(),
    });
    supervisor.add(settle::SettleLoop {
        settler: settle::Settler {
            cluster: cluster.clone(),
            keeper: clone_keypair(&keypair),
            store: store.clone(),
            receipts_per_tx: config.receipts_per_tx,
            attempts: config.attempts,
            lookup: config.lookup_table.then(|| {
                lookup::LookupTable::new(cluster.clone(), clone_keypair(&keypair), store.clone())
            }),
            min_keeper_fee: config.min_keeper_fee,
        },
        view: chain.clone(),
        every: Duration::from_millis(config.settle_interval_ms),
    });
    supervisor.add(crank::CrankLoop {
        cranker: crank::Cranker {
            cluster: cluster.clone(),
            keeper: clone_keypair(&keypair),
            switches: config.cranks.clone(),
        },
        every: Duration::from_secs(config.crank_interval_secs.max(1)),
    });
    let probed = store.clone();
    media_service::supervise_store(&mut supervisor, store_health, move || probed.probe());
    supervisor.run(shutdown).await?;
    tracing::info!("keeper stopped");
    Ok(())
}
