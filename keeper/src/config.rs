//! The keeper's configuration: a TOML file, flags override it.
use crate::crank::Switches;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeeperConfig {
    pub listen: SocketAddr,
    /// The keeper's keypair: pays for settlement and cranks, earns the keeper fee.
    pub keypair: PathBuf,
    /// RPC URL or moniker (localhost, devnet, mainnet-beta).
    pub rpc_url: String,
    pub store: PathBuf,
    /// Receipts per settlement transaction (2 fit a legacy transaction).
    pub receipts_per_tx: usize,
    /// Attempts per settlement transaction within one round.
    pub attempts: u32,
    pub settle_interval_ms: u64,
    pub crank_interval_secs: u64,
    pub chain_refresh_secs: u64,
    pub cranks: Switches,
}

impl Default for KeeperConfig {
    fn default() -> Self {
        KeeperConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            keypair: PathBuf::from("keeper.json"),
            rpc_url: "localhost".into(),
            store: PathBuf::from("keeper.redb"),
            receipts_per_tx: 2,
            attempts: 3,
            settle_interval_ms: 2_000,
            crank_interval_secs: 5,
            chain_refresh_secs: 5,
            cranks: Switches::default(),
        }
    }
}

impl KeeperConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read keeper config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("keeper config {}", path.display()))
    }

    pub fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            (1..=3).contains(&self.receipts_per_tx),
            "receipts_per_tx must be 1 to 3 (a transaction holds at most 1,232 bytes)"
        );
        anyhow::ensure!(
            self.settle_interval_ms > 0,
            "settle_interval_ms must be positive"
        );
        Ok(())
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
