//! The publisher's origin: an HLS-like live stream whose playlist gains a segment every
//! `segment_interval`, served over HTTP with the cache headers a CDN origin sends (the
//! playlist for a second, segments for an hour).
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Segments listed in the playlist at a time (a live window).
const WINDOW: u64 = 6;

pub struct LiveStream {
    started: Instant,
    segment_interval: Duration,
    segment_bytes: usize,
}

impl LiveStream {
    pub fn new(segment_interval: Duration, segment_bytes: usize) -> Self {
        LiveStream {
            started: Instant::now(),
            segment_interval,
            segment_bytes,
        }
    }

    /// Segments published so far (the first one at start).
    fn published(&self) -> u64 {
        let interval = self.segment_interval.as_millis().max(1);
        u64::try_from(self.started.elapsed().as_millis() / interval).unwrap_or(u64::MAX) + 1
    }

    fn playlist(&self) -> String {
        let published = self.published();
        let first = published.saturating_sub(WINDOW);
        let seconds = self.segment_interval.as_secs_f64();
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{first}\n",
            seconds.ceil() as u64
        );
        for n in first..published {
            text.push_str(&format!("#EXTINF:{seconds:.3},\nseg{n}.ts\n"));
        }
        text
    }

    /// Segment `n`'s bytes: MPEG-TS-sized packets whose content depends on `n`, so every
    /// segment differs and a wrong one would be noticed.
    fn segment(&self, n: u64) -> Vec<u8> {
        let mut bytes = vec![0u8; self.segment_bytes];
        let mut state = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for (i, b) in bytes.iter_mut().enumerate() {
            if i % 188 == 0 {
                *b = 0x47; // MPEG-TS sync byte
                continue;
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        bytes
    }
}

pub fn router(stream: Arc<LiveStream>) -> Router {
    Router::new()
        .route("/live/index.m3u8", get(playlist))
        .route("/live/{segment}", get(segment))
        .with_state(stream)
}

async fn playlist(State(stream): State<Arc<LiveStream>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/vnd.apple.mpegurl"),
            (header::CACHE_CONTROL, "max-age=1"),
        ],
        stream.playlist(),
    )
        .into_response()
}

async fn segment(State(stream): State<Arc<LiveStream>>, Path(name): Path<String>) -> Response {
    let number = name
        .strip_prefix("seg")
        .and_then(|rest| rest.strip_suffix(".ts"))
        .and_then(|n| n.parse::<u64>().ok());
    match number {
        Some(n) if n < stream.published() => (
            [
                (header::CONTENT_TYPE, "video/mp2t"),
                (header::CACHE_CONTROL, "max-age=3600"),
            ],
            stream.segment(n),
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "no such segment").into_response(),
    }
}

/// The segment names a playlist lists, in order.
pub fn segments_of(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_playlist_slides_and_segments_differ() {
        let stream = LiveStream {
            started: Instant::now() - Duration::from_millis(8_500),
            segment_interval: Duration::from_secs(1),
            segment_bytes: 1_000,
        };
        let names = segments_of(&stream.playlist());
        assert_eq!(names.first().map(String::as_str), Some("seg3.ts"));
        assert_eq!(names.last().map(String::as_str), Some("seg8.ts"));
        assert_eq!(names.len() as u64, WINDOW);
        assert_ne!(stream.segment(3), stream.segment(4));
        assert_eq!(stream.segment(3), stream.segment(3));
        assert_eq!(stream.segment(3).len(), 1_000);
    }
}
