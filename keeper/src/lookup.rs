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

impl LookupTable {
    /// The table holding as many of `wanted` as it can, with only addresses already usable;
    /// creates the table on first use and extends it with what is missing.
    pub async fn with(&self, wanted: &[Pubkey]) -> anyhow::Result<AddressLookupTableAccount> {
        let (address, mut held) = match self.read_stored().await? {
            Some(found) => found,
            None => (self.create().await?, Vec::new()),
        };
        let mut missing: Vec<Pubkey> = wanted
            .iter()
            .filter(|k| !held.contains(k))
            .copied()
            .collect();
        missing.dedup();
        let room = LOOKUP_TABLE_MAX_ADDRESSES.saturating_sub(held.len());
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
            held.extend_from_slice(chunk);
        }
        let usable = self.usable(address, !missing.is_empty()).await?;
        Ok(AddressLookupTableAccount {
            key: address,
            addresses: usable,
        })
    }

    /// The stored table and its addresses, if it exists on chain and is still active.
    async fn read_stored(&self) -> anyhow::Result<Option<(Pubkey, Vec<Pubkey>)>> {
        let store = self.store.clone();
        let Some(address) = tokio::task::spawn_blocking(move || store.lookup_table()).await??
        else {
            return Ok(None);
        };
        let Some(account) = self.cluster.account(&address).await? else {
            tracing::info!(%address, "the recorded lookup table never landed; creating another");
            return Ok(None);
        };
        let table = AddressLookupTable::deserialize(&account.data)
            .map_err(|e| anyhow::anyhow!("lookup table {address}: {e}"))?;
        if table.meta.deactivation_slot != u64::MAX
            || table.meta.authority != Some(self.keeper.pubkey())
        {
            tracing::warn!(%address, "the recorded lookup table is deactivated or not ours; creating another");
            return Ok(None);
        }
        Ok(Some((address, table.addresses.to_vec())))
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

    /// The addresses a transaction can use now; after an extension, waits (briefly) for the
    /// next slot so the new ones are usable in this round.
    async fn usable(&self, address: Pubkey, just_extended: bool) -> anyhow::Result<Vec<Pubkey>> {
        let deadline = Instant::now()
            + if just_extended {
                ACTIVATION_WAIT
            } else {
                Duration::ZERO
            };
        loop {
            let account = self
                .cluster
                .account(&address)
                .await?
                .ok_or_else(|| anyhow::anyhow!("lookup table {address} disappeared"))?;
            let table = AddressLookupTable::deserialize(&account.data)
                .map_err(|e| anyhow::anyhow!("lookup table {address}: {e}"))?;
            let slot = self.cluster.client.get_slot().await?;
            if slot > table.meta.last_extended_slot {
                return Ok(table.addresses.to_vec());
            }
            if Instant::now() >= deadline {
                let active = usize::from(table.meta.last_extended_slot_start_index);
                return Ok(table.addresses[..active.min(table.addresses.len())].to_vec());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
