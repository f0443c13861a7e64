//! The keeper's own address lookup table. Settlement accounts that repeat (Config, the keeper
//! account, the sysvar, and the lanes, providers and consumer of a busy consumer) are put in it
//! so a v0 transaction names each with one byte instead of 32. New addresses can be used from
//! the slot after they were added, as the runtime requires.
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
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Addresses per extend transaction (32 bytes each; 20 keep it well under a packet).
const EXTEND_CHUNK: usize = 20;
/// How long to wait for the slot after an extension, when new addresses become usable.
const ACTIVATION_WAIT: Duration = Duration::from_secs(5);

pub struct LookupTable {
    pub cluster: Arc<Cluster>,
    pub keeper: Keypair,
    pub store: Arc<Store>,
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
}

impl LookupTable {
    /// The table holding as many of `wanted` as it can, with only addresses already usable;
    /// creates the table on first use and extends it with what is missing.
    pub async fn with(&self, wanted: &[Pubkey]) -> anyhow::Result<AddressLookupTableAccount> {
        let (address, held) = match self.read_stored().await? {
            Some(found) => found,
            None => (self.create().await?, Held::default()),
        };
        let mut missing: Vec<Pubkey> = wanted
            .iter()
            .filter(|k| !held.addresses.contains(k))
            .copied()
            .collect();
        missing.dedup();
        let room = LOOKUP_TABLE_MAX_ADDRESSES.saturating_sub(held.addresses.len());
        if missing.len() > room {
            tracing::warn!(
                %address,
                missing = missing.len(),
                room,
                "the lookup table is full; some settlements go without it"
            );
            missing.truncate(room);
        }
        for chunk in missing.chunks(EXTEND_CHUNK) {
            let keeper = self.keeper.pubkey();
            let extend = extend_lookup_table(address, keeper, Some(keeper), chunk.to_vec());
            self.cluster
                .send_and_confirm(&[extend], &self.keeper, &[])
                .await?;
            counter!("media_keeper_lookup_table_addresses_total").increment(chunk.len() as u64);
        }
        let addresses = if missing.is_empty() {
            let slot = self.cluster.client.get_slot().await?;
            held.usable_at(slot).to_vec()
        } else {
            self.usable_after_extension(address).await?
        };
        Ok(AddressLookupTableAccount {
            key: address,
            addresses,
        })
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
            tracing::info!(%address, "the recorded lookup table never landed; creating another");
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

    /// The addresses usable once the slot has passed the extension (waiting briefly, so the
    /// new ones serve this round); what is usable so far if it takes longer.
    async fn usable_after_extension(&self, address: Pubkey) -> anyhow::Result<Vec<Pubkey>> {
        let deadline = Instant::now() + ACTIVATION_WAIT;
        loop {
            let held = self
                .read(&address)
                .await?
                .ok_or_else(|| anyhow::anyhow!("lookup table {address} disappeared"))?;
            let slot = self.cluster.client.get_slot().await?;
            if slot > held.last_extended_slot || Instant::now() >= deadline {
                return Ok(held.usable_at(slot).to_vec());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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
}
