//! The consumer gateway (PROTOCOL.md §5): it holds the consumer's receipt signer, issues
//! viewer session tokens, and co-signs relays' cumulative receipts only as far as the viewer
//! receipts shown to it justify, keeping a durable record of what it counted and co-signed.
//!
//! `store`: the durable record; `cosign`: the checks and the signature; `server`: HTTP;
//! `prune`: keeping the record bounded.
pub mod config;
pub mod cosign;
pub mod prune;
pub mod server;
pub mod store;

use anyhow::Context;
use std::sync::Arc;

pub use media_service::metrics_handle;

/// Builds the gateway from its configuration and the receipt signer's secret key.
pub fn build(
    config: &config::GatewayConfig,
    signer: ed25519_dalek::SigningKey,
) -> anyhow::Result<Arc<server::Gateway>> {
    let consumer = config.validate()?;
    let store = store::Store::open(&config.store)
        .with_context(|| format!("opening the gateway store {}", config.store.display()))?;
    Ok(Arc::new(server::Gateway {
        cosigner: cosign::Cosigner {
            config: media_sdk::pda::config(),
            consumer,
            signer,
            policy: cosign::Policy {
                expiry_grace_secs: config.expiry_grace_secs,
                max_bytes_per_relay_epoch: config.max_bytes_per_relay_epoch,
            },
            store,
        },
        shared_secret: config.shared_secret.clone(),
        token_ttl_secs: config.token_ttl_secs,
        max_bytes_per_session: config.max_bytes_per_session,
        metrics: metrics_handle(),
        pruning: prune::Pruning {
            chain: config.rpc_url.as_deref().map(|url| {
                media_sdk::client::Cluster::new(
                    url,
                    solana_commitment_config::CommitmentConfig::confirmed(),
                )
            }),
            interval: std::time::Duration::from_secs(config.prune_interval_secs),
        },
    }))
}

/// Serves the gateway on `listener` until `shutdown` completes.
pub async fn run(
    gateway: Arc<server::Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tracing::info!(
        listen = %listener.local_addr()?,
        consumer = %gateway.cosigner.consumer,
        epochs_pruned = gateway.pruning.chain.is_some(),
        "gateway serving"
    );
    let pruning = tokio::spawn(prune::prune_forever(gateway.clone()));
    let served = media_service::http::serve(
        listener,
        server::router(gateway),
        media_service::http::ServerLimits::default(),
        shutdown,
    )
    .await;
    pruning.abort();
    served?;
    tracing::info!("gateway stopped");
    Ok(())
}
