//! Issue 17: a viewer over several relays leaves one that stalls, refuses, answers with
//! another node key or keeps asking for payment, resumes from the next with `Range` (every
//! byte exactly once), acknowledges each relay for exactly its own bytes, and spreads
//! segments away from a slow relay. The relays are stand-ins that misbehave on demand.
use anchor_lang::prelude::Pubkey;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ed25519_dalek::SigningKey;
use media_sdk::api::relay::{EPOCH_HEADER, NODE_KEY_HEADER};
use media_sdk::receipt::pubkey_of;
use media_sdk::session::{SessionGrant, ViewerReceipt};
use media_viewer::{Failover, RelayTarget, Viewer, ViewerError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

/// How a stand-in relay behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Serve,
    /// Sends this many body bytes, then nothing more (the connection stays open).
    StallAfter(usize),
    /// 503 to everything.
    Unavailable,
    /// 402 to everything, whatever receipts arrive.
    AlwaysPaymentRequired,
    /// Waits this long before each answer.
    Slow(Duration),
    /// Serves, but answers every receipt 403.
    RefuseReceipts,
    /// One byte every this often: never a stall, never anywhere (a slow-loris relay).
    Dribble(Duration),
}

struct StandIn {
    node_key: Pubkey,
    /// The node key it claims in its answers.
    answers_as: Pubkey,
    mode: Mutex<Mode>,
    body: Vec<u8>,
    /// Body bytes sent.
    sent: AtomicU64,
    /// Objects requested.
    requests: AtomicU64,
    /// The highest cumulative acknowledged to it, from verified receipts naming it.
    acked: AtomicU64,
}

const CHUNK: usize = 64 << 10;

async fn object(
    State(relay): State<Arc<StandIn>>,
    Path((_consumer, _path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    relay.requests.fetch_add(1, Ordering::Relaxed);
    let mode = *relay.mode.lock().unwrap();
    let with_headers = |status: StatusCode| {
        Response::builder()
            .status(status)
            .header(EPOCH_HEADER, "1")
            .header(NODE_KEY_HEADER, relay.answers_as.to_string())
    };
    match mode {
        Mode::Unavailable => {
            return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
        }
        Mode::AlwaysPaymentRequired => {
            return with_headers(StatusCode::PAYMENT_REQUIRED)
                .body(Body::empty())
                .unwrap();
        }
        Mode::Slow(delay) => tokio::time::sleep(delay).await,
        _ => {}
    }
    let start = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let status = if start > 0 {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let total = relay.body.len();
    let rest = relay.body[start.min(total)..].to_vec();
    let limit = match mode {
        Mode::StallAfter(n) => Some(n),
        _ => None,
    };
    let dribble = match mode {
        Mode::Dribble(every) => Some(every),
        _ => None,
    };
    let sender = relay.clone();
    let chunks = futures::stream::unfold((rest, 0usize), move |(rest, offset)| {
        let relay = sender.clone();
        async move {
            if offset >= rest.len() {
                return None;
            }
            if limit.is_some_and(|n| offset >= n) {
                // Stall: never another byte.
                std::future::pending::<()>().await;
            }
            let mut end = (offset + CHUNK).min(rest.len());
            end = limit.map_or(end, |n| end.min(n.max(offset + 1)));
            if let Some(every) = dribble {
                tokio::time::sleep(every).await;
                end = offset + 1;
            }
            relay
                .sent
                .fetch_add((end - offset) as u64, Ordering::Relaxed);
            let chunk = axum::body::Bytes::copy_from_slice(&rest[offset..end]);
            Some((Ok::<_, std::io::Error>(chunk), (rest, end)))
        }
    });
    let mut response = with_headers(status);
    if start > 0 {
        response = response.header(
            "content-range",
            format!("bytes {start}-{}/{total}", total - 1),
        );
    }
    response.body(Body::from_stream(chunks)).unwrap()
}

async fn receipt(State(relay): State<Arc<StandIn>>, body: String) -> StatusCode {
    let Ok(receipt) = ViewerReceipt::from_base64(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if receipt.verify().is_err() || receipt.ack.node_key != relay.node_key {
        return StatusCode::BAD_REQUEST;
    }
    if *relay.mode.lock().unwrap() == Mode::RefuseReceipts {
        return StatusCode::FORBIDDEN;
    }
    relay
        .acked
        .fetch_max(receipt.ack.cumulative, Ordering::Relaxed);
    StatusCode::OK
}

/// A stand-in relay serving `body` for any path; its base URL.
async fn stand_in(body: Vec<u8>, mode: Mode) -> (Arc<StandIn>, RelayTarget) {
    let node_key = Pubkey::new_unique();
    stand_in_answering_as(body, mode, node_key, node_key).await
}

async fn stand_in_answering_as(
    body: Vec<u8>,
    mode: Mode,
    node_key: Pubkey,
    answers_as: Pubkey,
) -> (Arc<StandIn>, RelayTarget) {
    let relay = Arc::new(StandIn {
        node_key,
        answers_as,
        mode: Mutex::new(mode),
        body,
        sent: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        acked: AtomicU64::new(0),
    });
    let app = axum::Router::new()
        .route("/c/{consumer}/{*path}", get(object))
        .route("/.media/receipt", post(receipt))
        .with_state(relay.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url: Url = format!("http://{}/", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let target = RelayTarget {
        url,
        node_key: Some(node_key),
    };
    (relay, target)
}

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn viewer(relays: Vec<RelayTarget>, failover: Failover) -> Viewer {
    let gateway = SigningKey::from_bytes(&[1; 32]);
    let session = Viewer::new_session_key();
    let token = SessionGrant {
        config: media_sdk::pda::config(),
        consumer: pubkey_of(&gateway),
        session_key: pubkey_of(&session),
        expires_at: i64::MAX / 2,
        max_bytes: u64::MAX,
    }
    .sign(&gateway);
    Viewer::over(relays, session, token, 128 << 10, failover)
}

fn quick() -> Failover {
    Failover {
        stall_timeout: Duration::from_millis(500),
        backoff: Duration::from_secs(5),
        ..Failover::default()
    }
}

/// Waits until `relay` has been acknowledged `bytes` (receipts are posted in the background).
async fn wait_acked(relay: &StandIn, bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while relay.acked.load(Ordering::Relaxed) != bytes {
        assert!(
            Instant::now() < deadline,
            "acknowledged {} of {bytes}",
            relay.acked.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_relay_that_stalls_mid_body_is_left_and_the_next_resumes_where_it_stopped() {
    let body = content(4 << 20);
    let (stalling, a) = stand_in(body.clone(), Mode::StallAfter(1 << 20)).await;
    let (healthy, b) = stand_in(body.clone(), Mode::Serve).await;
    let viewer = viewer(vec![a, b], quick());
    let started = Instant::now();
    let mut out = Vec::new();
    let download = viewer.download("vod/film.ts", &mut out).await.unwrap();
    let took = started.elapsed();
    assert_eq!(out, body, "byte-exact across the move");
    assert_eq!(download.bytes, body.len() as u64);
    assert_eq!(viewer.failovers(), 1);
    // Each relay sent its part once and is acknowledged for exactly it.
    let from_a = stalling.sent.load(Ordering::Relaxed);
    assert_eq!(from_a, 1 << 20);
    assert_eq!(healthy.sent.load(Ordering::Relaxed), (4 << 20) - from_a);
    viewer.acknowledge_now().await.unwrap();
    wait_acked(&stalling, from_a).await;
    wait_acked(&healthy, (4 << 20) - from_a).await;
    // Left after one stall timeout, not stuck behind it (a generous bound: a 4 MiB local
    // transfer takes milliseconds).
    assert!(
        took < Duration::from_millis(500) + Duration::from_secs(3),
        "{took:?}"
    );
    let stats = viewer.relay_stats();
    assert_eq!(stats[0].failures, 1);
    assert!(stats[0].benched);
}

#[tokio::test]
async fn a_relay_dribbling_a_byte_before_each_stall_timeout_is_left_for_being_too_slow() {
    let body = content(300_000);
    let (dribbling, a) = stand_in(body.clone(), Mode::Dribble(Duration::from_millis(100))).await;
    let (healthy, b) = stand_in(body.clone(), Mode::Serve).await;
    let failover = Failover {
        min_bytes_per_sec: 1_000,
        ..quick()
    };
    let viewer = viewer(vec![a, b], failover);
    let mut out = Vec::new();
    // At ten bytes a second the whole body would take eight hours from the dribbling relay.
    tokio::time::timeout(Duration::from_secs(30), viewer.fetch("vod/a.ts", &mut out))
        .await
        .expect("left the dribbling relay")
        .unwrap();
    assert_eq!(out, body, "byte-exact across the move");
    let dribbled = dribbling.sent.load(Ordering::Relaxed);
    assert!(dribbled > 0, "it was tried first");
    assert_eq!(
        healthy.sent.load(Ordering::Relaxed),
        body.len() as u64 - dribbled
    );
    assert_eq!(viewer.failovers(), 1);
    assert_eq!(viewer.relay_stats()[0].failures, 1);
}

#[tokio::test]
async fn a_refused_receipt_is_reported_not_taken_for_an_acknowledgement() {
    let body = content(200_000);
    let (refusing, target) = stand_in(body.clone(), Mode::RefuseReceipts).await;
    let viewer = viewer(vec![target], quick());
    viewer.fetch("vod/a.ts", &mut Vec::new()).await.unwrap();
    match viewer.acknowledge_now().await {
        Err(ViewerError::Refused { status, .. }) => assert_eq!(status, StatusCode::FORBIDDEN),
        other => panic!("a refused receipt must be reported, got {other:?}"),
    }
    assert_eq!(refusing.acked.load(Ordering::Relaxed), 0);
    // Accepted once the relay takes them.
    *refusing.mode.lock().unwrap() = Mode::Serve;
    viewer.acknowledge_now().await.unwrap();
    wait_acked(&refusing, body.len() as u64).await;
}

#[tokio::test]
async fn a_relay_that_refuses_with_503_or_asks_payment_forever_is_left() {
    let body = content(300_000);
    for mode in [Mode::Unavailable, Mode::AlwaysPaymentRequired] {
        let (refusing, a) = stand_in(body.clone(), mode).await;
        let (healthy, b) = stand_in(body.clone(), Mode::Serve).await;
        let viewer = viewer(vec![a, b], quick());
        let mut out = Vec::new();
        viewer.fetch("vod/a.ts", &mut out).await.unwrap();
        assert_eq!(out, body, "{mode:?}");
        assert_eq!(refusing.sent.load(Ordering::Relaxed), 0, "{mode:?}");
        assert_eq!(healthy.sent.load(Ordering::Relaxed), body.len() as u64);
        // Benched: the next object goes straight to the healthy relay.
        let asked = refusing.requests.load(Ordering::Relaxed);
        viewer.fetch("vod/b.ts", &mut Vec::new()).await.unwrap();
        assert_eq!(refusing.requests.load(Ordering::Relaxed), asked, "{mode:?}");
    }
}

#[tokio::test]
async fn a_relay_answering_with_another_node_key_than_the_chains_is_not_used() {
    let body = content(200_000);
    let (impostor, a) = stand_in_answering_as(
        body.clone(),
        Mode::Serve,
        Pubkey::new_unique(),
        Pubkey::new_unique(),
    )
    .await;
    let (healthy, b) = stand_in(body.clone(), Mode::Serve).await;
    let viewer = viewer(vec![a, b], quick());
    let mut out = Vec::new();
    viewer.fetch("vod/a.ts", &mut out).await.unwrap();
    assert_eq!(out, body);
    assert_eq!(healthy.sent.load(Ordering::Relaxed), body.len() as u64);
    viewer.acknowledge_now().await.unwrap();
    wait_acked(&healthy, body.len() as u64).await;
    assert_eq!(
        impostor.acked.load(Ordering::Relaxed),
        0,
        "nothing is signed for it"
    );
}

#[tokio::test]
async fn when_every_relay_fails_the_download_says_so() {
    let (_a, a) = stand_in(content(10), Mode::Unavailable).await;
    let failover = Failover {
        stall_timeout: Duration::from_millis(200),
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        ..Failover::default()
    };
    let viewer = viewer(vec![a], failover);
    let error = viewer.fetch("x.ts", &mut Vec::new()).await.unwrap_err();
    assert!(
        matches!(&error, ViewerError::Refused { status, .. } if status.as_u16() == 503),
        "the relay's refusal is the answer: {error}"
    );
    // A relay that fails without an answer gives a Stuck with its reason.
    let (_b, b) = stand_in(content(10), Mode::StallAfter(0)).await;
    let viewer = self::viewer(vec![b], failover);
    let error = viewer.fetch("x.ts", &mut Vec::new()).await.unwrap_err();
    assert!(
        matches!(&error, ViewerError::Stuck { last, .. } if last.contains("no byte")),
        "{error}"
    );
}

#[tokio::test]
async fn segments_go_mostly_to_the_faster_relays_and_playlists_to_the_fastest() {
    let segment = content(64 << 10);
    let (slow, a) = stand_in(segment.clone(), Mode::Slow(Duration::from_millis(150))).await;
    let (fast_1, b) = stand_in(segment.clone(), Mode::Serve).await;
    let (fast_2, c) = stand_in(segment.clone(), Mode::Serve).await;
    // The slow relay ranked first, as a stale probe might have it.
    let viewer = viewer(vec![a, b, c], quick());
    for i in 0..30 {
        viewer
            .fetch(&format!("live/seg-{i}.ts"), &mut Vec::new())
            .await
            .unwrap();
    }
    let from_slow = slow.requests.load(Ordering::Relaxed);
    let from_fast = [&fast_1, &fast_2].map(|r| r.requests.load(Ordering::Relaxed));
    assert!(from_slow <= 2, "the slow relay served {from_slow} of 30");
    assert!(from_fast.iter().all(|n| *n >= 5), "spread: {from_fast:?}");
    // Playlists all go to one fast relay.
    let before = from_fast;
    for _ in 0..5 {
        viewer
            .fetch("live/index.m3u8", &mut Vec::new())
            .await
            .unwrap();
    }
    let after = [&fast_1, &fast_2].map(|r| r.requests.load(Ordering::Relaxed));
    let grew: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    assert!(grew.contains(&5) && grew.contains(&0), "{grew:?}");
    assert_eq!(slow.requests.load(Ordering::Relaxed), from_slow);
}

#[tokio::test]
async fn relays_joining_and_leaving_are_picked_up_without_a_new_session() {
    let body = content(100_000);
    let (first, a) = stand_in(body.clone(), Mode::Serve).await;
    let viewer = viewer(vec![a.clone()], quick());
    viewer.fetch("a.ts", &mut Vec::new()).await.unwrap();
    let (joined, b) = stand_in(body.clone(), Mode::Serve).await;
    viewer.set_relays(vec![b.clone()]);
    assert_eq!(viewer.relays(), vec![b]);
    viewer.fetch("b.ts", &mut Vec::new()).await.unwrap();
    assert_eq!(first.requests.load(Ordering::Relaxed), 1);
    assert_eq!(joined.requests.load(Ordering::Relaxed), 1);
}
