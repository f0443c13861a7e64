//! The keeper's durable store (redb, committed before any acknowledgement): per
//! (epoch, node key, consumer) the highest co-signed receipt received, and the cumulative known
//! settled on chain (confirmed, or seen in the lane account).
use anchor_lang::prelude::Pubkey;
use media_sdk::receipt::SignedReceipt;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

/// epoch (8, BE) ‖ node key (32) ‖ consumer (32) → signed receipt (280).
const RECEIPTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("receipts");
/// The same key → cumulative settled on chain.
const SETTLED: TableDefinition<&[u8], u64> = TableDefinition::new("settled");
/// "lookup_table" → the address of the keeper's address lookup table (32).
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const LOOKUP_TABLE: &str = "lookup_table";

pub use media_service::StoreError;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new("keeper", e)
}

/// Which lane and epoch a receipt belongs to.
pub fn lane_epoch_key(epoch: u64, node_key: &Pubkey, consumer: &Pubkey) -> [u8; 72] {
    media_service::store_key::epoch_key_key(epoch, node_key, consumer)
}

fn key_of(receipt: &SignedReceipt) -> [u8; 72] {
    let r = &receipt.receipt;
    lane_epoch_key(r.epoch, &r.node_key, &r.consumer)
}

/// The highest cumulative known for a lane and epoch: held, or settled on chain.
fn best_known(
    receipts: &impl ReadableTable<&'static [u8], &'static [u8]>,
    settled: &impl ReadableTable<&'static [u8], u64>,
    key: &[u8],
) -> Result<u64, StoreError> {
    let held = receipts
        .get(key)
        .map_err(err)?
        .and_then(|v| SignedReceipt::from_bytes(v.value()).ok())
        .map_or(0, |r| r.receipt.cumulative);
    let done = settled.get(key).map_err(err)?.map_or(0, |v| v.value());
    Ok(held.max(done))
}

/// What storing a verified receipt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Higher than anything held for its lane and epoch: it replaces it.
    New,
    /// Not higher than what is held (or already settled): nothing changed.
    Duplicate,
}

/// A receipt waiting to be settled, and what is known settled for its lane and epoch.
#[derive(Debug, Clone)]
pub struct Unsettled {
    pub receipt: SignedReceipt,
    pub settled: u64,
}

pub struct Store {
    db: Database,
}

impl Store {
    /// A small unsynced write that fails once the database has had an I/O error.
    pub fn probe(&self) -> Result<(), StoreError> {
        media_service::kv::probe(&self.db, "keeper")
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = media_service::kv::open(path, "keeper", |txn| {
            txn.open_table(RECEIPTS)?;
            txn.open_table(SETTLED)?;
            txn.open_table(META)?;
            Ok(())
        })?;
        Ok(Store { db })
    }

    /// Keeps each receipt if it is the highest for its lane and epoch; one transaction for
    /// the whole batch, committed before returning.
    pub fn put_all(&self, receipts: &[SignedReceipt]) -> Result<Vec<Stored>, StoreError> {
        if receipts.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.db.begin_write().map_err(err)?;
        let mut results = Vec::with_capacity(receipts.len());
        {
            let mut table = txn.open_table(RECEIPTS).map_err(err)?;
            let settled = txn.open_table(SETTLED).map_err(err)?;
            for receipt in receipts {
                let key = key_of(receipt);
                if receipt.receipt.cumulative > best_known(&table, &settled, &key)? {
                    table
                        .insert(&key[..], &receipt.to_bytes()[..])
                        .map_err(err)?;
                    results.push(Stored::New);
                } else {
                    results.push(Stored::Duplicate);
                }
            }
        }
        if results.contains(&Stored::New) {
            txn.commit().map_err(err)?;
        } else {
            // Nothing changed: no durable commit (and no fsync) for a request of duplicates.
            txn.abort().map_err(err)?;
        }
        Ok(results)
    }

    /// Whether `put_all` would keep each receipt (higher than what is held or settled for its
    /// lane and epoch), read without a write transaction.
    pub fn would_keep(&self, receipts: &[SignedReceipt]) -> Result<Vec<bool>, StoreError> {
        if receipts.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(RECEIPTS).map_err(err)?;
        let settled = txn.open_table(SETTLED).map_err(err)?;
        receipts
            .iter()
            .map(|receipt| {
                Ok(receipt.receipt.cumulative > best_known(&table, &settled, &key_of(receipt))?)
            })
            .collect()
    }

    /// Receipts whose cumulative is above what is known settled.
    pub fn unsettled(&self) -> Result<Vec<Unsettled>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let receipts = txn.open_table(RECEIPTS).map_err(err)?;
        let settled = txn.open_table(SETTLED).map_err(err)?;
        let mut out = Vec::new();
        for entry in receipts.iter().map_err(err)? {
            let (key, value) = entry.map_err(err)?;
            // One undecodable row (corruption, an older version) must not stop settlement of
            // the others (review L12).
            let receipt = match SignedReceipt::from_bytes(value.value()) {
                Ok(receipt) => receipt,
                Err(e) => {
                    tracing::warn!(error = %e, "skipping an undecodable receipt in the store");
                    continue;
                }
            };
            let done = settled
                .get(key.value())
                .map_err(err)?
                .map_or(0, |v| v.value());
            if receipt.receipt.cumulative > done {
                out.push(Unsettled {
                    receipt,
                    settled: done,
                });
            }
        }
        Ok(out)
    }

    /// Records that the lane has `cumulative` settled for the receipt's epoch (only grows).
    pub fn mark_settled(&self, receipt: &SignedReceipt, cumulative: u64) -> Result<(), StoreError> {
        let key = key_of(receipt);
        media_service::kv::raise(&self.db, "keeper", SETTLED, &key, cumulative).map(|_| ())
    }

    /// Forgets receipts of epochs before `epoch`: they can no longer settle.
    pub fn prune(&self, epoch: u64) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        let mut removed = 0;
        {
            let mut receipts = txn.open_table(RECEIPTS).map_err(err)?;
            let mut settled = txn.open_table(SETTLED).map_err(err)?;
            // A key too short to hold an epoch (not written by this keeper) goes too.
            let old =
                |key: &[u8]| media_service::store_key::int_at(key, 0).is_none_or(|e| e < epoch);
            removed += receipts.extract_if(|k, _| old(k)).map_err(err)?.count();
            settled.extract_if(|k, _| old(k)).map_err(err)?.count();
        }
        txn.commit().map_err(err)?;
        Ok(removed)
    }

    /// The keeper's address lookup table, once one was created.
    pub fn lookup_table(&self) -> Result<Option<Pubkey>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let meta = txn.open_table(META).map_err(err)?;
        let Some(value) = meta.get(LOOKUP_TABLE).map_err(err)? else {
            return Ok(None);
        };
        let bytes: [u8; 32] = value
            .value()
            .try_into()
            .map_err(|_| err("the stored lookup table address is not 32 bytes"))?;
        Ok(Some(Pubkey::new_from_array(bytes)))
    }

    /// Records the table before the transaction creating it is sent, so a crash cannot leave
    /// a table the keeper forgot (a table that never landed is replaced on the next use).
    pub fn set_lookup_table(&self, address: &Pubkey) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        txn.open_table(META)
            .map_err(err)?
            .insert(LOOKUP_TABLE, address.as_ref())
            .map_err(err)?;
        txn.commit().map_err(err)
    }
}
