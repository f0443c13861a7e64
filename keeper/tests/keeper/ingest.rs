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
