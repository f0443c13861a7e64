//! What every command gets: the cluster, the output format and the signer's keypair path.
use crate::wallet;
use anchor_lang::prelude::Pubkey;
use anyhow::{anyhow, Context as _, Result};
use media_network::state::Config;
use media_sdk::client::Cluster;
use media_sdk::pda;
use serde_json::Value;
use solana_keypair::Keypair;
use std::path::PathBuf;

pub struct Ctx {
    pub rpc: Cluster,
    pub json: bool,
    pub keypair_path: PathBuf,
}

impl Ctx {
    /// The keypair that signs and pays; read on demand so read-only commands need none.
    pub fn signer(&self) -> Result<Keypair> {
        wallet::load(&self.keypair_path)
    }

    /// The protocol's config, after checking the cluster answers and is bootstrapped.
    pub async fn config(&self) -> Result<Config> {
        self.check_reachable().await?;
        self.rpc.try_decode(&pda::config()).await?.ok_or_else(|| {
            anyhow!(
                "Media Network is not initialized on {} (no config account {}); \
                     run the bootstrap in migrations/ or use `media localnet`",
                self.rpc.url,
                pda::config()
            )
        })
    }

    pub async fn check_reachable(&self) -> Result<()> {
        self.rpc
            .check_reachable()
            .await
            .with_context(|| format!("cannot reach the Solana RPC endpoint at {}", self.rpc.url))
    }

    /// The decimals of a token mint.
    pub async fn decimals(&self, mint: &Pubkey) -> Result<u8> {
        use anchor_lang::solana_program::program_pack::Pack;
        let account = self
            .rpc
            .account(mint)
            .await?
            .ok_or_else(|| anyhow!("mint {mint} does not exist"))?;
        let state = anchor_spl::token::spl_token::state::Mint::unpack_from_slice(&account.data)
            .with_context(|| format!("{mint} is not a token mint"))?;
        Ok(state.decimals)
    }

    pub fn report(&self, json: Value, text: impl FnOnce() -> String) {
        crate::output::report(self.json, json, text)
    }
}
