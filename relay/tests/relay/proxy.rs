//! The proxy and cache: collapsing, freshness, ranges, origin failures, refused consumers,
//! the byte budget.
use crate::fixtures::*;
use ed25519_dalek::SigningKey;
use media_relay::origin::OriginLimits;
use media_relay::server::{CACHE_HEADER, SESSION_HEADER};
use reqwest::StatusCode;
use std::time::Duration;

/// These viewers never acknowledge: a window larger than anything they fetch.
fn unmetered() -> Options {
    Options {
        credit_window: 1 << 40,
        ..Options::default()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(200)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_hundred_concurrent_misses_cause_one_origin_fetch() {
    let (origin, origin_url) = start_origin().await;
    let body = content(200_000, 5);
    origin.put("vod/hot.ts", body.clone(), None);
    *origin.delay.lock().unwrap() = Duration::from_millis(300);
    let relay = start_relay(&origin_url, unmetered()).await;
    let session = SigningKey::from_bytes(&[31; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let http = client();
    let requests = (0..100).map(|_| {
        let request = http
            .get(relay.object_url("vod/hot.ts"))
            .header(SESSION_HEADER, &token);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.bytes().await.unwrap()
        }
    });
    let bodies = futures::future::join_all(requests).await;
    assert!(bodies.iter().all(|b| b[..] == body[..]));
    assert_eq!(
        origin.fetches("vod/hot.ts"),
        1,
        "one origin fetch for 100 misses"
    );
}

#[tokio::test]
async fn playlists_go_stale_segments_stay_and_ranges_slice() {
    let (origin, origin_url) = start_origin().await;
    origin.put("live/index.m3u8", b"#EXTM3U\n#1\n".to_vec(), None);
    origin.put("live/seg1.ts", content(10_000, 6), None);
    let relay = start_relay(&origin_url, Options::default()).await;
    let session = SigningKey::from_bytes(&[32; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let http = client();
    let get = |path: &'static str| {
        http.get(relay.object_url(path))
            .header(SESSION_HEADER, &token)
            .send()
    };
    let first = get("live/index.m3u8").await.unwrap();
    assert_eq!(first.headers()[CACHE_HEADER], "miss");
    assert_eq!(first.text().await.unwrap(), "#EXTM3U\n#1\n");
    origin.put("live/index.m3u8", b"#EXTM3U\n#2\n".to_vec(), None);
    let cached = get("live/index.m3u8").await.unwrap();
    assert_eq!(cached.headers()[CACHE_HEADER], "hit");
    assert_eq!(cached.text().await.unwrap(), "#EXTM3U\n#1\n");
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let fresh = get("live/index.m3u8").await.unwrap();
    assert_eq!(
        fresh.text().await.unwrap(),
        "#EXTM3U\n#2\n",
        "the playlist was revalidated"
    );

    for _ in 0..3 {
        get("live/seg1.ts").await.unwrap().bytes().await.unwrap();
    }
    assert_eq!(origin.fetches("live/seg1.ts"), 1, "segments stay cached");

    let ranged = http
        .get(relay.object_url("live/seg1.ts"))
        .header(SESSION_HEADER, &token)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.headers()["content-range"], "bytes 100-199/10000");
    assert_eq!(
        ranged.bytes().await.unwrap()[..],
        content(10_000, 6)[100..200]
    );
    let beyond = http
        .get(relay.object_url("live/seg1.ts"))
        .header(SESSION_HEADER, &token)
        .header("range", "bytes=20000-")
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

#[tokio::test]
async fn origin_down_is_502_and_origin_timeout_is_504() {
    let (origin, origin_url) = start_origin().await;
    origin.put("vod/slow.ts", content(1_000, 7), None);
    *origin.delay.lock().unwrap() = Duration::from_secs(2);
    let relay = start_relay(
        &origin_url,
        Options {
            origin: OriginLimits {
                timeout: Duration::from_millis(300),
                ..Options::default().origin
            },
            ..Options::default()
        },
    )
    .await;
    let session = SigningKey::from_bytes(&[33; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let response = client()
        .get(relay.object_url("vod/slow.ts"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);

    // An origin nobody listens on.
    let dead = url::Url::parse("http://127.0.0.1:1/").unwrap();
    let relay = start_relay(&dead, Options::default()).await;
    let token = relay.token(&session, u64::MAX).to_base64();
    let response = client()
        .get(relay.object_url("vod/x.ts"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("the origin is unreachable"));
}

#[tokio::test]
async fn refused_consumers_and_unknown_ones_get_clear_statuses() {
    let (origin, origin_url) = start_origin().await;
    origin.put("vod/a.ts", content(1_000, 8), None);
    let relay = start_relay(&origin_url, Options::default()).await;
    let session = SigningKey::from_bytes(&[34; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    relay
        .relay
        .view
        .write()
        .unwrap()
        .consumers
        .get_mut(&relay.consumer)
        .unwrap()
        .refusal = Some("the consumer's fee escrow is empty on chain".into());
    let response = client()
        .get(relay.object_url("vod/a.ts"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("escrow is empty"));
    assert_eq!(origin.fetches("vod/a.ts"), 0, "the origin was not touched");

    let stranger = format!(
        "{}c/{}/vod/a.ts",
        relay.url,
        anchor_lang::prelude::Pubkey::new_unique()
    );
    let response = client().get(stranger).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_cache_keeps_to_its_byte_budget() {
    let (origin, origin_url) = start_origin().await;
    for i in 0..20 {
        origin.put(&format!("vod/{i}.ts"), content(100_000, i as u8), None);
    }
    let budget = 500_000;
    let relay = start_relay(
        &origin_url,
        Options {
            cache: media_relay::cache::CacheSettings {
                memory_bytes: budget,
                ..unmetered().cache
            },
            ..unmetered()
        },
    )
    .await;
    let session = SigningKey::from_bytes(&[35; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let http = client();
    for i in 0..20 {
        let response = http
            .get(relay.object_url(&format!("vod/{i}.ts")))
            .header(SESSION_HEADER, &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.bytes().await.unwrap().len(), 100_000);
    }
    let held = relay.relay.cache.weighted_size().await;
    assert!(held <= budget, "{held} bytes held, budget {budget}");
    assert!(held >= 300_000, "the cache is used: {held}");
    let metrics = scrape_metrics(&http, &relay.url).await;
    assert!(
        metrics.contains("media_relay_cache_misses_total"),
        "{metrics}"
    );
}

/// A browser player on another origin: the preflight for the session header is answered, and
/// the answers let the page read the `x-media-*` headers it acknowledges by.
#[tokio::test]
async fn browsers_may_fetch_across_origins_and_read_the_metering_headers() {
    let (origin, origin_url) = start_origin().await;
    origin.put("live/seg1.ts", content(5_000, 8), None);
    let relay = start_relay(&origin_url, Options::default()).await;
    let http = client();
    let preflight = http
        .request(reqwest::Method::OPTIONS, relay.object_url("live/seg1.ts"))
        .header("origin", "http://watch.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-media-session, range")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(
        allowed.contains("x-media-session") && allowed.contains("range"),
        "{allowed}"
    );
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(
        headers.get("access-control-allow-credentials").is_none(),
        "no cookies ride along"
    );

    let session = SigningKey::from_bytes(&[33; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let answer = http
        .get(relay.object_url("live/seg1.ts"))
        .header("origin", "http://watch.example")
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["access-control-allow-origin"], "*");
    let exposed = answer.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_string();
    for name in [
        "x-media-epoch",
        "x-media-node-key",
        "x-media-delivered",
        "x-media-acked",
        "content-range",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    // Refusals carry the headers too, so the page can read a 402's position.
    let refused = http
        .post(format!("{}.media/receipt", relay.url))
        .header("origin", "http://watch.example")
        .body("not a receipt")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.headers()["access-control-allow-origin"], "*");
}
