//! A relay getting paid, end to end: lanes opened from its node key, a viewer with a token
//! from the consumer's gateway, receipts co-signed and shipped to a keeper, and the shipped
//! receipt settling on chain for exactly the bytes the viewer received.
use crate::fixtures::{content, start_origin, temp_path};
use crate::network::*;
use media_network::fees::{cumulative_fee, split_fee};
use media_network::state::{Consumer, Lane, Provider};
use media_relay::config::{ConsumerConfig, RelayConfig};
use media_sdk::pda;
use media_sdk::settlement::{settlement_instructions, Settlement};
use media_viewer::Viewer;
use solana_signer::Signer;
use std::time::Duration;

/// A metered relay for `consumer` (node key `node`), co-signing through `gateway` every second
/// and shipping to `keeper`; returns its config, ready to run.
pub fn paid_relay_config(
    network: &Network,
    node: &solana_keypair::Keypair,
    consumer: anchor_lang::prelude::Pubkey,
    origin: url::Url,
    gateway: url::Url,
    keeper: url::Url,
) -> RelayConfig {
    let node_path = temp_path("node").with_extension("json");
    solana_keypair::write_keypair_file(node, &node_path).unwrap();
    RelayConfig {
        service: media_service::settings::ServiceSettings {
            rpc_url: Some(network.url()),
            chain_refresh_secs: 1,
            store: temp_path("relay"),
            ..Default::default()
        },
        node_keypair: node_path,
        keepers: vec![keeper],
        credit_window_bytes: 512 << 10,
        cosign_interval_secs: 1,
        consumers: vec![ConsumerConfig {
            owner: consumer,
            origin,
            gateway: Some(gateway),
        }],
        // The test origin listens on 127.0.0.1.
        allow_private_origins: true,
        ..RelayConfig::default()
    }
}

/// Listens on a free port; the relay's base URL.
async fn relay_listener() -> (tokio::net::TcpListener, url::Url) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    (listener, url)
}

#[tokio::test]
async fn viewer_bytes_are_cosigned_shipped_and_settle_on_chain() {
    let network = Network::start().await;
    let (provider_owner, node) = network.provider().await;
    let gateway_key = ed25519_dalek::SigningKey::from_bytes(&[51; 32]);
    let gateway_pubkey = media_sdk::receipt::pubkey_of(&gateway_key);
    let consumer = network.consumer(&gateway_pubkey, 1_000 * MEDIA).await;
    let gateway = start_gateway(&gateway_key, consumer.pubkey(), temp_path("gateway")).await;
    let (inbox, keeper) = start_keeper().await;
    let (origin, origin_url) = start_origin().await;
    let body = content(2 << 20, 9);
    origin.put("vod/film.ts", body.clone(), None);

    let config = paid_relay_config(
        &network,
        &node,
        consumer.pubkey(),
        origin_url,
        gateway.clone(),
        keeper,
    );
    let (listener, relay_url) = relay_listener().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = tokio::spawn(media_relay::run(config, listener, async {
        let _ = stopped.await;
    }));

    // The relay opened its lane with its node key.
    let lane_address = pda::lane(&node.pubkey(), &consumer.pubkey());
    let mut lane = None;
    for _ in 0..100 {
        lane = network
            .cluster
            .try_decode::<Lane>(&lane_address)
            .await
            .unwrap();
        if lane.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lane = lane.expect("the relay opened its lane");
    assert_eq!(lane.node_key, node.pubkey());

    let viewer = Viewer::join(relay_url, &gateway, None, 128 << 10)
        .await
        .unwrap();
    let mut out = Vec::new();
    viewer.fetch("vod/film.ts", &mut out).await.unwrap();
    assert_eq!(out, body);

    // Within a few co-sign rounds the keeper has the receipt for every byte.
    let mut shipped = None;
    for _ in 0..100 {
        shipped = inbox
            .best(&consumer.pubkey())
            .filter(|r| r.receipt.cumulative == body.len() as u64);
        if shipped.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shipped = shipped.expect("a receipt for every delivered byte reached the keeper");
    shipped.verify().unwrap();
    assert_eq!(shipped.receipt.node_key, node.pubkey());
    assert_eq!(shipped.consumer_signer, gateway_pubkey);
    stop.send(()).unwrap();
    relay.await.unwrap().unwrap();

    // It settles: the provider is owed its share of exactly those bytes.
    let settler = network.wallet(0, 0).await;
    let instructions = settlement_instructions(
        &settler.pubkey(),
        &[Settlement {
            signed: shipped.clone(),
            provider: pda::provider(&provider_owner.pubkey()),
        }],
        0,
    );
    network
        .cluster
        .send_and_confirm(&instructions, &settler, &[])
        .await
        .unwrap();
    let config: media_network::state::Config =
        network.cluster.decode(&pda::config()).await.unwrap();
    let fee = cumulative_fee(body.len() as u64, config.params.price_per_gib).unwrap();
    assert!(fee > 0);
    let split = split_fee(
        fee,
        config.params.provider_fee_bps,
        config.params.keeper_fee_bps,
    )
    .unwrap();
    let provider: Provider = network
        .cluster
        .decode(&pda::provider(&provider_owner.pubkey()))
        .await
        .unwrap();
    assert_eq!(provider.fees_claimable, split.provider);
    let consumer_account: Consumer = network
        .cluster
        .decode(&pda::consumer(&consumer.pubkey()))
        .await
        .unwrap();
    assert_eq!(consumer_account.escrow, 1_000 * MEDIA - fee);
}

/// The relay's /health entry for `consumer`.
async fn consumer_health(
    relay: &url::Url,
    consumer: &anchor_lang::prelude::Pubkey,
) -> serde_json::Value {
    let health: serde_json::Value = reqwest::get(relay.join("health").unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // What a viewer choosing a relay reads of it agrees with the whole answer.
    let typed: media_sdk::api::relay::RelayHealth =
        serde_json::from_value(health.clone()).expect("a relay's /health is a RelayHealth");
    assert_eq!(
        typed.consumers[&consumer.to_string()].served,
        health["consumers"][consumer.to_string()]["served"] == true
    );
    health["consumers"][consumer.to_string()].clone()
}

#[tokio::test]
async fn a_consumer_whose_gateway_stops_cosigning_is_not_served_until_it_catches_up() {
    let network = Network::start().await;
    let (_provider_owner, node) = network.provider().await;
    let gateway_key = ed25519_dalek::SigningKey::from_bytes(&[52; 32]);
    let consumer = network
        .consumer(&media_sdk::receipt::pubkey_of(&gateway_key), 1_000 * MEDIA)
        .await;
    let gateway = start_gateway(&gateway_key, consumer.pubkey(), temp_path("gateway")).await;
    // The relay reaches the gateway through a link that can be cut; viewers reach it directly.
    let link = media_test_harness::link::Link::to(gateway.as_str()).await;
    let (inbox, keeper) = start_keeper().await;
    let (origin, origin_url) = start_origin().await;
    let body = content(3 << 20, 5);
    origin.put("vod/a.ts", body.clone(), None);
    origin.put("vod/b.ts", content(1 << 20, 6), None);

    let limit = 2 << 20;
    let config = RelayConfig {
        max_uncosigned_bytes: limit,
        ..paid_relay_config(
            &network,
            &node,
            consumer.pubkey(),
            origin_url,
            url::Url::parse(&format!("{}/", link.url)).unwrap(),
            keeper,
        )
    };
    let (listener, relay_url) = relay_listener().await;
    tokio::spawn(media_relay::run(config, listener, std::future::pending()));

    let viewer = Viewer::join(relay_url.clone(), &gateway, None, 128 << 10)
        .await
        .unwrap();

    // The gateway becomes unreachable; 3 MiB are served and acknowledged all the same.
    link.set_up(false);
    let mut out = Vec::new();
    viewer.fetch("vod/a.ts", &mut out).await.unwrap();
    assert_eq!(out, body);
    viewer.acknowledge_now().await.unwrap();

    // After a co-signing round that could not reach the gateway the relay owes itself more
    // than its limit, and refuses the consumer with 503 rather than serve more on credit.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let health = consumer_health(&relay_url, &consumer.pubkey()).await;
        if health["served"] == false {
            assert_eq!(health["uncosigned_bytes"], body.len() as u64);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still served: {health}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = viewer.fetch("vod/b.ts", &mut Vec::new()).await.unwrap_err();
    match refused {
        media_viewer::ViewerError::Refused { status, body } => {
            assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE);
            assert!(body.contains("has not co-signed"), "{body}");
        }
        other => panic!("expected a 503, got {other}"),
    }
    assert!(
        inbox.best(&consumer.pubkey()).is_none(),
        "nothing was co-signed"
    );

    // The gateway is back: the next round co-signs everything and serving resumes.
    link.set_up(true);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while consumer_health(&relay_url, &consumer.pubkey()).await["served"] != true {
        assert!(std::time::Instant::now() < deadline, "not served again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut again = Vec::new();
    viewer.fetch("vod/b.ts", &mut again).await.unwrap();
    assert_eq!(again.len(), 1 << 20);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while inbox
        .best(&consumer.pubkey())
        .is_none_or(|r| r.receipt.cumulative < body.len() as u64)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the backlog was not co-signed and shipped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
