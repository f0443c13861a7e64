//! The gateway's HTTP routes: `POST /session` issues session tokens, `POST /cosign` co-signs
//! a relay's cumulative receipt, `GET /.media/relays` lists the relays the chain lists,
//! `POST /.media/origin` tells registered relays the origin, `/health` and `/metrics` are
//! for operators; `/watch/<stream>` is the browser player.
use crate::cosign::{CosignRequest, Cosigner};
use crate::issue::{IssuePolicy, IssueRefusal};
use anchor_lang::prelude::Pubkey;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use media_sdk::api::gateway::{SessionRequest, SessionResponse};
pub use media_sdk::clock::unix_now;
use media_sdk::receipt::pubkey_of;
use media_sdk::session::SessionGrant;
use metrics::counter;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

pub struct Gateway {
    pub cosigner: Cosigner,
    /// Who gets a session token.
    pub issue: IssuePolicy,
    /// Which relays learn the origin (`POST /.media/origin`).
    pub origin: crate::origin::OriginPolicy,
    pub token_ttl_secs: i64,
    /// Relays the watch page names for when the chain lists none.
    pub watch_relays: Vec<url::Url>,
    pub max_bytes_per_session: u64,
    pub metrics: PrometheusHandle,
    pub pruning: crate::prune::Pruning,
    pub chain_refresh: std::time::Duration,
    /// Whether the store still works; `/health` reports it.
    pub store_health: Arc<media_service::StoreHealth>,
    /// `POST /cosign` per peer address (review M3).
    pub cosign_rate: Arc<media_service::rate::PeerRateLimit>,
    /// The supervised jobs' state, for `/health`.
    pub tasks: Arc<media_service::tasks::TaskHealth>,
}

/// A session request is one small JSON object.
pub const MAX_SESSION_REQUEST_BYTES: usize = 16 << 10;
/// An origin request is one signed ask of 176 bytes, base64url, in JSON.
pub const MAX_ORIGIN_REQUEST_BYTES: usize = 1 << 10;
/// A co-sign request holds at most `MAX_SESSIONS_PER_REQUEST` sessions of about 560 bytes.
pub const MAX_COSIGN_REQUEST_BYTES: usize = 4 << 20;

pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route(
            "/session",
            post(session).layer(DefaultBodyLimit::max(MAX_SESSION_REQUEST_BYTES)),
        )
        .route(
            "/cosign",
            post(cosign)
                .layer(DefaultBodyLimit::max(MAX_COSIGN_REQUEST_BYTES))
                .layer(axum::middleware::from_fn_with_state(
                    gateway.cosign_rate.clone(),
                    media_service::rate::limit_by_peer,
                )),
        )
        .route("/.media/relays", get(relays))
        .route(
            "/.media/origin",
            post(origin)
                .layer(DefaultBodyLimit::max(MAX_ORIGIN_REQUEST_BYTES))
                .layer(axum::middleware::from_fn_with_state(
                    gateway.cosign_rate.clone(),
                    media_service::rate::limit_by_peer,
                )),
        )
        .route("/watch/player.js", get(crate::watch::player))
        .route("/watch/{stream}", get(crate::watch::watch))
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .with_state(gateway)
}

/// The relays the gateway's last chain read listed (issue 17), for clients without RPC
/// access; 503 until the gateway has read the chain (or when it has no `rpc_url`).
async fn relays(State(gateway): State<Arc<Gateway>>) -> Response {
    match gateway.cosigner.clock.relays() {
        Some(relays) => Json(relays.as_ref()).into_response(),
        None => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "no chain view yet: the gateway lists relays once it has read the chain (rpc_url)",
        ),
    }
}

/// The consumer's origin, for a relay the chain lists that signs for it (issue 17); 403 for
/// any other ask. Shares the co-sign rate limit per peer.
async fn origin(
    State(gateway): State<Arc<Gateway>>,
    Json(request): Json<media_sdk::api::gateway::OriginRequest>,
) -> Response {
    use crate::origin::OriginRefusal;
    let cosigner = &gateway.cosigner;
    let now = unix_now();
    let providers = cosigner.clock.providers(now);
    let admitted = gateway.origin.admit(
        &request.ask,
        &cosigner.consumer,
        &cosigner.config,
        providers.as_deref(),
        now,
    );
    match admitted {
        Ok(origin) => {
            counter!("media_gateway_origin_answers_total").increment(1);
            Json(media_sdk::api::gateway::OriginResponse {
                consumer: cosigner.consumer.to_string(),
                origin: origin.to_string(),
            })
            .into_response()
        }
        Err(refusal) => {
            let status = match refusal {
                OriginRefusal::NoOrigin => StatusCode::NOT_FOUND,
                OriginRefusal::NoChainView => StatusCode::SERVICE_UNAVAILABLE,
                OriginRefusal::Malformed(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::FORBIDDEN,
            };
            counter!("media_gateway_origin_refusals_total").increment(1);
            tracing::info!(%refusal, "origin request refused");
            refuse(status, refusal.to_string())
        }
    }
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    let error = media_sdk::api::ErrorBody {
        error: message.into(),
    };
    (status, Json(error)).into_response()
}

async fn session(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(request): Json<SessionRequest>,
) -> Response {
    let Ok(session_key) = request.session_key.parse::<Pubkey>() else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "session_key is not a base58 public key",
        );
    };
    let cosigner = &gateway.cosigner;
    let now = unix_now();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let admitted = gateway
        .issue
        .authorize(
            authorization,
            peer.ip(),
            gateway.max_bytes_per_session,
            &cosigner.clock,
            now,
        )
        .await;
    if let Err(refusal) = admitted {
        let (status, why, retry) = match &refusal {
            IssueRefusal::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            IssueRefusal::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", Some(60)),
            IssueRefusal::BudgetSpent(_) => (StatusCode::SERVICE_UNAVAILABLE, "budget", Some(60)),
            IssueRefusal::CallbackFailed(_) => (StatusCode::BAD_GATEWAY, "callback", None),
        };
        counter!("media_gateway_tokens_refused_total", "why" => why).increment(1);
        let mut response = refuse(status, refusal.to_string());
        if let Some(secs) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs as u64));
        }
        return response;
    }
    let grant = SessionGrant {
        config: cosigner.config,
        consumer: cosigner.consumer,
        session_key,
        expires_at: now.saturating_add(gateway.token_ttl_secs),
        max_bytes: gateway.max_bytes_per_session,
    };
    // Tokens are signed by the key of the chain's current epoch, which relays expect (a new
    // key is named from the next epoch and counts only once that epoch has begun on chain).
    let chain = cosigner.clock.snapshot();
    let signer = chain
        .as_ref()
        .and_then(|c| cosigner.signers.for_epoch(Some(c), c.epoch).ok())
        .unwrap_or(&cosigner.signers.current);
    let token = grant.sign(signer);
    counter!("media_gateway_tokens_issued_total").increment(1);
    Json(SessionResponse {
        token: token.to_base64(),
        expires_at: grant.expires_at,
        max_bytes: grant.max_bytes,
    })
    .into_response()
}

async fn cosign(
    State(gateway): State<Arc<Gateway>>,
    Json(request): Json<CosignRequest>,
) -> Response {
    // The record is written (and fsynced) before answering: off the async workers.
    let worker = gateway.clone();
    let result =
        tokio::task::spawn_blocking(move || worker.cosigner.cosign(&request, unix_now())).await;
    match result {
        Ok(Ok(response)) => {
            counter!("media_gateway_sessions_rejected_total")
                .increment(response.rejected.len() as u64);
            Json(response).into_response()
        }
        Ok(Err(e @ crate::cosign::CosignError::NodeKey(_)))
        | Ok(Err(e @ crate::cosign::CosignError::TooManySessions { .. })) => {
            refuse(StatusCode::BAD_REQUEST, e.to_string())
        }
        Ok(Err(e @ crate::cosign::CosignError::SignerNotHeld { .. })) => {
            counter!("media_gateway_cosign_refused_total", "why" => "signer").increment(1);
            tracing::warn!(error = %e, "co-signing refused");
            refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        Ok(Err(e @ crate::cosign::CosignError::EpochOutOfWindow { .. })) => {
            counter!("media_gateway_cosign_refused_total", "why" => "epoch").increment(1);
            refuse(StatusCode::CONFLICT, e.to_string())
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "co-signing failed");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn health(State(gateway): State<Arc<Gateway>>) -> Response {
    gateway.store_health.health_response(
        &gateway.tasks,
        json!({
            "consumer": gateway.cosigner.consumer.to_string(),
            "receipt_signer": pubkey_of(&gateway.cosigner.signers.current).to_string(),
            "previous_receipt_signer": gateway
                .cosigner
                .signers
                .previous
                .as_ref()
                .map(|k| pubkey_of(k).to_string()),
        }),
    )
}

async fn metrics_text(State(gateway): State<Arc<Gateway>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        gateway.metrics.render(),
    )
        .into_response()
}
