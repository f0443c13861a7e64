//! The keeper's HTTP face: `POST /receipts` ingests batches of co-signed receipts (JSON or
//! binary), answering per receipt; `/health` and `/metrics` are for operators. The wire
//! format is in docs/keeper-api.md.
use crate::chain::ChainCache;
use crate::store::{Store, Stored};
use crate::verify::{self, Rejection};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use media_sdk::receipt::{SignedReceipt, WireReceipt, SIGNED_RECEIPT_LEN};
use metrics::counter;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, RwLock};

/// The most receipts one request may carry.
pub const MAX_BATCH: usize = 10_000;

pub struct Keeper {
    pub store: Arc<Store>,
    pub chain: Arc<RwLock<ChainCache>>,
    pub cluster: Arc<media_sdk::client::Cluster>,
    pub metrics: PrometheusHandle,
    /// Bounds the chain reads that stale-looking receipts trigger.
    pub on_demand: tokio::sync::Mutex<crate::chain::ReadGate>,
}

/// Rejections that a fresher view of the chain may lift (a provider or consumer that
/// registered, rotated or moved to a new epoch since the last refresh).
fn may_be_stale(result: &Value) -> bool {
    matches!(
        result["code"].as_str(),
        Some("unknown_provider" | "wrong_consumer_signer" | "wrong_epoch")
    )
}

pub fn router(keeper: Arc<Keeper>) -> Router {
    Router::new()
        .route("/receipts", post(ingest))
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .with_state(keeper)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BATCH * 1_024))
}

#[derive(Deserialize)]
struct Batch {
    receipts: Vec<WireReceipt>,
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Decodes the request: JSON `{"receipts": [...]}`, or `application/octet-stream` with
/// receipts of 280 bytes back to back.
fn decode(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<Result<SignedReceipt, Rejection>>, String> {
    let binary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/octet-stream"));
    if binary {
        if !body.len().is_multiple_of(SIGNED_RECEIPT_LEN) {
            return Err(format!(
                "a binary batch is a multiple of {SIGNED_RECEIPT_LEN} bytes, got {}",
                body.len()
            ));
        }
        return Ok(body
            .chunks(SIGNED_RECEIPT_LEN)
            .map(|c| SignedReceipt::from_bytes(c).map_err(|e| Rejection::Malformed(e.to_string())))
            .collect());
    }
    let batch: Batch =
        serde_json::from_slice(body).map_err(|e| format!("invalid JSON batch: {e}"))?;
    Ok(batch
        .receipts
        .iter()
        .map(|w| SignedReceipt::try_from(w).map_err(|e| Rejection::Malformed(e.to_string())))
        .collect())
}

async fn ingest(State(keeper): State<Arc<Keeper>>, headers: HeaderMap, body: Bytes) -> Response {
    let decoded = match decode(&headers, &body) {
        Ok(decoded) => decoded,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    if decoded.len() > MAX_BATCH {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("at most {MAX_BATCH} receipts per request"),
        );
    }
    counter!("media_keeper_receipts_received_total").increment(decoded.len() as u64);
    let retry_input = decoded.clone();
    let worker = keeper.clone();
    // Signature checks and the durable write happen off the async workers.
    let outcome = tokio::task::spawn_blocking(move || check_and_store(&worker, decoded)).await;
    let outcome = match outcome {
        Ok(Ok(mut results)) if results.iter().any(may_be_stale) => {
            // Re-read the chain (at most once per ON_DEMAND_MIN_INTERVAL across requests;
            // requests meanwhile wait for that read) and re-check only what it could change.
            {
                let mut gate = keeper.on_demand.lock().await;
                if gate.admit(std::time::Instant::now()) {
                    match crate::chain::read(&keeper.cluster).await {
                        Ok(fresh) => {
                            *keeper.chain.write().unwrap_or_else(|e| e.into_inner()) = fresh
                        }
                        Err(e) => tracing::warn!(error = %e, "chain refresh for ingest failed"),
                    }
                } else {
                    counter!("media_keeper_on_demand_reads_skipped_total").increment(1);
                }
            }
            let indices: Vec<usize> = (0..results.len())
                .filter(|i| may_be_stale(&results[*i]))
                .collect();
            let again: Vec<_> = indices.iter().map(|i| retry_input[*i].clone()).collect();
            let worker = keeper.clone();
            match tokio::task::spawn_blocking(move || check_and_store(&worker, again)).await {
                Ok(Ok(rechecked)) => {
                    for (i, result) in indices.into_iter().zip(rechecked) {
                        results[i] = result;
                    }
                    Ok(Ok(results))
                }
                other => other,
            }
        }
        other => other,
    };
    match outcome {
        Ok(Ok(results)) => Json(json!({ "results": results })).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "storing receipts failed");
            refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Verifies every decodable receipt (one batch verification), checks it against the cached
/// chain, stores the survivors in one transaction, and answers one result per receipt.
pub fn check_and_store(
    keeper: &Keeper,
    decoded: Vec<Result<SignedReceipt, Rejection>>,
) -> Result<Vec<Value>, crate::store::StoreError> {
    let candidates: Vec<SignedReceipt> = decoded
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    let mut signature_results = verify::signatures(&candidates).into_iter();
    let chain = keeper
        .chain
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let verdicts: Vec<Result<SignedReceipt, Rejection>> = decoded
        .into_iter()
        .map(|r| {
            let receipt = r?;
            signature_results.next().unwrap_or(Ok(()))?;
            verify::against_chain(&receipt, &chain)?;
            Ok(receipt)
        })
        .collect();
    let accepted: Vec<SignedReceipt> = verdicts
        .iter()
        .filter_map(|v| v.as_ref().ok().cloned())
        .collect();
    let mut stored = keeper.store.put_all(&accepted)?.into_iter();
    Ok(verdicts
        .into_iter()
        .map(|verdict| match verdict {
            Ok(_) => match stored.next() {
                Some(Stored::New) => {
                    counter!("media_keeper_receipts_accepted_total").increment(1);
                    json!({"status": "accepted"})
                }
                _ => {
                    counter!("media_keeper_receipts_duplicate_total").increment(1);
                    json!({"status": "duplicate"})
                }
            },
            Err(rejection) => {
                counter!("media_keeper_receipts_rejected_total", "reason" => rejection.code()).increment(1);
                json!({"status": "rejected", "code": rejection.code(), "reason": rejection.to_string()})
            }
        })
        .collect())
}

async fn health(State(keeper): State<Arc<Keeper>>) -> Response {
    let chain = keeper
        .chain
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Json(json!({
        "status": "ok",
        "epoch": chain.epoch,
        "providers": chain.providers.len(),
        "consumers": chain.consumers.len(),
    }))
    .into_response()
}

async fn metrics_text(State(keeper): State<Arc<Keeper>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        keeper.metrics.render(),
    )
        .into_response()
}
