//! media-relay: an HTTP reverse proxy and cache in front of consumers' origins, metered by
//! viewer receipts (PROTOCOL.md §5 and §9). The viewer client is its own crate,
//! `media-viewer`.
//!
//! - `target`: the origin URL and cache key of a request (traversal refused);
//! - `origin`: fetching from an origin (no redirects, public addresses only, bounded buffering);
//!   `cache`: byte-budgeted LRU with collapsing and
//!   freshness; `metering`: sessions, credit window, viewer receipts; `chain`: the on-chain
//!   view and lanes; `server`: the HTTP routes; `acks`: group commit of viewer receipts;
//!   `outbox`: co-signing and shipping.
pub mod acks;
pub mod cache;
pub mod chain;
pub mod config;
pub mod debt;
pub mod metering;
pub mod origin;
pub mod outbox;
pub mod server;
pub mod store;
pub mod target;

pub use media_service::metrics_handle;

/// Runs a relay on `listener` until `shutdown` completes: reads the chain, opens the lanes it
/// lacks, restores its sessions from the store, keeps the chain view fresh, serves, and
/// co-signs and ships receipts in the background (one last round at shutdown).
pub async fn run(
    config: config::RelayConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use solana_signer::Signer;
    use std::sync::{Arc, RwLock};
    let node = solana_keypair::read_keypair_file(&config.node_keypair).map_err(|e| {
        anyhow::anyhow!(
            "cannot read node keypair {}: {e}",
            config.node_keypair.display()
        )
    })?;
    let node_key = node.pubkey();
    let store =
        Arc::new(store::Store::open(&config.service.store).with_context(|| {
            format!("opening the relay store {}", config.service.store.display())
        })?);
    let cluster = Arc::new(media_sdk::client::Cluster::new(
        config.service.required_rpc_url()?,
        solana_commitment_config::CommitmentConfig::confirmed(),
    ));
    let consumers: Vec<_> = config.consumers.iter().map(|c| c.owner).collect();
    let view = chain::read(&cluster, &node_key, &consumers)
        .await
        .with_context(|| format!("reading Media Network state from {}", cluster.url))?;
    chain::open_lanes(&cluster, &node, &consumers).await?;
    let meter = Arc::new(metering::Meter::new(
        node_key,
        config.credit_window_bytes,
        config.stall_timeout(),
    ));
    let restored = store.viewer_receipts_since(view.epoch.saturating_sub(1))?;
    tracing::info!(
        sessions = restored.len(),
        "restored viewer receipts from the store"
    );
    for (token, receipt) in restored {
        meter.restore(token, receipt);
    }
    let view = Arc::new(RwLock::new(view));
    let debts = Arc::new(debt::Debts::new(config.max_uncosigned_bytes));
    let refresh = chain::Refresh {
        cluster: cluster.clone(),
        node_key,
        consumers,
        view: view.clone(),
        every: config.service.chain_refresh(),
    };
    let outbox = Arc::new(outbox::Outbox {
        node: media_sdk::client::signing_key(&node),
        meter: meter.clone(),
        store: store.clone(),
        view: view.clone(),
        gateways: config
            .consumers
            .iter()
            .filter_map(|c| c.gateway.clone().map(|g| (c.owner, g)))
            .collect(),
        keepers: config.keepers.clone(),
        http: outbox::peer_client(config.peer_timeout()),
        debts: debts.clone(),
        shown: Default::default(),
    });
    let mut supervisor = media_service::tasks::Supervisor::new();
    let store_health = Arc::new(media_service::StoreHealth::default());
    let relay = Arc::new(server::Relay {
        node_key,
        meter,
        cache: cache::ObjectCache::new(config.cache_bytes),
        origin: origin::Origin::new(config.origin_limits()),
        forward_query: config.forward_query,
        view,
        origins: config
            .consumers
            .iter()
            .map(|c| (c.owner, c.origin.clone()))
            .collect(),
        acks: acks::AckWriter::start(store.clone(), store_health.clone()),
        store,
        debts,
        metrics: metrics_handle(),
        store_health,
        tasks: supervisor.health(),
    });
    tracing::info!(
        listen = %listener.local_addr()?,
        %node_key,
        consumers = relay.origins.len(),
        keepers = config.keepers.len(),
        "relay serving"
    );
    // In this order they stop: no request is served once the last co-sign round begins.
    let router = server::router(relay.clone());
    supervisor.add_future("http", move |stopping| async move {
        media_service::http::serve(listener, router, Default::default(), stopping.wait())
            .await
            .map_err(anyhow::Error::from)
    });
    supervisor.add(refresh);
    supervisor.add(outbox::OutboxLoop {
        outbox,
        every: std::time::Duration::from_secs(config.cosign_interval_secs.max(1)),
        store_health: relay.store_health.clone(),
    });
    let probed = relay.store.clone();
    media_service::supervise_store(&mut supervisor, relay.store_health.clone(), move || {
        probed.probe()
    });
    supervisor.run(shutdown).await?;
    tracing::info!("relay stopped");
    Ok(())
}

pub use media_service::shutdown_signal;
