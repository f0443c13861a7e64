//! Ingest: per-receipt answers, nothing stored that is forged, malformed or out of window.
use crate::fixtures::*;
use ed25519_dalek::SigningKey;
use media_sdk::receipt::SignedReceipt;

#[tokio::test]
async fn forged_malformed_and_wrong_epoch_receipts_are_rejected_with_reasons_and_not_stored() {
    let market = Market::open().await;
    let (_keeper, path) = keeper_keypair(&market.network).await;
    let url = start_keeper(keeper_config(&market.network.url(), path)).await;

    let good = market.receipt(0, 0, 500_000);
    let mut forged_node = market.receipt(1, 0, 900_000);
    forged_node.receipt.cumulative = 9_000_000; // signatures no longer cover it
    let intruder = SigningKey::from_bytes(&[92; 32]);
    let wrong_signer = SignedReceipt::sign(
        market.receipt(1, 0, 1).receipt,
        &market.node_signing_key(),
        &intruder,
    )
    .unwrap();
    let future_epoch = market.receipt(1, 7, 800_000);
    let results = ingest(
        &url,
        &[forged_node, good.clone(), wrong_signer, future_epoch],
    )
    .await;
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r["code"].as_str().unwrap_or(r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            "bad_signature",
            "accepted",
            "wrong_consumer_signer",
            "wrong_epoch"
        ]
    );
    assert!(results[0]["reason"].as_str().unwrap().contains("node key"));

    // Malformed input: undecodable fields per receipt, broken batches as a whole.
    let mut wire = good.to_wire();
    wire.node_signature = "AAAA".into();
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/receipts"))
        .json(&serde_json::json!({"receipts": [wire]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["results"][0]["code"], "malformed");
    let broken = reqwest::Client::new()
        .post(format!("{url}/receipts"))
        .header("content-type", "application/octet-stream")
        .body(vec![0u8; 281])
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    let binary = reqwest::Client::new()
        .post(format!("{url}/receipts"))
        .header("content-type", "application/octet-stream")
        .body(good.to_bytes().to_vec())
        .send()
        .await
        .unwrap();
    let reply: serde_json::Value = binary.json().await.unwrap();
    assert_eq!(
        reply["results"][0]["status"], "duplicate",
        "binary form, same receipt"
    );

    // Only the good receipt settles; the forged one never reaches the chain.
    market.wait_settled(0, 0, 500_000).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(market.lane_settled(1, 0).await, 0);
    assert_eq!(market.escrow(1).await, ESCROW);
}

/// A keeper at epoch 3 that cannot read the chain (nothing listens at its RPC address), served
/// the way `media-keeper` serves it; its URL and store directory.
async fn start_offline_keeper(
    name: &str,
    receipts_rate: media_service::rate::PeerQuota,
) -> (String, std::path::PathBuf) {
    use media_keeper::chain::{ChainCache, ReadGate, ON_DEMAND_MIN_INTERVAL};
    use media_keeper::server::{router, KeeperService};
    use std::sync::{Arc, RwLock};

    let dir = std::env::temp_dir().join(format!("media-keeper-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(media_keeper::store::Store::open(&dir.join("keeper.redb")).unwrap());
    let view = ChainCache {
        config: media_sdk::pda::config(),
        epoch: 3,
        ..ChainCache::default()
    };
    let keeper = Arc::new(KeeperService {
        store,
        chain: Arc::new(RwLock::new(Arc::new(view))),
        cluster: Arc::new(media_sdk::client::Cluster::new(
            "http://127.0.0.1:9",
            solana_commitment_config::CommitmentConfig::confirmed(),
        )),
        metrics: media_keeper::metrics_handle(),
        on_demand: tokio::sync::Mutex::new(ReadGate::new(ON_DEMAND_MIN_INTERVAL)),
        unknown: Default::default(),
        store_health: Default::default(),
        receipts_rate: media_service::rate::PeerRateLimit::new(receipts_rate),
        tasks: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(media_service::http::serve(
        listener,
        router(keeper),
        Default::default(),
        std::future::pending(),
    ));
    (url, dir)
}

/// M9: a refusal that a fresher view might lift (here an unknown node key) is answered `retry`
/// while the keeper cannot read the chain, so relays post it again instead of giving it up;
/// an epoch beyond the next one is refused for good (no read could help it, L11).
#[tokio::test]
async fn m9_stale_looking_refusals_are_retry_while_the_chain_cannot_be_read() {
    use anchor_lang::prelude::Pubkey;
    use media_sdk::receipt::ReceiptV1;

    let (url, dir) = start_offline_keeper("m9", Default::default()).await;
    let node = SigningKey::from_bytes(&[7; 32]);
    let gateway = SigningKey::from_bytes(&[8; 32]);
    let receipt = |epoch| {
        let r = ReceiptV1 {
            config: media_sdk::pda::config(),
            node_key: Pubkey::new_from_array(node.verifying_key().to_bytes()),
            consumer: Pubkey::new_from_array([9; 32]),
            epoch,
            cumulative: 1_000,
        };
        SignedReceipt::sign(r, &node, &gateway).unwrap()
    };
    for _ in 0..2 {
        let results = ingest(&url, &[receipt(3), receipt(9)]).await;
        assert_eq!(
            (&results[0]["status"], &results[0]["code"]),
            (&"retry".into(), &"unknown_provider".into()),
            "{results:?}"
        );
        assert_eq!(
            (&results[1]["status"], &results[1]["code"]),
            (&"rejected".into(), &"wrong_epoch".into())
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// M3: one address flooding `/receipts` gets 429 with Retry-After once over its burst, before
/// any receipt is decoded or checked; another address is still answered.
#[tokio::test]
async fn m3_a_receipt_flood_from_one_address_is_rate_limited() {
    let quota = media_service::rate::PeerQuota {
        per_minute: 1,
        burst: 2,
    };
    let (url, dir) = start_offline_keeper("m3", quota).await;
    let from = |source: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(source))
            .build()
            .unwrap()
    };
    let post = |client: &reqwest::Client| {
        client
            .post(format!("{url}/receipts"))
            .json(&serde_json::json!({"receipts": []}))
            .send()
    };
    let flooder = from([127, 0, 0, 1]);
    for _ in 0..2 {
        assert_eq!(post(&flooder).await.unwrap().status(), 200);
    }
    let limited = post(&flooder).await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "60");
    assert_eq!(post(&from([127, 0, 0, 3])).await.unwrap().status(), 200);
    let _ = std::fs::remove_dir_all(&dir);
}
