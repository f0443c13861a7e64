//! The relay's command-line flags, shared by the `media-relay` binary and `media relay`: a
//! TOML file (`--config`) with the flags laid over it.
use crate::config::RelayConfig;
use std::path::PathBuf;
use url::Url;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct RelayFlags {
    #[command(flatten)]
    pub service: media_service::settings::ServiceFlags,
    /// The relay's node key (Solana keypair file); it signs receipts and opens lanes.
    #[arg(long)]
    pub node_keypair: Option<PathBuf>,
    /// A keeper's ingest URL (repeatable).
    #[arg(long = "keeper")]
    pub keepers: Vec<Url>,
    /// The memory cache's budget in bytes.
    #[arg(long, alias = "cache-bytes")]
    pub memory_cache_bytes: Option<u64>,
    /// Keep a disk cache in this directory (see also disk_cache_bytes in the file).
    #[arg(long)]
    pub disk_cache_dir: Option<PathBuf>,
    /// Bytes a viewer session may run ahead of its last viewer receipt.
    #[arg(long)]
    pub credit_window: Option<u64>,
}

impl RelayFlags {
    /// The configuration file's settings with the flags (and `rpc_url`) over them, validated.
    pub fn config(&self, rpc_url: Option<String>) -> anyhow::Result<RelayConfig> {
        let mut config: RelayConfig = self.service.load()?;
        if let Some(path) = &self.node_keypair {
            config.node_keypair = path.clone();
        }
        if let Some(url) = rpc_url {
            config.service.rpc_url = Some(url);
        }
        if !self.keepers.is_empty() {
            config.keepers = self.keepers.clone();
        }
        if let Some(bytes) = self.memory_cache_bytes {
            config.memory_cache_bytes = bytes;
        }
        if let Some(dir) = &self.disk_cache_dir {
            config.disk_cache_dir = Some(dir.clone());
        }
        if let Some(bytes) = self.credit_window {
            config.credit_window_bytes = bytes;
        }
        config.validate()?;
        Ok(config)
    }

    /// Binds the configured address and serves until Ctrl-C or SIGTERM.
    pub async fn run(&self, rpc_url: Option<String>) -> anyhow::Result<()> {
        let config = self.config(rpc_url)?;
        let listener = media_service::settings::bind(config.service.listen).await?;
        tracing::info!(address = %listener.local_addr()?, "relay listening");
        crate::run(config, listener, crate::shutdown_signal()).await
    }
}
