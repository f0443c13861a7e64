//! A cluster seen through the stock Solana RPC client: typed reads of the programs' accounts,
//! token balances, and send-and-confirm. Shared by the CLI, the bootstrap, keeper and relay.
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::{AccountDeserialize, Discriminator};
use solana_account::Account;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_message::{v0, AddressLookupTableAccount, VersionedMessage};
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::client_error::Error as ClientError;
use solana_rpc_client_api::config::{RpcAccountInfoConfig, RpcProgramAccountsConfig};
use solana_rpc_client_api::filter::{Memcmp, RpcFilterType};
use solana_signer::Signer;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::{Signature, Transaction};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("RPC {url}: {source}")]
    Rpc {
        url: String,
        #[source]
        source: Box<ClientError>,
    },
    #[error("account {0} does not exist")]
    Missing(Pubkey),
    #[error("account {address}: {reason}")]
    Undecodable { address: Pubkey, reason: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// The ed25519 signing key of a Solana keypair (its first 32 bytes are the secret seed), for
/// signing receipts, tokens and viewer acknowledgements with a node key or receipt signer.
pub fn signing_key(keypair: &Keypair) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(keypair.secret_bytes())
}

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

pub struct Cluster {
    pub client: RpcClient,
    pub url: String,
}

/// An Anchor account as fetched: `None` when it does not exist, an error naming the address
/// when it does not decode as `T`.
fn decode_found<T: AccountDeserialize>(
    address: &Pubkey,
    account: Option<Account>,
) -> Result<Option<T>> {
    account
        .map(|account| {
            crate::decode::account(&account.data).map_err(|e| Error::Undecodable {
                address: *address,
                reason: e.to_string(),
            })
        })
        .transpose()
}

/// Addresses per `getMultipleAccounts` call (validators allow 100).
pub const MULTIPLE_ACCOUNTS_CHUNK: usize = 100;

impl Cluster {
    /// `url_or_moniker` as the Solana CLI takes it (`localhost`, `devnet`, … or a URL).
    pub fn new(url_or_moniker: &str, commitment: CommitmentConfig) -> Self {
        let url = cluster_url(url_or_moniker);
        Cluster {
            client: RpcClient::new_with_commitment(url.clone(), commitment),
            url,
        }
    }

    fn rpc_error(&self, source: ClientError) -> Error {
        Error::Rpc {
            url: self.url.clone(),
            source: Box::new(source),
        }
    }

    /// Fails when the endpoint does not answer.
    pub async fn check_reachable(&self) -> Result<()> {
        self.client
            .get_version()
            .await
            .map(|_| ())
            .map_err(|e| self.rpc_error(e))
    }

    pub async fn account(&self, address: &Pubkey) -> Result<Option<Account>> {
        self.client
            .get_account_with_commitment(address, self.client.commitment())
            .await
            .map(|response| response.value)
            .map_err(|e| self.rpc_error(e))
    }

    /// Fetches and decodes an Anchor account; `None` when it does not exist.
    pub async fn try_decode<T: AccountDeserialize>(&self, address: &Pubkey) -> Result<Option<T>> {
        decode_found(address, self.account(address).await?)
    }

    /// Fetches and decodes many accounts, `MULTIPLE_ACCOUNTS_CHUNK` per `getMultipleAccounts`
    /// call: one answer per address, in order. A failed call fails only its own chunk's
    /// addresses, and an undecodable account only itself.
    pub async fn try_decode_many<T: AccountDeserialize>(
        &self,
        addresses: &[Pubkey],
    ) -> Vec<Result<Option<T>>> {
        let mut out = Vec::with_capacity(addresses.len());
        for chunk in addresses.chunks(MULTIPLE_ACCOUNTS_CHUNK) {
            match self
                .client
                .get_multiple_accounts_with_commitment(chunk, self.client.commitment())
                .await
            {
                Ok(response) => {
                    for (address, account) in chunk.iter().zip(response.value) {
                        out.push(decode_found(address, account));
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    for _ in chunk {
                        let failed = std::io::Error::other(message.clone());
                        out.push(Err(self.rpc_error(ClientError::from(failed))));
                    }
                }
            }
        }
        out
    }

    /// Fetches and decodes an Anchor account that must exist.
    pub async fn decode<T: AccountDeserialize>(&self, address: &Pubkey) -> Result<T> {
        self.try_decode(address)
            .await?
            .ok_or(Error::Missing(*address))
    }

    /// Every account of type `T` owned by `program`, matched by its Anchor discriminator.
    pub async fn all<T: AccountDeserialize + Discriminator>(
        &self,
        program: &Pubkey,
    ) -> Result<Vec<(Pubkey, T)>> {
        self.all_matching(program, &[]).await
    }

    /// The accounts of type `T` owned by `program` whose data holds each `(offset, bytes)`
    /// (offsets count from the start of the account, discriminator included).
    pub async fn all_matching<T: AccountDeserialize + Discriminator>(
        &self,
        program: &Pubkey,
        fields: &[(usize, &[u8])],
    ) -> Result<Vec<(Pubkey, T)>> {
        let mut filters = vec![RpcFilterType::Memcmp(Memcmp::new_base58_encoded(
            0,
            T::DISCRIMINATOR,
        ))];
        filters.extend(fields.iter().map(|(offset, bytes)| {
            RpcFilterType::Memcmp(Memcmp::new_base58_encoded(*offset, bytes))
        }));
        let config = RpcProgramAccountsConfig {
            filters: Some(filters),
            account_config: RpcAccountInfoConfig {
                encoding: Some(solana_rpc_client_api::response::UiAccountEncoding::Base64),
                commitment: Some(self.client.commitment()),
                ..RpcAccountInfoConfig::default()
            },
            ..RpcProgramAccountsConfig::default()
        };
        let accounts = self
            .client
            .get_program_ui_accounts_with_config(program, config)
            .await
            .map_err(|e| self.rpc_error(e))?;
        accounts
            .into_iter()
            .map(|(address, account)| {
                let data = account.data.decode().ok_or_else(|| Error::Undecodable {
                    address,
                    reason: "the RPC returned data that is not base64".into(),
                })?;
                crate::decode::account(&data)
                    .map(|value| (address, value))
                    .map_err(|e| Error::Undecodable {
                        address,
                        reason: e.to_string(),
                    })
            })
            .collect()
    }

    pub async fn rent_exempt(&self, len: usize) -> Result<u64> {
        self.client
            .get_minimum_balance_for_rent_exemption(len)
            .await
            .map_err(|e| self.rpc_error(e))
    }

    /// Base units held by a token account; 0 when it does not exist.
    pub async fn token_balance(&self, token_account: &Pubkey) -> Result<u64> {
        let Some(account) = self.account(token_account).await? else {
            return Ok(0);
        };
        use anchor_lang::solana_program::program_pack::Pack;
        anchor_spl::token::spl_token::state::Account::unpack(&account.data)
            .map(|state| state.amount)
            .map_err(|e| Error::Undecodable {
                address: *token_account,
                reason: format!("not a token account: {e}"),
            })
    }

    /// Signs with `payer` (fee payer) and `others`, sends with preflight, and waits until the
    /// transaction is confirmed at the client's commitment. A transaction that landed with an
    /// error is an error.
    pub async fn send_and_confirm(
        &self,
        instructions: &[Instruction],
        payer: &Keypair,
        others: &[&Keypair],
    ) -> std::result::Result<Signature, ClientError> {
        self.send_and_confirm_with_tables(instructions, payer, others, &[])
            .await
    }

    /// Sends a v0 transaction resolving accounts through `tables` (a legacy one without
    /// tables) and waits for it; a transaction that lands with an error is an error.
    pub async fn send_and_confirm_with_tables(
        &self,
        instructions: &[Instruction],
        payer: &Keypair,
        others: &[&Keypair],
        tables: &[AddressLookupTableAccount],
    ) -> std::result::Result<Signature, ClientError> {
        let blockhash = self.client.get_latest_blockhash().await?;
        let mut signers: Vec<&Keypair> = vec![payer];
        signers.extend(others.iter().filter(|k| k.pubkey() != payer.pubkey()));
        let signature = if tables.is_empty() {
            let tx = Transaction::new_signed_with_payer(
                instructions,
                Some(&payer.pubkey()),
                &signers,
                blockhash,
            );
            self.client.send_and_confirm_transaction(&tx).await?
        } else {
            let message =
                v0::Message::try_compile(&payer.pubkey(), instructions, tables, blockhash)
                    .map_err(|e| ClientError::from(std::io::Error::other(e.to_string())))?;
            let tx = VersionedTransaction::try_new(VersionedMessage::V0(message), &signers)
                .map_err(|e| ClientError::from(std::io::Error::other(e.to_string())))?;
            self.client.send_and_confirm_transaction(&tx).await?
        };
        let status = self
            .client
            .get_signature_status_with_commitment(&signature, self.client.commitment())
            .await?;
        match status {
            Some(Err(err)) => Err(ClientError::from(err)),
            _ => Ok(signature),
        }
    }
}
