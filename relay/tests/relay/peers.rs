//! What a relay's untrusted peers can do to its payments: a gateway or keeper that hangs
//! (H5), thousands of sessions in one epoch (H1), a token reused across relays and sessions
//! the gateway caps (H2).
use crate::fixtures::*;
use crate::network::*;
use crate::paid::paid_relay_config;
use anchor_lang::prelude::Pubkey;
use ed25519_dalek::SigningKey;
use media_relay::config::RelayConfig;
use media_relay::debt::Debts;
use media_relay::outbox::{peer_client, Outbox};
use media_relay::server::SESSION_HEADER;
use media_sdk::receipt::pubkey_of;
use media_sdk::session::ViewerAck;
use media_viewer::Viewer;
use solana_signer::Signer;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// A peer that accepts connections and never answers.
async fn hung_peer() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

/// `paid_relay_config` with several keepers, short peer timeouts and a smaller window.
fn relay_config(
    network: &Network,
    node: &solana_keypair::Keypair,
    consumer: Pubkey,
    origin: Url,
    gateway: Url,
    keepers: Vec<Url>,
) -> RelayConfig {
    let first = keepers[0].clone();
    RelayConfig {
        keepers,
        credit_window_bytes: 256 << 10,
        peer_timeout_ms: 1_000,
        ..paid_relay_config(network, node, consumer, origin, gateway, first)
    }
}

async fn spawn_relay(config: RelayConfig) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(media_relay::run(config, listener, std::future::pending()));
    // The relay opens its lane and reads the chain before it serves.
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(url.join("health").unwrap()).send().await.is_ok() {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the relay did not start");
}

/// H5: one keeper that never answers does not keep receipts from the keeper that does.
#[tokio::test]
async fn h5_a_hung_keeper_does_not_stall_shipping_to_the_others() {
    let network = Network::start().await;
    let (_owner, node) = network.provider().await;
    let gateway_key = SigningKey::from_bytes(&[61; 32]);
    let consumer = network
        .consumer(&pubkey_of(&gateway_key), 1_000 * MEDIA)
        .await;
    let gateway = start_gateway(&gateway_key, consumer.pubkey(), temp_path("gateway")).await;
    let (inbox, keeper) = start_keeper().await;
    let (origin, origin_url) = start_origin().await;
    origin.put("vod/a.ts", content(1 << 20, 1), None);
    let hung = hung_peer().await;
    let config = relay_config(
        &network,
        &node,
        consumer.pubkey(),
        origin_url,
        gateway.clone(),
        vec![hung.clone(), keeper, hung],
    );
    let relay = spawn_relay(config).await;
    let viewer = Viewer::join(relay, &gateway, None, 64 << 10).await.unwrap();
    let mut out = Vec::new();
    viewer.fetch("vod/a.ts", &mut out).await.unwrap();
    let mut shipped = false;
    for _ in 0..100 {
        shipped = inbox
            .best(&consumer.pubkey())
            .is_some_and(|r| r.receipt.cumulative == 1 << 20);
        if shipped {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shipped, "the answering keeper never got the receipt");
}

/// L7: a session outlives its token: the viewer renews it from the gateway before it expires,
/// so a stream that runs past `token_ttl_secs` keeps playing.
#[tokio::test]
async fn l7_a_session_outlives_its_token() {
    let network = Network::start().await;
    let (_owner, node) = network.provider().await;
    let gateway_key = SigningKey::from_bytes(&[63; 32]);
    let consumer = network
        .consumer(&pubkey_of(&gateway_key), 1_000 * MEDIA)
        .await;
    let gateway = start_gateway_with(
        &gateway_key,
        media_gateway::config::GatewayConfig {
            service: media_service::settings::ServiceSettings {
                store: temp_path("gateway"),
                ..Default::default()
            },
            consumer: Some(consumer.pubkey()),
            token_ttl_secs: 2,
            ..Default::default()
        },
    )
    .await;
    let (_inbox, keeper) = start_keeper().await;
    let (origin, origin_url) = start_origin().await;
    origin.put("vod/a.ts", content(64 << 10, 1), None);
    origin.put("vod/b.ts", content(64 << 10, 2), None);
    let config = relay_config(
        &network,
        &node,
        consumer.pubkey(),
        origin_url,
        gateway.clone(),
        vec![keeper],
    );
    let relay = spawn_relay(config).await;
    let viewer = Viewer::join(relay, &gateway, None, 64 << 10).await.unwrap();
    let first = viewer.token();
    let mut out = Vec::new();
    viewer.fetch("vod/a.ts", &mut out).await.unwrap();
    // Past the first token's expiry (and the relay's check of it) the session goes on.
    tokio::time::sleep(Duration::from_secs(3)).await;
    out.clear();
    viewer.fetch("vod/b.ts", &mut out).await.unwrap();
    assert_eq!(out, content(64 << 10, 2));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(first.grant.expires_at < now, "the first token has expired");
    assert!(
        viewer.token().grant.expires_at > now,
        "the viewer holds a renewed token"
    );
    assert_eq!(viewer.token().grant.session_key, first.grant.session_key);
}

/// H5: a gateway that never answers cannot freeze the debt guard: the relay stops serving
/// the consumer once its acknowledged, un-co-signed bytes pass the limit.
#[tokio::test]
async fn h5_a_hung_gateway_cannot_freeze_the_debt_guard() {
    let network = Network::start().await;
    let (_owner, node) = network.provider().await;
    let gateway_key = SigningKey::from_bytes(&[62; 32]);
    let consumer = network
        .consumer(&pubkey_of(&gateway_key), 1_000 * MEDIA)
        .await;
    // Tokens come from a real gateway; co-signing goes to one that hangs.
    let issuer = start_gateway(&gateway_key, consumer.pubkey(), temp_path("gateway")).await;
    let (_inbox, keeper) = start_keeper().await;
    let (origin, origin_url) = start_origin().await;
    for i in 0..4 {
        origin.put(&format!("vod/{i}.ts"), content(1 << 20, i), None);
    }
    let config = RelayConfig {
        max_uncosigned_bytes: 1 << 20,
        ..relay_config(
            &network,
            &node,
            consumer.pubkey(),
            origin_url,
            hung_peer().await,
            vec![keeper],
        )
    };
    let relay = spawn_relay(config).await;
    let viewer = Viewer::join(relay.clone(), &issuer, None, 64 << 10)
        .await
        .unwrap();
    let mut out = Vec::new();
    viewer.fetch("vod/0.ts", &mut out).await.unwrap();
    viewer.fetch("vod/1.ts", &mut out).await.unwrap();
    viewer.acknowledge_now().await.unwrap();
    // Within a few rounds (each waits out the gateway's timeout) the guard trips.
    let http = reqwest::Client::new();
    let mut status = None;
    for _ in 0..60 {
        let token = media_viewer::request_token(
            &http,
            &issuer,
            &pubkey_of(&Viewer::new_session_key()),
            None,
        )
        .await;
        let Ok(token) = token else { continue };
        let answer = http
            .get(
                relay
                    .join(&format!("c/{}/vod/2.ts", consumer.pubkey()))
                    .unwrap(),
            )
            .header(SESSION_HEADER, token.to_base64())
            .send()
            .await
            .unwrap();
        status = Some(answer.status());
        if answer.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, Some(reqwest::StatusCode::SERVICE_UNAVAILABLE));
}

/// H1: 5,000 sessions of one consumer in one epoch are co-signed in requests the gateway
/// accepts, for exactly their total; a second round shows the gateway nothing new.
#[tokio::test]
async fn h1_five_thousand_sessions_are_cosigned() {
    let (_origin, origin_url) = start_origin().await;
    let relay = start_relay(&origin_url, Options::default()).await;
    let gateway = start_gateway(&relay.receipt_signer, relay.consumer, temp_path("gateway")).await;
    let cosign_requests = Arc::new(AtomicUsize::new(0));
    let counted = count_requests(gateway.clone(), cosign_requests.clone()).await;
    let view = relay.relay.view.read().unwrap().clone();
    let meter = &relay.relay.meter;
    let sessions = 5_000u64;
    for i in 0..sessions {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&i.to_le_bytes());
        seed[31] = 0x5a;
        let session = SigningKey::from_bytes(&seed);
        let token = relay.token(&session, 1 << 20).to_base64();
        let id = meter
            .admit(Some(&token), &relay.consumer, &view, 0)
            .unwrap();
        assert_eq!(meter.take_credit(&id, 1_000).await, 1_000);
        let receipt = ViewerAck {
            config: view.config,
            consumer: relay.consumer,
            node_key: relay.relay.node_key,
            session_key: pubkey_of(&session),
            epoch: EPOCH,
            cumulative: 1_000,
        }
        .sign(&session)
        .to_base64();
        meter.accept_receipt(&receipt, &view).unwrap();
    }
    let outbox = Outbox {
        node: relay.node.clone(),
        meter: relay.relay.meter.clone(),
        store: relay.relay.store.clone(),
        view: relay.relay.view.clone(),
        directory: Arc::new(media_relay::directory::Directory::configured(&[
            media_relay::config::ConsumerConfig {
                owner: relay.consumer,
                origin: "http://127.0.0.1:1/".parse().unwrap(),
                gateway: Some(counted),
            },
        ])),
        keepers: Vec::new(),
        http: peer_client(Duration::from_secs(30)),
        discovered_http: peer_client(Duration::from_secs(30)),
        debts: Arc::new(Debts::new(u64::MAX)),
        shown: Default::default(),
    };
    outbox.cosign_round().await;
    let entry = relay
        .relay
        .store
        .outbox_entry(&relay.consumer, EPOCH)
        .unwrap()
        .expect("co-signed");
    assert_eq!(entry.receipt.cumulative, sessions * 1_000);
    let requests = cosign_requests.load(Ordering::SeqCst);
    assert_eq!(requests, 5, "chunks of 1,000 sessions");
    assert_eq!(outbox.debts.owed(&relay.consumer), 0);
    outbox.cosign_round().await;
    assert_eq!(
        cosign_requests.load(Ordering::SeqCst),
        requests,
        "nothing grew, nothing was sent again"
    );
}

/// A pass-through in front of `target` that counts the requests it forwards.
async fn count_requests(target: Url, count: Arc<AtomicUsize>) -> Url {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::response::IntoResponse;
    async fn forward(
        State((target, count)): State<(Url, Arc<AtomicUsize>)>,
        uri: axum::http::Uri,
        body: Bytes,
    ) -> axum::response::Response {
        count.fetch_add(1, Ordering::SeqCst);
        let url = target.join(uri.path().trim_start_matches('/')).unwrap();
        let answer = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let text = answer.bytes().await.unwrap();
        (
            axum::http::StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            text,
        )
            .into_response()
    }
    let app = axum::Router::new()
        .fallback(axum::routing::post(forward))
        .with_state((target, count))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// H2: a token used up on relay A is served by relay B only until B's next co-sign round;
/// then B refuses it (403), keeps its bytes out of the consumer's debt, and still serves
/// everyone else.
#[tokio::test]
async fn h2_a_session_reused_across_relays_is_refused_once_the_gateway_caps_it() {
    let network = Network::start().await;
    let (_a_owner, node_a) = network.provider().await;
    let (_b_owner, node_b) = network.provider().await;
    let gateway_key = SigningKey::from_bytes(&[63; 32]);
    let consumer = network
        .consumer(&pubkey_of(&gateway_key), 1_000 * MEDIA)
        .await;
    let gateway = start_gateway_with(
        &gateway_key,
        media_gateway::config::GatewayConfig {
            service: media_service::settings::ServiceSettings {
                store: temp_path("gateway"),
                ..Default::default()
            },
            consumer: Some(consumer.pubkey()),
            max_bytes_per_session: 1 << 20,
            ..Default::default()
        },
    )
    .await;
    let (_inbox, keeper) = start_keeper().await;
    let (origin, origin_url) = start_origin().await;
    origin.put("vod/a.ts", content(1 << 20, 1), None);
    // Smaller than max_bytes, so relay B's own count never stops the session.
    origin.put("vod/b.ts", content(300_000, 2), None);
    let mut configs = [&node_a, &node_b].map(|node| {
        relay_config(
            &network,
            node,
            consumer.pubkey(),
            origin_url.clone(),
            gateway.clone(),
            vec![keeper.clone()],
        )
    });
    // The limit that a reused session used to trip for every viewer of the consumer.
    configs[1].max_uncosigned_bytes = 512 << 10;
    let [config_a, config_b] = configs;
    let relay_a = spawn_relay(config_a).await;
    let relay_b = spawn_relay(config_b).await;

    let session_key = Viewer::new_session_key();
    let token = media_viewer::request_token(
        &reqwest::Client::new(),
        &gateway,
        &pubkey_of(&session_key),
        None,
    )
    .await
    .unwrap();
    let on_a = Viewer::new(relay_a, session_key.clone(), token, 64 << 10);
    let mut out = Vec::new();
    on_a.fetch("vod/a.ts", &mut out).await.unwrap();
    on_a.acknowledge_now().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await; // relay A's co-sign rounds

    // The same token on relay B: served (B has not seen it) ...
    let on_b = Viewer::new(relay_b.clone(), session_key.clone(), token, 64 << 10);
    let mut out = Vec::new();
    let _ = on_b.fetch("vod/b.ts", &mut out).await;
    let _ = on_b.acknowledge_now().await;
    // ... until the gateway tells B the session is capped.
    let http = reqwest::Client::new();
    let object = relay_b
        .join(&format!("c/{}/vod/b.ts", consumer.pubkey()))
        .unwrap();
    let mut refused = false;
    for _ in 0..40 {
        let answer = http
            .get(object.clone())
            .header(SESSION_HEADER, token.to_base64())
            .send()
            .await
            .unwrap();
        if answer.status() == reqwest::StatusCode::FORBIDDEN {
            refused = answer.text().await.unwrap().contains("will not pay");
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(refused, "relay B kept serving a capped session");
    let health: serde_json::Value = http
        .get(relay_b.join("health").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let state = &health["consumers"][consumer.pubkey().to_string()];
    assert_eq!(state["uncosigned_bytes"], 0, "{health}");
    assert_eq!(state["served"], true, "{health}");
    // Another viewer is still served by B.
    let other = Viewer::join(relay_b, &gateway, None, 64 << 10)
        .await
        .unwrap();
    let mut out = Vec::new();
    other.fetch("vod/b.ts", &mut out).await.unwrap();
    assert_eq!(out.len(), 300_000);
}
