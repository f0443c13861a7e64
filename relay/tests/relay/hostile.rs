//! Attacks on the relay's host, each through real sockets: path traversal and encoded
//! delimiters (H3, M5), redirects and private addresses (H3), cache-busting queries, floods of
//! concurrent misses and endless bodies (H4), a slowloris client (M4), a Range that used to
//! panic (L1), and error bodies that used to be metered (L5).
use crate::fixtures::*;
use axum::body::Body;
use axum::http::{header, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ed25519_dalek::SigningKey;
use futures::StreamExt;
use media_relay::origin::OriginLimits;
use media_relay::server::SESSION_HEADER;
use media_service::http::ServerLimits;
use reqwest::StatusCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn listen(app: Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A server that only counts how often it is reached: what an attacker wants the relay to
/// fetch (an admin endpoint on the relay's host, say).
async fn secret_server() -> (Arc<AtomicUsize>, Url) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "secret"
        }
    });
    (hits, listen(app).await)
}

/// An origin that redirects to `target`, and one path that streams without end.
async fn hostile_origin(target: Url, streamed: Arc<AtomicUsize>) -> Url {
    let app = Router::new()
        .route(
            "/media/redirect",
            get(move || {
                let target = target.clone();
                async move {
                    (
                        AxumStatus::FOUND,
                        [(header::LOCATION, target.to_string())],
                        "moved",
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/media/endless.ts",
            get(move || {
                let streamed = streamed.clone();
                async move {
                    // Chunked (no Content-Length), 64 KiB at a time, up to 256 MiB.
                    let chunks = futures::stream::iter(0..4_096).then(move |_| {
                        let streamed = streamed.clone();
                        async move {
                            tokio::task::yield_now().await;
                            streamed.fetch_add(64 << 10, Ordering::SeqCst);
                            Ok::<_, std::io::Error>(bytes::Bytes::from(vec![7u8; 64 << 10]))
                        }
                    });
                    Response::new(Body::from_stream(chunks))
                }
            }),
        );
    listen(app).await.join("media/").unwrap()
}

fn token(relay: &TestRelay, seed: u8) -> String {
    relay
        .token(&SigningKey::from_bytes(&[seed; 32]), u64::MAX)
        .to_base64()
}

/// H3: `..%2F` and friends arrive decoded; the relay refuses them before any fetch, so
/// nothing outside the origin's base path is ever requested.
#[tokio::test]
async fn h3_traversal_out_of_the_origin_path_is_refused_before_any_fetch() {
    let (origin, origin_url) = start_origin().await;
    origin.put("secret/keys", b"private".to_vec(), None);
    let base = origin_url.join("media/").unwrap();
    let relay = start_relay(&base, Options::default()).await;
    let token = token(&relay, 41);
    let http = client();
    for path in [
        "..%2Fsecret%2Fkeys",
        "vod%2F..%2F..%2Fsecret%2Fkeys",
        "%2E%2E%2Fsecret%2Fkeys",
        "..%5Csecret%5Ckeys",
        "vod%00.ts",
    ] {
        let response = http
            .get(relay.object_url(path))
            .header(SESSION_HEADER, &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    assert_eq!(
        origin.total.load(Ordering::SeqCst),
        0,
        "nothing was fetched"
    );
}

/// M5: a `%3F` in the path is refused, so `seg.ts%3Fv%3D1` cannot be fetched from one URL
/// and cached for `seg.ts?v=1`; and query strings are not forwarded by default, so they
/// cannot bust the cache either (H4).
#[tokio::test]
async fn m5_an_encoded_query_is_refused_and_queries_do_not_bust_the_cache() {
    let (origin, origin_url) = start_origin().await;
    origin.put("vod/seg.ts", content(50_000, 3), None);
    let relay = start_relay(
        &origin_url,
        Options {
            credit_window: 1 << 40,
            ..Options::default()
        },
    )
    .await;
    let token = token(&relay, 42);
    let http = client();
    let refused = http
        .get(relay.object_url("vod/seg.ts%3Fv%3D1"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    for nonce in 0..50 {
        let response = http
            .get(format!("{}?r={nonce}", relay.object_url("vod/seg.ts")))
            .header(SESSION_HEADER, &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.bytes().await.unwrap().len(), 50_000);
    }
    assert_eq!(origin.fetches("vod/seg.ts"), 1, "one fetch for 50 nonces");
}

/// H3: an origin's redirect to the relay's own host is not followed: the viewer gets 502 and
/// the target is never reached.
#[tokio::test]
async fn h3_a_redirect_to_loopback_is_not_followed() {
    let (hits, secret) = secret_server().await;
    let base = hostile_origin(secret.join("admin/dump").unwrap(), Arc::default()).await;
    let relay = start_relay(&base, Options::default()).await;
    let response = client()
        .get(relay.object_url("redirect"))
        .header(SESSION_HEADER, token(&relay, 43))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.unwrap().contains("redirect"));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was followed");
}

/// H3: unless the operator allows private origins, an origin on a loopback address is
/// refused before any connection is made.
#[tokio::test]
async fn h3_private_origin_addresses_are_refused_unless_allowed() {
    let (origin, origin_url) = start_origin().await;
    origin.put("vod/a.ts", content(1_000, 1), None);
    let relay = start_relay(
        &origin_url,
        Options {
            origin: OriginLimits {
                allow_private: false,
                ..Options::default().origin
            },
            ..Options::default()
        },
    )
    .await;
    let response = client()
        .get(relay.object_url("vod/a.ts"))
        .header(SESSION_HEADER, token(&relay, 44))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("not one this relay fetches from"));
    assert_eq!(origin.total.load(Ordering::SeqCst), 0);
}

/// H4: a chunked body with no length is abandoned at `max_object_bytes`, not buffered to
/// the end. Misses are streamed (issue 20), so the viewer's answer has begun: it is cut
/// there, an error for the viewer, and the origin is no longer read.
#[tokio::test]
async fn h4_an_endless_chunked_body_is_cut_at_the_object_limit() {
    let streamed = Arc::new(AtomicUsize::new(0));
    let base = hostile_origin(Url::parse("http://127.0.0.1:9/").unwrap(), streamed.clone()).await;
    let relay = start_relay(
        &base,
        Options {
            origin: OriginLimits {
                max_object_bytes: 1 << 20,
                ..Options::default().origin
            },
            credit_window: 1 << 40,
            ..Options::default()
        },
    )
    .await;
    let response = client()
        .get(relay.object_url("endless.ts"))
        .header(SESSION_HEADER, token(&relay, 45))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (body, cut) = read_until_cut(response).await;
    let received = body.len();
    assert!(cut, "the answer ends in an error, not as if whole");
    assert!(received <= 1 << 20, "{received} bytes passed on");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = streamed.load(Ordering::SeqCst);
    assert!(sent < 64 << 20, "the relay kept reading: {sent} bytes");
}

/// H4: a flood of HEAD requests for distinct objects (HEAD takes no credit) causes at most
/// `max_concurrent_fetches` origin fetches at a time; the rest are told to retry (503).
#[tokio::test]
async fn h4_a_head_flood_stays_within_the_concurrent_fetch_limit() {
    let (origin, origin_url) = start_origin().await;
    for i in 0..20 {
        origin.put(&format!("vod/{i}.ts"), content(100_000, i as u8), None);
    }
    *origin.delay.lock().unwrap() = Duration::from_millis(500);
    let relay = start_relay(
        &origin_url,
        Options {
            origin: OriginLimits {
                max_concurrent_fetches: 3,
                ..Options::default().origin
            },
            ..Options::default()
        },
    )
    .await;
    let token = token(&relay, 46);
    let http = client();
    let heads = (0..20).map(|i| {
        http.head(relay.object_url(&format!("vod/{i}.ts")))
            .header(SESSION_HEADER, &token)
            .send()
    });
    let answers = futures::future::join_all(heads).await;
    let mut ok = 0;
    for answer in answers {
        let answer = answer.unwrap();
        match answer.status() {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => assert_eq!(answer.headers()["retry-after"], "1"),
            other => panic!("unexpected {other}"),
        }
    }
    let fetched = origin.total.load(Ordering::SeqCst);
    assert!(fetched <= 3, "{fetched} origin fetches for one burst");
    assert_eq!(ok, fetched, "every fetch that ran was served");
    // Once they are cached, HEADs of the same objects cost the origin nothing.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = http
        .head(relay.object_url("vod/0.ts"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    let before = origin.total.load(Ordering::SeqCst);
    for _ in 0..10 {
        let again = http
            .head(relay.object_url("vod/0.ts"))
            .header(SESSION_HEADER, &token)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::OK);
    }
    assert_eq!(origin.total.load(Ordering::SeqCst), before);
}

/// L1: `Range: bytes=0-18446744073709551615` made the relay panic; it is the whole rest.
#[tokio::test]
async fn l1_a_range_ending_at_u64_max_is_answered() {
    let (origin, origin_url) = start_origin().await;
    origin.put("vod/r.ts", content(10_000, 2), None);
    let relay = start_relay(&origin_url, Options::default()).await;
    let response = client()
        .get(relay.object_url("vod/r.ts"))
        .header(SESSION_HEADER, token(&relay, 47))
        .header("range", format!("bytes=0-{}", u64::MAX))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.headers()["content-range"], "bytes 0-9999/10000");
    assert_eq!(response.bytes().await.unwrap().len(), 10_000);
}

/// L5: an origin's error body is not metered (viewers acknowledge only 2xx bodies), so a
/// session that meets many 404s does not drift into 402.
#[tokio::test]
async fn l5_error_bodies_are_not_metered() {
    let (_origin, origin_url) = start_origin().await;
    let relay = start_relay(&origin_url, Options::default()).await;
    let session = SigningKey::from_bytes(&[48; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    for _ in 0..5 {
        let response = client()
            .get(relay.object_url("vod/missing.ts"))
            .header(SESSION_HEADER, &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.text().await.unwrap(), "no such file");
    }
    let delivered = relay.position(&session).map_or(0, |(_, d)| d);
    assert_eq!(delivered, 0);
}

/// M4: a client that trickles its request head is cut by the relay's header-read timeout.
#[tokio::test]
async fn m4_a_slowloris_client_is_cut_by_the_relay() {
    let (_origin, origin_url) = start_origin().await;
    let relay = start_relay(
        &origin_url,
        Options {
            server: ServerLimits {
                header_read_timeout: Duration::from_millis(500),
                ..ServerLimits::default()
            },
            ..Options::default()
        },
    )
    .await;
    let address = relay.url.socket_addrs(|| None).unwrap()[0];
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    tokio::spawn(async move {
        let _ = write.write_all(b"GET /health HTTP/1.1\r\nX-Slow: ").await;
        for _ in 0..200 {
            if write.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = std::time::Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(Duration::from_secs(15), read.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the relay kept a slowloris connection open"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// I2: every consumer's objects share the relay's web origin, so answers forbid content
/// sniffing, and a cached copy says how old it is.
#[tokio::test]
async fn i2_answers_forbid_sniffing_and_carry_their_age() {
    let (origin, origin_url) = start_origin().await;
    origin.put("vod/page.html", content(1_000, 4), None);
    let relay = start_relay(&origin_url, Options::default()).await;
    let token = token(&relay, 43);
    for _ in 0..2 {
        let response = client()
            .get(relay.object_url("vod/page.html"))
            .header(SESSION_HEADER, &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let age: u64 = response.headers()["age"].to_str().unwrap().parse().unwrap();
        assert!(age < 60, "a copy fetched just now is young: {age}");
    }
}
