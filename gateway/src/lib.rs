//! The consumer gateway (PROTOCOL.md §5): it holds the consumer's receipt signer, issues
//! viewer session tokens, and co-signs relays' cumulative receipts only as far as the viewer
//! receipts shown to it justify, keeping a durable record of what it counted and co-signed.
//!
//! `store`: the durable record and the co-sign ceilings; `cosign`: the checks and the
//! signature; `issue`: who gets a session token; `chain`: the epoch and escrow as last read;
//! `origin`: who learns the consumer's origin; `server`: HTTP; `prune`: keeping the record
//! bounded; `watch`: the browser player's page.
pub mod chain;
pub mod config;
pub mod cosign;
pub mod issue;
pub mod origin;
pub mod prune;
pub mod server;
pub mod store;
pub mod watch;

use anyhow::Context;
use std::sync::Arc;

pub use media_service::metrics_handle;

/// Builds the gateway from its configuration and the receipt signer's secret key.
pub fn build(
    config: &config::GatewayConfig,
    signers: impl Into<cosign::Signers>,
) -> anyhow::Result<Arc<server::Gateway>> {
    let consumer = config.validate()?;
    let signers = signers.into();
    // The owner key controls stake, escrow and the signer itself; it must not sit in an
    // internet-facing service (review M11).
    if signers
        .all()
        .any(|key| media_sdk::receipt::pubkey_of(key) == consumer)
    {
        anyhow::bail!(
            "the receipt signer is the consumer's owner key {consumer}: give the gateway a \
             dedicated key (`media consumer set-signer`) so a compromised gateway cannot move \
             stake or escrow"
        );
    }
    let store = store::Store::open(&config.service.store).with_context(|| {
        format!(
            "opening the gateway store {}",
            config.service.store.display()
        )
    })?;
    let cluster = config.service.rpc_url.as_deref().map(|url| {
        media_sdk::client::Cluster::new(
            url,
            solana_commitment_config::CommitmentConfig::confirmed(),
        )
    });
    if cluster.is_none() {
        tracing::warn!(
            "no rpc_url: the gateway cannot tell which epochs can settle, so it co-signs any \
             epoch, keeps every epoch's records, budgets sessions by wall clock and keeps every \
             relay at new_relay_bytes"
        );
    }
    let clock = Arc::new(chain::ChainClock::new(cluster, consumer));
    Ok(Arc::new(server::Gateway {
        cosigner: cosign::Cosigner {
            config: media_sdk::pda::config(),
            consumer,
            signers,
            policy: cosign::Policy {
                expiry_grace_secs: config.expiry_grace_secs,
                limits: store::CosignLimits {
                    max_bytes_per_relay_epoch: config.max_bytes_per_relay_epoch,
                    new_relay_bytes: config.new_relay_bytes,
                    max_cosigned_bytes_per_epoch: config.max_cosigned_bytes_per_epoch,
                    grow: config.service.rpc_url.is_some(),
                },
            },
            store,
            clock,
        },
        issue: issue::IssuePolicy::new(
            admission(config)?,
            config.sessions_per_client_per_minute,
            config.session_burst,
            issue::Budget {
                max_sessions_per_epoch: config.max_sessions_per_epoch,
                max_session_bytes_per_epoch: config.max_session_bytes_per_epoch,
                session_bytes_per_escrow_byte: config.session_bytes_per_escrow_byte,
            },
        ),
        origin: origin::OriginPolicy {
            origin: config.origin.clone(),
            allow: config.origin_allow.clone(),
            deny: config.origin_deny.clone(),
            min_bond: config.origin_min_bond,
            window_secs: config.origin_ask_window_secs,
        },
        token_ttl_secs: config.token_ttl_secs,
        watch_relays: config.watch_relays.clone(),
        max_bytes_per_session: config.max_bytes_per_session,
        metrics: metrics_handle(),
        pruning: prune::Pruning {
            interval: std::time::Duration::from_secs(config.prune_interval_secs),
        },
        chain_refresh: config.service.chain_refresh(),
        store_health: Default::default(),
        cosign_rate: media_service::rate::PeerRateLimit::new(config.cosign_rate),
        tasks: Default::default(),
    }))
}

/// How viewers are admitted, from the one hook the configuration sets.
fn admission(config: &config::GatewayConfig) -> anyhow::Result<issue::Admission> {
    if let Some(secret) = &config.shared_secret {
        return Ok(issue::IssuePolicy::secret(secret));
    }
    if let Some(path) = &config.jwt_public_key {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading the JWT public key {}", path.display()))?;
        let algorithm: jsonwebtoken::Algorithm = config
            .jwt_algorithm
            .parse()
            .map_err(|_| anyhow::anyhow!("unknown jwt_algorithm {:?}", config.jwt_algorithm))?;
        return issue::IssuePolicy::jwt(
            &pem,
            algorithm,
            config.jwt_issuer.as_deref(),
            config.jwt_audience.as_deref(),
        )
        .with_context(|| format!("the JWT public key {}", path.display()));
    }
    if let Some(url) = &config.auth_callback_url {
        return Ok(issue::IssuePolicy::callback(
            url.clone(),
            std::time::Duration::from_millis(config.auth_callback_timeout_ms.max(1)),
        ));
    }
    Ok(issue::Admission::Open)
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
        chain = gateway.cosigner.clock.cluster().is_some(),
        "gateway serving"
    );
    let mut supervisor = media_service::tasks::Supervisor::with_health(gateway.tasks.clone());
    let router = server::router(gateway.clone());
    supervisor.add_future("http", move |stopping| async move {
        media_service::http::serve(listener, router, Default::default(), stopping.wait())
            .await
            .map_err(anyhow::Error::from)
    });
    supervisor.add(chain::ChainRead {
        clock: gateway.cosigner.clock.clone(),
        every: gateway.chain_refresh,
    });
    supervisor.add(prune::PruneLoop(gateway.clone()));
    let probed = gateway.clone();
    media_service::supervise_store(&mut supervisor, gateway.store_health.clone(), move || {
        probed.cosigner.store.probe()
    });
    supervisor.run(shutdown).await?;
    tracing::info!("gateway stopped");
    Ok(())
}
