//! media-relay: an HTTP reverse proxy and cache in front of consumers' origins, metered by
//! viewer receipts (PROTOCOL.md §5 and §9). The viewer client is its own crate,
//! `media-viewer`.
//!
//! - `target`: the origin URL and cache key of a request (traversal refused);
//! - `origin`: fetching from an origin (no redirects, public addresses only, bounded buffering);
//!   `cache`: memory and disk tiers (byte-budgeted LRU, freshness), misses streamed to all
//!   their viewers from one fetch, large objects in slices; `metering`: sessions, credit window, viewer receipts; `chain`: the on-chain
//!   view and lanes; `server`: the HTTP routes; `acks`: group commit of viewer receipts;
//!   `outbox`: co-signing and shipping; `directory`: the consumers served and their origins
//!   and gateways; `discover`: taking on the consumers the chain lists (`serve`); `cli`: the
//!   flags `media-relay` and `media relay` share.
pub mod acks;
pub mod cache;
pub mod chain;
pub mod cli;
pub mod config;
pub mod debt;
pub mod directory;
pub mod discover;
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
    match media_service::http::raise_descriptor_limit() {
        Ok(descriptors) => tracing::info!(descriptors, "descriptor limit"),
        Err(e) => tracing::warn!(error = %e, "the descriptor limit could not be raised"),
    }
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
    let directory = Arc::new(directory::Directory::configured(&config.consumers));
    let configured: Vec<_> = config.consumers.iter().map(|c| c.owner).collect();
    chain::open_lanes(&cluster, &node, &configured).await?;
    let http = outbox::peer_client(config.peer_timeout());
    let discovered_http =
        outbox::public_peer_client(config.peer_timeout(), config.allow_private_gateways);
    let node = Arc::new(node);
    let discover = config.serve.clone().map(|serve| discover::Discover {
        cluster: cluster.clone(),
        node: node.clone(),
        directory: directory.clone(),
        serve,
        max_consumers: config.max_consumers,
        new_per_refresh: config.new_consumers_per_refresh.max(1),
        limits: discover::HandshakeLimits {
            allow_private_gateways: config.allow_private_gateways,
            allow_private_origins: config.allow_private_origins,
            timeout: config.peer_timeout(),
        },
        http: discovered_http.clone(),
        every: config.service.chain_refresh(),
        provider_owner: None,
        retry: Default::default(),
        taken: Default::default(),
        passes: 0,
    });
    // The first pass before serving, so the consumers listed now are served from the start.
    let discover = match discover {
        Some(mut job) => {
            if let Err(e) = job.pass().await {
                tracing::warn!(error = %format!("{e:#}"), "reading the consumers the chain lists failed; retrying at the next refresh");
            }
            Some(job)
        }
        None => None,
    };
    let view = chain::read(&cluster, &node_key, &directory.consumers())
        .await
        .with_context(|| format!("reading Media Network state from {}", cluster.url))?;
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
        directory: directory.clone(),
        view: view.clone(),
        every: config.service.chain_refresh(),
    };
    let outbox = Arc::new(outbox::Outbox {
        node: media_sdk::client::signing_key(&node),
        meter: meter.clone(),
        store: store.clone(),
        view: view.clone(),
        directory: directory.clone(),
        keepers: config.keepers.clone(),
        http,
        discovered_http,
        debts: debts.clone(),
        shown: Default::default(),
    });
    let mut supervisor = media_service::tasks::Supervisor::new();
    let store_health = Arc::new(media_service::StoreHealth::default());
    // The recorder first: the hit path's counter handles are resolved against it.
    let metrics = metrics_handle();
    let node_key_header = axum::http::HeaderValue::from_str(&node_key.to_string())
        .map_err(|e| anyhow::anyhow!("the node key as a header: {e}"))?;
    let relay = Arc::new(server::Relay {
        node_key,
        node_key_header,
        counters: server::ServedCounters::new(),
        meter,
        cache: cache::ObjectCache::new(
            config.cache_settings(),
            origin::Origin::new(config.origin_limits()),
        )?,
        forward_query: config.forward_query,
        view,
        directory: directory.clone(),
        acks: acks::AckWriter::start(store.clone(), store_health.clone()),
        store,
        debts,
        metrics,
        store_health,
        tasks: supervisor.health(),
    });
    tracing::info!(
        listen = %listener.local_addr()?,
        %node_key,
        consumers = relay.directory.len(),
        serve = ?config.serve,
        keepers = config.keepers.len(),
        "relay serving"
    );
    // In this order they stop: no request is served once the last co-sign round begins.
    let router = server::router(relay.clone());
    let limits = media_service::http::ServerLimits {
        threads: config.http_threads(),
        ..Default::default()
    };
    supervisor.add_future("http", move |stopping| async move {
        media_service::http::serve(listener, router, limits, stopping.wait())
            .await
            .map_err(anyhow::Error::from)
    });
    supervisor.add(refresh);
    if let Some(discover) = discover {
        supervisor.add(discover);
    }
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
