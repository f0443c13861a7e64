//! The relay's durable state (redb; every write committed before it is acknowledged):
//! the latest viewer receipt of each session and epoch (what the relay can show its gateway),
//! the outbox of co-signed receipts, and how far each keeper has taken each of them; epochs
//! that can no longer settle are pruned.
use anchor_lang::prelude::Pubkey;
use media_sdk::receipt::SignedReceipt;
use media_sdk::session::{SessionToken, ViewerReceipt, SESSION_TOKEN_LEN, VIEWER_RECEIPT_LEN};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::Path;

/// consumer (32) ‖ epoch (8, BE) ‖ session key (32) → token (184) ‖ viewer receipt (216).
/// Keyed by consumer as the meter keys sessions, so one session key shown to two consumers
/// keeps a row for each (review L4).
const VIEWER_RECEIPTS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("viewer_receipts_by_consumer");
/// The table of earlier versions (session key ‖ epoch), moved into `VIEWER_RECEIPTS` at open.
const LEGACY_VIEWER_RECEIPTS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("viewer_receipts");
/// consumer (32) ‖ epoch (8, BE) → signed receipt (280).
const OUTBOX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("outbox");
/// consumer (32) ‖ epoch (8, BE) ‖ keeper URL → cumulative the keeper answered for.
const SHIPPED: TableDefinition<&[u8], u64> = TableDefinition::new("shipped");

pub use media_service::StoreError;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new("relay", e)
}

use media_service::store_key::{epoch_after_key, key_epoch, key_epoch_key};

/// A stored session row: token ‖ viewer receipt.
fn decode_viewer_row(value: &[u8]) -> Option<(SessionToken, ViewerReceipt)> {
    let token = SessionToken::decode(value.get(..SESSION_TOKEN_LEN)?).ok()?;
    let receipt = ViewerReceipt::decode(value.get(SESSION_TOKEN_LEN..)?).ok()?;
    Some((token, receipt))
}

/// consumer ‖ epoch ‖ session key.
fn viewer_key(receipt: &ViewerReceipt) -> [u8; 72] {
    let ack = &receipt.ack;
    key_epoch_key(&ack.consumer, ack.epoch, &ack.session_key)
}

/// The epoch of a `consumer ‖ epoch …` key; a key too short to hold one reads as epoch 0, so
/// pruning drops it.
fn epoch_of(key: &[u8]) -> u64 {
    epoch_after_key(key).unwrap_or(0)
}

/// An outbox entry: a co-signed receipt and the keepers that still need it.
#[derive(Debug, Clone)]
pub struct Pending {
    pub receipt: SignedReceipt,
    pub keepers: Vec<String>,
}

pub struct Store {
    db: Database,
}

impl Store {
    /// A small unsynced write that fails once the database has had an I/O error.
    pub fn probe(&self) -> Result<(), StoreError> {
        media_service::kv::probe(&self.db, "relay")
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = media_service::kv::open(path, "relay", |txn| {
            txn.open_table(VIEWER_RECEIPTS)?;
            txn.open_table(OUTBOX)?;
            txn.open_table(SHIPPED)?;
            Ok(())
        })?;
        let store = Store { db };
        store.migrate_legacy_viewer_receipts()?;
        Ok(store)
    }

    /// Moves rows of the session-keyed table of earlier versions under their consumer.
    fn migrate_legacy_viewer_receipts(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        let mut moved = 0usize;
        {
            let legacy = txn.open_table(LEGACY_VIEWER_RECEIPTS).map_err(err)?;
            if legacy.is_empty().map_err(err)? {
                drop(legacy);
                return txn.abort().map_err(err);
            }
            let mut table = txn.open_table(VIEWER_RECEIPTS).map_err(err)?;
            for entry in legacy.iter().map_err(err)? {
                let (_, value) = entry.map_err(err)?;
                let value = value.value();
                let Some((_, receipt)) = decode_viewer_row(value) else {
                    tracing::warn!("skipping an undecodable legacy viewer receipt");
                    continue;
                };
                table
                    .insert(&viewer_key(&receipt)[..], value)
                    .map_err(err)?;
                moved += 1;
            }
        }
        txn.delete_table(LEGACY_VIEWER_RECEIPTS).map_err(err)?;
        txn.commit().map_err(err)?;
        tracing::info!(moved, "viewer receipts moved to the consumer-keyed table");
        Ok(())
    }

    /// Keeps each receipt of `batch` as its session's latest for its epoch unless a later one
    /// is stored, in one durable commit (the relay's group commit of acknowledgements: one
    /// fsync for all receipts that arrived meanwhile).
    pub fn save_viewer_receipts(
        &self,
        batch: &[(SessionToken, ViewerReceipt)],
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut table = txn.open_table(VIEWER_RECEIPTS).map_err(err)?;
            for (token, receipt) in batch {
                let key = viewer_key(receipt);
                let stored = table
                    .get(&key[..])
                    .map_err(err)?
                    .and_then(|v| decode_viewer_row(v.value()))
                    .map(|(_, receipt)| receipt);
                if stored.is_none_or(|s| s.ack.cumulative < receipt.ack.cumulative) {
                    let mut value = Vec::with_capacity(SESSION_TOKEN_LEN + VIEWER_RECEIPT_LEN);
                    value.extend_from_slice(&token.encode());
                    value.extend_from_slice(&receipt.encode());
                    table.insert(&key[..], &value[..]).map_err(err)?;
                }
            }
        }
        txn.commit().map_err(err)
    }

    /// Every stored session receipt of `epoch` or later.
    pub fn viewer_receipts_since(
        &self,
        epoch: u64,
    ) -> Result<Vec<(SessionToken, ViewerReceipt)>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(VIEWER_RECEIPTS).map_err(err)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(err)? {
            let (key, value) = entry.map_err(err)?;
            if epoch_of(key.value()) < epoch {
                continue;
            }
            // One bad row (corruption, a version change) is skipped, not fatal (review L12).
            match decode_viewer_row(value.value()) {
                Some(row) => out.push(row),
                None => tracing::warn!("skipping an undecodable viewer receipt row"),
            }
        }
        Ok(out)
    }

    /// Drops everything of epochs before `epoch` (they can no longer settle): session
    /// receipts, outbox receipts and what keepers answered for them. Returns the rows removed.
    pub fn prune(&self, epoch: u64) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        let mut removed = 0;
        {
            let old = |key: &[u8]| epoch_of(key) < epoch;
            let mut viewers = txn.open_table(VIEWER_RECEIPTS).map_err(err)?;
            removed += viewers.extract_if(|k, _| old(k)).map_err(err)?.count();
            let mut outbox = txn.open_table(OUTBOX).map_err(err)?;
            removed += outbox.extract_if(|k, _| old(k)).map_err(err)?.count();
            let mut shipped = txn.open_table(SHIPPED).map_err(err)?;
            removed += shipped.extract_if(|k, _| old(k)).map_err(err)?.count();
        }
        txn.commit().map_err(err)?;
        Ok(removed)
    }

    /// The co-signed receipt for `consumer` in `epoch`, if any.
    pub fn outbox_entry(
        &self,
        consumer: &Pubkey,
        epoch: u64,
    ) -> Result<Option<SignedReceipt>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(OUTBOX).map_err(err)?;
        let Some(value) = table.get(&key_epoch(consumer, epoch)[..]).map_err(err)? else {
            return Ok(None);
        };
        SignedReceipt::from_bytes(value.value())
            .map(Some)
            .map_err(err)
    }

    /// Puts a co-signed receipt in the outbox unless one with a higher cumulative is there.
    pub fn put_outbox(&self, signed: &SignedReceipt) -> Result<bool, StoreError> {
        let r = &signed.receipt;
        let key = key_epoch(&r.consumer, r.epoch);
        let txn = self.db.begin_write().map_err(err)?;
        let newer;
        {
            let mut table = txn.open_table(OUTBOX).map_err(err)?;
            let stored = table
                .get(&key[..])
                .map_err(err)?
                .and_then(|v| SignedReceipt::from_bytes(v.value()).ok());
            newer = stored.is_none_or(|s| s.receipt.cumulative < r.cumulative);
            if newer {
                table
                    .insert(&key[..], &signed.to_bytes()[..])
                    .map_err(err)?;
            }
        }
        txn.commit().map_err(err)?;
        Ok(newer)
    }

    /// Outbox receipts that some of `keepers` have not answered for yet.
    pub fn pending(&self, keepers: &[String]) -> Result<Vec<Pending>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let outbox = txn.open_table(OUTBOX).map_err(err)?;
        let shipped = txn.open_table(SHIPPED).map_err(err)?;
        let mut out = Vec::new();
        for entry in outbox.iter().map_err(err)? {
            let (key, value) = entry.map_err(err)?;
            let receipt = SignedReceipt::from_bytes(value.value()).map_err(err)?;
            let mut waiting = Vec::new();
            for keeper in keepers {
                let mut shipped_key = key.value().to_vec();
                shipped_key.extend_from_slice(keeper.as_bytes());
                let done = shipped
                    .get(&shipped_key[..])
                    .map_err(err)?
                    .map_or(0, |v| v.value());
                if done < receipt.receipt.cumulative {
                    waiting.push(keeper.clone());
                }
            }
            if !waiting.is_empty() {
                out.push(Pending {
                    receipt,
                    keepers: waiting,
                });
            }
        }
        Ok(out)
    }

    /// Records that `keeper` answered for `receipt` (accepted, duplicate or rejected).
    pub fn mark_shipped(&self, keeper: &str, receipt: &SignedReceipt) -> Result<(), StoreError> {
        let r = &receipt.receipt;
        let mut key = key_epoch(&r.consumer, r.epoch).to_vec();
        key.extend_from_slice(keeper.as_bytes());
        media_service::kv::raise(&self.db, "relay", SHIPPED, &key, r.cumulative).map(|_| ())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use media_sdk::receipt::{pubkey_of, ReceiptV1};

    fn receipt(epoch: u64, consumer: &Pubkey) -> SignedReceipt {
        let node = SigningKey::from_bytes(&[3; 32]);
        let gateway = SigningKey::from_bytes(&[4; 32]);
        let receipt = ReceiptV1 {
            config: Pubkey::new_unique(),
            node_key: pubkey_of(&node),
            consumer: *consumer,
            epoch,
            cumulative: 1_000 + epoch,
        };
        SignedReceipt::sign(receipt, &node, &gateway).unwrap()
    }

    #[test]
    fn pruning_drops_the_outbox_and_shipping_progress_of_epochs_that_cannot_settle() {
        let stores = media_service::TempStores::new("relay-store").unwrap();
        let path = stores.path("store");
        let store = Store::open(&path).unwrap();
        let consumer = Pubkey::new_unique();
        let keepers = vec!["http://keeper/".to_string()];
        for epoch in 3..=6 {
            let r = receipt(epoch, &consumer);
            assert!(store.put_outbox(&r).unwrap());
            if epoch < 6 {
                store.mark_shipped(&keepers[0], &r).unwrap();
            }
        }
        assert_eq!(store.pending(&keepers).unwrap().len(), 1);
        // Epochs 3 and 4 go: two outbox rows and two shipping rows.
        assert_eq!(store.prune(5).unwrap(), 4);
        assert!(store.outbox_entry(&consumer, 4).unwrap().is_none());
        assert!(store.outbox_entry(&consumer, 5).unwrap().is_some());
        let pending = store.pending(&keepers).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].receipt.receipt.epoch, 6);
        // Nothing older is left to prune.
        assert_eq!(store.prune(5).unwrap(), 0);
    }

    pub(crate) fn session_row(
        consumer: &Pubkey,
        epoch: u64,
        cumulative: u64,
    ) -> (SessionToken, ViewerReceipt) {
        use media_sdk::session::{SessionGrant, ViewerAck};
        let session = SigningKey::from_bytes(&[5; 32]);
        let token = SessionGrant {
            config: Pubkey::default(),
            consumer: *consumer,
            session_key: pubkey_of(&session),
            expires_at: 1,
            max_bytes: 1 << 30,
        }
        .sign(&SigningKey::from_bytes(&[6; 32]));
        let receipt = ViewerAck {
            config: Pubkey::default(),
            consumer: *consumer,
            node_key: Pubkey::default(),
            session_key: pubkey_of(&session),
            epoch,
            cumulative,
        }
        .sign(&session);
        (token, receipt)
    }

    /// L4: one session key shown to two consumers keeps a row for each (the meter keys
    /// sessions by consumer too); rows of the session-keyed table of earlier versions move
    /// under their consumer at open.
    #[test]
    fn l4_a_session_key_used_with_two_consumers_keeps_both_receipts() {
        let stores = media_service::TempStores::new("relay-store").unwrap();
        let path = stores.path("store");
        let (a, b) = (Pubkey::new_unique(), Pubkey::new_unique());
        let (token_a, high) = session_row(&a, 7, 9_000);
        let (token_b, low) = session_row(&b, 7, 10);
        {
            // An earlier version's file: one legacy row, and a short one that is skipped.
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut legacy = txn.open_table(LEGACY_VIEWER_RECEIPTS).unwrap();
                let mut value = token_a.encode().to_vec();
                value.extend_from_slice(&high.encode());
                legacy
                    .insert(&key_epoch(&high.ack.session_key, 7)[..], &value[..])
                    .unwrap();
                legacy.insert(&[1u8; 40][..], &[0u8; 3][..]).unwrap();
            }
            txn.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        store.save_viewer_receipts(&[(token_b, low)]).unwrap();
        let mut rows = store.viewer_receipts_since(7).unwrap();
        rows.sort_by_key(|(_, r)| r.ack.cumulative);
        let kept: Vec<(Pubkey, u64)> = rows
            .iter()
            .map(|(_, r)| (r.ack.consumer, r.ack.cumulative))
            .collect();
        assert_eq!(kept, [(b, 10), (a, 9_000)]);
        drop(store);
    }
}
