//! The `media-relay` process killed with SIGKILL right after it accepted viewer receipts:
//! restarted on the same store, it still gets them co-signed and shipped.
use crate::fixtures::{content, start_origin, temp_path};
use crate::network::*;
use ed25519_dalek::SigningKey;
use media_relay::server::{NODE_KEY_HEADER, SESSION_HEADER};
use media_sdk::receipt::pubkey_of;
use media_sdk::session::ViewerAck;
use media_test_harness::process::ServiceProcess;
use solana_signer::Signer;
use std::time::{Duration, Instant};

fn spawn_relay(config: &std::path::Path) -> ServiceProcess {
    ServiceProcess::spawn(env!("CARGO_BIN_EXE_media-relay"), config)
}

async fn wait_until_serving(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if reqwest::get(format!("{url}/health"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the relay did not come up at {url}");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn receipts_accepted_before_a_sigkill_are_shipped_after_the_restart() {
    let network = Network::start().await;
    let (_provider_owner, node) = network.provider().await;
    let gateway_key = SigningKey::from_bytes(&[71; 32]);
    let consumer = network
        .consumer(&pubkey_of(&gateway_key), 1_000 * MEDIA)
        .await;
    let gateway = start_gateway(&gateway_key, consumer.pubkey(), temp_path("gateway")).await;
    let (inbox, keeper) = start_keeper().await;
    let (origin, origin_url) = start_origin().await;
    origin.put("vod/a.ts", content(300_000, 1), None);

    let node_path = temp_path("node").with_extension("json");
    solana_keypair::write_keypair_file(&node, &node_path).unwrap();
    let store = temp_path("relay");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let write_config = |cosign_interval_secs: u64| {
        let path = temp_path("relay-config").with_extension("toml");
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\nnode_keypair = {node:?}\nrpc_url = {rpc:?}\n\
             keepers = [{keeper:?}]\nstore = {store:?}\ncosign_interval_secs = {cosign_interval_secs}\n\
             chain_refresh_secs = 1\nallow_private_origins = true\n\n[[consumers]]\nowner = \"{owner}\"\norigin = {origin:?}\ngateway = {gateway:?}\n",
            node = node_path.display().to_string(),
            rpc = network.url(),
            keeper = keeper.to_string(),
            store = store.display().to_string(),
            owner = consumer.pubkey(),
            origin = origin_url.to_string(),
            gateway = gateway.to_string(),
        );
        std::fs::write(&path, text).unwrap();
        path
    };

    // First life: co-signing is far off, so nothing leaves before the kill.
    let mut relay = spawn_relay(&write_config(3_600));
    wait_until_serving(&url).await;
    let session = SigningKey::from_bytes(&[72; 32]);
    let token = media_viewer::request_token(
        &reqwest::Client::new(),
        &gateway,
        &pubkey_of(&session),
        None,
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let response = http
        .get(format!("{url}/c/{}/vod/a.ts", consumer.pubkey()))
        .header(SESSION_HEADER, token.to_base64())
        .send()
        .await
        .unwrap();
    let relay_node = response.headers()[NODE_KEY_HEADER]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(relay_node, node.pubkey().to_string());
    let received = response.bytes().await.unwrap().len() as u64;
    assert_eq!(received, 300_000);
    let receipt = ViewerAck {
        config: media_sdk::pda::config(),
        consumer: consumer.pubkey(),
        node_key: node.pubkey(),
        session_key: pubkey_of(&session),
        epoch: 0,
        cumulative: received,
    }
    .sign(&session);
    let accepted = http
        .post(format!("{url}/.media/receipt"))
        .body(receipt.to_base64())
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200, "the relay accepted the receipt");
    relay.sigkill();
    assert!(
        inbox.best(&consumer.pubkey()).is_none(),
        "nothing was shipped before the kill"
    );
    drop(relay);

    // Second life, same store: the accepted receipt is co-signed and shipped.
    let _relay = spawn_relay(&write_config(1));
    wait_until_serving(&url).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let shipped = loop {
        if let Some(r) = inbox.best(&consumer.pubkey()) {
            if r.receipt.cumulative == received {
                break r;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the receipt was not shipped after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    shipped.verify().unwrap();
    assert_eq!(shipped.receipt.node_key, node.pubkey());
}
