//! A network with one relay serving two consumers, receipt signing, keepers in this process
//! or as processes, and an RPC link that can be cut.
use anchor_lang::prelude::Pubkey;
use ed25519_dalek::SigningKey;
use media_keeper::config::KeeperConfig;
use media_keeper::crank::Switches;
use media_network::state::{Consumer, Keeper as KeeperAccount, Lane};
use media_sdk::receipt::{pubkey_of, ReceiptV1, SignedReceipt};
use media_sdk::{ix, pda};
pub use media_test_harness::link::Link;
pub use media_test_harness::network::*;
use serde_json::{json, Value};
use solana_keypair::Keypair;
use solana_signer::Signer;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A fresh path for a test file of kind `ext`.
pub fn temp_path(what: &str, ext: &str) -> PathBuf {
    media_service::temp_path(what).with_extension(ext)
}

/// One relay (node key) with lanes to two consumers whose receipts `gateway` co-signs.
pub struct Market {
    pub network: Network,
    pub provider_owner: Keypair,
    pub node: Keypair,
    pub gateway: SigningKey,
    pub consumers: Vec<Keypair>,
}

pub const ESCROW: u64 = 1_000 * MEDIA;

impl Market {
    pub async fn open() -> Market {
        Self::open_with(Network::start().await).await
    }

    pub async fn open_with(network: Network) -> Market {
        let (provider_owner, node) = network.provider().await;
        let gateway = SigningKey::from_bytes(&[91; 32]);
        let mut consumers = Vec::new();
        for _ in 0..2 {
            let consumer = network.consumer(&pubkey_of(&gateway), ESCROW).await;
            let open = ix::open_lane(
                &node.pubkey(),
                &provider_owner.pubkey(),
                &node.pubkey(),
                &consumer.pubkey(),
            );
            network
                .cluster
                .send_and_confirm(&[open], &node, &[])
                .await
                .unwrap();
            consumers.push(consumer);
        }
        Market {
            network,
            provider_owner,
            node,
            gateway,
            consumers,
        }
    }

    pub fn node_signing_key(&self) -> SigningKey {
        signing_key(&self.node)
    }

    /// Another relay (provider and node key) with a lane to consumer `i`.
    pub async fn add_relay(&self, i: usize) -> Keypair {
        let (owner, node) = self.network.provider().await;
        let open = ix::open_lane(
            &node.pubkey(),
            &owner.pubkey(),
            &node.pubkey(),
            &self.consumers[i].pubkey(),
        );
        self.network
            .cluster
            .send_and_confirm(&[open], &node, &[])
            .await
            .unwrap();
        node
    }

    /// A receipt of relay `node` for consumer `i`, co-signed by the gateway.
    pub fn receipt_from(
        &self,
        node: &Keypair,
        i: usize,
        epoch: u64,
        cumulative: u64,
    ) -> SignedReceipt {
        let receipt = ReceiptV1 {
            config: pda::config(),
            node_key: node.pubkey(),
            consumer: self.consumers[i].pubkey(),
            epoch,
            cumulative,
        };
        SignedReceipt::sign(receipt, &signing_key(node), &self.gateway).unwrap()
    }

    /// What relay `node`'s lane to consumer `i` has settled for `epoch`.
    pub async fn settled_from(&self, node: &Keypair, i: usize, epoch: u64) -> u64 {
        let lane: Lane = self
            .network
            .cluster
            .decode(&pda::lane(&node.pubkey(), &self.consumers[i].pubkey()))
            .await
            .unwrap();
        lane.settled(epoch)
    }

    /// A receipt for consumer `i`, co-signed by the gateway and the node key.
    pub fn receipt(&self, i: usize, epoch: u64, cumulative: u64) -> SignedReceipt {
        self.receipt_from(&self.node, i, epoch, cumulative)
    }

    pub async fn lane_settled(&self, i: usize, epoch: u64) -> u64 {
        self.settled_from(&self.node, i, epoch).await
    }

    pub async fn escrow(&self, i: usize) -> u64 {
        let consumer: Consumer = self
            .network
            .cluster
            .decode(&pda::consumer(&self.consumers[i].pubkey()))
            .await
            .unwrap();
        consumer.escrow
    }

    /// Waits until consumer `i`'s lane has `cumulative` settled for `epoch`.
    pub async fn wait_settled(&self, i: usize, epoch: u64, cumulative: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.lane_settled(i, epoch).await < cumulative {
            assert!(
                Instant::now() < deadline,
                "lane {i} was not settled to {cumulative}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn keeper_fees(&self, keeper: &Pubkey) -> u64 {
        self.network
            .cluster
            .try_decode::<KeeperAccount>(&pda::keeper(keeper))
            .await
            .unwrap()
            .map_or(0, |k| k.fees_claimable)
    }
}

pub fn signing_key(keypair: &Keypair) -> SigningKey {
    media_sdk::client::signing_key(keypair)
}

/// Settle-only keeper settings (cranks off, so tests see only settlement).
pub fn keeper_config(rpc_url: &str, keypair: PathBuf) -> KeeperConfig {
    KeeperConfig {
        service: media_service::settings::ServiceSettings {
            rpc_url: Some(rpc_url.to_string()),
            store: temp_path("store", "redb"),
            chain_refresh_secs: 1,
            ..Default::default()
        },
        keypair,
        settle_interval_ms: 200,
        cranks: Switches::settle_only(),
        ..KeeperConfig::default()
    }
}

/// A funded keeper keypair written to a file.
pub async fn keeper_keypair(network: &Network) -> (Keypair, PathBuf) {
    let keypair = Keypair::new();
    airdrop(&network.cluster, &keypair.pubkey()).await;
    let path = temp_path("keeper", "json");
    solana_keypair::write_keypair_file(&keypair, &path).unwrap();
    (keypair, path)
}

/// A keeper in this process; returns its URL.
pub async fn start_keeper(config: KeeperConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(media_keeper::run(config, listener, std::future::pending()));
    wait_healthy(&url).await;
    url
}

pub async fn wait_healthy(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reqwest::get(format!("{url}/health"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "keeper at {url} did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POSTs receipts as JSON and returns the per-receipt results.
pub async fn ingest(url: &str, receipts: &[SignedReceipt]) -> Vec<Value> {
    let wire: Vec<_> = receipts.iter().map(SignedReceipt::to_wire).collect();
    let reply: Value = reqwest::Client::new()
        .post(format!("{url}/receipts"))
        .json(&json!({ "receipts": wire }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["results"].as_array().unwrap().clone()
}
