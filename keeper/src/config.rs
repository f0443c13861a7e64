//! The keeper's configuration: a TOML file, flags override it.
use crate::crank::Switches;
use anyhow::Result;
use media_service::settings::{RefuseUnknownKeys, ServiceConfig, ServiceDefaults, ServiceSettings};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// More never fit a packet, even with every account in a lookup table.
pub const MAX_RECEIPTS_PER_TX: usize = 4;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct KeeperConfig {
    /// `listen`, `rpc_url`, `store` and `chain_refresh_secs`, at the file's top level.
    #[serde(flatten)]
    pub service: ServiceSettings<KeeperDefaults>,
    /// The keeper's keypair: pays for settlement and cranks, earns the keeper fee.
    pub keypair: PathBuf,
    /// The most receipts per settlement transaction; the keeper sends fewer when they do not
    /// fit 1,232 bytes (2 in a legacy transaction, 3 of one consumer with the lookup table).
    pub receipts_per_tx: usize,
    /// Keep an address lookup table (it costs rent and one transaction per 20 new addresses)
    /// and use it when three receipts of one consumer can then share a transaction.
    pub lookup_table: bool,
    /// Attempts per settlement transaction within one round.
    pub attempts: u32,
    pub settle_interval_ms: u64,
    pub crank_interval_secs: u64,
    pub cranks: Switches,
    /// A receipt whose keeper share (payment-mint units) would be below this waits until
    /// more is owed, so settlements that cost more than they earn are not sent; receipts the
    /// consumer's escrow cannot pay at all are never sent.
    pub min_keeper_fee: u64,
    /// `POST /receipts` per peer address (`[receipts_rate] per_minute, burst`); over it the
    /// answer is 429 before the body is read (review M3).
    pub receipts_rate: media_service::rate::PeerQuota,
    /// Refuses a key no setting took.
    #[serde(flatten)]
    pub unknown: RefuseUnknownKeys,
}

impl Default for KeeperConfig {
    fn default() -> Self {
        KeeperConfig {
            service: ServiceSettings::default(),
            keypair: PathBuf::from("keeper.json"),
            receipts_per_tx: 3,
            lookup_table: true,
            attempts: 3,
            settle_interval_ms: 2_000,
            crank_interval_secs: 5,
            cranks: Switches::default(),
            min_keeper_fee: 0,
            receipts_rate: Default::default(),
            unknown: RefuseUnknownKeys,
        }
    }
}

impl KeeperConfig {
    pub fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            (1..=MAX_RECEIPTS_PER_TX).contains(&self.receipts_per_tx),
            "receipts_per_tx must be 1 to {MAX_RECEIPTS_PER_TX} (a transaction holds at most 1,232 bytes)"
        );
        anyhow::ensure!(
            self.settle_interval_ms > 0,
            "settle_interval_ms must be positive"
        );
        Ok(())
    }
}

/// The keeper's defaults for the shared settings.
pub struct KeeperDefaults;

impl ServiceDefaults for KeeperDefaults {
    const WHAT: &'static str = "keeper config";
    fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8700))
    }
    fn store() -> PathBuf {
        PathBuf::from("keeper.redb")
    }
}

impl ServiceConfig for KeeperConfig {
    type Defaults = KeeperDefaults;
    fn service_mut(&mut self) -> &mut ServiceSettings<KeeperDefaults> {
        &mut self.service
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_parse_with_defaults_and_typos_are_errors() {
        let config: KeeperConfig = toml::from_str(
            "listen = \"0.0.0.0:9000\"\n[cranks]\nbuyback = false\nbid_max_price = 5\n",
        )
        .unwrap();
        config.validate().unwrap();
        assert!(!config.cranks.buyback && config.cranks.advance_epoch);
        assert_eq!(config.cranks.bid_max_price, Some(5));
        assert!(toml::from_str::<KeeperConfig>("reciepts_per_tx = 2").is_err());
        let bad = KeeperConfig {
            receipts_per_tx: 9,
            ..KeeperConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
