//! The CLI's view of a cluster: the stock Solana RPC client plus the few helpers every
//! command needs (send and confirm, decode program accounts).
use anchor_lang::prelude::Pubkey;
use anchor_lang::AccountDeserialize;
use anyhow::{anyhow, Context, Result};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;
use solana_transaction::{Instruction, Signature, Transaction};

/// Turns the Solana CLI's cluster monikers into URLs.
pub fn cluster_url(url_or_moniker: &str) -> String {
    match url_or_moniker {
        "localhost" | "l" => "http://127.0.0.1:8899".into(),
        "devnet" | "d" => "https://api.devnet.solana.com".into(),
        "mainnet-beta" | "m" => "https://api.mainnet-beta.solana.com".into(),
        "testnet" | "t" => "https://api.testnet.solana.com".into(),
        url => url.into(),
    }
}

pub struct Rpc {
    pub client: RpcClient,
    pub url: String,
}

impl Rpc {
    pub fn new(url: &str, commitment: CommitmentConfig) -> Self {
        let url = cluster_url(url);
        Rpc {
            client: RpcClient::new_with_commitment(url.clone(), commitment),
            url,
        }
    }

    /// Fails with a clear message when the endpoint does not answer.
    pub async fn check_reachable(&self) -> Result<()> {
        self.client
            .get_version()
            .await
            .map(|_| ())
            .with_context(|| format!("cannot reach the Solana RPC endpoint at {}", self.url))
    }

    pub async fn account(&self, address: &Pubkey) -> Result<Option<solana_account::Account>> {
        let response = self
            .client
            .get_account_with_commitment(address, self.client.commitment())
            .await
            .with_context(|| format!("reading account {address} from {}", self.url))?;
        Ok(response.value)
    }

    /// Fetches and decodes an Anchor account.
    pub async fn decode<T: AccountDeserialize>(&self, address: &Pubkey) -> Result<T> {
        let account = self
            .account(address)
            .await?
            .ok_or_else(|| anyhow!("account {address} does not exist"))?;
        media_sdk::decode::account(&account.data).map_err(|e| anyhow!("{address}: {e}"))
    }

    pub async fn rent_exempt(&self, len: usize) -> Result<u64> {
        Ok(self
            .client
            .get_minimum_balance_for_rent_exemption(len)
            .await?)
    }

    /// Signs with `payer` (fee payer) and `others`, sends, and waits for confirmation.
    pub async fn send(
        &self,
        instructions: &[Instruction],
        payer: &Keypair,
        others: &[&Keypair],
    ) -> Result<Signature> {
        let blockhash = self.client.get_latest_blockhash().await?;
        let mut signers: Vec<&Keypair> = vec![payer];
        signers.extend_from_slice(others);
        let tx = Transaction::new_signed_with_payer(
            instructions,
            Some(&payer.pubkey()),
            &signers,
            blockhash,
        );
        Ok(self.client.send_and_confirm_transaction(&tx).await?)
    }
}
