//! The gateway's durable record (redb, committed before any answer): per (relay node key,
//! epoch, session) the bytes acknowledged so far, per session its total across relays and
//! epochs (bounded by the token's `max_bytes`), and per (node key, epoch) what was co-signed.
//! Records of epochs that can no longer settle, and totals of sessions whose tokens can no
//! longer be shown, are pruned.
use anchor_lang::prelude::Pubkey;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

/// node key (32) ‖ epoch (8, big-endian so keys sort by epoch) ‖ session key (32) → bytes.
const ACKED: TableDefinition<&[u8], u64> = TableDefinition::new("acked");
/// session key (32) → bytes counted over every relay and epoch.
const SESSION_TOTALS: TableDefinition<&[u8], u64> = TableDefinition::new("session_totals");
/// node key (32) ‖ epoch (8, BE) → cumulative co-signed.
const COSIGNED: TableDefinition<&[u8], u64> = TableDefinition::new("cosigned");
/// token expiry (8, BE unix time, so keys sort by it) ‖ session key (32): when each counted
/// session's total may be forgotten.
const SESSION_EXPIRY: TableDefinition<&[u8], ()> = TableDefinition::new("session_expiry");
/// epoch (8, BE) → cumulative co-signed over every relay (the per-epoch ceiling).
const EPOCH_COSIGNED: TableDefinition<u64, u64> = TableDefinition::new("epoch_cosigned");
/// node key (32) → its history: the latest epoch it was co-signed in, the most it was
/// co-signed in any epoch before that one, and in that one (3 × u64 LE). A relay new to
/// the gateway starts small and grows with what it was co-signed before.
const RELAY_HISTORY: TableDefinition<&[u8], [u8; 24]> = TableDefinition::new("relay_history");

/// How much the gateway co-signs at most (review C1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CosignLimits {
    /// For one relay in one epoch, however long it has been known.
    pub max_bytes_per_relay_epoch: u64,
    /// For a relay in its first epoch here; later it may get this plus twice its best
    /// earlier epoch.
    pub new_relay_bytes: u64,
    /// For all relays together in one epoch.
    pub max_cosigned_bytes_per_epoch: u64,
    /// Whether relays' ceilings grow with their history: only when epochs are checked
    /// against the chain, or made-up epochs could build a history.
    pub grow: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct RelayHistory {
    epoch: u64,
    proven_before: u64,
    best_in_epoch: u64,
}

impl RelayHistory {
    fn decode(bytes: [u8; 24]) -> Self {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        RelayHistory {
            epoch: word(0),
            proven_before: word(1),
            best_in_epoch: word(2),
        }
    }

    fn encode(&self) -> [u8; 24] {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&self.epoch.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.proven_before.to_le_bytes());
        bytes[16..].copy_from_slice(&self.best_in_epoch.to_le_bytes());
        bytes
    }

    /// The most co-signed in an epoch before `epoch`, as far as the history tells.
    fn proven_for(&self, epoch: u64) -> u64 {
        if epoch > self.epoch {
            self.proven_before.max(self.best_in_epoch)
        } else {
            self.proven_before
        }
    }
}

use media_service::store_key;
pub use media_service::StoreError;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new("gateway", e)
}

/// node key ‖ epoch.
fn relay_epoch_key(node_key: &Pubkey, epoch: u64) -> [u8; 40] {
    store_key::key_epoch(node_key, epoch)
}

/// The epoch of a `node key ‖ epoch …` key; a key too short to hold one reads as epoch 0, so
/// pruning drops it.
fn epoch_of_relay_epoch_key(key: &[u8]) -> u64 {
    store_key::epoch_after_key(key).unwrap_or(0)
}

/// expiry ‖ session key.
fn expiry_key(expires_at: i64, session: &Pubkey) -> [u8; 40] {
    store_key::time_key(expires_at, session)
}

/// node key ‖ epoch ‖ session key.
fn session_key(node_key: &Pubkey, epoch: u64, session: &Pubkey) -> [u8; 72] {
    store_key::key_epoch_key(node_key, epoch, session)
}

/// One session's acknowledged bytes as the relay shows them.
#[derive(Debug, Clone, Copy)]
pub struct Shown {
    pub session: Pubkey,
    pub cumulative: u64,
    pub max_bytes: u64,
    /// When the session's token expires (unix time).
    pub expires_at: i64,
}

/// What recording a batch counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Sum of every session's acknowledged bytes for this node key and epoch.
    pub justified: u64,
    /// Sessions whose bytes were cut at their `max_bytes`.
    pub capped: Vec<Pubkey>,
}

pub struct Store {
    db: Database,
}

impl Store {
    /// A small unsynced write that fails once the database has had an I/O error.
    pub fn probe(&self) -> Result<(), StoreError> {
        media_service::kv::probe(&self.db, "gateway")
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = media_service::kv::open(path, "gateway", |txn| {
            txn.open_table(ACKED)?;
            txn.open_table(SESSION_TOTALS)?;
            txn.open_table(COSIGNED)?;
            txn.open_table(SESSION_EXPIRY)?;
            txn.open_table(EPOCH_COSIGNED)?;
            txn.open_table(RELAY_HISTORY)?;
            Ok(())
        })?;
        Ok(Store { db })
    }

    /// Records the sessions' acknowledgements for `node_key` in `epoch` in one transaction:
    /// each only grows, and a session's total never passes its `max_bytes`. Returns what the
    /// whole record now justifies.
    pub fn record(
        &self,
        node_key: &Pubkey,
        epoch: u64,
        shown: &[Shown],
    ) -> Result<Recorded, StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        let mut capped = Vec::new();
        let mut changed = false;
        let justified;
        {
            let mut acked = txn.open_table(ACKED).map_err(err)?;
            let mut totals = txn.open_table(SESSION_TOTALS).map_err(err)?;
            let mut expiry = txn.open_table(SESSION_EXPIRY).map_err(err)?;
            for s in shown {
                let key = session_key(node_key, epoch, &s.session);
                let before = acked.get(&key[..]).map_err(err)?.map_or(0, |v| v.value());
                if s.cumulative <= before {
                    continue;
                }
                let total = totals
                    .get(s.session.as_ref())
                    .map_err(err)?
                    .map_or(0, |v| v.value());
                let room = s.max_bytes.saturating_sub(total);
                let delta = (s.cumulative - before).min(room);
                if delta < s.cumulative - before {
                    capped.push(s.session);
                }
                if delta == 0 {
                    continue;
                }
                acked.insert(&key[..], before + delta).map_err(err)?;
                changed = true;
                // A session's first bytes. (A token re-issued to the same session key with a
                // later expiry shares this entry: once it is pruned, the session counts afresh,
                // as a new session would.)
                if total == 0 {
                    expiry
                        .insert(&expiry_key(s.expires_at, &s.session)[..], ())
                        .map_err(err)?;
                }
                totals
                    .insert(s.session.as_ref(), total + delta)
                    .map_err(err)?;
            }
            let lane = relay_epoch_key(node_key, epoch);
            let mut sum: u64 = 0;
            // Sessions of this node key and epoch: keys from lane‖0… to the next epoch's.
            let start = session_key(node_key, epoch, &Pubkey::default());
            let end = {
                let mut e = [0xffu8; 72];
                e[..40].copy_from_slice(&lane);
                e
            };
            for entry in acked.range(&start[..]..=&end[..]).map_err(err)? {
                let (_, value) = entry.map_err(err)?;
                sum = sum.saturating_add(value.value());
            }
            justified = sum;
        }
        // Nothing new (a replay, or sessions that were all refused): nothing is written or
        // synced for it (review M3).
        if changed {
            txn.commit().map_err(err)?;
        } else {
            txn.abort().map_err(err)?;
        }
        Ok(Recorded { justified, capped })
    }

    /// Co-signs `node_key` in `epoch` up to what the record `justified`, within `limits`, in
    /// one transaction; returns the cumulative to sign (never lower than before). Nothing is
    /// written when it does not grow.
    pub fn cosign_within(
        &self,
        node_key: &Pubkey,
        epoch: u64,
        justified: u64,
        limits: &CosignLimits,
    ) -> Result<u64, StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        let lane = relay_epoch_key(node_key, epoch);
        let (before, target) = {
            let mut cosigned = txn.open_table(COSIGNED).map_err(err)?;
            let mut totals = txn.open_table(EPOCH_COSIGNED).map_err(err)?;
            let mut history = txn.open_table(RELAY_HISTORY).map_err(err)?;
            let before = cosigned
                .get(&lane[..])
                .map_err(err)?
                .map_or(0, |v| v.value());
            let epoch_total = totals.get(epoch).map_err(err)?.map_or(0, |v| v.value());
            let mut record = history
                .get(node_key.as_ref())
                .map_err(err)?
                .map(|v| RelayHistory::decode(v.value()))
                .unwrap_or_default();
            let relay_cap = if limits.grow {
                limits
                    .new_relay_bytes
                    .saturating_add(record.proven_for(epoch).saturating_mul(2))
            } else {
                limits.new_relay_bytes
            }
            .min(limits.max_bytes_per_relay_epoch);
            let epoch_room = limits
                .max_cosigned_bytes_per_epoch
                .saturating_sub(epoch_total);
            let target = justified
                .min(relay_cap)
                .min(before.saturating_add(epoch_room))
                .max(before);
            if target > before {
                cosigned.insert(&lane[..], target).map_err(err)?;
                totals
                    .insert(epoch, epoch_total.saturating_add(target - before))
                    .map_err(err)?;
                if epoch > record.epoch {
                    record = RelayHistory {
                        epoch,
                        proven_before: record.proven_for(epoch),
                        best_in_epoch: 0,
                    };
                }
                if epoch == record.epoch {
                    record.best_in_epoch = record.best_in_epoch.max(target);
                }
                history
                    .insert(node_key.as_ref(), record.encode())
                    .map_err(err)?;
            }
            (before, target)
        };
        if target > before {
            txn.commit().map_err(err)?;
        } else {
            txn.abort().map_err(err)?;
        }
        Ok(target)
    }

    /// Remembers a co-signature; the co-signed cumulative of a node key and epoch only grows.
    pub fn cosigned(
        &self,
        node_key: &Pubkey,
        epoch: u64,
        cumulative: u64,
    ) -> Result<u64, StoreError> {
        media_service::kv::raise(
            &self.db,
            "gateway",
            COSIGNED,
            &relay_epoch_key(node_key, epoch),
            cumulative,
        )
    }

    /// Forgets what was acknowledged and co-signed in epochs before `epoch` (they can no
    /// longer settle). Returns how many records went.
    pub fn prune_epochs_before(&self, epoch: u64) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        let removed;
        {
            let mut acked = txn.open_table(ACKED).map_err(err)?;
            let mut cosigned = txn.open_table(COSIGNED).map_err(err)?;
            let mut totals = txn.open_table(EPOCH_COSIGNED).map_err(err)?;
            let _old_totals = totals.extract_if(|e, _| e < epoch).map_err(err)?.count();
            removed = acked
                .extract_if(|k, _| epoch_of_relay_epoch_key(k) < epoch)
                .map_err(err)?
                .count()
                + cosigned
                    .extract_if(|k, _| epoch_of_relay_epoch_key(k) < epoch)
                    .map_err(err)?
                    .count();
        }
        txn.commit().map_err(err)?;
        Ok(removed)
    }

    /// Forgets the totals of sessions whose tokens expired before `cutoff` (unix time): the
    /// gateway no longer accepts their receipts. Returns how many sessions went.
    pub fn prune_sessions_expired_before(&self, cutoff: i64) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        let mut removed = 0;
        {
            let mut expiry = txn.open_table(SESSION_EXPIRY).map_err(err)?;
            let mut totals = txn.open_table(SESSION_TOTALS).map_err(err)?;
            let end = expiry_key(cutoff, &Pubkey::default());
            let expired = expiry
                .extract_from_if(..&end[..], |_, _| true)
                .map_err(err)?;
            for entry in expired {
                let (key, _) = entry.map_err(err)?;
                totals.remove(&key.value()[8..]).map_err(err)?;
                removed += 1;
            }
        }
        txn.commit().map_err(err)?;
        Ok(removed)
    }

    /// The last co-signed cumulative of a node key and epoch.
    pub fn last_cosigned(&self, node_key: &Pubkey, epoch: u64) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(COSIGNED).map_err(err)?;
        Ok(table
            .get(&relay_epoch_key(node_key, epoch)[..])
            .map_err(err)?
            .map_or(0, |v| v.value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in a fresh directory, removed when the returned guard drops.
    fn store() -> (Store, media_service::TempStores) {
        let stores = media_service::TempStores::new("gateway-store").unwrap();
        (Store::open(&stores.path("store")).unwrap(), stores)
    }

    #[test]
    fn sessions_count_once_grow_only_and_stop_at_max_bytes() {
        let (store, stores) = store();
        let node = Pubkey::new_unique();
        let other_node = Pubkey::new_unique();
        let a = Pubkey::new_unique();
        let b = Pubkey::new_unique();
        let shown = |session, cumulative| Shown {
            session,
            cumulative,
            max_bytes: 1_000,
            expires_at: 1_000_000,
        };
        let r = store
            .record(&node, 4, &[shown(a, 300), shown(b, 200)])
            .unwrap();
        assert_eq!(r.justified, 500);
        // The same receipts again, and an older one: nothing new.
        let r = store
            .record(&node, 4, &[shown(a, 300), shown(b, 100)])
            .unwrap();
        assert_eq!(r.justified, 500);
        // Another relay serving session a: together they stop at a's max_bytes.
        let r = store.record(&other_node, 4, &[shown(a, 900)]).unwrap();
        assert_eq!(r.justified, 700);
        assert_eq!(r.capped, vec![a]);
        // Other epochs and node keys are apart.
        assert_eq!(store.record(&node, 5, &[]).unwrap().justified, 0);
        assert_eq!(store.record(&node, 4, &[]).unwrap().justified, 500);
        drop(store);
        let reopened = Store::open(&stores.path("store")).unwrap();
        assert_eq!(
            reopened.record(&other_node, 4, &[]).unwrap().justified,
            700,
            "durable"
        );
        assert_eq!(reopened.cosigned(&node, 4, 500).unwrap(), 500);
        assert_eq!(
            reopened.cosigned(&node, 4, 400).unwrap(),
            500,
            "never goes back"
        );
    }

    #[test]
    fn epochs_that_cannot_settle_are_forgotten_and_the_others_kept() {
        let (store, _stores) = store();
        let (node, other_node) = (Pubkey::new_unique(), Pubkey::new_unique());
        let shown = |cumulative| Shown {
            session: Pubkey::new_unique(),
            cumulative,
            max_bytes: 1_000,
            expires_at: 1_000_000,
        };
        for epoch in 3..=5 {
            store.record(&node, epoch, &[shown(100 * epoch)]).unwrap();
            store
                .record(&other_node, epoch, &[shown(10 * epoch)])
                .unwrap();
            store.cosigned(&node, epoch, 100 * epoch).unwrap();
        }
        // Epoch 3 of both relays: two acknowledgements and one co-signature.
        assert_eq!(store.prune_epochs_before(4).unwrap(), 3);
        assert_eq!(store.last_cosigned(&node, 3).unwrap(), 0);
        assert_eq!(store.record(&node, 3, &[]).unwrap().justified, 0);
        assert_eq!(store.record(&other_node, 3, &[]).unwrap().justified, 0);
        assert_eq!(store.last_cosigned(&node, 4).unwrap(), 400);
        assert_eq!(store.record(&node, 4, &[]).unwrap().justified, 400);
        assert_eq!(store.record(&other_node, 5, &[]).unwrap().justified, 50);
        assert_eq!(store.prune_epochs_before(4).unwrap(), 0);
    }

    #[test]
    fn a_sessions_total_is_forgotten_only_once_its_token_is_past_use() {
        let (store, _stores) = store();
        let node = Pubkey::new_unique();
        let (early, late) = (Pubkey::new_unique(), Pubkey::new_unique());
        let shown = |session, cumulative, expires_at| Shown {
            session,
            cumulative,
            max_bytes: 1_000,
            expires_at,
        };
        store
            .record(&node, 7, &[shown(early, 900, 100), shown(late, 900, 200)])
            .unwrap();
        assert_eq!(store.prune_sessions_expired_before(100).unwrap(), 0);
        assert_eq!(store.prune_sessions_expired_before(150).unwrap(), 1);
        // The late session still counts against its max_bytes: 900 of 1,000 are used.
        let r = store.record(&node, 8, &[shown(late, 500, 200)]).unwrap();
        assert_eq!((r.justified, r.capped), (100, vec![late]));
        // The early one's total is gone (its token is no longer accepted anyway).
        let r = store.record(&node, 8, &[shown(early, 500, 100)]).unwrap();
        assert_eq!(r.justified, 600);
        assert_eq!(store.prune_sessions_expired_before(i64::MAX).unwrap(), 2);
    }
}
