//! `media ingest`'s configuration (TOML; the flags of `media ingest` override it).
use anyhow::{bail, Result};
use media_service::settings::{is_path_name, RefuseUnknownKeys};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// One broadcast the ingest accepts: OBS publishes to `rtmp://HOST/live/<key>`, viewers and
/// relays see only `name` (`/live/<name>/master.m3u8`), so the key never leaves the ingest.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    pub name: String,
    pub key: String,
}

/// One rung of the HLS ladder, encoded by libx264 at `width`×`height` and `video_kbps`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rendition {
    /// Its directory and the name players show ("720p").
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub video_kbps: u32,
}

impl Rendition {
    pub fn new(name: &str, width: u32, height: u32, video_kbps: u32) -> Self {
        Rendition {
            name: name.into(),
            width,
            height,
            video_kbps,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct IngestConfig {
    /// HTTP: the origin relays fetch the HLS from (`/live/<name>/…`), `/health`, `/metrics`.
    pub listen: SocketAddr,
    /// RTMP, where OBS publishes (`0.0.0.0:1935` to take broadcasts from other machines).
    pub rtmp_listen: SocketAddr,
    /// Where the playlists and segments are written, one directory per stream.
    pub dir: PathBuf,
    /// The ffmpeg binary that transcodes.
    pub ffmpeg: PathBuf,
    pub streams: Vec<StreamConfig>,
    /// The ladder, best first; default 720p, 480p and 360p.
    pub renditions: Vec<Rendition>,
    pub audio_kbps: u32,
    /// Segment length; keyframes are forced on this grid in every rendition, so segments
    /// of all renditions start on the same frame.
    pub segment_secs: u32,
    /// Segments a live playlist lists.
    pub playlist_segments: u32,
    /// Segments kept on disk after they leave the playlist, for players still fetching them.
    pub keep_segments: u32,
    /// libx264 preset (speed against quality).
    pub x264_preset: String,
    /// RTMP connections at once, and of them how many may not yet be publishing.
    pub max_connections: usize,
    pub max_pending_connections: usize,
    /// Of the pending connections, how many may come from one address.
    pub max_pending_per_address: usize,
    /// An RTMP client must be publishing within this long, having sent at most
    /// `max_bytes_before_publish`: until its key is checked it is anyone.
    pub publish_timeout_secs: u64,
    pub max_bytes_before_publish: u64,
    /// A publisher that sends nothing for this long is dropped.
    pub idle_timeout_secs: u64,
    /// A publisher with the stream's key that arrives while the current one has sent nothing
    /// for this long takes the stream over (an encoder reconnecting after its network
    /// dropped, before the old connection's idle timeout); one arriving sooner is refused.
    pub takeover_idle_secs: u64,
    /// ffmpeg restarts after a crash wait this long, doubling up to `max_restart_backoff_ms`.
    pub restart_backoff_ms: u64,
    pub max_restart_backoff_ms: u64,
    #[serde(flatten)]
    pub unknown: RefuseUnknownKeys,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            rtmp_listen: SocketAddr::from(([127, 0, 0, 1], 1935)),
            dir: PathBuf::from("media-ingest"),
            ffmpeg: PathBuf::from("ffmpeg"),
            streams: Vec::new(),
            renditions: vec![
                Rendition::new("720p", 1280, 720, 2800),
                Rendition::new("480p", 854, 480, 1400),
                Rendition::new("360p", 640, 360, 800),
            ],
            audio_kbps: 128,
            segment_secs: 2,
            playlist_segments: 15,
            keep_segments: 10,
            x264_preset: "veryfast".into(),
            max_connections: 16,
            max_pending_connections: 8,
            max_pending_per_address: 2,
            publish_timeout_secs: 10,
            max_bytes_before_publish: 64 << 10,
            idle_timeout_secs: 30,
            takeover_idle_secs: 5,
            restart_backoff_ms: 250,
            max_restart_backoff_ms: 8_000,
            unknown: RefuseUnknownKeys,
        }
    }
}

/// A stream key shorter than this is guessable.
pub const MIN_KEY_LEN: usize = 8;

impl IngestConfig {
    pub fn load(path: &std::path::Path) -> Result<Self> {
        media_service::load_config(path, "ingest config")
    }

    /// Refuses a configuration that cannot work or would be unsafe.
    pub fn validate(&self) -> Result<()> {
        if self.streams.is_empty() {
            bail!("no stream configured: add [[streams]] name = \"…\", key = \"…\" (or --stream NAME=KEY)");
        }
        for (i, stream) in self.streams.iter().enumerate() {
            if !is_path_name(&stream.name) {
                bail!(
                    "stream name {:?}: use 1 to 64 letters, digits, - or _",
                    stream.name
                );
            }
            if stream.key.len() < MIN_KEY_LEN || !stream.key.bytes().all(|b| b.is_ascii_graphic()) {
                bail!(
                    "stream {:?}: its key must be at least {MIN_KEY_LEN} printable characters",
                    stream.name
                );
            }
            if let Some(other) = self.streams[..i]
                .iter()
                .find(|s| s.name == stream.name || s.key == stream.key)
            {
                bail!(
                    "streams {:?} and {:?} share a name or a key",
                    other.name,
                    stream.name
                );
            }
        }
        if self.renditions.is_empty() || self.renditions.len() > 8 {
            bail!("the ladder needs 1 to 8 renditions");
        }
        for (i, r) in self.renditions.iter().enumerate() {
            if !is_path_name(&r.name) {
                bail!(
                    "rendition name {:?}: use 1 to 64 letters, digits, - or _",
                    r.name
                );
            }
            if r.width == 0
                || r.height == 0
                || r.width % 2 != 0
                || r.height % 2 != 0
                || r.width > 7680
                || r.height > 4320
            {
                bail!(
                    "rendition {:?}: width and height must be even and at most 7680x4320",
                    r.name
                );
            }
            if r.video_kbps == 0 {
                bail!("rendition {:?}: video_kbps must be more than 0", r.name);
            }
            if self.renditions[..i].iter().any(|o| o.name == r.name) {
                bail!("two renditions are named {:?}", r.name);
            }
        }
        if self.audio_kbps == 0 {
            bail!("audio_kbps must be more than 0");
        }
        if !(1..=10).contains(&self.segment_secs) {
            bail!("segment_secs must be 1 to 10");
        }
        if self.playlist_segments < 3 {
            bail!("playlist_segments must be at least 3 (players need room behind the live edge)");
        }
        if self.max_connections == 0
            || self.max_pending_connections == 0
            || self.max_pending_per_address == 0
        {
            bail!(
                "max_connections, max_pending_connections and max_pending_per_address must be \
                 more than 0"
            );
        }
        if self.publish_timeout_secs == 0 || self.idle_timeout_secs == 0 {
            bail!("publish_timeout_secs and idle_timeout_secs must be more than 0");
        }
        if self.takeover_idle_secs == 0 || self.takeover_idle_secs > self.idle_timeout_secs {
            bail!("takeover_idle_secs must be more than 0 and at most idle_timeout_secs");
        }
        if self.restart_backoff_ms == 0 || self.max_restart_backoff_ms < self.restart_backoff_ms {
            bail!("restart_backoff_ms must be more than 0 and at most max_restart_backoff_ms");
        }
        if !self
            .x264_preset
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            bail!("x264_preset {:?} is not a preset name", self.x264_preset);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<IngestConfig> {
        let config: IngestConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn a_file_names_streams_and_may_change_the_ladder() {
        let config = parse(
            r#"
            dir = "/srv/hls"
            [[streams]]
            name = "main"
            key = "a-long-secret"
            [[renditions]]
            name = "240p"
            width = 426
            height = 240
            video_kbps = 400
            "#,
        )
        .unwrap();
        assert_eq!(config.streams[0].name, "main");
        assert_eq!(
            config.renditions,
            vec![Rendition::new("240p", 426, 240, 400)]
        );
        assert_eq!(config.segment_secs, 2);
    }

    #[test]
    fn unsafe_or_ambiguous_settings_are_refused() {
        let stream =
            |name: &str, key: &str| format!("[[streams]]\nname = {name:?}\nkey = {key:?}\n");
        let refused = |text: &str, why: &str| {
            let e = parse(text).unwrap_err();
            assert!(format!("{e:#}").contains(why), "{e:#} lacks {why}");
        };
        refused("", "no stream configured");
        refused(&stream("../etc", "a-long-secret"), "letters, digits");
        refused(&stream("main", "short"), "at least 8");
        refused(
            &(stream("a", "a-long-secret") + &stream("b", "a-long-secret")),
            "share a name or a key",
        );
        refused(
            &(stream("main", "a-long-secret") + "segment_secs = 0\n"),
            "segment_secs",
        );
        refused(
            &(stream("main", "a-long-secret")
                + "[[renditions]]\nname = \"x\"\nwidth = 641\nheight = 360\nvideo_kbps = 1\n"),
            "even",
        );
        refused(
            &("lol = 1\n".to_string() + &stream("main", "a-long-secret")),
            "unknown key `lol`",
        );
    }
}
