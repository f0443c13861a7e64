//! Issue 17, the open network over real processes and a real chain: a relay with
//! `serve = "all"` takes on a consumer registered after it started, learning the origin from
//! the gateway's signed handshake (which refuses anyone else, and which no viewer ever
//! sees); and a 64 MiB download whose relay process is SIGKILLed half-way completes
//! byte-exact from another relay found on chain, with both relays paid, on chain, exactly
//! the bytes each delivered.
use crate::crash::free_port;
use crate::fixtures::{content, start_origin, temp_path};
use crate::network::*;
use ed25519_dalek::SigningKey;
use media_network::state::Lane;
use media_relay::config::{RelayConfig, Serve};
use media_sdk::api::gateway::OriginRequest;
use media_sdk::receipt::pubkey_of;
use media_sdk::session::OriginAsk;
use media_sdk::settlement::{settlement_instructions, Settlement};
use media_sdk::{ix, pda};
use media_test_harness::process::ServiceProcess;
use media_viewer::{Failover, Viewer};
use solana_keypair::Keypair;
use solana_signer::Signer;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

pub(crate) async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn served(relay: &Url, consumer: &anchor_lang::prelude::Pubkey) -> bool {
    let Ok(response) = reqwest::get(relay.join("health").unwrap()).await else {
        return false;
    };
    let Ok(health) = response.json::<serde_json::Value>().await else {
        return false;
    };
    health["consumers"][consumer.to_string()]["served"] == true
}

/// A provider registered as an edge at `endpoint`, with a funded node key.
pub(crate) async fn provider_at(network: &Network, endpoint: &str) -> (Keypair, Keypair) {
    let owner = network.wallet(100 * MEDIA, 0).await;
    let node = Keypair::new();
    airdrop(&network.cluster, &node.pubkey()).await;
    network.stake(&owner, 100 * MEDIA).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    network
        .register_edge(&owner, &node, endpoint, 50 * MEDIA)
        .await
        .unwrap();
    (owner, node)
}

fn ask(node: &SigningKey, consumer: anchor_lang::prelude::Pubkey) -> OriginRequest {
    OriginRequest {
        ask: OriginAsk {
            config: pda::config(),
            consumer,
            node_key: pubkey_of(node),
            issued_at: media_sdk::clock::unix_now(),
        }
        .sign(node)
        .to_base64(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_serving_all_takes_on_a_late_consumer_through_the_origin_handshake() {
    let network = Network::start().await;
    let (listener, relay_url) = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        (listener, url)
    };
    let (_owner, node) = provider_at(&network, relay_url.as_str()).await;
    let node_path = temp_path("node").with_extension("json");
    solana_keypair::write_keypair_file(&node, &node_path).unwrap();
    let config = RelayConfig {
        service: media_service::settings::ServiceSettings {
            rpc_url: Some(network.url()),
            chain_refresh_secs: 1,
            store: temp_path("relay"),
            ..Default::default()
        },
        node_keypair: node_path,
        serve: Some(Serve::All),
        // The test's gateway and origin listen on 127.0.0.1.
        allow_private_gateways: true,
        allow_private_origins: true,
        allow_private_discovered_origins: true,
        ..RelayConfig::default()
    };
    tokio::spawn(media_relay::run(config, listener, std::future::pending()));
    wait_for("the relay", async || {
        reqwest::get(relay_url.join("health").unwrap())
            .await
            .is_ok()
    })
    .await;

    // A publisher arrives after the relay started: an origin only its gateway knows.
    let (origin, origin_url) = start_origin().await;
    let body = content(1 << 20, 17);
    origin.put("vod/late.ts", body.clone(), None);
    let gateway_key = SigningKey::from_bytes(&[93; 32]);
    let consumer = network
        .consumer(&pubkey_of(&gateway_key), 1_000 * MEDIA)
        .await;
    let gateway = start_gateway_with(
        &gateway_key,
        media_gateway::config::GatewayConfig {
            service: media_service::settings::ServiceSettings {
                rpc_url: Some(network.url()),
                chain_refresh_secs: 1,
                store: temp_path("gateway"),
                ..Default::default()
            },
            consumer: Some(consumer.pubkey()),
            origin: Some(origin_url.clone()),
            ..Default::default()
        },
    )
    .await;
    network
        .cluster
        .send_and_confirm(
            &[ix::update_consumer(
                &consumer.pubkey(),
                Some(gateway.to_string()),
            )],
            &consumer,
            &[],
        )
        .await
        .unwrap();
    wait_for("the relay to serve the new consumer", async || {
        served(&relay_url, &consumer.pubkey()).await
    })
    .await;
    // It opened its lane by itself, and serves.
    let lane: Option<Lane> = network
        .cluster
        .try_decode(&pda::lane(&node.pubkey(), &consumer.pubkey()))
        .await
        .unwrap();
    assert!(lane.is_some(), "the relay opened its lane");
    let viewer = Viewer::join(relay_url.clone(), &gateway, None, 128 << 10)
        .await
        .unwrap();
    let mut out = Vec::new();
    viewer.fetch("vod/late.ts", &mut out).await.unwrap();
    assert_eq!(out, body);

    // Only an active provider's node key, signing for itself, gets the origin.
    let http = reqwest::Client::new();
    let origin_at = gateway.join(".media/origin").unwrap();
    let post = |request: OriginRequest| http.post(origin_at.clone()).json(&request).send();
    let stranger = SigningKey::from_bytes(&[94; 32]);
    assert_eq!(
        post(ask(&stranger, consumer.pubkey()))
            .await
            .unwrap()
            .status(),
        403
    );
    let mut forged = ask(&stranger, consumer.pubkey());
    let mut claimed = media_sdk::session::SignedOriginAsk::from_base64(&forged.ask).unwrap();
    claimed.ask.node_key = node.pubkey();
    forged.ask = claimed.to_base64();
    assert_eq!(
        post(forged).await.unwrap().status(),
        403,
        "signed by another key"
    );
    let node_signing = media_sdk::client::signing_key(&node);
    let answered = post(ask(&node_signing, consumer.pubkey())).await.unwrap();
    assert_eq!(answered.status(), 200, "the relay itself is answered");

    // The origin appears in nothing a viewer can read.
    let origin_text = origin_url.authority().to_string();
    let token = viewer.token().to_base64();
    let missing = http
        .get(format!("{relay_url}c/{}/vod/missing.ts", consumer.pubkey()))
        .header(media_sdk::api::relay::SESSION_HEADER, token)
        .send()
        .await
        .unwrap();
    let mut seen = vec![format!(
        "{:?} {}",
        missing.headers().clone(),
        missing.text().await.unwrap()
    )];
    for url in [
        relay_url.join("health").unwrap(),
        gateway.join(".media/relays").unwrap(),
        gateway.join("health").unwrap(),
    ] {
        let response = http.get(url).send().await.unwrap();
        seen.push(format!(
            "{:?} {}",
            response.headers().clone(),
            response.text().await.unwrap()
        ));
    }
    let fetched = http
        .get(format!("{relay_url}c/{}/vod/late.ts", consumer.pubkey()))
        .header(
            media_sdk::api::relay::SESSION_HEADER,
            viewer.token().to_base64(),
        )
        .send()
        .await
        .unwrap();
    seen.push(format!("{:?}", fetched.headers()));
    for text in &seen {
        assert!(!text.contains(&origin_text), "the origin leaked: {text}");
    }
}

/// Writes into memory and, once `kill_at` bytes have arrived, SIGKILLs the process given.
struct KillHalfWay {
    bytes: Vec<u8>,
    kill_at: usize,
    victim: Arc<Mutex<Option<ServiceProcess>>>,
}

impl tokio::io::AsyncWrite for KillHalfWay {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.bytes.extend_from_slice(data);
        if this.bytes.len() >= this.kill_at {
            if let Some(mut process) = this.victim.lock().unwrap().take() {
                process.sigkill();
            }
        }
        std::task::Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

pub(crate) struct RelayProcess {
    pub url: Url,
    config: std::path::PathBuf,
    owner: Keypair,
    pub node: Keypair,
}

pub(crate) fn spawn(relay: &RelayProcess) -> ServiceProcess {
    ServiceProcess::spawn(env!("CARGO_BIN_EXE_media-relay"), &relay.config)
}

/// `count` providers registered on chain, each with a `media-relay` configuration serving
/// `consumer` (objects up to `max_object` bytes) and shipping to `keeper`; none started yet.
pub(crate) async fn relay_processes(
    network: &Network,
    count: usize,
    consumer: &anchor_lang::prelude::Pubkey,
    gateway: &Url,
    keeper: &Url,
    origin: &Url,
    max_object: usize,
) -> Vec<RelayProcess> {
    let mut relays = Vec::new();
    for _ in 0..count {
        let port = free_port();
        let url: Url = format!("http://127.0.0.1:{port}/").parse().unwrap();
        let (owner, node) = provider_at(network, url.as_str()).await;
        let node_path = temp_path("node").with_extension("json");
        solana_keypair::write_keypair_file(&node, &node_path).unwrap();
        let config = temp_path("relay-config").with_extension("toml");
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\nnode_keypair = {node:?}\nrpc_url = {rpc:?}\n\
             keepers = [{keeper:?}]\nstore = {store:?}\ncosign_interval_secs = 1\n\
             chain_refresh_secs = 1\nallow_private_origins = true\nmax_object_bytes = {max}\n\
             max_fetch_bytes = {max}\n\n[[consumers]]\nowner = \"{owner}\"\norigin = {origin:?}\n\
             gateway = {gateway:?}\n",
            node = node_path.display().to_string(),
            rpc = network.url(),
            keeper = keeper.to_string(),
            store = temp_path("relay").display().to_string(),
            max = max_object,
            owner = consumer,
            origin = origin.to_string(),
            gateway = gateway.to_string(),
        );
        std::fs::write(&config, text).unwrap();
        relays.push(RelayProcess {
            url,
            config,
            owner,
            node,
        });
    }
    relays
}

/// Starts every relay process and waits until each serves `consumer`.
pub(crate) async fn start_all(
    relays: &[RelayProcess],
    consumer: &anchor_lang::prelude::Pubkey,
) -> Vec<Option<ServiceProcess>> {
    let processes = relays.iter().map(|r| Some(spawn(r))).collect();
    for relay in relays {
        wait_for("a relay to serve", async || {
            served(&relay.url, consumer).await
        })
        .await;
    }
    processes
}

/// Waits until each relay's receipt for exactly `delivered[i]` bytes reached the keeper
/// (never more), settles them on chain, and returns what each lane settled in epoch 0.
pub(crate) async fn settle_each(
    network: &Network,
    inbox: &KeeperInbox,
    relays: &[RelayProcess],
    consumer: &anchor_lang::prelude::Pubkey,
    delivered: &[u64],
) -> Vec<u64> {
    let mut receipts = Vec::new();
    for (relay, bytes) in relays.iter().zip(delivered).filter(|(_, b)| **b > 0) {
        wait_for("each relay's receipt for all its bytes", async || {
            inbox.received.lock().unwrap().iter().any(|r| {
                r.receipt.node_key == relay.node.pubkey() && r.receipt.cumulative == *bytes
            })
        })
        .await;
        let best = inbox
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.receipt.node_key == relay.node.pubkey())
            .max_by_key(|r| r.receipt.cumulative)
            .cloned()
            .unwrap();
        assert_eq!(
            best.receipt.cumulative, *bytes,
            "never more than it delivered"
        );
        receipts.push(Settlement {
            signed: best,
            provider: pda::provider(&relay.owner.pubkey()),
        });
    }
    let settler = network.wallet(0, 0).await;
    for settlement in receipts {
        let instructions = settlement_instructions(&settler.pubkey(), &[settlement], 0);
        network
            .cluster
            .send_and_confirm(&instructions, &settler, &[])
            .await
            .unwrap();
    }
    let mut settled = Vec::new();
    for relay in relays {
        let lane: Option<Lane> = network
            .cluster
            .try_decode(&pda::lane(&relay.node.pubkey(), consumer))
            .await
            .unwrap();
        settled.push(lane.map_or(0, |l| l.settled(0)));
    }
    settled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_survives_its_relay_being_sigkilled_and_every_relay_is_paid_its_bytes() {
    const SIZE: usize = 64 << 20;
    let network = Network::start().await;
    let gateway_key = SigningKey::from_bytes(&[95; 32]);
    let consumer = network
        .consumer(&pubkey_of(&gateway_key), 1_000 * MEDIA)
        .await;
    let gateway = start_gateway(&gateway_key, consumer.pubkey(), temp_path("gateway")).await;
    let (inbox, keeper) = start_keeper().await;
    let (origin, origin_url) = start_origin().await;
    let body = content(SIZE, 23);
    origin.put("vod/big.ts", body.clone(), None);
    let relays = relay_processes(
        &network,
        2,
        &consumer.pubkey(),
        &gateway,
        &keeper,
        &origin_url,
        2 * SIZE,
    )
    .await;
    let mut processes = start_all(&relays, &consumer.pubkey()).await;

    // The viewer finds both on chain, then uses them in a fixed order (one at a time), so the
    // test knows which one to kill.
    let found = crate::discovery::discovered(&network, &consumer.pubkey()).await;
    assert_eq!(found.len(), 2, "{found:?}");
    let mut targets = found;
    targets.sort_by_key(|t| {
        relays
            .iter()
            .position(|r| r.url == t.url)
            .expect("a relay the test started")
    });
    let failover = Failover {
        stall_timeout: Duration::from_secs(2),
        spread: 1,
        ..Failover::default()
    };
    let viewer = Viewer::join_over(targets, &gateway, None, 256 << 10, failover)
        .await
        .unwrap();
    let victim = Arc::new(Mutex::new(processes[0].take()));
    let mut out = KillHalfWay {
        bytes: Vec::with_capacity(SIZE),
        kill_at: SIZE / 2,
        victim: victim.clone(),
    };
    let download = viewer.download("vod/big.ts", &mut out).await.unwrap();
    assert!(
        victim.lock().unwrap().is_none(),
        "the first relay was killed"
    );
    assert_eq!(download.bytes, SIZE as u64);
    assert!(out.bytes == body, "byte-exact after the failover");
    assert!(viewer.failovers() >= 1);
    let stats = viewer.relay_stats();
    let from: Vec<u64> = stats.iter().map(|s| s.bytes).collect();
    assert_eq!(from.iter().sum::<u64>(), SIZE as u64, "{stats:?}");
    assert!(from[0] >= (SIZE / 2) as u64 && from[1] > 0, "{from:?}");

    // The killed relay comes back on its store; the viewer's last receipts reach both.
    processes[0] = Some(spawn(&relays[0]));
    wait_for("the restarted relay", async || {
        served(&relays[0].url, &consumer.pubkey()).await
    })
    .await;
    viewer.acknowledge_now().await.unwrap();
    let settled = settle_each(&network, &inbox, &relays, &consumer.pubkey(), &from).await;
    drop(processes);

    // Settled on chain: each lane exactly its relay's bytes, together the file once.
    assert_eq!(settled, from);
    let settled: u64 = settled.iter().sum();
    assert_eq!(settled, SIZE as u64);
}
