//! media-relay: an HTTP reverse proxy and cache in front of consumers' origins, metered by
//! viewer receipts (PROTOCOL.md §5 and §9), and the viewer client library.
//!
//! - `origin`: fetching from an origin; `cache`: byte-budgeted LRU with collapsing and
//!   freshness; `metering`: sessions, credit window, viewer receipts; `chain`: the on-chain
//!   view and lanes; `server`: the HTTP routes; `viewer`: the client side.
pub mod cache;
pub mod chain;
pub mod config;
pub mod metering;
pub mod origin;
pub mod server;
pub mod viewer;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// The process's Prometheus recorder, installed on first use (one per process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding process); ours then
            // renders an empty page rather than failing the relay.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Runs a relay on `listener` until `shutdown` completes: reads the chain, opens the lanes it
/// lacks, keeps the chain view fresh and serves.
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
    let cluster = Arc::new(media_sdk::client::Cluster::new(
        &config.rpc_url,
        solana_commitment_config::CommitmentConfig::confirmed(),
    ));
    let consumers: Vec<_> = config.consumers.iter().map(|c| c.owner).collect();
    let view = chain::read(&cluster, &consumers)
        .await
        .with_context(|| format!("reading Media Network state from {}", cluster.url))?;
    chain::open_lanes(&cluster, &node, &consumers).await?;
    let view = Arc::new(RwLock::new(view));
    let refresher = tokio::spawn(chain::refresh_forever(
        cluster.clone(),
        consumers,
        view.clone(),
        std::time::Duration::from_secs(config.chain_refresh_secs.max(1)),
    ));
    let relay = Arc::new(server::Relay {
        node_key,
        meter: metering::Meter::new(node_key, config.credit_window_bytes, config.stall_timeout()),
        cache: cache::ObjectCache::new(config.cache_bytes),
        origin: origin::Origin::new(config.origin_timeout(), config.max_object_bytes),
        view,
        origins: config
            .consumers
            .iter()
            .map(|c| (c.owner, c.origin.clone()))
            .collect(),
        metrics: metrics_handle(),
    });
    tracing::info!(
        listen = %listener.local_addr()?,
        %node_key,
        consumers = relay.origins.len(),
        "relay serving"
    );
    axum::serve(listener, server::router(relay))
        .with_graceful_shutdown(shutdown)
        .await?;
    refresher.abort();
    tracing::info!("relay stopped");
    Ok(())
}
