//! The gateway's configuration (TOML; `media gateway` flags override it).
use anchor_lang::prelude::Pubkey;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

fn base58_pubkey<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Pubkey>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    text.map(|t| {
        t.parse()
            .map_err(|_| serde::de::Error::custom(format!("{t:?} is not a base58 public key")))
    })
    .transpose()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    /// The consumer's receipt signer keypair (Solana keypair file).
    pub receipt_signer_keypair: PathBuf,
    /// The consumer's owner address.
    #[serde(deserialize_with = "base58_pubkey")]
    pub consumer: Option<Pubkey>,
    /// The durable record (redb file).
    pub store: PathBuf,
    /// Viewers must send `Authorization: Bearer <secret>` for a token; absent: open (demos).
    pub shared_secret: Option<String>,
    pub token_ttl_secs: i64,
    pub max_bytes_per_session: u64,
    pub max_bytes_per_relay_epoch: u64,
    pub expiry_grace_secs: i64,
    /// Solana RPC endpoint to read the current epoch from, so the records of epochs that can
    /// no longer settle are pruned; absent: they are kept.
    pub rpc_url: Option<String>,
    /// Seconds between pruning passes.
    pub prune_interval_secs: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            receipt_signer_keypair: PathBuf::from("receipt-signer.json"),
            consumer: None,
            store: PathBuf::from("gateway.redb"),
            shared_secret: None,
            token_ttl_secs: 3_600,
            max_bytes_per_session: 10 << 30,
            max_bytes_per_relay_epoch: u64::MAX,
            expiry_grace_secs: 3_600,
            rpc_url: None,
            prune_interval_secs: 60,
        }
    }
}

impl GatewayConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read gateway config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("gateway config {}", path.display()))
    }

    pub fn validate(&self) -> Result<Pubkey> {
        let Some(consumer) = self.consumer else {
            bail!("no consumer configured: set `consumer` (the consumer's owner address) or --consumer");
        };
        if self.token_ttl_secs <= 0 {
            bail!("token_ttl_secs must be positive");
        }
        if self.prune_interval_secs == 0 {
            bail!("prune_interval_secs must be more than 0");
        }
        if self.max_bytes_per_session == 0 {
            bail!("max_bytes_per_session must be more than 0");
        }
        Ok(consumer)
    }
}
