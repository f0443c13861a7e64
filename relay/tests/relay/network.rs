//! In-process stand-ins for the relay's counterparts: a gateway and a keeper that records
//! what relays ship. The chain itself is `media_test_harness::network`.
use anchor_lang::prelude::Pubkey;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use ed25519_dalek::SigningKey;
use media_sdk::receipt::{SignedReceipt, WireReceipt};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use url::Url;

pub use media_test_harness::network::*;

/// A gateway for `consumer` in this process, with its store at `store`.
pub async fn start_gateway(
    signer: &SigningKey,
    consumer: Pubkey,
    store: std::path::PathBuf,
) -> Url {
    let config = media_gateway::config::GatewayConfig {
        service: media_service::settings::ServiceSettings {
            store,
            ..Default::default()
        },
        consumer: Some(consumer),
        ..Default::default()
    };
    start_gateway_with(signer, config).await
}

/// A gateway in this process with `config`.
pub async fn start_gateway_with(
    signer: &SigningKey,
    config: media_gateway::config::GatewayConfig,
) -> Url {
    let gateway = media_gateway::build(&config, signer.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(media_gateway::run(
        gateway,
        listener,
        std::future::pending(),
    ));
    url
}

/// What a keeper stand-in has been sent.
#[derive(Default)]
pub struct KeeperInbox {
    pub received: Mutex<Vec<SignedReceipt>>,
}

impl KeeperInbox {
    /// The highest cumulative received for `consumer`.
    pub fn best(&self, consumer: &Pubkey) -> Option<SignedReceipt> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.receipt.consumer == *consumer)
            .max_by_key(|r| r.receipt.cumulative)
            .cloned()
    }
}

async fn ingest(State(inbox): State<Arc<KeeperInbox>>, Json(body): Json<Value>) -> Json<Value> {
    let wires: Vec<WireReceipt> = serde_json::from_value(body["receipts"].clone()).unwrap();
    let mut results = Vec::new();
    for wire in wires {
        let signed = SignedReceipt::try_from(&wire).unwrap();
        let status = if signed.verify().is_ok() {
            "accepted"
        } else {
            "rejected"
        };
        inbox.received.lock().unwrap().push(signed);
        results.push(json!({ "status": status }));
    }
    Json(json!({ "results": results }))
}

/// A keeper stand-in that verifies and records every receipt it is sent.
pub async fn start_keeper() -> (Arc<KeeperInbox>, Url) {
    let inbox = Arc::new(KeeperInbox::default());
    let app = Router::new()
        .route("/receipts", post(ingest))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (inbox, url)
}
