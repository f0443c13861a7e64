//! Metering over HTTP: bytes counted equal bytes delivered, the credit window is exact,
//! forged or replayed receipts and forged or expired tokens are refused and not counted.
use crate::fixtures::*;
use ed25519_dalek::SigningKey;
use media_relay::server::{CACHE_HEADER, DELIVERED_HEADER, SESSION_HEADER};
use media_sdk::receipt::pubkey_of;
use media_sdk::session::{SessionGrant, ViewerAck};
use media_viewer::Viewer;
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn bytes_counted_equal_bytes_delivered_and_every_receipt_verifies() {
    let (origin, origin_url) = start_origin().await;
    let body = content(3 << 20, 1);
    origin.put("vod/movie.ts", body.clone(), None);
    let relay = start_relay(
        &origin_url,
        Options {
            credit_window: 256 << 10,
            ..Options::default()
        },
    )
    .await;
    let session = SigningKey::from_bytes(&[21; 32]);
    let viewer = Viewer::new(
        relay.url.clone(),
        session.clone(),
        relay.token(&session, u64::MAX),
        64 << 10,
    );
    let mut out = Vec::new();
    let n = viewer.fetch("vod/movie.ts", &mut out).await.unwrap();
    assert_eq!(n, body.len() as u64);
    assert_eq!(out, body, "the bytes are the origin's");

    let (epoch, delivered) = relay.position(&session).unwrap();
    assert_eq!(
        (epoch, delivered),
        (EPOCH, body.len() as u64),
        "counted = delivered"
    );
    // The last acknowledgement travels in the background; wait for it to land.
    let mut acked = 0;
    for _ in 0..100 {
        let receipts = relay.relay.meter.acknowledged(&relay.consumer, EPOCH);
        acked = receipts.first().map_or(0, |r| r.receipt.ack.cumulative);
        if acked == delivered {
            receipts[0].receipt.verify().unwrap();
            assert_eq!(receipts[0].receipt.ack.node_key, pubkey_of(&relay.node));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(acked, delivered, "the viewer acknowledged every byte");
}

#[tokio::test]
async fn a_viewer_that_stops_signing_gets_402_after_exactly_the_credit_window() {
    let window = 100_000;
    let (_origin, relay) = big_object_with_window(window, 2).await;
    let session = SigningKey::from_bytes(&[22; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let http = reqwest::Client::new();
    let response = http
        .get(relay.object_url("vod/big.ts"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (body, cut) = read_until_cut(response).await;
    let received = body.len() as u64;
    assert!(cut, "the response was cut, not completed");
    assert_eq!(received, window, "exactly the credit window");

    let again = http
        .get(relay.object_url("vod/big.ts"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        again.headers()[DELIVERED_HEADER],
        window.to_string().as_str()
    );

    // Acknowledging what arrived reopens the window.
    let ack = ViewerAck {
        config: media_sdk::pda::config(),
        consumer: relay.consumer,
        node_key: pubkey_of(&relay.node),
        session_key: pubkey_of(&session),
        epoch: EPOCH,
        cumulative: received,
    }
    .sign(&session);
    let posted = http
        .post(relay.url.join(".media/receipt").unwrap())
        .body(ack.to_base64())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::OK);
    let resumed = http
        .get(relay.object_url("vod/big.ts"))
        .header(SESSION_HEADER, &token)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resumed.bytes().await.unwrap().len(), 10);
}

#[tokio::test]
async fn the_client_library_resumes_after_402_and_cut_connections() {
    let (origin, origin_url) = start_origin().await;
    let body = content(2_500_000, 3);
    origin.put("vod/clip.ts", body.clone(), None);
    // A window 25 times smaller than the object and a viewer that acknowledges only at the
    // end of each response: the relay cuts and refuses again and again; the library
    // acknowledges what it got and resumes with a range each time.
    let relay = start_relay(
        &origin_url,
        Options {
            credit_window: 100_000,
            stall: Duration::from_millis(200),
            ..Options::default()
        },
    )
    .await;
    let session = SigningKey::from_bytes(&[23; 32]);
    let viewer = Viewer::new(
        relay.url.clone(),
        session.clone(),
        relay.token(&session, u64::MAX),
        u64::MAX,
    );
    let mut out = Vec::new();
    viewer.fetch("vod/clip.ts", &mut out).await.unwrap();
    assert_eq!(out, body);
    let (_, delivered) = relay.position(&session).unwrap();
    assert_eq!(delivered, body.len() as u64, "nothing delivered twice");
}

#[tokio::test]
async fn forged_replayed_and_foreign_receipts_and_tokens_are_refused_and_not_counted() {
    let (origin, origin_url) = start_origin().await;
    origin.put("vod/a.ts", content(50_000, 4), None);
    let relay = start_relay(&origin_url, Options::default()).await;
    let http = reqwest::Client::new();
    let session = SigningKey::from_bytes(&[24; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let got = http
        .get(relay.object_url("vod/a.ts"))
        .header(SESSION_HEADER, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap().len(), 50_000);
    let post = |receipt: String| {
        let http = http.clone();
        let url = relay.url.join(".media/receipt").unwrap();
        async move {
            let r = http.post(url).body(receipt).send().await.unwrap();
            let status = r.status();
            let body: serde_json::Value = r.json().await.unwrap();
            (status, body)
        }
    };
    let ack = |cumulative| ViewerAck {
        config: media_sdk::pda::config(),
        consumer: relay.consumer,
        node_key: pubkey_of(&relay.node),
        session_key: pubkey_of(&session),
        epoch: EPOCH,
        cumulative,
    };
    let mut forged = ack(40_000).sign(&session);
    forged.ack.cumulative = 50_000;
    let (status, body) = post(forged.to_base64()).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_signature"))
    );
    let (status, _) = post(ack(40_000).sign(&session).to_base64()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post(ack(30_000).sign(&session).to_base64()).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::CONFLICT, Some("stale"))
    );
    let (status, body) = post(ack(40_000).sign(&session).to_base64()).await;
    assert_eq!(
        (status, body["duplicate"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let other_relay = ViewerAck {
        node_key: pubkey_of(&SigningKey::from_bytes(&[99; 32])),
        ..ack(45_000)
    };
    let (_, body) = post(other_relay.sign(&session).to_base64()).await;
    assert_eq!(body["reason"], "wrong_scope");
    let (_, body) = post("AAAA".into()).await;
    assert_eq!(body["reason"], "malformed");
    let receipts = relay.relay.meter.acknowledged(&relay.consumer, EPOCH);
    assert_eq!(receipts.len(), 1);
    assert_eq!(
        receipts[0].receipt.ack.cumulative, 40_000,
        "only the valid receipt counts"
    );

    // Tokens: signed by the wrong key, expired, absent.
    let intruder = SigningKey::from_bytes(&[25; 32]);
    let forged_token = SessionGrant {
        config: media_sdk::pda::config(),
        consumer: relay.consumer,
        session_key: pubkey_of(&intruder),
        expires_at: i64::MAX,
        max_bytes: u64::MAX,
    }
    .sign(&intruder);
    let expired = SessionGrant {
        expires_at: 1,
        ..relay.token(&intruder, u64::MAX).grant
    }
    .sign(&relay.receipt_signer);
    for (token, expected) in [
        (Some(forged_token.to_base64()), "not signed by the consumer"),
        (Some(expired.to_base64()), "expired"),
        (None, "no session token"),
    ] {
        let mut request = http.get(relay.object_url("vod/a.ts"));
        if let Some(token) = token {
            request = request.header(SESSION_HEADER, token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.text().await.unwrap().contains(expected));
    }
    assert!(relay.position(&intruder).is_none(), "no session opened");
}

/// A hit larger than the credit window: the part the window covers is granted as the answer
/// opens, the rest is asked as it is sent, so the viewer still gets exactly the window.
#[tokio::test]
async fn a_hit_larger_than_the_window_is_cut_at_exactly_the_window() {
    let window = 100_000;
    let (_origin, relay) = big_object_with_window(window, 3).await;
    let http = reqwest::Client::new();
    for attempt in 0..50u8 {
        let session = SigningKey::from_bytes(&[100 + attempt; 32]);
        let response = http
            .get(relay.object_url("vod/big.ts"))
            .header(SESSION_HEADER, relay.token(&session, u64::MAX).to_base64())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[DELIVERED_HEADER], "0");
        let hit = response.headers()[CACHE_HEADER] == "hit";
        let (body, cut) = read_until_cut(response).await;
        let received = body.len() as u64;
        assert!(cut, "the response was cut, not completed");
        assert_eq!(received, window, "exactly the credit window");
        assert_eq!(relay.position(&session), Some((EPOCH, window)));
        if hit {
            return;
        }
        // The first viewer's miss: the fetch goes on to the end and is kept.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the object never became a hit");
}

/// A relay with `window` bytes of credit per session, in front of an origin holding a 1 MiB
/// `vod/big.ts` (content of `seed`); stalls end after 300 ms.
async fn big_object_with_window(window: u64, seed: u8) -> (Arc<OriginState>, TestRelay) {
    let (origin, origin_url) = start_origin().await;
    origin.put("vod/big.ts", content(1 << 20, seed), None);
    let relay = start_relay(
        &origin_url,
        Options {
            credit_window: window,
            stall: Duration::from_millis(300),
            ..Options::default()
        },
    )
    .await;
    (origin, relay)
}

/// Hits answered at once from memory count exactly what they send: nothing for a HEAD, the
/// span for a Range, the whole for a GET, each answer reporting the position before it.
#[tokio::test]
async fn held_hits_count_nothing_for_head_the_span_for_a_range_and_the_whole_for_a_get() {
    let (_origin, relay) = big_object_with_window(u64::MAX >> 1, 4).await;
    let http = reqwest::Client::new();
    let session = SigningKey::from_bytes(&[77; 32]);
    let token = relay.token(&session, u64::MAX).to_base64();
    let ask = |method: reqwest::Method, range: Option<&'static str>| {
        let mut request = http
            .request(method, relay.object_url("vod/big.ts"))
            .header(SESSION_HEADER, &token);
        if let Some(range) = range {
            request = request.header("range", range);
        }
        async move {
            let response = request.send().await.unwrap();
            let delivered: u64 = response.headers()[DELIVERED_HEADER]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let cache = response.headers()[CACHE_HEADER]
                .to_str()
                .unwrap()
                .to_string();
            let (status, body) = (response.status(), response.bytes().await.unwrap());
            (status, delivered, cache, body.len() as u64)
        }
    };
    // The first GET fetches and keeps the object (a miss, metered as it streams).
    let (status, before, _, length) = ask(reqwest::Method::GET, None).await;
    assert_eq!((status, before, length), (StatusCode::OK, 0, 1 << 20));
    // Kept once the fetch ends, which may be just after its last byte went out.
    let mut head = ask(reqwest::Method::HEAD, None).await;
    for _ in 0..50 {
        if head.2 == "hit" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        head = ask(reqwest::Method::HEAD, None).await;
    }
    let (status, before, cache, length) = head;
    assert_eq!((status, cache.as_str(), length), (StatusCode::OK, "hit", 0));
    assert_eq!(before, 1 << 20);
    assert_eq!(
        relay.position(&session),
        Some((EPOCH, 1 << 20)),
        "a HEAD counts nothing"
    );
    let (status, before, cache, length) = ask(reqwest::Method::GET, Some("bytes=10-99")).await;
    assert_eq!(
        (status, cache.as_str(), length),
        (StatusCode::PARTIAL_CONTENT, "hit", 90)
    );
    assert_eq!(before, 1 << 20);
    assert_eq!(relay.position(&session), Some((EPOCH, (1 << 20) + 90)));
    let (status, before, _, length) = ask(reqwest::Method::GET, None).await;
    assert_eq!(
        (status, before, length),
        (StatusCode::OK, (1 << 20) + 90, 1 << 20)
    );
    assert_eq!(relay.position(&session), Some((EPOCH, (2 << 20) + 90)));
}
