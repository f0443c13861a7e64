//! The people of the demo, funded from the localnet's faucets: a publisher (the consumer, with
//! a gateway key co-signing its receipts), relay operators (providers, each with a node key)
//! and a keeper. Everyone stakes MEDIA; providers and the consumer register once warmed up.
use anchor_lang::prelude::Pubkey;
use anyhow::Result;
use media_migrations::localnet::BootstrappedLocalnet;
use solana_keypair::Keypair;
use solana_signer::Signer;
use std::path::{Path, PathBuf};

pub const MEDIA: u64 = 1_000_000;
/// Payment tokens have 6 decimals, like USDC.
pub const PAYMENT: u64 = 1_000_000;

pub const PROVIDER_STAKE: u64 = 100 * MEDIA;
pub const PROVIDER_BOND: u64 = 50 * MEDIA;
pub const CONSUMER_STAKE: u64 = 200 * MEDIA;
pub const CONSUMER_BOND: u64 = 100 * MEDIA;
pub const ESCROW: u64 = 10_000 * PAYMENT;
/// MEDIA the keeper brings to buy-back auctions.
pub const KEEPER_MEDIA: u64 = 100_000 * MEDIA;

/// A keypair and the file the services read it from.
pub struct KeyFile {
    pub keypair: Keypair,
    pub path: PathBuf,
}

impl KeyFile {
    pub fn create(dir: &Path, name: &str) -> Result<KeyFile> {
        let keypair = Keypair::new();
        let path = dir.join(format!("{name}.json"));
        solana_keypair::write_keypair_file(&keypair, &path)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        Ok(KeyFile { keypair, path })
    }

    pub fn pubkey(&self) -> Pubkey {
        self.keypair.pubkey()
    }
}

pub struct RelayOperator {
    pub owner: Keypair,
    pub node: KeyFile,
}

pub struct Actors {
    pub publisher: Keypair,
    /// The publisher's receipt signer, held by its gateway.
    pub gateway_key: KeyFile,
    pub operators: Vec<RelayOperator>,
    pub keeper: KeyFile,
}

impl Actors {
    /// Funds everyone and stakes; registration waits for the warm-up ([`Actors::register`]).
    pub async fn fund_and_stake(
        localnet: &BootstrappedLocalnet,
        relays: usize,
        dir: &Path,
    ) -> Result<Actors> {
        let publisher = Keypair::new();
        localnet
            .fund(&publisher.pubkey(), CONSUMER_STAKE, ESCROW)
            .await?;
        localnet.stake(&publisher, CONSUMER_STAKE).await?;
        let mut operators = Vec::with_capacity(relays);
        for i in 0..relays {
            let owner = Keypair::new();
            localnet.fund(&owner.pubkey(), PROVIDER_STAKE, 0).await?;
            localnet.stake(&owner, PROVIDER_STAKE).await?;
            let node = KeyFile::create(dir, &format!("relay-{}-node", i + 1))?;
            // The node key pays the rent of the lanes its relay opens.
            localnet.fund(&node.pubkey(), 0, 0).await?;
            operators.push(RelayOperator { owner, node });
        }
        let keeper = KeyFile::create(dir, "keeper")?;
        localnet.fund(&keeper.pubkey(), KEEPER_MEDIA, 0).await?;
        Ok(Actors {
            publisher,
            gateway_key: KeyFile::create(dir, "gateway-receipt-signer")?,
            operators,
            keeper,
        })
    }

    /// Registers relay `i` at `endpoint`, and the publisher with its escrow and its
    /// gateway's public URL (where relays ask for the origin).
    pub async fn register(
        &self,
        localnet: &BootstrappedLocalnet,
        endpoints: &[String],
        gateway_url: &str,
    ) -> Result<()> {
        for (operator, endpoint) in self.operators.iter().zip(endpoints) {
            localnet
                .register_edge(
                    &operator.owner,
                    &operator.node.keypair,
                    endpoint,
                    PROVIDER_BOND,
                )
                .await?;
        }
        localnet
            .register_consumer(
                &self.publisher,
                &self.gateway_key.pubkey(),
                CONSUMER_BOND,
                ESCROW,
                Some(gateway_url),
            )
            .await?;
        Ok(())
    }

    /// Every staker: they vote on the demo's proposal.
    pub fn stakers(&self) -> impl Iterator<Item = &Keypair> {
        std::iter::once(&self.publisher).chain(self.operators.iter().map(|o| &o.owner))
    }
}
