//! A relay getting paid, end to end: lanes opened from its node key, a viewer with a token
//! from the consumer's gateway, receipts co-signed and shipped to a keeper, and the shipped
//! receipt settling on chain for exactly the bytes the viewer received.
use crate::fixtures::{content, start_origin, temp_path};
use crate::network::*;
use media_network::fees::{cumulative_fee, split_fee};
use media_network::state::{Consumer, Lane, Provider};
use media_relay::config::{ConsumerConfig, RelayConfig};
use media_relay::viewer::{request_token, Viewer};
use media_sdk::pda;
use media_sdk::settlement::{settlement_instructions, Settlement};
use solana_signer::Signer;
use std::time::Duration;

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

    let node_path = temp_path("node").with_extension("json");
    solana_keypair::write_keypair_file(&node, &node_path).unwrap();
    let config = RelayConfig {
        node_keypair: node_path,
        rpc_url: network.url(),
        keepers: vec![keeper],
        credit_window_bytes: 512 << 10,
        cosign_interval_secs: 1,
        chain_refresh_secs: 1,
        store: temp_path("relay"),
        consumers: vec![ConsumerConfig {
            owner: consumer.pubkey(),
            origin: origin_url,
            gateway: Some(gateway.clone()),
        }],
        ..RelayConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_url =
        url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
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

    let session = Viewer::new_session_key();
    let http = reqwest::Client::new();
    let token = request_token(
        &http,
        &gateway,
        &media_sdk::receipt::pubkey_of(&session),
        None,
    )
    .await
    .unwrap();
    let viewer = Viewer::new(relay_url, session, token, 128 << 10);
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
