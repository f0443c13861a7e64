//! The gateway's durable record (redb, committed before any answer): per (relay node key,
//! epoch, session) the bytes acknowledged so far, per session its total across relays and
//! epochs (bounded by the token's `max_bytes`), and per (node key, epoch) what was co-signed.
use anchor_lang::prelude::Pubkey;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

/// node key (32) ‖ epoch (8, big-endian so keys sort by epoch) ‖ session key (32) → bytes.
const ACKED: TableDefinition<&[u8], u64> = TableDefinition::new("acked");
/// session key (32) → bytes counted over every relay and epoch.
const SESSION_TOTALS: TableDefinition<&[u8], u64> = TableDefinition::new("session_totals");
/// node key (32) ‖ epoch (8, BE) → cumulative co-signed.
const COSIGNED: TableDefinition<&[u8], u64> = TableDefinition::new("cosigned");

pub use media_service::StoreError;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new("gateway", e)
}

fn lane_key(node_key: &Pubkey, epoch: u64) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..32].copy_from_slice(node_key.as_ref());
    key[32..].copy_from_slice(&epoch.to_be_bytes());
    key
}

fn session_key(node_key: &Pubkey, epoch: u64, session: &Pubkey) -> [u8; 72] {
    let mut key = [0u8; 72];
    key[..40].copy_from_slice(&lane_key(node_key, epoch));
    key[40..].copy_from_slice(session.as_ref());
    key
}

/// One session's acknowledged bytes as the relay shows them.
#[derive(Debug, Clone, Copy)]
pub struct Shown {
    pub session: Pubkey,
    pub cumulative: u64,
    pub max_bytes: u64,
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
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = media_service::kv::open(path, "gateway", |txn| {
            txn.open_table(ACKED)?;
            txn.open_table(SESSION_TOTALS)?;
            txn.open_table(COSIGNED)?;
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
        let justified;
        {
            let mut acked = txn.open_table(ACKED).map_err(err)?;
            let mut totals = txn.open_table(SESSION_TOTALS).map_err(err)?;
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
                totals
                    .insert(s.session.as_ref(), total + delta)
                    .map_err(err)?;
            }
            let lane = lane_key(node_key, epoch);
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
        txn.commit().map_err(err)?;
        Ok(Recorded { justified, capped })
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
            &lane_key(node_key, epoch),
            cumulative,
        )
    }

    /// The last co-signed cumulative of a node key and epoch.
    pub fn last_cosigned(&self, node_key: &Pubkey, epoch: u64) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(COSIGNED).map_err(err)?;
        Ok(table
            .get(&lane_key(node_key, epoch)[..])
            .map_err(err)?
            .map_or(0, |v| v.value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Store, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "media-gateway-store-{}-{}.redb",
            std::process::id(),
            Pubkey::new_unique()
        ));
        (Store::open(&path).unwrap(), path)
    }

    #[test]
    fn sessions_count_once_grow_only_and_stop_at_max_bytes() {
        let (store, path) = store();
        let node = Pubkey::new_unique();
        let other_node = Pubkey::new_unique();
        let a = Pubkey::new_unique();
        let b = Pubkey::new_unique();
        let shown = |session, cumulative| Shown {
            session,
            cumulative,
            max_bytes: 1_000,
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
        let reopened = Store::open(&path).unwrap();
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
        std::fs::remove_file(path).unwrap();
    }
}
