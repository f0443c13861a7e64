//! `media ingest` against real ffmpeg: ffmpeg's test source published over RTMP, the
//! ladder ffmpeg writes checked with ffprobe, served by the origin over HTTP.
mod support;

use media_ingest::test_source::TestSource;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use support::{wait_for, Running, KEY};

/// ffmpeg publishing `secs` of test pattern and tone at real time, as OBS would.
fn publish(rtmp: SocketAddr, key: &str, secs: u32) -> tokio::process::Child {
    let source = TestSource {
        width: 640,
        height: 360,
        video_kbps: 800,
        seconds: Some(secs),
    };
    source
        .command(rtmp, key)
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs (apt-get install ffmpeg)")
}

fn playlist(dir: &Path, rendition: &str) -> String {
    std::fs::read_to_string(dir.join(rendition).join("index.m3u8")).unwrap_or_default()
}

fn segments(playlist: &str) -> Vec<u64> {
    media_ingest::layout::listed_segments(playlist)
}

fn ended(playlist: &str) -> bool {
    playlist.lines().any(|l| l == "#EXT-X-ENDLIST")
}

/// The status of a GET sent as written, path unnormalised.
async fn raw_get_status(http: SocketAddr, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(http).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: ingest\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer}"))
}

/// ffprobe's view of a segment: codecs, the video size, the duration.
fn probe(path: &Path) -> (Vec<String>, (u64, u64), f64) {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries"])
        .args([
            "stream=codec_name,width,height:format=duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe {}", path.display());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = json["streams"].as_array().unwrap();
    let codecs = streams
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap().to_string())
        .collect();
    let video = streams.iter().find(|s| s["width"].is_u64()).unwrap();
    let size = (
        video["width"].as_u64().unwrap(),
        video["height"].as_u64().unwrap(),
    );
    let duration = json["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    (codecs, size, duration)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_becomes_a_playable_ladder_and_outlives_a_killed_transcoder() {
    let ingest = Running::start("ladder").await;
    let dir = ingest.stream_dir();
    let mut broadcaster = publish(ingest.rtmp, KEY, 20);
    wait_for(
        "segments in every rendition",
        Duration::from_secs(20),
        || async {
            ["360p", "240p", "144p"]
                .iter()
                .all(|r| segments(&playlist(&dir, r)).len() >= 2)
        },
    )
    .await;
    let health = ingest.stream_health().await;
    assert_eq!(health["live"], true);
    let first_pid = health["pid"].as_u64().expect("ffmpeg's pid while live");

    // Kill the transcoder mid-broadcast: the ingest starts another at the next keyframe.
    let killed = std::process::Command::new("kill")
        .args(["-9", &first_pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let segments_at_kill = segments(&playlist(&dir, "360p")).len();
    wait_for("a restarted ffmpeg", Duration::from_secs(10), || async {
        let h = ingest.stream_health().await;
        h["pid"].as_u64().is_some_and(|pid| pid != first_pid)
    })
    .await;
    wait_for(
        "segments after the restart",
        Duration::from_secs(10),
        || async { segments(&playlist(&dir, "360p")).len() >= segments_at_kill + 2 },
    )
    .await;

    let status = broadcaster.wait().await.unwrap();
    assert!(status.success(), "the broadcaster ran to its end: {status}");
    wait_for("the broadcast to end", Duration::from_secs(15), || async {
        ingest.stream_health().await["live"] == false
    })
    .await;
    let health = ingest.stream_health().await;
    assert_eq!(health["restarts"], 1, "{health}");
    assert!(health["pid"].is_null());

    // The master lists the three renditions; the origin serves it and the segments with
    // their cache lifetimes.
    let master = reqwest::get(format!("http://{}/live/main/master.m3u8", ingest.http))
        .await
        .unwrap();
    assert_eq!(master.status(), 200);
    assert_eq!(
        master.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(master.headers()["cache-control"], "public, max-age=1");
    let master = master.text().await.unwrap();
    for (rendition, size) in [
        ("360p", "640x360"),
        ("240p", "426x240"),
        ("144p", "256x144"),
    ] {
        assert!(
            master.contains(&format!("RESOLUTION={size}"))
                && master.contains(&format!("{rendition}/index.m3u8")),
            "{master}"
        );
    }
    assert!(
        master.contains("avc1.") && master.contains("mp4a.40.2"),
        "{master}"
    );

    for (rendition, size) in [
        ("360p", (640, 360)),
        ("240p", (426, 240)),
        ("144p", (256, 144)),
    ] {
        let text = playlist(&dir, rendition);
        assert!(
            ended(&text),
            "a finished broadcast ends its playlist:\n{text}"
        );
        let listed = segments(&text);
        assert!(
            listed.windows(2).all(|w| w[1] == w[0] + 1),
            "numbering continues: {listed:?}"
        );
        assert!(
            text.matches("#EXT-X-DISCONTINUITY").count() >= 2,
            "the restart is marked:\n{text}"
        );
        let full: Vec<u64> = listed[..listed.len() - 1].to_vec();
        assert!(full.len() >= 6, "{rendition}: {listed:?}");
        for number in &full {
            let path = dir.join(rendition).join(format!("seg_{number:05}.ts"));
            let (codecs, probed, duration) = probe(&path);
            assert_eq!(codecs, ["h264", "aac"], "{}", path.display());
            assert_eq!(probed, size);
            assert!(
                (0.5..=3.0).contains(&duration),
                "{}: {duration} s",
                path.display()
            );
        }
        let segment = reqwest::get(format!(
            "http://{}/live/main/{rendition}/seg_{:05}.ts",
            ingest.http, full[0]
        ))
        .await
        .unwrap();
        assert_eq!(segment.status(), 200);
        assert_eq!(segment.headers()["content-type"], "video/mp2t");
        assert_eq!(segment.headers()["cache-control"], "public, max-age=600");
    }
    // The origin serves the layout's names only. reqwest would resolve `..` itself, so it
    // goes escaped here and raw below.
    for path in [
        "/live/main/%2e%2e/%2e%2e/etc/passwd",
        "/live/main/360p/..%2f..%2fmaster.m3u8",
        "/live/main/720p/index.m3u8",
        "/live/other/master.m3u8",
        "/live/main/360p/seg_00000.ts.tmp",
    ] {
        let answer = reqwest::get(format!("http://{}{path}", ingest.http))
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{path}");
    }
    for path in [
        "/live/main/../../etc/passwd",
        "/live/main/360p/../master.m3u8",
    ] {
        assert_eq!(raw_get_status(ingest.http, path).await, 404, "{path}");
    }
    let metrics = ingest.metrics().await;
    for name in [
        "media_ingest_streams_live",
        "media_ingest_transcoder_restarts_total",
        "media_ingest_renditions{stream=\"main\"} 3",
        "media_ingest_segment_lag_seconds{stream=\"main\"}",
    ] {
        assert!(metrics.contains(name), "{name} in\n{metrics}");
    }
    ingest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_and_a_reconnect_continues_the_playlist() {
    let ingest = Running::start_with("reconnect", |c| c.takeover_idle_secs = 1).await;
    let dir = ingest.stream_dir();

    let mut wrong = publish(ingest.rtmp, "not-the-key-at-all", 5);
    let status = tokio::time::timeout(Duration::from_secs(10), wrong.wait())
        .await
        .expect("a refused publisher is told at once")
        .unwrap();
    assert!(!status.success());
    assert!(!dir.exists(), "nothing is written for a refused key");

    let mut first = publish(ingest.rtmp, KEY, 7);
    wait_for("the first broadcast", Duration::from_secs(15), || async {
        !segments(&playlist(&dir, "240p")).is_empty()
    })
    .await;
    // The same key while live and sending: refused once the first has kept sending for
    // the takeover window, and the broadcast goes on.
    let mut second = publish(ingest.rtmp, KEY, 5);
    let status = tokio::time::timeout(Duration::from_secs(4), second.wait())
        .await
        .expect("a second publisher is told within the takeover window")
        .unwrap();
    assert!(!status.success());
    assert!(first.wait().await.unwrap().success());
    wait_for(
        "the first broadcast to end",
        Duration::from_secs(15),
        || async {
            ended(&playlist(&dir, "240p")) && ingest.stream_health().await["live"] == false
        },
    )
    .await;
    let before = segments(&playlist(&dir, "240p"));
    assert!(before.len() >= 3, "{before:?}");

    // The broadcaster comes back: the same playlist continues, then ends again.
    let mut again = publish(ingest.rtmp, KEY, 7);
    wait_for("the playlist reopened", Duration::from_secs(15), || async {
        let text = playlist(&dir, "240p");
        !ended(&text) && segments(&text).len() > before.len()
    })
    .await;
    assert!(again.wait().await.unwrap().success());
    wait_for(
        "the second broadcast to end",
        Duration::from_secs(15),
        || async {
            ended(&playlist(&dir, "240p")) && ingest.stream_health().await["live"] == false
        },
    )
    .await;
    let text = playlist(&dir, "240p");
    let after = segments(&text);
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "the old segments stay listed"
    );
    assert!(after.len() >= before.len() + 3, "{after:?}");
    assert!(after.windows(2).all(|w| w[1] == w[0] + 1), "{after:?}");
    assert_eq!(text.matches("#EXT-X-ENDLIST").count(), 1, "{text}");
    assert_eq!(ingest.stream_health().await["restarts"], 0);
    let metrics = ingest.metrics().await;
    assert!(
        metrics.contains("media_ingest_publish_refused_total{why=\"key\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("media_ingest_publish_refused_total{why=\"live\"} 1"),
        "{metrics}"
    );
    ingest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_encoder_takes_over_from_its_silent_old_connection() {
    let ingest = Running::start_with("takeover", |c| c.takeover_idle_secs = 2).await;
    let dir = ingest.stream_dir();
    let mut stalled = publish(ingest.rtmp, KEY, 30);
    wait_for("the first broadcast", Duration::from_secs(15), || async {
        segments(&playlist(&dir, "240p")).len() >= 2
    })
    .await;
    // The encoder's old connection goes silent without closing (its process is frozen, as
    // a dead network would leave it); the encoder comes back on a new connection.
    let pid = stalled.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let before = segments(&playlist(&dir, "240p")).len();
    let mut reconnected = publish(ingest.rtmp, KEY, 8);
    wait_for(
        "the new connection's segments",
        Duration::from_secs(20),
        || async { segments(&playlist(&dir, "240p")).len() >= before + 2 },
    )
    .await;
    assert_eq!(ingest.stream_health().await["live"], true);
    assert!(reconnected.wait().await.unwrap().success());
    wait_for("the broadcast to end", Duration::from_secs(15), || async {
        ended(&playlist(&dir, "240p")) && ingest.stream_health().await["live"] == false
    })
    .await;
    let _ = stalled.kill().await;
    let text = playlist(&dir, "240p");
    assert_eq!(text.matches("#EXT-X-ENDLIST").count(), 1, "{text}");
    let listed = segments(&text);
    assert!(listed.windows(2).all(|w| w[1] == w[0] + 1), "{listed:?}");
    ingest.stop().await;
}
