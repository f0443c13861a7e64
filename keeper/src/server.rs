//! The keeper's HTTP face: `POST /receipts` ingests batches of co-signed receipts (JSON or
//! binary), answering per receipt; `/health` and `/metrics` are for operators. The wire
//! format is in docs/keeper-api.md.
use crate::chain::{ChainCache, UnknownKeys};
use crate::store::{Store, Stored};
use crate::verify::{self, Rejection, Verdict};
use anchor_lang::prelude::Pubkey;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use media_sdk::api::keeper::{IngestRequest, IngestResponse};
use media_sdk::receipt::{SignedReceipt, SIGNED_RECEIPT_LEN};
use metrics::counter;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// The most receipts one request may carry.
pub const MAX_BATCH: usize = 10_000;

/// The ingest service's state (not the on-chain `media_network::state::Keeper` account).
pub struct KeeperService {
    pub store: Arc<Store>,
    pub chain: Arc<RwLock<Arc<ChainCache>>>,
    pub cluster: Arc<media_sdk::client::Cluster>,
    pub metrics: PrometheusHandle,
    /// Bounds the chain reads that stale-looking receipts trigger.
    pub on_demand: tokio::sync::Mutex<crate::chain::ReadGate>,
    /// Keys a fresh read did not find, which trigger no further read for a while (L11).
    pub unknown: std::sync::Mutex<UnknownKeys>,
    /// Whether the store still works; `/health` reports it.
    pub store_health: Arc<media_service::StoreHealth>,
    /// `POST /receipts` per peer address (review M3).
    pub receipts_rate: Arc<media_service::rate::PeerRateLimit>,
    /// The supervised jobs' state, for `/health`.
    pub tasks: Arc<media_service::tasks::TaskHealth>,
}

impl KeeperService {
    /// The current view; a cheap `Arc` clone, not a copy of every provider and consumer.
    pub fn view(&self) -> Arc<ChainCache> {
        self.chain.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A view at most `ON_DEMAND_MIN_INTERVAL` old: read now if the gate lets a read
    /// through, or the one a read let through just before. `None` when the read failed.
    async fn fresh_view(&self) -> Option<Arc<ChainCache>> {
        let mut gate = self.on_demand.lock().await;
        let now = Instant::now();
        if !gate.admit(now) {
            counter!("media_keeper_on_demand_reads_skipped_total").increment(1);
            return gate.read_ok_recently(now).then(|| self.view());
        }
        match crate::chain::read(&self.cluster).await {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                *self.chain.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
                gate.read_succeeded(now);
                Some(fresh)
            }
            Err(e) => {
                tracing::warn!(error = %e, "chain refresh for ingest failed");
                None
            }
        }
    }
}

/// The key a stale-looking rejection names (a node key or a consumer).
fn stale_key(receipt: &SignedReceipt, verdict: &Verdict) -> Option<Pubkey> {
    match verdict {
        Verdict::Rejected(Rejection::UnknownProvider { .. }) => Some(receipt.receipt.node_key),
        Verdict::Rejected(Rejection::WrongConsumerSigner { .. }) => Some(receipt.receipt.consumer),
        _ => None,
    }
}

/// Whether re-reading the chain could lift a stale-looking rejection: not for a key a fresh
/// read has just failed to find, nor for an epoch beyond the next one (L11).
fn read_could_help(
    receipt: &SignedReceipt,
    verdict: &Verdict,
    unknown: &UnknownKeys,
    now: Instant,
) -> bool {
    match verdict {
        Verdict::Rejected(Rejection::WrongEpoch { epoch, current }) => {
            current.checked_add(1) == Some(*epoch)
        }
        _ => stale_key(receipt, verdict).is_some_and(|key| !unknown.recently_unknown(&key, now)),
    }
}

pub fn router(keeper: Arc<KeeperService>) -> Router {
    Router::new()
        .route(
            "/receipts",
            post(ingest).layer(axum::middleware::from_fn_with_state(
                keeper.receipts_rate.clone(),
                media_service::rate::limit_by_peer,
            )),
        )
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .with_state(keeper)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BATCH * 1_024))
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    let error = media_sdk::api::ErrorBody {
        error: message.into(),
    };
    (status, Json(error)).into_response()
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
    let batch: IngestRequest =
        serde_json::from_slice(body).map_err(|e| format!("invalid JSON batch: {e}"))?;
    Ok(batch
        .receipts
        .iter()
        .map(|w| SignedReceipt::try_from(w).map_err(|e| Rejection::Malformed(e.to_string())))
        .collect())
}

async fn ingest(
    State(keeper): State<Arc<KeeperService>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
    let decoded = Arc::new(decoded);
    let all: Vec<usize> = (0..decoded.len()).collect();
    let mut verdicts = match check_off_thread(&keeper, keeper.view(), &decoded, all).await {
        Ok(verdicts) => verdicts,
        Err(response) => return response,
    };
    let stale: Vec<usize> = (0..verdicts.len())
        .filter(|&i| verdicts[i].may_be_stale())
        .collect();
    if !stale.is_empty() {
        let now = Instant::now();
        let worth_reading = {
            let unknown = keeper.unknown.lock().unwrap_or_else(|e| e.into_inner());
            stale.iter().any(|&i| {
                decoded[i]
                    .as_ref()
                    .is_ok_and(|r| read_could_help(r, &verdicts[i], &unknown, now))
            })
        };
        let fresh = if worth_reading {
            keeper.fresh_view().await
        } else {
            counter!("media_keeper_on_demand_reads_skipped_total").increment(1);
            Some(keeper.view())
        };
        match fresh {
            Some(view) => {
                let rechecked = match check_off_thread(&keeper, view, &decoded, stale.clone()).await
                {
                    Ok(rechecked) => rechecked,
                    Err(response) => return response,
                };
                let mut unknown = keeper.unknown.lock().unwrap_or_else(|e| e.into_inner());
                for (i, verdict) in stale.into_iter().zip(rechecked) {
                    // Only a view read for this request (or just before it) confirms a key
                    // unknown; re-remembering on the old view would keep a key's timer
                    // running for as long as someone posts it.
                    let confirmed = decoded[i]
                        .as_ref()
                        .ok()
                        .and_then(|r| stale_key(r, &verdict))
                        .filter(|_| worth_reading);
                    if let Some(key) = confirmed {
                        unknown.remember(key, now);
                    }
                    verdicts[i] = verdict;
                }
            }
            // No fresh view: these refusals are not final (M9).
            None => {
                let unknown = keeper.unknown.lock().unwrap_or_else(|e| e.into_inner());
                for i in stale {
                    let helps = decoded[i]
                        .as_ref()
                        .is_ok_and(|r| read_could_help(r, &verdicts[i], &unknown, now));
                    if let (true, Verdict::Rejected(rejection)) = (helps, verdicts[i].clone()) {
                        verdicts[i] = Verdict::Retry(rejection);
                    }
                }
            }
        }
    }
    for verdict in &verdicts {
        match verdict {
            Verdict::Accepted => counter!("media_keeper_receipts_accepted_total").increment(1),
            Verdict::Duplicate => counter!("media_keeper_receipts_duplicate_total").increment(1),
            Verdict::Rejected(r) => {
                counter!("media_keeper_receipts_rejected_total", "reason" => r.code()).increment(1)
            }
            Verdict::Retry(r) => {
                counter!("media_keeper_receipts_retry_total", "reason" => r.code()).increment(1)
            }
        }
    }
    Json(IngestResponse {
        results: verdicts.iter().map(Verdict::to_result).collect(),
    })
    .into_response()
}

/// `check_and_store` of the receipts at `indices`, on a blocking thread (signature checks
/// and the durable write).
async fn check_off_thread(
    keeper: &Arc<KeeperService>,
    view: Arc<ChainCache>,
    decoded: &Arc<Vec<Result<SignedReceipt, Rejection>>>,
    indices: Vec<usize>,
) -> Result<Vec<Verdict>, Response> {
    let (worker, decoded) = (keeper.clone(), decoded.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        let picked: Vec<_> = indices.iter().map(|&i| decoded[i].clone()).collect();
        check_and_store(&worker.store, &view, picked)
    })
    .await;
    match outcome {
        Ok(Ok(verdicts)) => Ok(verdicts),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "storing receipts failed");
            Err(refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
        }
        Err(e) => Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// Checks each decodable receipt against the view first (cheap), then the signatures of the
/// survivors (one batch verification), then, for those the store would keep, strictly one by
/// one as the precompile will (L6); stores what is left in one transaction (none when nothing
/// is new) and answers one verdict per receipt (M3).
pub fn check_and_store(
    store: &Store,
    chain: &ChainCache,
    decoded: Vec<Result<SignedReceipt, Rejection>>,
) -> Result<Vec<Verdict>, crate::store::StoreError> {
    let mut checked: Vec<Result<SignedReceipt, Rejection>> = decoded
        .into_iter()
        .map(|r| {
            let receipt = r?;
            verify::against_chain(&receipt, chain)?;
            Ok(receipt)
        })
        .collect();
    let plausible: Vec<SignedReceipt> = checked
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    let mut signatures = verify::signatures(&plausible).into_iter();
    for slot in checked.iter_mut().filter(|r| r.is_ok()) {
        if let Some(Err(rejection)) = signatures.next() {
            *slot = Err(rejection);
        }
    }
    let verified: Vec<SignedReceipt> = checked
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    let mut keep = store.would_keep(&verified)?.into_iter();
    let mut to_store = Vec::new();
    let mut verdicts: Vec<Option<Verdict>> = Vec::with_capacity(checked.len());
    for slot in checked {
        match slot {
            Err(rejection) => verdicts.push(Some(Verdict::Rejected(rejection))),
            Ok(receipt) => {
                if !keep.next().unwrap_or(false) {
                    verdicts.push(Some(Verdict::Duplicate));
                } else if let Err(rejection) = verify::check_one(&receipt) {
                    verdicts.push(Some(Verdict::Rejected(rejection)));
                } else {
                    to_store.push(receipt);
                    verdicts.push(None);
                }
            }
        }
    }
    let mut stored = store.put_all(&to_store)?.into_iter();
    Ok(verdicts
        .into_iter()
        .map(|v| {
            v.unwrap_or_else(|| match stored.next() {
                Some(Stored::New) => Verdict::Accepted,
                _ => Verdict::Duplicate,
            })
        })
        .collect())
}

async fn health(State(keeper): State<Arc<KeeperService>>) -> Response {
    let chain = keeper.view();
    keeper.store_health.health_response(
        &keeper.tasks,
        json!({
            "epoch": chain.epoch,
            "providers": chain.providers.len(),
            "consumers": chain.consumers.len(),
        }),
    )
}

async fn metrics_text(State(keeper): State<Arc<KeeperService>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        keeper.metrics.render(),
    )
        .into_response()
}
