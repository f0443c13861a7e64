//! Keeps the gateway's record bounded. Session totals go once their tokens are no longer
//! accepted (the gateway's own clock decides). Acknowledgements and co-signatures go once their
//! epoch can no longer settle — which only the chain can say: an epoch number shown by a relay
//! or viewer could be made up to make the gateway forget a relay's record, so without
//! `rpc_url` those are kept.
use crate::server::{unix_now, Gateway};
use metrics::counter;
use std::sync::Arc;
use std::time::Duration;

/// Kept beyond the grace after a token's expiry, so a clock stepping back cannot make the
/// gateway accept a token whose total it forgot.
const SESSION_MARGIN_SECS: i64 = 3_600;

/// How the record is pruned (the epoch comes from the gateway's chain clock; without an
/// RPC endpoint every epoch's records are kept).
pub struct Pruning {
    pub interval: Duration,
}

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: usize,
    pub epoch_records: usize,
}

/// One pass: sessions whose tokens are past use at `now`, and, with a chain view, the records
/// of epochs before the previous one.
pub async fn prune_once(gateway: &Arc<Gateway>, now: i64) -> anyhow::Result<Pruned> {
    let cutoff = now
        .saturating_sub(gateway.cosigner.policy.expiry_grace_secs)
        .saturating_sub(SESSION_MARGIN_SECS);
    let store_of = gateway.clone();
    let sessions = tokio::task::spawn_blocking(move || {
        store_of
            .cosigner
            .store
            .prune_sessions_expired_before(cutoff)
    })
    .await??;
    let mut epoch_records = 0;
    gateway.issue.forget_idle_clients();
    let clock = &gateway.cosigner.clock;
    if clock.cluster().is_some() {
        clock.refresh().await?;
    }
    if let Some(chain) = clock.snapshot().filter(|_| clock.cluster().is_some()) {
        let settling_from = chain.epoch.saturating_sub(1);
        let store_of = gateway.clone();
        epoch_records = tokio::task::spawn_blocking(move || {
            store_of.cosigner.store.prune_epochs_before(settling_from)
        })
        .await??;
    }
    counter!("media_gateway_pruned_sessions_total").increment(sessions as u64);
    counter!("media_gateway_pruned_epoch_records_total").increment(epoch_records as u64);
    Ok(Pruned {
        sessions,
        epoch_records,
    })
}

/// The pruning job: a pass every `pruning.interval`.
pub struct PruneLoop(pub Arc<Gateway>);

impl media_service::tasks::Job for PruneLoop {
    fn name(&self) -> &'static str {
        "pruning"
    }

    fn interval(&self) -> std::time::Duration {
        self.0.pruning.interval
    }

    async fn tick(&mut self) -> anyhow::Result<()> {
        let pruned = prune_once(&self.0, unix_now()).await?;
        if pruned != Pruned::default() {
            tracing::info!(?pruned, "pruned the record");
        }
        Ok(())
    }
}
