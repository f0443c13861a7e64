//! `media relay`: the relay node (`media-relay`) from the `media` command line.
use anyhow::Result;
use media_relay::cli::RelayFlags;

#[derive(clap::Args)]
pub struct RelayArgs {
    #[command(flatten)]
    pub flags: RelayFlags,
    /// Solana RPC endpoint (URL or localhost/devnet/mainnet-beta); overrides the config's
    /// `rpc_url`. The relay does not use the global -u/--url (as `media gateway`, a service
    /// reads its cluster from its own configuration).
    #[arg(long)]
    pub rpc_url: Option<String>,
}

impl RelayArgs {
    /// Runs until Ctrl-C or SIGTERM.
    pub async fn run(self) -> Result<()> {
        self.flags.run(self.rpc_url).await
    }
}
