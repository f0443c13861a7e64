//! Settlement: every unsettled receipt is compared with its lane on chain (skipping what any
//! keeper already settled), the rest are packed as many per transaction as fit, sent with
//! retries, and marked settled only once the transaction is confirmed.
use crate::lookup::LookupTable;
use crate::pack;
use crate::store::Store;
use anchor_lang::prelude::Pubkey;
use media_network::errors::MediaError;
use media_network::fees;
use media_network::state::{Config, Consumer, Lane, Provider};
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

/// The settlement job: a round every `every`, for the current epoch of the shared view.
pub struct SettleLoop {
    pub settler: Settler,
    pub view: Arc<std::sync::RwLock<Arc<crate::chain::ChainCache>>>,
    pub every: std::time::Duration,
}

impl media_service::tasks::Job for SettleLoop {
    fn name(&self) -> &'static str {
        "settlement"
    }

    fn interval(&self) -> std::time::Duration {
        self.every
    }

    async fn tick(&mut self) -> anyhow::Result<()> {
        let epoch = self.view.read().unwrap_or_else(|e| e.into_inner()).epoch;
        let round = self.settler.round(epoch).await?;
        if round != Round::default() {
            tracing::info!(?round, "settlement round");
        }
        Ok(())
    }
}

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
    /// Receipts whose keeper share would be below this (payment-mint units) wait until more
    /// is owed; 0 settles anything the escrow can pay.
    pub min_keeper_fee: u64,
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub settled: usize,
    pub already_settled: usize,
    /// Receipts dropped because their epoch can no longer settle.
    pub expired: usize,
    /// Settled only in part: the escrow ran short.
    pub partly_paid: usize,
    /// Not sent: nothing payable, or not worth the keeper's fee.
    pub skipped: usize,
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
    /// Whether the program refused it with `error`.
    fn is(&self, error: MediaError) -> bool {
        let code = u32::from(error);
        matches!(self, SubmitError::Refused(TransactionError::InstructionError(
            _,
            InstructionError::Custom(c),
        )) if *c == code)
    }

    /// The program said the receipts' epoch is neither the current nor the previous one.
    fn is_epoch_out_of_window(&self) -> bool {
        self.is(MediaError::EpochOutOfWindow)
    }
}

/// Why settling `receipt` now would cost the keeper a transaction for nothing (review M2),
/// if it would: the consumer's escrow can pay nothing for its epoch, or the keeper's share
/// of what it would pay is below `min_keeper_fee`.
pub fn unprofitable(
    receipt: &media_sdk::receipt::ReceiptV1,
    on_chain: u64,
    consumer: Option<&Consumer>,
    config: Option<&Config>,
    min_keeper_fee: u64,
) -> Option<&'static str> {
    let consumer = consumer?;
    let spendable = consumer.spendable_for(receipt.epoch);
    if spendable == 0 {
        return Some("empty_escrow");
    }
    let config = config?;
    let price = config.price_for(receipt.epoch);
    let delta = receipt.cumulative.saturating_sub(on_chain);
    let payable = fees::payable_bytes(on_chain, delta, price, spendable).ok()?;
    if payable == 0 {
        return Some("nothing_payable");
    }
    let fee = fees::fee_for(on_chain, payable, price).ok()?;
    let share = fees::split_fee(
        fee,
        config.params.provider_fee_bps,
        config.params.keeper_fee_bps,
    )
    .ok()?
    .keeper;
    (share < min_keeper_fee).then_some("below_min_keeper_fee")
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
        // Bookkeeping only: a store that cannot write must not stop settlement (review M6).
        if let Err(e) = self.blocking(move |s| s.prune(settling_from)).await {
            tracing::warn!(error = %e, "pruning the store failed; settling anyway");
        }
        let unsettled = self.blocking(|s| s.unsettled()).await?;
        gauge!("media_keeper_receipts_pending").set(unsettled.len() as f64);
        let mut round = Round::default();
        let lanes = self.lanes_of(unsettled.iter().map(|u| &u.receipt)).await;
        let consumers: Vec<Pubkey> = unsettled
            .iter()
            .map(|u| u.receipt.receipt.consumer)
            .collect();
        let escrows = self
            .cluster
            .try_decode_many::<Consumer>(&consumers.iter().map(pda::consumer).collect::<Vec<_>>())
            .await;
        let config: Option<Config> = self.cluster.try_decode(&pda::config()).await.ok().flatten();
        let mut ready: Vec<Settlement> = Vec::new();
        for ((item, lane), consumer) in unsettled.into_iter().zip(lanes).zip(escrows) {
            let r = item.receipt.receipt;
            // One lane's failed read skips that lane, not the round (review M8).
            let lane = match lane {
                Ok(Some(lane)) => lane,
                Ok(None) => {
                    tracing::debug!(node_key = %r.node_key, consumer = %r.consumer, "no lane yet; waiting");
                    continue;
                }
                Err(e) => {
                    counter!("media_keeper_lane_read_failures_total").increment(1);
                    tracing::warn!(node_key = %r.node_key, consumer = %r.consumer, error = %e, "reading a lane failed; next round");
                    continue;
                }
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
            if let Some(why) = unprofitable(
                &r,
                on_chain,
                consumer.ok().flatten().as_ref(),
                config.as_ref(),
                self.min_keeper_fee,
            ) {
                counter!("media_keeper_receipts_skipped_total", "why" => why).increment(1);
                tracing::debug!(node_key = %r.node_key, consumer = %r.consumer, epoch = r.epoch, why, "not worth a transaction now");
                round.skipped += 1;
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
                    self.record_paid(batch, &mut round).await?;
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
                Err(e) if e.is(MediaError::RewardSlotNotAccrued) => {
                    // The provider's older epoch must be accrued first (review L14): do it,
                    // and the next round settles.
                    round.failed_transactions += 1;
                    self.accrue_for(&items[0]).await;
                }
                Err(e) => {
                    round.failed_transactions += 1;
                    tracing::warn!(error = %e, "settlement failed; will retry next round");
                }
            }
        }
        Ok(round)
    }

    /// The lanes of `receipts`, read in batches.
    async fn lanes_of<'a>(
        &self,
        receipts: impl Iterator<Item = &'a media_sdk::receipt::SignedReceipt>,
    ) -> Vec<media_sdk::client::Result<Option<Lane>>> {
        let addresses: Vec<Pubkey> = receipts
            .map(|r| pda::lane(&r.receipt.node_key, &r.receipt.consumer))
            .collect();
        self.cluster.try_decode_many::<Lane>(&addresses).await
    }

    /// After a confirmed transaction: marks each receipt settled as far as its lane now is.
    /// An escrow that paid only part leaves the rest pending, to be retried once the
    /// consumer tops up (review M1).
    async fn record_paid(&self, batch: &[Settlement], round: &mut Round) -> anyhow::Result<()> {
        let lanes = self.lanes_of(batch.iter().map(|s| &s.signed)).await;
        for (settlement, lane) in batch.iter().zip(lanes) {
            let receipt = settlement.signed.clone();
            let cumulative = receipt.receipt.cumulative;
            let settled = match lane {
                Ok(Some(lane)) => lane.settled(receipt.receipt.epoch).min(cumulative),
                // Unknown: the next round reads the lane again before doing anything.
                _ => continue,
            };
            self.blocking(move |s| s.mark_settled(&receipt, settled))
                .await?;
            if settled >= cumulative {
                round.settled += 1;
                counter!("media_keeper_receipts_settled_total").increment(1);
            } else {
                round.partly_paid += 1;
                counter!("media_keeper_receipts_partly_paid_total").increment(1);
                tracing::info!(
                    node_key = %settlement.signed.receipt.node_key,
                    consumer = %settlement.signed.receipt.consumer,
                    settled,
                    cumulative,
                    "the escrow paid part of a receipt; the rest waits for a deposit"
                );
            }
        }
        Ok(())
    }

    /// Accrues the provider's older reward slot that blocks `settlement`.
    async fn accrue_for(&self, settlement: &Settlement) {
        let epoch = settlement.signed.receipt.epoch;
        let provider: Option<Provider> = self
            .cluster
            .try_decode(&settlement.provider)
            .await
            .ok()
            .flatten();
        let Some(provider) = provider else { return };
        let Some(older) = epoch.checked_sub(2) else {
            return;
        };
        let accrue = media_sdk::ix::accrue_rewards(&provider.owner, older);
        match self
            .cluster
            .send_and_confirm(&[accrue], &self.keeper, &[])
            .await
        {
            Ok(_) => {
                tracing::info!(provider = %provider.owner, epoch = older, "accrued a provider's rewards so its next epoch can settle")
            }
            Err(e) => {
                tracing::warn!(provider = %provider.owner, epoch = older, error = %e, "accruing rewards failed")
            }
        }
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
    use anchor_lang::{AccountDeserialize, Discriminator, Space};

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

    /// M2: receipts the escrow cannot pay, or whose keeper share is below the operator's
    /// minimum, are not worth a transaction.
    #[test]
    fn m2_unpayable_and_unprofitable_receipts_are_skipped() {
        use media_network::state::{ConsumerStatus, EpochRing};
        let consumer = |escrow: u64| Consumer {
            bump: 0,
            owner: Pubkey::new_unique(),
            status: ConsumerStatus::Active,
            registered_epoch: 0,
            deactivated_epoch: 0,
            receipt_signer: Pubkey::new_unique(),
            signer_since_epoch: 0,
            previous_signer: Pubkey::default(),
            bond: 0,
            escrow,
            pending_withdrawal: 0,
            withdrawal_epoch: 0,
            usage: EpochRing::EMPTY,
            gateway_url: None,
        };
        let receipt = media_sdk::receipt::ReceiptV1 {
            config: Pubkey::new_unique(),
            node_key: Pubkey::new_unique(),
            consumer: Pubkey::new_unique(),
            epoch: 4,
            cumulative: 10 << 30,
        };
        let mut config: Config = config_with_default_params();
        config.epoch = 4;
        // 10 GiB at 10,000 per GiB is 100,000; the keeper's 2% share is 2,000.
        assert_eq!(
            unprofitable(&receipt, 0, Some(&consumer(0)), Some(&config), 0),
            Some("empty_escrow")
        );
        assert_eq!(
            unprofitable(&receipt, 0, Some(&consumer(1_000_000)), Some(&config), 0),
            None
        );
        assert_eq!(
            unprofitable(
                &receipt,
                0,
                Some(&consumer(1_000_000)),
                Some(&config),
                2_001
            ),
            Some("below_min_keeper_fee")
        );
        // A pending withdrawal of everything leaves later epochs nothing to spend.
        let mut leaving = consumer(1_000_000);
        leaving.pending_withdrawal = 1_000_000;
        leaving.withdrawal_epoch = 3;
        assert_eq!(
            unprofitable(&receipt, 0, Some(&leaving), Some(&config), 0),
            Some("empty_escrow")
        );
        // Unknown consumer: the chain decides.
        assert_eq!(unprofitable(&receipt, 0, None, Some(&config), 0), None);
    }

    /// A Config with zeroed fields but the default parameters (only params and epoch matter
    /// to `unprofitable`).
    fn config_with_default_params() -> Config {
        let mut bytes = vec![0u8; 8 + Config::INIT_SPACE];
        bytes[..8].copy_from_slice(Config::DISCRIMINATOR);
        let mut config = Config::try_deserialize(&mut &bytes[..]).unwrap();
        config.params = media_network::state::Params::default();
        config
    }
}
