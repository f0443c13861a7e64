//! The gateway's HTTP routes: `POST /session` issues session tokens, `POST /cosign` co-signs
//! a relay's cumulative receipt, `/health` and `/metrics` are for operators.
use crate::cosign::{CosignRequest, Cosigner};
use anchor_lang::prelude::Pubkey;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use media_sdk::receipt::pubkey_of;
use media_sdk::session::SessionGrant;
use metrics::counter;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

pub struct Gateway {
    pub cosigner: Cosigner,
    pub shared_secret: Option<String>,
    pub token_ttl_secs: i64,
    pub max_bytes_per_session: u64,
    pub metrics: PrometheusHandle,
    pub pruning: crate::prune::Pruning,
}

pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/session", post(session))
        .route("/cosign", post(cosign))
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .with_state(gateway)
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

#[derive(Deserialize)]
struct SessionRequest {
    session_key: String,
}

async fn session(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Json(request): Json<SessionRequest>,
) -> Response {
    if let Some(secret) = &gateway.shared_secret {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if presented != Some(secret.as_str()) {
            counter!("media_gateway_tokens_refused_total").increment(1);
            return refuse(
                StatusCode::UNAUTHORIZED,
                "a valid bearer secret is required",
            );
        }
    }
    let Ok(session_key) = request.session_key.parse::<Pubkey>() else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "session_key is not a base58 public key",
        );
    };
    let cosigner = &gateway.cosigner;
    let grant = SessionGrant {
        config: cosigner.config,
        consumer: cosigner.consumer,
        session_key,
        expires_at: unix_now().saturating_add(gateway.token_ttl_secs),
        max_bytes: gateway.max_bytes_per_session,
    };
    let token = grant.sign(&cosigner.signer);
    counter!("media_gateway_tokens_issued_total").increment(1);
    Json(json!({
        "token": token.to_base64(),
        "expires_at": grant.expires_at,
        "max_bytes": grant.max_bytes,
    }))
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
        Ok(Err(crate::cosign::CosignError::NodeKey(key))) => {
            refuse(StatusCode::BAD_REQUEST, format!("invalid node key {key:?}"))
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "co-signing failed");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn health(State(gateway): State<Arc<Gateway>>) -> Response {
    Json(json!({
        "status": "ok",
        "consumer": gateway.cosigner.consumer.to_string(),
        "receipt_signer": pubkey_of(&gateway.cosigner.signer).to_string(),
    }))
    .into_response()
}

async fn metrics_text(State(gateway): State<Arc<Gateway>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        gateway.metrics.render(),
    )
        .into_response()
}
