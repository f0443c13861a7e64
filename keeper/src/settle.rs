//! Settlement: every unsettled receipt is compared with its lane on chain (skipping what any
//! keeper already settled), the rest are packed as many per transaction as fit, sent with
//! retries, and marked settled only once the transaction is confirmed.
use crate::lookup::LookupTable;
use crate::pack;
use crate::store::Store;
use media_network::state::{Config, Lane};
use media_sdk::client::Cluster;
use media_sdk::pda;
use media_sdk::settlement::{settlement_instructions, Settlement};
use metrics::{counter, gauge, histogram};
use solana_keypair::Keypair;
use solana_message::AddressLookupTableAccount;
use solana_signer::Signer;
use solana_transaction::{InstructionError, TransactionError};
use std::sync::Arc;
use std::time::Duration;

/// Receipts of one consumer from which a lookup table lets a transaction carry more.
pub const LOOKUP_PAYS_FROM: usize = 3;

pub struct Settler {
    pub cluster: Arc<Cluster>,
    pub keeper: Keypair,
    pub store: Arc<Store>,
    /// The most receipts per settlement transaction; fewer when they do not fit a packet.
    pub receipts_per_tx: usize,
    /// Attempts per transaction before the round gives up on it (the next round retries).
    pub attempts: u32,
    /// The keeper's lookup table, used when a consumer has enough receipts waiting to gain
    /// from it (three fit one transaction instead of two); `None` sends legacy only.
    pub lookup: Option<LookupTable>,
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub settled: usize,
    pub already_settled: usize,
    /// Receipts dropped because their epoch can no longer settle.
    pub expired: usize,
    pub transactions: usize,
    pub failed_transactions: usize,
}

/// Why a settlement transaction did not land.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The program refused it: the same transaction sent again would be refused again (the
    /// next round looks at the receipts afresh).
    #[error("the program refused the settlement: {0}")]
    Refused(TransactionError),
    /// Not confirmed after every attempt (RPC, blockhash, fees); the next round retries.
    #[error("not confirmed after {attempts} attempt(s): {last}")]
    Unconfirmed { attempts: u32, last: String },
}

impl SubmitError {
    /// The program said the receipts' epoch is neither the current nor the previous one.
    fn is_epoch_out_of_window(&self) -> bool {
        let code = u32::from(media_network::errors::MediaError::EpochOutOfWindow);
        matches!(self, SubmitError::Refused(TransactionError::InstructionError(
            _,
            InstructionError::Custom(c),
        )) if *c == code)
    }
}

impl Settler {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> anyhow::Result<T> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || f(&store)).await??)
    }

    /// One pass over the store; `current_epoch` bounds what can still settle.
    pub async fn round(&self, current_epoch: u64) -> anyhow::Result<Round> {
        let settling_from = current_epoch.saturating_sub(1);
        self.blocking(move |s| s.prune(settling_from)).await?;
        let unsettled = self.blocking(|s| s.unsettled()).await?;
        gauge!("media_keeper_receipts_pending").set(unsettled.len() as f64);
        let mut round = Round::default();
        let mut ready: Vec<Settlement> = Vec::new();
        for item in unsettled {
            let r = item.receipt.receipt;
            let lane = self
                .cluster
                .try_decode::<Lane>(&pda::lane(&r.node_key, &r.consumer))
                .await?;
            let Some(lane) = lane else {
                tracing::debug!(node_key = %r.node_key, consumer = %r.consumer, "no lane yet; waiting");
                continue;
            };
            let on_chain = lane.settled(r.epoch);
            if on_chain >= r.cumulative {
                // Another keeper (or an earlier round whose confirmation we missed) did it.
                let receipt = item.receipt.clone();
                self.blocking(move |s| s.mark_settled(&receipt, on_chain))
                    .await?;
                round.already_settled += 1;
                continue;
            }
            ready.push(Settlement {
                signed: item.receipt,
                provider: lane.provider,
            });
        }
        let table = self.table_for(&ready).await;
        let mut batches = pack::pack(
            &self.keeper.pubkey(),
            ready,
            table.as_ref(),
            self.receipts_per_tx,
        );
        batches.reverse();
        while let Some(items) = batches.pop() {
            let batch = &items;
            match self.submit(&items, table.as_ref()).await {
                Ok(()) => {
                    round.transactions += 1;
                    for settlement in batch {
                        let receipt = settlement.signed.clone();
                        let cumulative = receipt.receipt.cumulative;
                        self.blocking(move |s| s.mark_settled(&receipt, cumulative))
                            .await?;
                        round.settled += 1;
                    }
                    counter!("media_keeper_receipts_settled_total").increment(batch.len() as u64);
                }
                Err(e) if e.is_epoch_out_of_window() => {
                    round.failed_transactions += 1;
                    let (removed, settling_from) = self.drop_expired().await?;
                    round.expired += removed;
                    // What is queued of closed epochs would be refused as well.
                    let open = |s: &Settlement| s.signed.receipt.epoch >= settling_from;
                    for queued in &mut batches {
                        queued.retain(open);
                    }
                    batches.retain(|queued| !queued.is_empty());
                    if items.len() > 1 {
                        batches.extend(items.into_iter().filter(open).map(|s| vec![s]));
                    }
                }
                Err(e) if items.len() > 1 => {
                    // One bad receipt must not hold back the others: retry them one by one.
                    round.failed_transactions += 1;
                    tracing::debug!(error = %e, "a batch failed; settling its receipts singly");
                    batches.extend(items.into_iter().map(|s| vec![s]));
                }
                Err(e) => {
                    round.failed_transactions += 1;
                    tracing::warn!(error = %e, "settlement failed; will retry next round");
                }
            }
        }
        Ok(round)
    }

    /// The chain moved past an epoch this keeper still held receipts of (its view lagged):
    /// drops every receipt that can no longer settle. Returns how many, and the first epoch
    /// that still can.
    async fn drop_expired(&self) -> anyhow::Result<(usize, u64)> {
        let config: Config = self.cluster.decode(&pda::config()).await?;
        let settling_from = config.epoch.saturating_sub(1);
        let removed = self.blocking(move |s| s.prune(settling_from)).await?;
        tracing::warn!(
            chain_epoch = config.epoch,
            dropped = removed,
            "receipts arrived too late to settle: their epochs' window has closed"
        );
        counter!("media_keeper_receipts_expired_total").increment(removed as u64);
        Ok((removed, settling_from))
    }

    /// The lookup table as usable now, asked to add the accounts of consumers that have at
    /// least `LOOKUP_PAYS_FROM` receipts ready; `None` when no consumer does or there is none.
    async fn table_for(&self, ready: &[Settlement]) -> Option<AddressLookupTableAccount> {
        let lookup = self.lookup.as_ref()?;
        let busy = pack::busy_consumers(ready, LOOKUP_PAYS_FROM);
        if busy.is_empty() {
            return None;
        }
        let of_busy: Vec<Settlement> = ready
            .iter()
            .filter(|s| busy.contains(&s.signed.receipt.consumer))
            .cloned()
            .collect();
        let wanted = pack::table_candidates(&self.keeper.pubkey(), &of_busy);
        match lookup.usable(&wanted).await {
            Ok(table) => table,
            Err(e) => {
                tracing::warn!(error = %e, "lookup table unavailable; settling without it");
                None
            }
        }
    }

    /// Sends one settlement transaction, retrying with backoff unless the program refused it;
    /// Ok once confirmed.
    async fn submit(
        &self,
        items: &[Settlement],
        table: Option<&AddressLookupTableAccount>,
    ) -> Result<(), SubmitError> {
        let keeper = self.keeper.pubkey();
        let instructions = settlement_instructions(&keeper, items, 0);
        // Only a transaction that needs the table uses it (a lone receipt fits without).
        let tables: Vec<AddressLookupTableAccount> = table
            .filter(|_| pack::transaction_size(&keeper, items, None) > pack::PACKET_DATA_SIZE)
            .cloned()
            .into_iter()
            .collect();
        let mut delay = Duration::from_millis(200);
        let mut last = None;
        for attempt in 1..=self.attempts.max(1) {
            let before = self.cluster.client.get_balance(&keeper).await.ok();
            let started = std::time::Instant::now();
            match self
                .cluster
                .send_and_confirm_with_tables(&instructions, &self.keeper, &[], &tables)
                .await
            {
                Ok(signature) => {
                    counter!("media_keeper_transactions_total", "result" => "confirmed")
                        .increment(1);
                    histogram!("media_keeper_confirmation_seconds")
                        .record(started.elapsed().as_secs_f64());
                    if let (Some(before), Ok(after)) =
                        (before, self.cluster.client.get_balance(&keeper).await)
                    {
                        counter!("media_keeper_lamports_spent_total")
                            .increment(before.saturating_sub(after));
                    }
                    histogram!("media_keeper_receipts_per_transaction").record(items.len() as f64);
                    tracing::info!(%signature, receipts = items.len(), lookup_table = !tables.is_empty(), "settled");
                    return Ok(());
                }
                Err(e) => {
                    counter!("media_keeper_transactions_total", "result" => "failed").increment(1);
                    tracing::debug!(attempt, error = %e, "settlement attempt failed");
                    if let Some(refusal @ TransactionError::InstructionError(..)) =
                        e.get_transaction_error()
                    {
                        return Err(SubmitError::Refused(refusal));
                    }
                    last = Some(e);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        Err(SubmitError::Unconfirmed {
            attempts: self.attempts.max(1),
            last: last.map(|e| e.to_string()).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use media_network::errors::MediaError;

    #[test]
    fn only_the_programs_epoch_window_refusal_means_expired() {
        let refused = |code: u32| {
            SubmitError::Refused(TransactionError::InstructionError(
                1,
                InstructionError::Custom(code),
            ))
        };
        let out_of_window = u32::from(MediaError::EpochOutOfWindow);
        assert!(refused(out_of_window).is_epoch_out_of_window());
        assert!(!refused(u32::from(MediaError::InsufficientEscrow)).is_epoch_out_of_window());
        assert!(!SubmitError::Refused(TransactionError::BlockhashNotFound).is_epoch_out_of_window());
        let unconfirmed = SubmitError::Unconfirmed {
            attempts: 3,
            last: "connection refused".into(),
        };
        assert!(!unconfirmed.is_epoch_out_of_window());
    }
}
