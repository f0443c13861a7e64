//! A stock player through the network: ffmpeg reads a live HLS stream (segments appearing
//! once a second) from the viewer's local proxy, which fetches through a metered relay.
use crate::fixtures::*;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ed25519_dalek::SigningKey;
use media_viewer::{proxy::player_proxy, Viewer};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const SEGMENT_SECS: u64 = 1;

/// `seconds` real one-second MPEG-TS segments of a generated test picture, made by ffmpeg
/// itself.
pub(crate) fn make_segments(dir: &std::path::Path, seconds: usize) -> Vec<Vec<u8>> {
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg("testsrc=size=160x120:rate=10")
        .args(["-t", &seconds.to_string()])
        .args(["-c:v", "mpeg2video", "-g", "10", "-f", "hls"])
        .args([
            "-hls_time",
            "1",
            "-hls_list_size",
            "0",
            "-hls_segment_filename",
        ])
        .arg(dir.join("seg%d.ts"))
        .arg(dir.join("vod.m3u8"))
        .status()
        .expect(
            "ffmpeg (Debian package ffmpeg; .ci/run and scripts/test install it) must be on PATH",
        );
    assert!(status.success(), "ffmpeg could not make test segments");
    let mut segments: Vec<PathBuf> = (0..)
        .map(|i| dir.join(format!("seg{i}.ts")))
        .take_while(|p| p.exists())
        .collect();
    segments.truncate(seconds);
    assert!(
        segments.len() + 1 >= seconds,
        "ffmpeg made {} segments",
        segments.len()
    );
    segments.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

struct Live {
    segments: Vec<Vec<u8>>,
    /// The stream starts with the first request for it, wherever the test is by then.
    started: std::sync::OnceLock<Instant>,
}

/// A live playlist: one more segment every second, then the end marker.
async fn live(State(live): State<Arc<Live>>, Path(path): Path<String>) -> Response {
    if path == "live/index.m3u8" {
        let started = *live.started.get_or_init(Instant::now);
        let available = (started.elapsed().as_secs() / SEGMENT_SECS + 2) as usize;
        let count = available.min(live.segments.len());
        let mut playlist = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{SEGMENT_SECS}\n#EXT-X-MEDIA-SEQUENCE:0\n"
        );
        for i in 0..count {
            playlist.push_str(&format!("#EXTINF:1.0,\nseg{i}.ts\n"));
        }
        if count == live.segments.len() {
            playlist.push_str("#EXT-X-ENDLIST\n");
        }
        return (
            [
                (header::CONTENT_TYPE, "application/vnd.apple.mpegurl"),
                (header::CACHE_CONTROL, "max-age=1"),
            ],
            playlist,
        )
            .into_response();
    }
    let index = path
        .strip_prefix("live/seg")
        .and_then(|p| p.strip_suffix(".ts"))
        .and_then(|n| n.parse::<usize>().ok());
    match index.and_then(|i| live.segments.get(i)) {
        Some(segment) => ([(header::CONTENT_TYPE, "video/mp2t")], segment.clone()).into_response(),
        None => (axum::http::StatusCode::NOT_FOUND, "no such segment").into_response(),
    }
}

/// An origin serving `segments` as a live stream that starts when first asked for; returns
/// its base URL.
pub(crate) async fn live_origin(segments: Vec<Vec<u8>>) -> url::Url {
    let live_state = Arc::new(Live {
        segments,
        started: std::sync::OnceLock::new(),
    });
    let origin = Router::new()
        .route("/{*path}", get(live))
        .with_state(live_state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin_url =
        url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, origin).await });
    origin_url
}

/// The player: ffmpeg reading `playlist` to the end and copying it into `output`.
pub(crate) async fn play(playlist: String, output: PathBuf) -> std::process::Output {
    let played = tokio::task::spawn_blocking(move || {
        Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-i", &playlist])
            .args(["-c", "copy", "-f", "mpegts"])
            .arg(&output)
            .output()
            .unwrap()
    });
    let played = tokio::time::timeout(Duration::from_secs(90), played)
        .await
        .expect("ffmpeg finished the live stream")
        .unwrap();
    assert!(
        played.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&played.stderr)
    );
    played
}

#[tokio::test]
async fn ffmpeg_plays_a_live_hls_stream_through_the_proxy_and_a_relay() {
    let dir = temp_path("hls").with_extension("");
    std::fs::create_dir_all(&dir).unwrap();
    let segments = make_segments(&dir, 5);
    let segment_bytes: usize = segments.iter().map(Vec::len).sum();
    let origin_url = live_origin(segments).await;

    let relay = start_relay(
        &origin_url,
        Options {
            credit_window: 256 << 10,
            ..Options::default()
        },
    )
    .await;
    let session = SigningKey::from_bytes(&[61; 32]);
    let viewer = Arc::new(Viewer::new(
        relay.url.clone(),
        session.clone(),
        relay.token(&session, u64::MAX),
        32 << 10,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = format!("http://{}/live/index.m3u8", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, player_proxy(viewer)).await });
    // I3: a web page that rebinds its own name to 127.0.0.1 reaches the proxy with that name
    // as Host, and is refused before any fetch.
    let rebound = reqwest::Client::new()
        .get(&proxy)
        .header("host", "evil.example:8081")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), reqwest::StatusCode::FORBIDDEN);

    let output = dir.join("played.ts");
    play(proxy, output.clone()).await;
    let written = std::fs::metadata(&output).unwrap().len();
    assert!(written > 10_000, "ffmpeg wrote {written} bytes");

    // Every segment went through the relay once, metered for this session.
    let (_, delivered) = relay.position(&session).unwrap();
    assert!(
        delivered >= segment_bytes as u64,
        "{delivered} bytes metered, {segment_bytes} in segments"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
