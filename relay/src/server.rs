//! The relay's HTTP face (axum): `/c/{consumer}/{path}` proxies a consumer's origin through
//! the cache, metered per viewer session; `POST /.media/receipt` takes viewer receipts;
//! `/health` and `/metrics` are for operators. The exchanges are in docs/relay-protocol.md.
use crate::cache::{FetchError, Found, Lookup, ObjectCache};
use crate::chain::SharedView;
use crate::metering::{Meter, Opening, ReceiptRejection, Refusal, SessionId};
use crate::origin::OriginError;
use crate::target::{cache_key, origin_url};
use anchor_lang::prelude::Pubkey;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use metrics::{counter, gauge, Counter};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use std::str::FromStr;
use std::sync::Arc;

pub use media_sdk::api::relay::{
    ACKED_HEADER, CACHE_HEADER, DELIVERED_HEADER, EPOCH_HEADER, NODE_KEY_HEADER, SESSION_HEADER,
};
pub(crate) use media_sdk::clock::unix_now;
/// Retry-After for a consumer whose gateway lags: about one co-signing round.
const RETRY_LAGGING_SECS: u64 = 5;
/// Retry-After when the relay's origin fetches are all busy.
const RETRY_BUSY_SECS: u64 = 1;
/// Error bodies (non-2xx) are not metered, so only small ones are passed on.
pub const MAX_UNMETERED_BODY_BYTES: usize = 16 << 10;

pub struct Relay {
    pub node_key: Pubkey,
    /// `node_key` as the header value every answer carries, encoded once.
    pub node_key_header: HeaderValue,
    /// The counters every served request touches, resolved once.
    pub counters: ServedCounters,
    pub meter: Arc<Meter>,
    /// The cache, which fetches misses from the consumers' origins.
    pub cache: ObjectCache,
    /// Whether viewers' query strings reach the origin (and the cache key).
    pub forward_query: bool,
    pub view: SharedView,
    /// The consumers served and their origins.
    pub directory: Arc<crate::directory::Directory>,
    pub store: Arc<crate::store::Store>,
    /// Viewer receipts are committed through it, in groups, before they are acknowledged.
    pub acks: crate::acks::AckWriter,
    /// What each consumer's gateway has yet to co-sign.
    pub debts: Arc<crate::debt::Debts>,
    pub metrics: PrometheusHandle,
    /// Whether the store still works; `/health` reports it.
    pub store_health: Arc<media_service::StoreHealth>,
    /// The supervised jobs' state, for `/health`.
    pub tasks: Arc<media_service::tasks::TaskHealth>,
}

pub fn router(relay: Arc<Relay>) -> Router {
    Router::new()
        .route("/c/{consumer}/{*path}", get(proxy))
        .route("/.media/receipt", post(receipt))
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .layer(cors())
        .with_state(relay)
}

/// Browsers on any page may fetch through the relay and post receipts (the session token
/// travels in a header, never a cookie, so no credentials are allowed), and read the
/// `x-media-*` headers that tell them what to acknowledge.
pub fn cors() -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::HEAD, Method::POST])
        .allow_headers([
            header::HeaderName::from_static(SESSION_HEADER),
            header::RANGE,
            header::CONTENT_TYPE,
        ])
        .expose_headers([
            header::HeaderName::from_static(EPOCH_HEADER),
            header::HeaderName::from_static(NODE_KEY_HEADER),
            header::HeaderName::from_static(DELIVERED_HEADER),
            header::HeaderName::from_static(ACKED_HEADER),
            header::HeaderName::from_static(CACHE_HEADER),
            header::CONTENT_RANGE,
            header::CONTENT_LENGTH,
            header::RETRY_AFTER,
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// Handles to the counters of the hit path: resolving a counter by name and labels costs a
/// lookup (and for a status label, formatting) that every request would otherwise pay.
pub struct ServedCounters {
    ok: Counter,
    partial: Counter,
    hits: Counter,
    misses: Counter,
    bytes: Counter,
}

impl ServedCounters {
    /// Resolved against the process's recorder, which must be installed first.
    pub fn new() -> Self {
        ServedCounters {
            ok: counter!("media_relay_requests_total", "status" => "200"),
            partial: counter!("media_relay_requests_total", "status" => "206"),
            hits: counter!("media_relay_cache_hits_total"),
            misses: counter!("media_relay_cache_misses_total"),
            bytes: counter!("media_relay_bytes_total"),
        }
    }

    fn request(&self, status: StatusCode) {
        match status {
            StatusCode::OK => self.ok.increment(1),
            StatusCode::PARTIAL_CONTENT => self.partial.increment(1),
            other => counter!("media_relay_requests_total", "status" => other.as_u16().to_string())
                .increment(1),
        }
    }
}

impl Default for ServedCounters {
    fn default() -> Self {
        Self::new()
    }
}

fn error(status: StatusCode, message: String) -> Response {
    counter!("media_relay_requests_total", "status" => status.as_u16().to_string()).increment(1);
    (status, Json(json!({ "error": message }))).into_response()
}

fn refusal_response(refusal: Refusal) -> Response {
    let status = match &refusal {
        Refusal::MissingToken
        | Refusal::BadToken(_)
        | Refusal::WrongScope
        | Refusal::Expired(_)
        | Refusal::NotSigned => StatusCode::UNAUTHORIZED,
        Refusal::UnknownConsumer(_) => StatusCode::NOT_FOUND,
        Refusal::ConsumerRefused(_)
        | Refusal::SessionSpent(_)
        | Refusal::SessionRefused(_)
        | Refusal::EscrowShort { .. } => StatusCode::FORBIDDEN,
        Refusal::PaymentRequired { .. } => StatusCode::PAYMENT_REQUIRED,
        Refusal::CosignLagging { .. } => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut response = error(status, refusal.to_string());
    if let Refusal::CosignLagging { .. } = refusal {
        counter!("media_relay_cosign_lag_refusals_total").increment(1);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_LAGGING_SECS));
    }
    if let Refusal::PaymentRequired {
        epoch,
        delivered,
        acked,
        ..
    } = refusal
    {
        counter!("media_relay_payment_required_total").increment(1);
        let headers = response.headers_mut();
        headers.insert(EPOCH_HEADER, HeaderValue::from(epoch));
        headers.insert(DELIVERED_HEADER, HeaderValue::from(delivered));
        headers.insert(ACKED_HEADER, HeaderValue::from(acked));
    }
    response
}

async fn proxy(
    State(relay): State<Arc<Relay>>,
    Path((consumer, path)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    // Taken apart rather than extracted one by one: extracting a `HeaderMap` clones it.
    let (request, _) = request.into_parts();
    let (method, uri, headers) = (&request.method, &request.uri, &request.headers);
    let Ok(consumer) = Pubkey::from_str(&consumer) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{consumer:?} is not a consumer address"),
        );
    };
    let Some(origin_base) = relay.directory.origin(&consumer) else {
        return refusal_response(Refusal::UnknownConsumer(consumer));
    };
    let token = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok());
    let admitted = {
        let view = relay.view.read().unwrap_or_else(|e| e.into_inner());
        let owed = match view.consumers.get(&consumer) {
            Some(state) => relay.debts.check(&consumer, state),
            None => Ok(()),
        };
        owed.and_then(|()| relay.meter.admit(token, &consumer, &view, unix_now()))
    };
    let session = match admitted {
        Ok(session) => session,
        Err(refusal) => return refusal_response(refusal),
    };
    let query = if relay.forward_query {
        uri.query()
    } else {
        None
    };
    let url = match origin_url(&origin_base, &path, query) {
        Ok(url) => url,
        Err(refusal) => {
            counter!("media_relay_refused_paths_total").increment(1);
            return error(StatusCode::BAD_REQUEST, refusal.to_string());
        }
    };
    let key = cache_key(&consumer, &url);
    let from = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map_or(0, range_start);
    let found = match relay.cache.get(key, &url, from).await {
        Ok(found) => found,
        Err(FetchError::Origin(e)) => return origin_failure(&consumer, &e),
    };
    match found.lookup {
        Lookup::Hit => relay.counters.hits.increment(1),
        Lookup::Miss => relay.counters.misses.increment(1),
    }
    respond(&relay, session, found, method, headers).await
}

fn origin_failure(consumer: &Pubkey, e: &OriginError) -> Response {
    counter!("media_relay_origin_errors_total").increment(1);
    let status = match e {
        OriginError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        OriginError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        OriginError::Unreachable(_)
        | OriginError::TooLarge { .. }
        | OriginError::Redirect(_)
        | OriginError::PrivateAddress(_)
        | OriginError::BadRange(_) => StatusCode::BAD_GATEWAY,
    };
    tracing::warn!(%consumer, error = %e, "origin fetch failed");
    let mut response = error(status, e.viewer_message());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_BUSY_SECS));
    }
    response
}

/// The (possibly ranged) answer, its body metered chunk by chunk against the session as it
/// is sent — from memory, or as it arrives from the origin.
async fn respond(
    relay: &Arc<Relay>,
    session: SessionId,
    found: Found,
    method: &Method,
    request: &HeaderMap,
) -> Response {
    let head = found.head.clone();
    let consumer = session.consumer;
    if head.status != 200 {
        // Errors and other answers are passed on whole; viewers acknowledge only the bodies
        // of 2xx answers, so error bodies pass unmetered, and only small ones (review L5).
        let body = match found.whole_body().await {
            Ok(body) => body,
            Err(FetchError::Origin(e)) => return origin_failure(&consumer, &e),
        };
        let status = StatusCode::from_u16(head.status).unwrap_or(StatusCode::BAD_GATEWAY);
        let metered = status.is_success();
        let body = if metered || body.len() <= MAX_UNMETERED_BODY_BYTES {
            body
        } else {
            Bytes::new()
        };
        let length = body.len() as u64;
        let opening = relay.meter.open_answer(&session, 0);
        let builder = answer(relay, opening, &found, status, Some(length));
        let body = if *method == Method::HEAD {
            Body::empty()
        } else if metered {
            metered_body(relay.clone(), session, body, 0, None)
        } else {
            Body::from(body)
        };
        return finish(builder, status, relay, body);
    }
    let range = request.get(header::RANGE);
    // A Range needs the length; a body of unknown length is otherwise sent as it comes.
    let total = if range.is_some() || head.length.is_some() {
        match found.length().await {
            Ok(total) => Some(total),
            Err(FetchError::Origin(e)) => return origin_failure(&consumer, &e),
        }
    } else {
        None
    };
    let (status, span) = match (total, range) {
        (Some(total), Some(range)) => {
            match parse_range(range.to_str().unwrap_or_default(), total) {
                RangeRequest::Satisfiable(start, end) => (StatusCode::PARTIAL_CONTENT, start..end),
                RangeRequest::Unsatisfiable => {
                    let mut response = error(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        format!("the object has {total} bytes"),
                    );
                    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                        response.headers_mut().insert(header::CONTENT_RANGE, v);
                    }
                    return response;
                }
                RangeRequest::Whole => (StatusCode::OK, 0..total),
            }
        }
        (Some(total), None) => (StatusCode::OK, 0..total),
        (None, _) => (StatusCode::OK, 0..u64::MAX),
    };
    // A whole object in memory has its body in hand: what the credit covers now is granted
    // with the position the headers report, and the body is then sent as it is.
    let whole = found.held_whole().filter(|_| *method != Method::HEAD);
    let held = whole.map(|whole| {
        let start = usize::try_from(span.start).unwrap_or(usize::MAX);
        let end = usize::try_from(span.end)
            .unwrap_or(usize::MAX)
            .min(whole.len());
        whole.slice(start.min(end)..end)
    });
    let want = held.as_ref().map_or(0, |body| body.len() as u64);
    let opening = relay.meter.open_answer(&session, want);
    let mut builder = answer(
        relay,
        opening,
        &found,
        status,
        total.map(|_| span.end - span.start),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        if let (Some(headers), Some(total)) = (builder.headers_mut(), total) {
            let value = format!("bytes {}-{}/{total}", span.start, span.end - 1);
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(header::CONTENT_RANGE, v);
            }
        }
    }
    let granted = opening.map_or(0, |o| o.granted);
    let body = match held {
        _ if *method == Method::HEAD => Body::empty(),
        Some(body) if granted == want => {
            relay.counters.bytes.increment(granted);
            Body::from(body)
        }
        Some(body) => metered_body(relay.clone(), session, body, granted, None),
        None => metered_body(
            relay.clone(),
            session,
            Bytes::new(),
            0,
            Some(found.read(span)),
        ),
    };
    finish(builder, status, relay, body)
}

/// The answer's status and headers: the origin's, the relay's, and the session's position.
fn answer(
    relay: &Relay,
    opening: Option<Opening>,
    found: &Found,
    status: StatusCode,
    length: Option<u64>,
) -> axum::http::response::Builder {
    let mut builder = Response::builder().status(status);
    if let Some(headers) = builder.headers_mut() {
        // Room for the origin's headers, the relay's and CORS's at once: no rehash on the way.
        headers.reserve(found.head.headers.len() + 12);
        for (name, value) in &found.head.headers {
            headers.append(name, value.clone());
        }
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Some(length) = length {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        // Every consumer's objects share the relay's web origin: no content sniffing, and
        // downstream caches learn how old a cached copy is (review I2).
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::AGE, HeaderValue::from(found.head.age().as_secs()));
        let cache = match found.lookup {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
        };
        headers.insert(CACHE_HEADER, HeaderValue::from_static(cache));
        headers.insert(NODE_KEY_HEADER, relay.node_key_header.clone());
        if let Some(opening) = opening {
            headers.insert(EPOCH_HEADER, HeaderValue::from(opening.epoch));
            headers.insert(DELIVERED_HEADER, HeaderValue::from(opening.delivered));
        }
    }
    builder
}

fn finish(
    builder: axum::http::response::Builder,
    status: StatusCode,
    relay: &Relay,
    body: Body,
) -> Response {
    relay.counters.request(status);
    builder
        .body(body)
        .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// The first byte a `Range` asks for (0 when it is not a plain `bytes=a-…`): its slice is
/// the one the cache opens first.
fn range_start(value: &str) -> u64 {
    value
        .trim()
        .strip_prefix("bytes=")
        .filter(|spec| !spec.contains(','))
        .and_then(|spec| spec.split_once('-'))
        .and_then(|(first, _)| first.trim().parse().ok())
        .unwrap_or(0)
}

/// A body on its way out: the bytes in hand, then the rest as it comes.
struct Metered {
    relay: Arc<Relay>,
    session: SessionId,
    pending: Bytes,
    /// Bytes at the front of `pending` whose credit was granted already.
    granted: u64,
    rest: Option<BoxStream<'static, Result<Bytes, FetchError>>>,
    over: bool,
}

/// Streams `pending` and then `rest` as fast as the session's credit allows: each step takes
/// as much of what is in hand as the credit covers (all of it when the window is wide, so one
/// grant per chunk) and sends that slice (no copy). When the viewer stops acknowledging, the
/// stream ends early with an error, so the viewer has received exactly what the credit window
/// allowed and the connection says it was cut; an origin failing mid-body cuts it too.
fn metered_body(
    relay: Arc<Relay>,
    session: SessionId,
    pending: Bytes,
    granted: u64,
    rest: Option<BoxStream<'static, Result<Bytes, FetchError>>>,
) -> Body {
    let metered = Metered {
        relay,
        session,
        granted: granted.min(pending.len() as u64),
        pending,
        rest,
        over: false,
    };
    let stream = futures::stream::unfold(metered, |mut m| async move {
        if m.over {
            return None;
        }
        while m.pending.is_empty() {
            let next = match m.rest.as_mut() {
                Some(rest) => rest.next().await,
                None => None,
            };
            match next {
                None => return None,
                Some(Ok(chunk)) => m.pending = chunk,
                Some(Err(e)) => {
                    m.over = true;
                    counter!("media_relay_origin_errors_total").increment(1);
                    tracing::warn!(consumer = %m.session.consumer, error = %e, "origin failed mid-body");
                    return Some((Err(std::io::Error::other(e.to_string())), m));
                }
            }
        }
        let wanted = m.pending.len() as u64;
        let granted = match std::mem::take(&mut m.granted) {
            0 => m.relay.meter.take_credit(&m.session, wanted).await as usize,
            already => already as usize,
        };
        if granted == 0 {
            counter!("media_relay_stalled_responses_total").increment(1);
            m.over = true;
            let cut = std::io::Error::other("the viewer stopped acknowledging bytes");
            return Some((Err(cut), m));
        }
        m.relay.counters.bytes.increment(granted as u64);
        let chunk = m.pending.split_to(granted.min(m.pending.len()));
        Some((Ok::<_, std::io::Error>(chunk), m))
    });
    Body::from_stream(stream)
}

#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    Whole,
    Satisfiable(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range (`a-b`, `a-`, `-n`); several ranges get the whole object, which
/// RFC 9110 allows.
fn parse_range(value: &str, total: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Whole;
    };
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    let (start, end) = match (parse(first), parse(last)) {
        (Some(start), Some(last)) if last >= start => (start, last.saturating_add(1).min(total)),
        (Some(start), None) if last.trim().is_empty() => (start, total),
        (None, Some(suffix)) if first.trim().is_empty() => (total.saturating_sub(suffix), total),
        _ => return RangeRequest::Whole,
    };
    if start >= total || start >= end {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Satisfiable(start, end)
}

async fn receipt(State(relay): State<Arc<Relay>>, body: String) -> Response {
    let checked = {
        let view = relay.view.read().unwrap_or_else(|e| e.into_inner());
        relay.meter.check_receipt(&body, &view)
    };
    let result = match checked {
        Ok(checked) if checked.duplicate => Ok(relay.meter.record_receipt(&checked)),
        Ok(checked) => {
            // Durable before acknowledged: a receipt the viewer saw accepted survives a crash.
            match relay.acks.save(checked.token, checked.receipt).await {
                Ok(()) => Ok(relay.meter.record_receipt(&checked)),
                Err(e) => {
                    tracing::error!(error = %e, "storing a viewer receipt failed");
                    return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
                }
            }
        }
        Err(rejection) => Err(rejection),
    };
    match result {
        Ok(accepted) => {
            counter!("media_relay_viewer_receipts_total", "result" => if accepted.duplicate { "duplicate" } else { "accepted" }).increment(1);
            Json(media_sdk::api::relay::ReceiptAnswer {
                acked: accepted.acked,
                duplicate: accepted.duplicate,
            })
            .into_response()
        }
        Err(rejection) => {
            let reason = match rejection {
                ReceiptRejection::Malformed(_) => "malformed",
                ReceiptRejection::BadSignature => "bad_signature",
                ReceiptRejection::WrongScope => "wrong_scope",
                ReceiptRejection::UnknownSession(_) => "unknown_session",
                ReceiptRejection::WrongEpoch { .. } => "wrong_epoch",
                ReceiptRejection::BeyondDelivered { .. } => "beyond_delivered",
                ReceiptRejection::Stale { .. } => "stale",
            };
            counter!("media_relay_viewer_receipts_total", "result" => reason).increment(1);
            let status = match rejection {
                ReceiptRejection::Stale { .. } | ReceiptRejection::WrongEpoch { .. } => {
                    StatusCode::CONFLICT
                }
                _ => StatusCode::BAD_REQUEST,
            };
            (
                status,
                Json(json!({"error": rejection.to_string(), "reason": reason})),
            )
                .into_response()
        }
    }
}

async fn health(State(relay): State<Arc<Relay>>) -> Response {
    let view = relay.view.read().unwrap_or_else(|e| e.into_inner()).clone();
    let consumers: serde_json::Map<String, serde_json::Value> = relay
        .directory
        .served()
        .iter()
        .map(|c| {
            let state = view.consumers.get(c);
            let lagging = state
                .and_then(|s| relay.debts.check(c, s).err())
                .map(|r| r.to_string());
            let served = state.is_some_and(|s| s.refusal.is_none()) && lagging.is_none();
            let reason = state.and_then(|s| s.refusal.clone()).or(lagging);
            (
                c.to_string(),
                json!({
                    "served": served,
                    "refusal": reason,
                    "uncosigned_bytes": relay.debts.owed(c),
                    "unsettled_bytes": relay.debts.debt(c).unsettled,
                    "spendable_escrow": state.map(|s| s.spendable),
                }),
            )
        })
        .collect();
    relay.store_health.health_response(
        &relay.tasks,
        json!({
            "node_key": relay.node_key.to_string(),
            "epoch": view.epoch,
            "consumers": consumers,
        }),
    )
}

async fn metrics_text(State(relay): State<Arc<Relay>>) -> Response {
    gauge!("media_relay_cache_bytes").set(relay.cache.weighted_size().await as f64);
    if let Some(bytes) = relay.cache.disk_bytes() {
        gauge!("media_relay_disk_cache_bytes").set(bytes as f64);
    }
    gauge!("media_relay_sessions").set(relay.meter.session_count() as f64);
    gauge!("media_relay_uncosigned_bytes").set(relay.debts.total() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        relay.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeRequest::*;
        assert_eq!(parse_range("bytes=0-9", 100), Satisfiable(0, 10));
        assert_eq!(parse_range("bytes=90-", 100), Satisfiable(90, 100));
        assert_eq!(parse_range("bytes=-10", 100), Satisfiable(90, 100));
        assert_eq!(parse_range("bytes=95-200", 100), Satisfiable(95, 100));
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Whole);
        assert_eq!(parse_range("items=0-1", 100), Whole);
        assert_eq!(parse_range("bytes=5-1", 100), Whole);
    }

    /// L1: the largest last-byte position no longer overflows (it panicked).
    #[test]
    fn l1_a_range_ending_at_u64_max_is_the_rest_of_the_object() {
        use RangeRequest::*;
        let last = u64::MAX.to_string();
        assert_eq!(
            parse_range(&format!("bytes=0-{last}"), 100),
            Satisfiable(0, 100)
        );
        assert_eq!(
            parse_range(&format!("bytes={last}-{last}"), 100),
            Unsatisfiable
        );
        assert_eq!(parse_range("bytes=-99999999999999999999999", 100), Whole);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3_000, ..Default::default() })]

        /// Any Range header: a satisfiable answer lies inside the object; nothing panics.
        #[test]
        fn fuzz_ranges_stay_inside_the_object(value in "(bytes=)?[0-9,\\- ]{0,40}", total in 0u64..100_000) {
            if let RangeRequest::Satisfiable(start, end) = parse_range(&value, total) {
                proptest::prop_assert!(start < end && end <= total, "{} -> {}..{}", value, start, end);
            }
        }
    }
}
