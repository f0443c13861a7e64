//! bench/keeper.sh's measurement (see there): raw batch ed25519 verification vs the keeper's
//! durable ingest of the same receipts, in one run, and receipts per settlement transaction
//! (legacy and with the keeper's lookup table).
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use media_keeper::config::KeeperConfig;
use media_keeper::crank::Switches;
use media_keeper::pack;
use media_sdk::receipt::{pubkey_of, ReceiptV1, SignedReceipt};
use media_sdk::settlement::Settlement;
use media_sdk::{ix, pda};
use media_test_harness::network::{airdrop, Network, MEDIA};
use solana_keypair::Keypair;
use solana_message::AddressLookupTableAccount;
use solana_signer::Signer;
use std::time::Instant;

const CONNECTIONS: usize = 4;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().map_or(Ok(200_000), |a| a.parse())?;
    let batch: usize = args.next().map_or(Ok(1_000), |a| a.parse())?;

    eprintln!("== network: localnet in this process, one relay, one consumer");
    let network = Network::start().await;
    let (owner, node) = network.provider().await;
    let gateway = SigningKey::from_bytes(&[7; 32]);
    let consumer = network.consumer(&pubkey_of(&gateway), 1_000 * MEDIA).await;
    network
        .cluster
        .send_and_confirm(
            &[ix::open_lane(
                &node.pubkey(),
                &owner.pubkey(),
                &node.pubkey(),
                &consumer.pubkey(),
            )],
            &node,
            &[],
        )
        .await?;
    let node_key = media_sdk::client::signing_key(&node);

    eprintln!("== signing {total} receipts (not timed)");
    let receipts: Vec<SignedReceipt> = (1..=total as u64)
        .map(|cumulative| {
            let receipt = ReceiptV1 {
                config: pda::config(),
                node_key: node.pubkey(),
                consumer: consumer.pubkey(),
                epoch: 0,
                cumulative: cumulative * 1_000,
            };
            SignedReceipt::sign(receipt, &node_key, &gateway).expect("node key matches")
        })
        .collect();

    eprintln!(
        "== raw batch verification, {batch} receipts ({} signatures) per batch",
        batch * 2
    );
    let started = Instant::now();
    for chunk in receipts.chunks(batch) {
        let messages: Vec<[u8; 120]> = chunk.iter().map(|r| r.receipt.encode()).collect();
        let mut msgs = Vec::with_capacity(chunk.len() * 2);
        let mut sigs = Vec::with_capacity(chunk.len() * 2);
        let mut keys = Vec::with_capacity(chunk.len() * 2);
        for (r, m) in chunk.iter().zip(&messages) {
            msgs.extend([&m[..], &m[..]]);
            sigs.extend([
                Signature::from_bytes(&r.node_signature),
                Signature::from_bytes(&r.consumer_signature),
            ]);
            keys.extend([
                VerifyingKey::from_bytes(&r.receipt.node_key.to_bytes())?,
                VerifyingKey::from_bytes(&r.consumer_signer.to_bytes())?,
            ]);
        }
        ed25519_dalek::verify_batch(&msgs, &sigs, &keys).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let raw = total as f64 / started.elapsed().as_secs_f64();

    eprintln!("== keeper ingest over HTTP, binary batches of {batch}, {CONNECTIONS} connections");
    let keeper = Keypair::new();
    airdrop(&network.cluster, &keeper.pubkey()).await;
    let dir = std::env::temp_dir().join(format!("media-keeper-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let keypair_path = dir.join("keeper.json");
    solana_keypair::write_keypair_file(&keeper, &keypair_path)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let config = KeeperConfig {
        service: media_service::settings::ServiceSettings {
            rpc_url: Some(network.url()),
            store: dir.join("keeper.redb"),
            ..Default::default()
        },
        keypair: keypair_path,
        settle_interval_ms: 3_600_000, // settlement would compete for the same two cores
        cranks: Switches::settle_only(),
        ..KeeperConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/receipts", listener.local_addr()?);
    tokio::spawn(media_keeper::run(config, listener, std::future::pending()));
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let bodies: Vec<Vec<u8>> = receipts
        .chunks(batch)
        .map(|chunk| chunk.iter().flat_map(|r| r.to_bytes()).collect())
        .collect();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut lanes: Vec<Vec<Vec<u8>>> = vec![Vec::new(); CONNECTIONS];
    for (i, body) in bodies.into_iter().enumerate() {
        lanes[i % CONNECTIONS].push(body);
    }
    let tasks = lanes.into_iter().map(|bodies| {
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move {
            let mut answered = 0usize;
            for body in bodies {
                let reply: serde_json::Value = http
                    .post(&url)
                    .header("content-type", "application/octet-stream")
                    .body(body)
                    .send()
                    .await?
                    .json()
                    .await?;
                answered += reply["results"].as_array().map_or(0, Vec::len);
            }
            anyhow::Ok(answered)
        })
    });
    let mut answered = 0;
    for task in futures_join(tasks).await {
        answered += task??;
    }
    let ingest = total as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(answered == total, "{answered} of {total} receipts answered");

    println!();
    println!("raw batch ed25519 verification : {raw:>10.0} receipts/s (2 signatures each)");
    println!("keeper durable ingest          : {ingest:>10.0} receipts/s");
    println!("ratio ingest / raw verification: {:>10.2}", ingest / raw);
    let keeper = Keypair::new().pubkey();
    for (what, same_consumer, with_table) in [
        ("distinct consumers, legacy", false, false),
        ("distinct consumers, lookup table", false, true),
        ("one consumer from distinct relays, legacy", true, false),
        (
            "one consumer from distinct relays, lookup table",
            true,
            true,
        ),
    ] {
        let items = settlements(4, same_consumer);
        let table = with_table.then(|| AddressLookupTableAccount {
            key: anchor_lang::prelude::Pubkey::new_unique(),
            addresses: pack::table_candidates(&keeper, &items),
        });
        let per_tx = pack::pack(&keeper, items.clone(), table.as_ref(), 4)[0].len();
        let size = pack::transaction_size(&keeper, &items[..per_tx], table.as_ref());
        println!("receipts per settlement transaction, {what}: {per_tx} ({size} bytes)");
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

async fn futures_join<T>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await);
    }
    out
}

/// `k` receipts from distinct relays, for one consumer or `k` distinct ones.
fn settlements(k: usize, same_consumer: bool) -> Vec<Settlement> {
    let one = anchor_lang::prelude::Pubkey::new_unique();
    (0..k)
        .map(|i| {
            let node = SigningKey::from_bytes(&[1 + i as u8; 32]);
            // One consumer has one receipt signer (its gateway).
            let signer = if same_consumer { 0 } else { i as u8 };
            let gateway = SigningKey::from_bytes(&[10 + signer; 32]);
            let receipt = ReceiptV1 {
                config: pda::config(),
                node_key: pubkey_of(&node),
                consumer: if same_consumer {
                    one
                } else {
                    anchor_lang::prelude::Pubkey::new_unique()
                },
                epoch: 3,
                cumulative: 1 << 30,
            };
            Settlement {
                signed: SignedReceipt::sign(receipt, &node, &gateway).expect("node key matches"),
                provider: anchor_lang::prelude::Pubkey::new_unique(),
            }
        })
        .collect()
}
