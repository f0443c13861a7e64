//! The keeper's own address lookup table. Settlement accounts that repeat (Config, the keeper
//! account, the sysvar, and the lanes, providers and consumer of a busy consumer) are put in it
//! so a v0 transaction names each with one byte instead of 32. New addresses can be used from
//! the slot after they were added, as the runtime requires; creating and extending run in the
//! background, because a settlement that waited for them could miss its epoch's window.
use crate::store::Store;
use anchor_lang::prelude::Pubkey;
use media_sdk::client::Cluster;
use metrics::counter;
use solana_address_lookup_table_interface::instruction::{
    create_lookup_table, extend_lookup_table,
};
use solana_address_lookup_table_interface::state::{
    AddressLookupTable, LOOKUP_TABLE_MAX_ADDRESSES,
};
use solana_keypair::Keypair;
use solana_message::AddressLookupTableAccount;
use solana_signer::Signer;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// Addresses per extend transaction (32 bytes each; 20 keep it well under a packet).
const EXTEND_CHUNK: usize = 20;

pub struct LookupTable {
    chain: Arc<TableOnChain>,
    /// The creation or extension under way, if any: one at a time.
    preparing: Mutex<Option<JoinHandle<()>>>,
}

/// The keeper's side of the table: where it is recorded and who may extend it.
struct TableOnChain {
    cluster: Arc<Cluster>,
    keeper: Keypair,
    store: Arc<Store>,
}

/// What the keeper knows of its table from one read.
#[derive(Debug, Clone, Default)]
struct Held {
    authority: Option<Pubkey>,
    deactivated: bool,
    addresses: Vec<Pubkey>,
    last_extended_slot: u64,
    /// Addresses before this index were usable before the last extension.
    extended_from: usize,
}

impl Held {
    fn of(table: &AddressLookupTable) -> Held {
        Held {
            authority: table.meta.authority,
            deactivated: table.meta.deactivation_slot != u64::MAX,
            addresses: table.addresses.to_vec(),
            last_extended_slot: table.meta.last_extended_slot,
            extended_from: usize::from(table.meta.last_extended_slot_start_index),
        }
    }

    /// The addresses a transaction may use at `slot`: the last extension's only from the
    /// slot after it.
    fn usable_at(&self, slot: u64) -> &[Pubkey] {
        if slot > self.last_extended_slot {
            &self.addresses
        } else {
            &self.addresses[..self.extended_from.min(self.addresses.len())]
        }
    }

    /// The addresses of `wanted` the table lacks, as many as it has room for.
    fn missing(&self, wanted: &[Pubkey]) -> Vec<Pubkey> {
        let mut missing: Vec<Pubkey> = Vec::new();
        for key in wanted {
            if !self.addresses.contains(key) && !missing.contains(key) {
                missing.push(*key);
            }
        }
        let room = LOOKUP_TABLE_MAX_ADDRESSES.saturating_sub(self.addresses.len());
        if missing.len() > room {
            tracing::warn!(
                missing = missing.len(),
                room,
                "the lookup table is full; some settlements go without it"
            );
            missing.truncate(room);
        }
        missing
    }
}

impl LookupTable {
    pub fn new(cluster: Arc<Cluster>, keeper: Keypair, store: Arc<Store>) -> LookupTable {
        LookupTable {
            chain: Arc::new(TableOnChain {
                cluster,
                keeper,
                store,
            }),
            preparing: Mutex::new(None),
        }
    }

    /// The table with the addresses a transaction may use now (`None` before it exists).
    /// Those of `wanted` it lacks are added in the background and serve a later round.
    pub async fn usable(
        &self,
        wanted: &[Pubkey],
    ) -> anyhow::Result<Option<AddressLookupTableAccount>> {
        let stored = self.chain.read_stored().await?;
        let held = stored
            .as_ref()
            .map(|(_, held)| held.clone())
            .unwrap_or_default();
        let missing = held.missing(wanted);
        if stored.is_none() || !missing.is_empty() {
            self.prepare(stored.as_ref().map(|(address, _)| *address), missing);
        }
        let Some((address, held)) = stored else {
            return Ok(None);
        };
        let slot = self.chain.cluster.client.get_slot().await?;
        Ok(Some(AddressLookupTableAccount {
            key: address,
            addresses: held.usable_at(slot).to_vec(),
        }))
    }

    /// Waits for the creation or extension under way, if any.
    pub async fn prepared(&self) {
        let handle = self
            .preparing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    }

    /// Creates the table (when `address` is `None`) and adds `missing`, in the background,
    /// unless that is already under way.
    fn prepare(&self, address: Option<Pubkey>, missing: Vec<Pubkey>) {
        let mut preparing = self.preparing.lock().unwrap_or_else(|e| e.into_inner());
        if preparing.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let chain = self.chain.clone();
        *preparing = Some(tokio::spawn(async move {
            if let Err(e) = chain.prepare(address, &missing).await {
                tracing::warn!(error = %e, "preparing the lookup table failed; a later round tries again");
            }
        }));
    }
}

impl TableOnChain {
    async fn prepare(&self, address: Option<Pubkey>, missing: &[Pubkey]) -> anyhow::Result<()> {
        let address = match address {
            Some(address) => address,
            None => self.create().await?,
        };
        for chunk in missing.chunks(EXTEND_CHUNK) {
            let keeper = self.keeper.pubkey();
            let extend = extend_lookup_table(address, keeper, Some(keeper), chunk.to_vec());
            self.cluster
                .send_and_confirm(&[extend], &self.keeper, &[])
                .await?;
            counter!("media_keeper_lookup_table_addresses_total").increment(chunk.len() as u64);
        }
        if !missing.is_empty() {
            tracing::info!(%address, added = missing.len(), "extended the lookup table");
        }
        Ok(())
    }

    async fn read(&self, address: &Pubkey) -> anyhow::Result<Option<Held>> {
        let Some(account) = self.cluster.account(address).await? else {
            return Ok(None);
        };
        let table = AddressLookupTable::deserialize(&account.data)
            .map_err(|e| anyhow::anyhow!("lookup table {address}: {e}"))?;
        Ok(Some(Held::of(&table)))
    }

    /// The stored table and its addresses, if it exists on chain and is still active.
    async fn read_stored(&self) -> anyhow::Result<Option<(Pubkey, Held)>> {
        let store = self.store.clone();
        let Some(address) = tokio::task::spawn_blocking(move || store.lookup_table()).await??
        else {
            return Ok(None);
        };
        let Some(held) = self.read(&address).await? else {
            // Its creation may still be under way; if it failed, the next preparation replaces it.
            tracing::debug!(%address, "the recorded lookup table is not on chain");
            return Ok(None);
        };
        if held.deactivated || held.authority != Some(self.keeper.pubkey()) {
            tracing::warn!(%address, "the recorded lookup table is deactivated or not ours; creating another");
            return Ok(None);
        }
        Ok(Some((address, held)))
    }

    async fn create(&self) -> anyhow::Result<Pubkey> {
        let keeper = self.keeper.pubkey();
        let recent_slot = self.cluster.client.get_slot().await?;
        let (create, address) = create_lookup_table(keeper, keeper, recent_slot);
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.set_lookup_table(&address)).await??;
        self.cluster
            .send_and_confirm(&[create], &self.keeper, &[])
            .await?;
        tracing::info!(%address, "created the keeper's address lookup table");
        Ok(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_extension_is_usable_only_from_the_next_slot() {
        let addresses: Vec<Pubkey> = (0..5).map(|_| Pubkey::new_unique()).collect();
        let held = Held {
            addresses: addresses.clone(),
            authority: None,
            deactivated: false,
            last_extended_slot: 40,
            extended_from: 3,
        };
        assert_eq!(held.usable_at(40), &addresses[..3]);
        assert_eq!(held.usable_at(41), &addresses[..]);
        assert!(Held::default().usable_at(0).is_empty());
    }

    /// L10: a full table asks for nothing more (no extension that would fail on chain), and a
    /// table with room asks for exactly what it lacks, once each.
    #[test]
    fn l10_a_full_table_is_not_extended_and_room_is_filled_once() {
        let full = Held {
            addresses: (0..LOOKUP_TABLE_MAX_ADDRESSES)
                .map(|_| Pubkey::new_unique())
                .collect(),
            ..Held::default()
        };
        let newcomer = Pubkey::new_unique();
        assert!(full.missing(&[newcomer, full.addresses[0]]).is_empty());
        let mut almost = full.clone();
        almost.addresses.truncate(LOOKUP_TABLE_MAX_ADDRESSES - 1);
        let other = Pubkey::new_unique();
        assert_eq!(
            almost.missing(&[newcomer, newcomer, almost.addresses[3], other]),
            vec![newcomer]
        );
    }
}
