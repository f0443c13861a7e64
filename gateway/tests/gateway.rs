//! The gateway over HTTP on 127.0.0.1: tokens, honest co-signing, and a colluding relay that
//! tries to get more co-signed than its viewers' receipts justify.
use anchor_lang::prelude::Pubkey;
use base64::Engine;
use ed25519_dalek::SigningKey;
use media_gateway::config::GatewayConfig;
use media_sdk::receipt::{pubkey_of, ReceiptV1, SignedReceipt};
use media_sdk::session::{SessionGrant, SessionToken, ViewerAck};
use serde_json::{json, Value};
use std::path::PathBuf;

struct Running {
    url: String,
    signer: SigningKey,
    store: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn temp_store() -> PathBuf {
    media_service::temp_path("gateway-test")
}

async fn start(store: PathBuf, consumer: Pubkey, secret: Option<&str>, max_bytes: u64) -> Running {
    start_with(GatewayConfig {
        service: media_service::settings::ServiceSettings {
            store,
            ..Default::default()
        },
        consumer: Some(consumer),
        shared_secret: secret.map(String::from),
        max_bytes_per_session: max_bytes,
        ..GatewayConfig::default()
    })
    .await
}

async fn start_with(config: GatewayConfig) -> Running {
    let signer = SigningKey::from_bytes(&[41; 32]);
    let store = config.service.store.clone();
    let gateway = media_gateway::build(&config, signer.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(media_gateway::run(gateway, listener, async {
        let _ = stopped.await;
    }));
    Running {
        url,
        signer,
        store,
        stop,
        task,
    }
}

impl Running {
    async fn token(&self, session: &SigningKey) -> SessionToken {
        let reply: Value = reqwest::Client::new()
            .post(format!("{}/session", self.url))
            .json(&json!({"session_key": pubkey_of(session).to_string()}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        SessionToken::from_base64(reply["token"].as_str().unwrap()).unwrap()
    }

    async fn cosign(&self, node_key: &Pubkey, epoch: u64, proofs: &[(String, String)]) -> Value {
        let sessions: Vec<Value> = proofs
            .iter()
            .map(|(token, receipt)| json!({"token": token, "receipt": receipt}))
            .collect();
        reqwest::Client::new()
            .post(format!("{}/cosign", self.url))
            .json(&json!({"node_key": node_key.to_string(), "epoch": epoch, "sessions": sessions}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn stop(self) -> PathBuf {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
        self.store
    }
}

fn viewer_receipt(
    consumer: Pubkey,
    node_key: Pubkey,
    session: &SigningKey,
    epoch: u64,
    cumulative: u64,
) -> String {
    ViewerAck {
        config: media_sdk::pda::config(),
        consumer,
        node_key,
        session_key: pubkey_of(session),
        epoch,
        cumulative,
    }
    .sign(session)
    .to_base64()
}

fn decode(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

#[tokio::test]
async fn honest_receipts_are_cosigned_and_verify_as_settleable_receipts() {
    let consumer = Pubkey::new_unique();
    let gw = start(temp_store(), consumer, None, 1 << 30).await;
    let node = SigningKey::from_bytes(&[42; 32]);
    let node_key = pubkey_of(&node);
    let (a, b) = (
        SigningKey::from_bytes(&[43; 32]),
        SigningKey::from_bytes(&[44; 32]),
    );
    let (ta, tb) = (gw.token(&a).await, gw.token(&b).await);
    ta.verify(&pubkey_of(&gw.signer)).unwrap();
    let reply = gw
        .cosign(
            &node_key,
            9,
            &[
                (
                    ta.to_base64(),
                    viewer_receipt(consumer, node_key, &a, 9, 300_000),
                ),
                (
                    tb.to_base64(),
                    viewer_receipt(consumer, node_key, &b, 9, 200_000),
                ),
            ],
        )
        .await;
    assert_eq!(reply["cumulative"], 500_000);
    assert_eq!(reply["rejected"], json!([]));
    let receipt = ReceiptV1::decode(&decode(reply["receipt"].as_str().unwrap())).unwrap();
    assert_eq!(
        (
            receipt.node_key,
            receipt.consumer,
            receipt.epoch,
            receipt.cumulative
        ),
        (node_key, consumer, 9, 500_000)
    );
    // With the relay's own signature it is a receipt the program would settle.
    let signed = SignedReceipt {
        receipt,
        node_signature: media_sdk::receipt::sign(&node, &receipt),
        consumer_signer: reply["consumer_signer"].as_str().unwrap().parse().unwrap(),
        consumer_signature: decode(reply["consumer_signature"].as_str().unwrap())
            .try_into()
            .unwrap(),
    };
    signed.verify().unwrap();
    assert_eq!(signed.consumer_signer, pubkey_of(&gw.signer));
    gw.stop().await;
}

#[tokio::test]
async fn a_colluding_relay_gets_no_more_than_the_viewers_receipts_justify() {
    let consumer = Pubkey::new_unique();
    let gw = start(temp_store(), consumer, None, 1_000_000).await;
    let relay = SigningKey::from_bytes(&[45; 32]);
    let node_key = pubkey_of(&relay);
    let viewer = SigningKey::from_bytes(&[46; 32]);
    let token = gw.token(&viewer).await.to_base64();
    let honest = viewer_receipt(consumer, node_key, &viewer, 3, 400_000);
    let first = gw
        .cosign(&node_key, 3, &[(token.clone(), honest.clone())])
        .await;
    assert_eq!(first["cumulative"], 400_000);

    // The relay invents a session: a token it signed itself.
    let fake_session = SigningKey::from_bytes(&[47; 32]);
    let forged_token = SessionGrant {
        config: media_sdk::pda::config(),
        consumer,
        session_key: pubkey_of(&fake_session),
        expires_at: i64::MAX,
        max_bytes: u64::MAX,
    }
    .sign(&relay)
    .to_base64();
    // It shows the honest session twice, once with a receipt it forged by flipping bytes,
    // once with another relay's receipt, plus receipts for the wrong epoch and consumer.
    let mut tampered = ViewerAck::decode(&decode(&honest)[..152])
        .unwrap()
        .sign(&viewer);
    tampered.ack.cumulative = 900_000;
    let other_relay = Pubkey::new_unique();
    let reply = gw
        .cosign(
            &node_key,
            3,
            &[
                (
                    forged_token,
                    viewer_receipt(consumer, node_key, &fake_session, 3, 5_000_000),
                ),
                (token.clone(), tampered.to_base64()),
                (
                    token.clone(),
                    viewer_receipt(consumer, other_relay, &viewer, 3, 800_000),
                ),
                (
                    token.clone(),
                    viewer_receipt(consumer, node_key, &viewer, 4, 800_000),
                ),
                (
                    token.clone(),
                    viewer_receipt(Pubkey::new_unique(), node_key, &viewer, 3, 800_000),
                ),
                (token.clone(), honest.clone()),
                (token.clone(), honest.clone()),
            ],
        )
        .await;
    assert_eq!(
        reply["cumulative"], 400_000,
        "nothing beyond the honest receipt"
    );
    let reasons: Vec<&str> = reply["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(reasons[0].contains("not signed by this gateway"));
    assert!(reasons[1].contains("signature does not verify"));
    assert!(reasons[2].contains("for relay"));

    // A relay holding a viewer's session key can sign any number; max_bytes bounds it.
    let greedy = viewer_receipt(consumer, node_key, &viewer, 3, 50_000_000);
    let capped = gw.cosign(&node_key, 3, &[(token.clone(), greedy)]).await;
    assert_eq!(capped["cumulative"], 1_000_000, "the session's max_bytes");
    assert_eq!(capped["capped"], json!([pubkey_of(&viewer).to_string()]));
    // The same session through another relay: nothing left of its max_bytes.
    let elsewhere = gw
        .cosign(
            &other_relay,
            3,
            &[(
                token.clone(),
                viewer_receipt(consumer, other_relay, &viewer, 3, 500_000),
            )],
        )
        .await;
    assert_eq!(elsewhere["cumulative"], 0);

    // The record survives a restart: replaying old receipts co-signs nothing new.
    let store = gw.stop().await;
    let gw = start(store, consumer, None, 1_000_000).await;
    let replay = gw.cosign(&node_key, 3, &[(token, honest)]).await;
    assert_eq!(
        replay["cumulative"], 1_000_000,
        "monotone, from the durable record"
    );
    gw.stop().await;
}

#[tokio::test]
async fn tokens_need_the_shared_secret_when_one_is_set() {
    let gw = start(temp_store(), Pubkey::new_unique(), Some("s3cret"), 1 << 20).await;
    let http = reqwest::Client::new();
    let body = json!({"session_key": Pubkey::new_unique().to_string()});
    let denied = http
        .post(format!("{}/session", gw.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let wrong = http
        .post(format!("{}/session", gw.url))
        .bearer_auth("guess")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let allowed = http
        .post(format!("{}/session", gw.url))
        .bearer_auth("s3cret")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let bad_key = http
        .post(format!("{}/session", gw.url))
        .bearer_auth("s3cret")
        .json(&json!({"session_key": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 400);
    gw.stop().await;
}

#[tokio::test]
async fn records_of_epochs_that_cannot_settle_and_sessions_past_use_are_pruned() {
    use media_gateway::prune::{prune_once, Pruned};
    use media_gateway::store::Shown;
    let network = media_test_harness::network::Network::start_with_epochs(1).await;
    let consumer = Pubkey::new_unique();
    let gateway = |rpc_url: Option<String>| {
        let config = GatewayConfig {
            service: media_service::settings::ServiceSettings {
                store: temp_store(),
                rpc_url,
                ..Default::default()
            },
            consumer: Some(consumer),
            ..GatewayConfig::default()
        };
        media_gateway::build(&config, SigningKey::from_bytes(&[41; 32])).unwrap()
    };
    let (watching, blind) = (gateway(Some(network.url())), gateway(None));
    let first = network.epoch().await;
    let node = Pubkey::new_unique();
    let now = media_gateway::server::unix_now();
    let shown = |expires_at| Shown {
        session: Pubkey::new_unique(),
        cumulative: 100,
        max_bytes: 1_000,
        expires_at,
    };
    for g in [&watching, &blind] {
        let store = &g.cosigner.store;
        for epoch in first..first + 3 {
            store.record(&node, epoch, &[shown(now + 3_600)]).unwrap();
            store.cosigned(&node, epoch, 100).unwrap();
        }
        // A session whose token expired three hours ago (grace 1 h, then a 1 h margin).
        store
            .record(&node, first + 2, &[shown(now - 3 * 3_600)])
            .unwrap();
    }

    // Every epoch can still settle: only the session past use goes.
    let pruned = prune_once(&watching, now).await.unwrap();
    assert_eq!(
        pruned,
        Pruned {
            sessions: 1,
            epoch_records: 0
        }
    );

    // Three epochs later the first two can no longer settle: their acknowledgement and
    // co-signature go, the previous epoch's stay.
    network.advance_to_epoch(first + 3).await;
    let pruned = prune_once(&watching, now).await.unwrap();
    assert_eq!(
        pruned,
        Pruned {
            sessions: 0,
            epoch_records: 4
        }
    );
    let store = &watching.cosigner.store;
    assert_eq!(store.last_cosigned(&node, first).unwrap(), 0);
    assert_eq!(store.last_cosigned(&node, first + 1).unwrap(), 0);
    assert_eq!(store.last_cosigned(&node, first + 2).unwrap(), 100);
    assert_eq!(store.record(&node, first + 2, &[]).unwrap().justified, 200);

    // Without a chain view no epoch is forgotten.
    let pruned = prune_once(&blind, now).await.unwrap();
    assert_eq!(
        pruned,
        Pruned {
            sessions: 1,
            epoch_records: 0
        }
    );
    assert_eq!(
        blind.cosigner.store.last_cosigned(&node, first).unwrap(),
        100
    );
}

/// C1: a Sybil relay (25 MEDIA, no bytes served) with as many tokens as it likes, each
/// "acknowledged" by session keys it holds, gets at most `new_relay_bytes` co-signed; a
/// second one at most what the epoch's ceiling has left; and the record shows why.
#[tokio::test]
async fn c1_sybil_relays_with_many_tokens_get_no_more_than_the_stated_ceilings() {
    let consumer = Pubkey::new_unique();
    let gw = start_with(GatewayConfig {
        service: media_service::settings::ServiceSettings {
            store: temp_store(),
            ..Default::default()
        },
        consumer: Some(consumer),
        max_bytes_per_session: 1 << 30,
        new_relay_bytes: 10 << 20,
        max_cosigned_bytes_per_epoch: 15 << 20,
        sessions_per_client_per_minute: 10_000,
        session_burst: 10_000,
        ..GatewayConfig::default()
    })
    .await;
    // Each Sybil relay brings its own 20 sessions (a session counts once across relays).
    let mut sets = Vec::new();
    for set in 0..3u8 {
        let mut proofs = Vec::new();
        for i in 0..20u8 {
            let session = SigningKey::from_bytes(&[100 + set * 20 + i; 32]);
            let token = gw.token(&session).await.to_base64();
            proofs.push((token, session));
        }
        sets.push(proofs);
    }
    let sybil = |seed: u8| pubkey_of(&SigningKey::from_bytes(&[seed; 32]));
    let claim = |set: usize, node_key: Pubkey| -> Vec<(String, String)> {
        sets[set]
            .iter()
            .map(|(token, session)| {
                (
                    token.clone(),
                    viewer_receipt(consumer, node_key, session, 3, 1 << 30),
                )
            })
            .collect()
    };
    let first = sybil(201);
    let reply = gw.cosign(&first, 3, &claim(0, first)).await;
    assert_eq!(reply["cumulative"], 10u64 << 20, "{reply}");
    // Asking again adds nothing.
    let again = gw.cosign(&first, 3, &claim(0, first)).await;
    assert_eq!(again["cumulative"], 10u64 << 20);
    let second = sybil(202);
    let reply = gw.cosign(&second, 3, &claim(1, second)).await;
    assert_eq!(reply["cumulative"], 5u64 << 20, "the epoch's ceiling");
    let third = sybil(203);
    assert_eq!(
        gw.cosign(&third, 3, &claim(2, third)).await["cumulative"],
        0
    );
    gw.stop().await;
}

/// C1: token issuance is limited per client (429 with Retry-After) and per epoch (503).
#[tokio::test]
async fn c1_session_tokens_are_rate_limited_and_budgeted() {
    let consumer = Pubkey::new_unique();
    let gw = start_with(GatewayConfig {
        service: media_service::settings::ServiceSettings {
            store: temp_store(),
            ..Default::default()
        },
        consumer: Some(consumer),
        sessions_per_client_per_minute: 1,
        session_burst: 3,
        ..GatewayConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let ask = || {
        http.post(format!("{}/session", gw.url))
            .json(&json!({"session_key": pubkey_of(&SigningKey::from_bytes(&[9; 32])).to_string()}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(ask().await.unwrap().status(), 200);
    }
    let limited = ask().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "60");
    gw.stop().await;

    let gw = start_with(GatewayConfig {
        service: media_service::settings::ServiceSettings {
            store: temp_store(),
            ..Default::default()
        },
        consumer: Some(consumer),
        max_bytes_per_session: 1 << 30,
        max_session_bytes_per_epoch: 2 << 30,
        ..GatewayConfig::default()
    })
    .await;
    let ask = || {
        http.post(format!("{}/session", gw.url))
            .json(&json!({"session_key": pubkey_of(&SigningKey::from_bytes(&[8; 32])).to_string()}))
            .send()
    };
    assert_eq!(ask().await.unwrap().status(), 200);
    assert_eq!(ask().await.unwrap().status(), 200);
    let spent = ask().await.unwrap();
    assert_eq!(spent.status(), 503);
    assert!(spent.text().await.unwrap().contains("budget"));
    gw.stop().await;
}

/// H1: the body limit is explicit and requests of more sessions than a relay sends are
/// refused by count, not by accident.
#[tokio::test]
async fn h1_cosign_requests_have_an_explicit_size_and_count_limit() {
    let consumer = Pubkey::new_unique();
    let gw = start(temp_store(), consumer, None, 1 << 30).await;
    let http = reqwest::Client::new();
    let oversized = "x".repeat(media_gateway::server::MAX_COSIGN_REQUEST_BYTES + 1);
    let answer = http
        .post(format!("{}/cosign", gw.url))
        .header("content-type", "application/json")
        .body(oversized)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 413);
    let node = Pubkey::new_unique().to_string();
    let sessions: Vec<Value> = (0..media_gateway::cosign::MAX_SESSIONS_PER_REQUEST + 1)
        .map(|_| json!({"token": "", "receipt": ""}))
        .collect();
    let answer = http
        .post(format!("{}/cosign", gw.url))
        .json(&json!({"node_key": node, "epoch": 1, "sessions": sessions}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(answer.text().await.unwrap().contains("at most"));
    gw.stop().await;
}

/// M3: one address flooding `/cosign` gets 429 with Retry-After once over its burst; a relay
/// at another address is still served.
#[tokio::test]
async fn m3_a_cosign_flood_from_one_address_is_rate_limited() {
    let consumer = Pubkey::new_unique();
    let gw = start_with(GatewayConfig {
        service: media_service::settings::ServiceSettings {
            store: temp_store(),
            ..Default::default()
        },
        consumer: Some(consumer),
        cosign_rate: media_service::rate::PeerQuota {
            per_minute: 1,
            burst: 2,
        },
        ..GatewayConfig::default()
    })
    .await;
    let from = |source: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(source))
            .build()
            .unwrap()
    };
    let body = json!({"node_key": Pubkey::new_unique().to_string(), "epoch": 1, "sessions": []});
    let post = |client: reqwest::Client| {
        let request = client.post(format!("{}/cosign", gw.url)).json(&body);
        async move { request.send().await.unwrap() }
    };
    let flooder = from([127, 0, 0, 1]);
    for _ in 0..2 {
        assert_ne!(post(flooder.clone()).await.status(), 429);
    }
    let limited = post(flooder.clone()).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "60");
    assert_ne!(post(from([127, 0, 0, 2])).await.status(), 429);
    gw.stop().await;
}

/// M11: the consumer's owner key is refused as the gateway's signer.
#[test]
fn m11_the_owner_key_cannot_be_the_gateway_key() {
    let signer = SigningKey::from_bytes(&[44; 32]);
    let config = GatewayConfig {
        service: media_service::settings::ServiceSettings {
            store: temp_store(),
            ..Default::default()
        },
        consumer: Some(pubkey_of(&signer)),
        ..GatewayConfig::default()
    };
    let refused = media_gateway::build(&config, signer).err().unwrap();
    assert!(refused.to_string().contains("owner key"), "{refused}");
}

/// Issue 17: `GET /.media/relays` lists the active edge providers from the gateway's own
/// chain read, following registrations and deactivations; without a chain it answers 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_lists_the_relays_the_chain_has() {
    use media_sdk::api::gateway::RelaysResponse;
    use media_test_harness::solana_signer::Signer;
    let network = media_test_harness::network::Network::start().await;
    let gw = start_with(GatewayConfig {
        service: media_service::settings::ServiceSettings {
            store: temp_store(),
            rpc_url: Some(network.url()),
            chain_refresh_secs: 1,
            ..Default::default()
        },
        consumer: Some(Pubkey::new_unique()),
        ..GatewayConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let listed = || async {
        let response = http
            .get(format!("{}/.media/relays", gw.url))
            .send()
            .await
            .unwrap();
        if response.status() != 200 {
            return None;
        }
        Some(response.json::<RelaysResponse>().await.unwrap())
    };
    let wait_for = |want: Option<String>| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(answer) = listed().await {
                let relays = answer.relays;
                let keys: Vec<_> = relays.iter().map(|r| r.node_key.clone()).collect();
                if keys == want.iter().cloned().collect::<Vec<_>>() {
                    return relays;
                }
            }
            assert!(std::time::Instant::now() < deadline, "waiting for {want:?}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    wait_for(None).await;
    let (owner, node) = network.provider().await;
    let relays = wait_for(Some(node.pubkey().to_string())).await;
    assert_eq!(relays[0].endpoint, "http://127.0.0.1");
    assert_eq!(relays[0].region, "local");
    network
        .cluster
        .send_and_confirm(
            &[media_sdk::ix::deactivate_provider(&owner.pubkey())],
            &owner,
            &[],
        )
        .await
        .unwrap();
    wait_for(None).await;
    gw.stop().await;

    let blind = start(temp_store(), Pubkey::new_unique(), None, 1 << 20).await;
    let answer = http
        .get(format!("{}/.media/relays", blind.url))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 503);
    blind.stop().await;
}
