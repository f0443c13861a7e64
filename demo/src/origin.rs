//! The publisher's live stream: `media ingest` (in this process, the same `run` the
//! `media ingest` command uses) fed by an ffmpeg broadcaster (its test pattern and a tone,
//! published over RTMP as OBS would), writing a three-rung HLS ladder that the ingest's
//! origin serves to relays.
use anyhow::{Context, Result};
use media_ingest::config::{IngestConfig, Rendition, StreamConfig};
use media_ingest::layout::listed_segment_names;
use media_ingest::test_source::TestSource;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Child;

/// The stream's name: the watch page is `/watch/demo` and its master playlist
/// `live/demo/master.m3u8`.
pub const STREAM: &str = "demo";
/// The rendition the demo's own (non-browser) viewers follow.
pub const VIEWER_RENDITION: &str = "240p";
pub const SEGMENT_SECS: u32 = 2;
/// How long the ingest may take to publish its first segments.
pub const LIVE_TIMEOUT: Duration = Duration::from_secs(30);

/// The viewers' playlist of the demo stream.
pub fn viewer_playlist() -> String {
    format!("live/{STREAM}/{VIEWER_RENDITION}/index.m3u8")
}

/// A segment of the viewers' rendition, by the name its playlist gives.
pub fn viewer_segment(name: &str) -> String {
    format!("live/{STREAM}/{VIEWER_RENDITION}/{name}")
}

/// The ingest's settings: a ladder light enough for a laptop that also runs the localnet,
/// the relays and a browser (480p, 360p, 240p, x264 `ultrafast`).
pub fn ingest_config(dir: &Path, key: &str) -> IngestConfig {
    IngestConfig {
        dir: dir.to_path_buf(),
        streams: vec![StreamConfig {
            name: STREAM.into(),
            key: key.into(),
        }],
        renditions: vec![
            Rendition::new("480p", 854, 480, 1000),
            Rendition::new("360p", 640, 360, 600),
            Rendition::new(VIEWER_RENDITION, 426, 240, 300),
        ],
        audio_kbps: 96,
        segment_secs: SEGMENT_SECS,
        x264_preset: "ultrafast".into(),
        ..IngestConfig::default()
    }
}

/// A fresh stream key for this run.
pub fn stream_key() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().gen();
    hex::encode(bytes)
}

/// ffmpeg publishing its test source (a moving pattern with a clock, and a 440 Hz tone) to
/// the ingest until killed, as OBS would.
pub fn start_broadcaster(rtmp: SocketAddr, key: &str) -> Result<Child> {
    let source = TestSource {
        width: 854,
        height: 480,
        video_kbps: 1500,
        seconds: None,
    };
    source
        .command(rtmp, key)
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the broadcaster (ffmpeg; apt-get install ffmpeg)")
}

/// Waits until the ingest's origin lists segments of every rendition.
pub async fn wait_live(origin: &url::Url, renditions: &[String]) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()?;
    let deadline = Instant::now() + LIVE_TIMEOUT;
    for rendition in renditions {
        let url = origin.join(&format!("live/{STREAM}/{rendition}/index.m3u8"))?;
        loop {
            let listed = match http.get(url.clone()).send().await {
                Ok(r) if r.status().is_success() => {
                    listed_segment_names(&r.text().await.unwrap_or_default()).count()
                }
                _ => 0,
            };
            if listed >= 2 {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the ingest published no {rendition} segments within {LIVE_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_ladder_is_valid_and_its_keys_differ() {
        let config = ingest_config(Path::new("/tmp/x"), &stream_key());
        config.validate().unwrap();
        assert_ne!(stream_key(), stream_key());
        assert_eq!(viewer_playlist(), "live/demo/240p/index.m3u8");
    }
}
