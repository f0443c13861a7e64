//! The relay as an edge cache (issue 20): misses streamed while they arrive and shared by all
//! their viewers, objects of any size in slices with bounded memory, a disk tier that
//! survives a restart.
use crate::fixtures::*;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ed25519_dalek::SigningKey;
use futures::StreamExt;
use media_relay::cache::CacheSettings;
use media_relay::server::{CACHE_HEADER, SESSION_HEADER};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;

/// Viewers that never acknowledge: a window larger than anything they fetch.
fn unmetered() -> Options {
    Options {
        credit_window: 1 << 40,
        ..Options::default()
    }
}

/// An origin whose one object arrives a chunk every 10 ms.
#[derive(Default)]
struct SlowOrigin {
    fetches: AtomicUsize,
    finished: AtomicBool,
}

const SLOW_CHUNKS: usize = 60;
const SLOW_CHUNK: usize = 1_000;

async fn slow(State(origin): State<Arc<SlowOrigin>>) -> Response {
    origin.fetches.fetch_add(1, Ordering::SeqCst);
    let stream = futures::stream::unfold(0usize, move |sent| {
        let origin = origin.clone();
        async move {
            if sent == SLOW_CHUNKS {
                origin.finished.store(true, Ordering::SeqCst);
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            let chunk = content(SLOW_CHUNK, sent as u8);
            Some((Ok::<_, std::io::Error>(chunk), sent + 1))
        }
    });
    (
        [(header::CONTENT_TYPE, "video/mp4")],
        Body::from_stream(stream),
    )
        .into_response()
}

fn slow_body() -> Vec<u8> {
    (0..SLOW_CHUNKS)
        .flat_map(|i| content(SLOW_CHUNK, i as u8))
        .collect()
}

async fn start_slow_origin() -> (Arc<SlowOrigin>, Url) {
    let origin = Arc::new(SlowOrigin::default());
    let app = Router::new()
        .route("/{*path}", get(slow))
        .with_state(origin.clone());
    (origin, serve(app).await)
}

async fn serve(app: Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn a_miss_reaches_the_viewer_before_the_origin_has_finished() {
    let (origin, origin_url) = start_slow_origin().await;
    let relay = start_relay(&origin_url, unmetered()).await;
    let session = SigningKey::from_bytes(&[61; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let response = reqwest::Client::new()
        .get(relay.object_url("vod/slow.mp4"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CACHE_HEADER], "miss");
    assert!(
        !origin.finished.load(Ordering::SeqCst),
        "the answer began while the origin was still sending"
    );
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    assert!(
        !origin.finished.load(Ordering::SeqCst),
        "the first bytes arrived before the origin's last"
    );
    let mut received = first.to_vec();
    while let Some(chunk) = body.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(received, slow_body());
    assert!(origin.finished.load(Ordering::SeqCst));
}

#[tokio::test]
async fn ten_viewers_of_one_cold_object_share_one_origin_fetch_as_it_streams() {
    let (origin, origin_url) = start_slow_origin().await;
    let relay = start_relay(&origin_url, unmetered()).await;
    let session = SigningKey::from_bytes(&[62; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let http = reqwest::Client::new();
    let viewers = (0..10).map(|i| {
        let request = http
            .get(relay.object_url("vod/shared.mp4"))
            .header(SESSION_HEADER, &token);
        async move {
            // Arrivals spread over the fetch: later viewers join a body already growing.
            tokio::time::sleep(Duration::from_millis(i * 30)).await;
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.bytes().await.unwrap()
        }
    });
    let bodies = futures::future::join_all(viewers).await;
    let expected = slow_body();
    assert!(bodies.iter().all(|b| b[..] == expected[..]));
    assert_eq!(origin.fetches.load(Ordering::SeqCst), 1, "one origin fetch");
    let again = http
        .get(relay.object_url("vod/shared.mp4"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()[CACHE_HEADER], "hit");
    assert_eq!(again.bytes().await.unwrap(), expected);
}

/// An origin of one generated object of any length, answering ranges, that records the
/// ranges it is asked for. Byte `i` is byte `i % 8` of the little-endian `i / 8 * 8`, so any
/// window can be checked without holding the object.
struct RangedOrigin {
    length: u64,
    asked: Mutex<Vec<Option<(u64, u64)>>>,
    /// The object's version: its ETag, and added to every byte (0: as `generated`).
    version: std::sync::atomic::AtomicU8,
    /// Answers asking from this offset wait this long before their head.
    slow_from: Mutex<Option<(u64, Duration)>>,
}

fn generated(start: u64, end: u64) -> Vec<u8> {
    (start..end)
        .map(|i| ((i / 8) * 8).to_le_bytes()[(i % 8) as usize])
        .collect()
}

async fn ranged(State(origin): State<Arc<RangedOrigin>>, headers: HeaderMap) -> Response {
    let length = origin.length;
    let asked = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .map(|(a, b)| (a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap()));
    origin.asked.lock().unwrap().push(asked);
    let version = origin.version.load(Ordering::SeqCst);
    let slow = *origin.slow_from.lock().unwrap();
    if let (Some((from, delay)), Some((first, _))) = (slow, asked) {
        if first == from {
            tokio::time::sleep(delay).await;
        }
    }
    let (status, start, end) = match asked {
        None => (StatusCode::OK, 0, length),
        Some((first, _)) if first >= length => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{length}"))],
            )
                .into_response()
        }
        Some((first, last)) => (StatusCode::PARTIAL_CONTENT, first, (last + 1).min(length)),
    };
    let chunks = futures::stream::unfold(start, move |at| async move {
        (at < end).then(|| {
            let next = (at + (64 << 10)).min(end);
            let bytes: Vec<u8> = generated(at, next)
                .into_iter()
                .map(|b| b.wrapping_add(version))
                .collect();
            (Ok::<_, std::io::Error>(bytes), next)
        })
    });
    let mut response = Response::new(Body::from_stream(chunks));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, (end - start).into());
    headers.insert(header::CONTENT_TYPE, "video/mp4".parse().unwrap());
    headers.insert(header::ETAG, format!("\"v{version}\"").parse().unwrap());
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{}/{length}", end - 1);
        headers.insert(header::CONTENT_RANGE, value.parse().unwrap());
    }
    response
}

async fn start_ranged_origin(length: u64) -> (Arc<RangedOrigin>, Url) {
    let origin = Arc::new(RangedOrigin {
        length,
        asked: Mutex::new(Vec::new()),
        version: Default::default(),
        slow_from: Mutex::new(None),
    });
    let app = Router::new()
        .route("/{*path}", get(ranged))
        .with_state(origin.clone());
    (origin, serve(app).await)
}

const SLICE: u64 = 4 << 20;

fn slice_of(part: u64, length: u64) -> Option<(u64, u64)> {
    Some((part * SLICE, ((part + 1) * SLICE).min(length) - 1))
}

/// The process's resident set in bytes (Linux).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[tokio::test]
async fn a_gibibyte_is_served_in_slices_by_range_and_whole_in_bounded_memory() {
    let length: u64 = 1 << 30;
    let (origin, origin_url) = start_ranged_origin(length).await;
    let relay = start_relay(
        &origin_url,
        Options {
            cache: CacheSettings {
                memory_bytes: 32 << 20,
                slice_bytes: SLICE,
                disk: None,
                max_fetches_per_consumer: 64,
            },
            ..unmetered()
        },
    )
    .await;
    let session = SigningKey::from_bytes(&[63; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let http = reqwest::Client::new();
    let url = relay.object_url("vod/film.mp4");
    let ranged = |range: String| {
        http.get(&url)
            .header(SESSION_HEADER, &token)
            .header(header::RANGE, range)
            .send()
    };

    // A Range inside one slice: that slice alone is fetched.
    let start = 600_000_000u64;
    let response = ranged(format!("bytes={start}-{}", start + 99))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        response.headers()[header::CONTENT_RANGE],
        format!("bytes {start}-{}/{length}", start + 99).as_str()
    );
    assert_eq!(
        response.bytes().await.unwrap(),
        generated(start, start + 100)
    );
    let part = start / SLICE;
    assert_eq!(*origin.asked.lock().unwrap(), vec![slice_of(part, length)]);

    // A Range across a slice boundary: the slice already held and the next one.
    let across = (part + 1) * SLICE - 50;
    let response = ranged(format!("bytes={across}-{}", across + 99))
        .await
        .unwrap();
    // (The first slice may still be arriving: this answer joins its fetch, as a miss.)
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        response.bytes().await.unwrap(),
        generated(across, across + 100)
    );
    assert_eq!(
        *origin.asked.lock().unwrap(),
        vec![slice_of(part, length), slice_of(part + 1, length)],
        "slices fetched = slices needed"
    );

    // The suffix form and the last byte.
    let response = ranged("bytes=-10".into()).await.unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        response.bytes().await.unwrap(),
        generated(length - 10, length)
    );

    // The whole object, read as it streams; memory stays bounded.
    origin.asked.lock().unwrap().clear();
    let before = resident_bytes();
    let mut peak = before;
    let response = http
        .get(&url)
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_LENGTH],
        length.to_string().as_str()
    );
    let mut body = response.bytes_stream();
    let mut received = 0u64;
    let mut next_check = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        // Spot checks: one 8-byte word in every MiB.
        while next_check + 8 <= received + chunk.len() as u64 {
            if next_check >= received {
                let at = (next_check - received) as usize;
                assert_eq!(
                    &chunk[at..at + 8],
                    &generated(next_check, next_check + 8)[..]
                );
            }
            next_check += 1 << 20;
        }
        received += chunk.len() as u64;
        if received % (64 << 20) < chunk.len() as u64 {
            peak = peak.max(resident_bytes());
        }
    }
    assert_eq!(received, length);
    let grown = peak.saturating_sub(before);
    eprintln!(
        "1 GiB served whole; resident set grew by {} MiB",
        grown >> 20
    );
    assert!(
        grown < 256 << 20,
        "the relay's memory grew by {} MiB serving 1 GiB",
        grown >> 20
    );
    // Slice 0 was held since the suffix request (it told the length); every other slice
    // was fetched once (the earlier ones had left the 32 MiB memory tier; the next slice is
    // asked while one is read, so two requests may arrive in either order).
    let mut asked = origin.asked.lock().unwrap().clone();
    asked.sort();
    let expected: Vec<_> = (1..length / SLICE).map(|p| slice_of(p, length)).collect();
    assert_eq!(asked, expected, "slices fetched = slices needed");
    assert!(relay.relay.cache.weighted_size().await <= 32 << 20);
}

/// Review of issue 20: a viewer reading version 0 of a sliced object reaches a slice that
/// another viewer's fetch is bringing from version 1 (it asked that slice first, knowing no
/// version): its answer is cut there, and not one byte of version 1 reaches it.
#[tokio::test]
async fn slices_of_two_versions_are_never_stitched_into_one_answer() {
    let length: u64 = 3 * SLICE;
    let (origin, origin_url) = start_ranged_origin(length).await;
    let relay = start_relay(&origin_url, unmetered()).await;
    let session = SigningKey::from_bytes(&[66; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let http = reqwest::Client::new();
    let url = relay.object_url("vod/changing.mp4");
    // B asks slice 1 of version 1, which the origin is slow to answer.
    origin.version.store(1, Ordering::SeqCst);
    *origin.slow_from.lock().unwrap() = Some((SLICE, Duration::from_millis(500)));
    let b = {
        let request = http
            .get(&url)
            .header(SESSION_HEADER, &token)
            .header(header::RANGE, format!("bytes={SLICE}-{}", SLICE + 9));
        tokio::spawn(async move { request.send().await.unwrap().bytes().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A reads version 0 from slice 0 into slice 1.
    origin.version.store(0, Ordering::SeqCst);
    let response = http
        .get(&url)
        .header(SESSION_HEADER, &token)
        .header(
            header::RANGE,
            format!("bytes={}-{}", SLICE - 100, SLICE + 99),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    let (received, cut) = read_until_cut(response).await;
    assert!(cut, "the answer is cut where the versions meet");
    assert!(received.len() <= 100, "{} bytes", received.len());
    assert_eq!(
        received[..],
        generated(SLICE - 100, SLICE - 100 + received.len() as u64)[..]
    );
    let b = b.await.unwrap();
    let v1: Vec<u8> = generated(SLICE, SLICE + 10)
        .into_iter()
        .map(|x| x.wrapping_add(1))
        .collect();
    assert_eq!(b[..], v1[..], "B has version 1, whole");
}

#[tokio::test]
async fn an_object_on_disk_is_a_hit_after_a_restart_and_the_disk_budget_holds() {
    let (origin, origin_url) = start_origin().await;
    for i in 0..12 {
        origin.put(&format!("vod/{i}.ts"), content(200_000, i as u8), None);
    }
    let dir = temp_path("relay-disk");
    let disk_budget = 1_000_000;
    let options = || Options {
        cache: CacheSettings {
            memory_bytes: 64 << 20,
            slice_bytes: SLICE,
            disk: Some((dir.clone(), disk_budget)),
            max_fetches_per_consumer: 64,
        },
        consumer: Some(anchor_lang::prelude::Pubkey::new_from_array([21; 32])),
        ..unmetered()
    };
    let first = start_relay(&origin_url, options()).await;
    let session = SigningKey::from_bytes(&[64; 32]);
    let token = first.token(&session, u64::MAX).to_base64();
    let http = reqwest::Client::new();
    for i in 0..12 {
        let response = http
            .get(first.object_url(&format!("vod/{i}.ts")))
            .header(SESSION_HEADER, &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()[CACHE_HEADER], "miss");
        assert_eq!(response.bytes().await.unwrap().len(), 200_000);
    }
    let newest =
        media_relay::target::cache_key(&first.consumer, &origin_url.join("vod/11.ts").unwrap());
    wait_until(|| first.relay.cache.on_disk(&newest)).await;
    let held = first.relay.cache.disk_bytes().unwrap();
    let on_disk: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(
        held <= disk_budget && on_disk <= disk_budget,
        "{held} / {on_disk} bytes on disk, budget {disk_budget}"
    );
    assert!(on_disk >= 600_000, "the disk is used: {on_disk} bytes");

    // A new relay on the same directory (a restart): the newest object is a hit from disk.
    let second = start_relay(&origin_url, options()).await;
    let response = http
        .get(second.object_url("vod/11.ts"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CACHE_HEADER], "hit");
    assert_eq!(response.bytes().await.unwrap(), content(200_000, 11));
    assert_eq!(origin.fetches("vod/11.ts"), 1, "not fetched again");
    // The oldest did not fit the budget: fetched again.
    let response = http
        .get(second.object_url("vod/0.ts"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[CACHE_HEADER], "miss");
    assert_eq!(origin.fetches("vod/0.ts"), 2);
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not done within 5 s");
}

/// HLS stays right: a live playlist is refetched once it is a second old, and the viewers
/// polling it at the live edge share each refetch.
#[tokio::test]
async fn live_edge_playlist_requests_collapse_into_one_fetch_per_second() {
    let (origin, origin_url) = start_origin().await;
    origin.put(
        "live/index.m3u8",
        b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\n".to_vec(),
        None,
    );
    *origin.delay.lock().unwrap() = Duration::from_millis(200);
    let relay = start_relay(&origin_url, unmetered()).await;
    let session = SigningKey::from_bytes(&[65; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let http = reqwest::Client::new();
    let poll_together = || {
        futures::future::join_all((0..20).map(|_| {
            let request = http
                .get(relay.object_url("live/index.m3u8"))
                .header(SESSION_HEADER, &token);
            async move { request.send().await.unwrap().text().await.unwrap() }
        }))
    };
    let first = poll_together().await;
    assert!(first.iter().all(|p| p.contains("SEQUENCE:1")));
    assert_eq!(origin.fetches("live/index.m3u8"), 1);
    origin.put(
        "live/index.m3u8",
        b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:2\n".to_vec(),
        None,
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let second = poll_together().await;
    assert!(
        second.iter().all(|p| p.contains("SEQUENCE:2")),
        "{second:?}"
    );
    assert_eq!(
        origin.fetches("live/index.m3u8"),
        2,
        "one refetch for 20 viewers"
    );
}

/// Review of issue 20: an origin that announces 4 MiB and sends a byte every 50 ms held a
/// fetch slot for the timeout plus 16 s; past the first timeout it must keep up the minimum
/// rate on what it sends, so it is cut about a second in.
#[tokio::test]
async fn a_trickling_origin_is_cut_once_it_falls_below_the_minimum_rate() {
    async fn trickle() -> Response {
        let bytes = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Some((Ok::<_, std::io::Error>(vec![7u8]), ()))
        });
        let mut response = Response::new(Body::from_stream(bytes));
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, (4u64 << 20).into());
        response
    }
    let origin_url = serve(Router::new().route("/{*path}", get(trickle))).await;
    let relay = start_relay(
        &origin_url,
        Options {
            origin: media_relay::origin::OriginLimits {
                timeout: Duration::from_millis(500),
                ..unmetered().origin
            },
            ..unmetered()
        },
    )
    .await;
    let session = SigningKey::from_bytes(&[67; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let response = reqwest::Client::new()
        .get(relay.object_url("vod/trickle.ts"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(4), response.bytes()).await;
    match ended {
        Ok(Err(_)) => {}
        Ok(Ok(body)) => panic!("a trickle of {} bytes passed as whole", body.len()),
        Err(_) => panic!("still fetching after 4 s"),
    }
}

/// Review of issue 20: one consumer's misses hold at most `max_fetches_per_consumer` of the
/// relay's fetch slots (its own slow origin could otherwise keep every other consumer's
/// misses waiting); beyond it, 503 at once.
#[tokio::test]
async fn one_consumer_holds_at_most_its_share_of_the_fetch_slots() {
    let (origin, origin_url) = start_origin().await;
    for i in 0..5 {
        origin.put(&format!("vod/{i}.ts"), content(1_000, i as u8), None);
    }
    *origin.delay.lock().unwrap() = Duration::from_millis(500);
    let options = unmetered();
    let relay = start_relay(
        &origin_url,
        Options {
            cache: CacheSettings {
                max_fetches_per_consumer: 2,
                ..options.cache.clone()
            },
            ..options
        },
    )
    .await;
    let session = SigningKey::from_bytes(&[68; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let http = reqwest::Client::new();
    let statuses = futures::future::join_all((0..5).map(|i| {
        let request = http
            .get(relay.object_url(&format!("vod/{i}.ts")))
            .header(SESSION_HEADER, &token);
        async move { request.send().await.unwrap().status() }
    }))
    .await;
    let served = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let busy = statuses
        .iter()
        .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert_eq!((served, busy), (2, 3), "{statuses:?}");
    assert_eq!(origin.total.load(Ordering::SeqCst), 2);
    // The slots come back when the fetches end.
    let again = http
        .get(relay.object_url("vod/4.ts"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}
