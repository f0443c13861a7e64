//! How long an origin's answer may be served from the cache: the origin's `Cache-Control`
//! and `Expires`, else short for HLS playlists (players poll them for new segments) and long
//! for segments and other media (immutable once published).
use reqwest::header::{HeaderMap, CACHE_CONTROL, CONTENT_TYPE, DATE, EXPIRES};
use std::time::Duration;

/// How long a live playlist without Cache-Control stays fresh: players poll it every target
/// duration, and a relay must not hide new segments for longer than about a second.
pub const DEFAULT_PLAYLIST_TTL: Duration = Duration::from_secs(1);
/// Segments and other media without Cache-Control: immutable once published.
pub const DEFAULT_OBJECT_TTL: Duration = Duration::from_secs(3_600);

/// How long a 200 response stays fresh: `s-maxage` or `max-age` when given, nothing for
/// `no-store`, `no-cache` or `private`, else `Expires` (counted from the origin's `Date`, or
/// from now; a date that does not parse or has passed means stale at once), else the
/// defaults for playlists and for other media.
pub fn freshness(headers: &HeaderMap, playlist: bool) -> Option<Duration> {
    let directives: Vec<String> = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    if directives
        .iter()
        .any(|d| d == "no-store" || d == "no-cache" || d == "private")
    {
        return None;
    }
    let seconds = |name: &str| {
        directives.iter().find_map(|d| {
            d.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
                .and_then(|n| n.trim_matches('"').parse::<u64>().ok())
        })
    };
    match seconds("s-maxage").or_else(|| seconds("max-age")) {
        Some(0) => None,
        Some(secs) => Some(Duration::from_secs(secs)),
        None => match headers.get(EXPIRES) {
            Some(expires) => expires_in(expires, headers.get(DATE)),
            None if playlist => Some(DEFAULT_PLAYLIST_TTL),
            None => Some(DEFAULT_OBJECT_TTL),
        },
    }
}

/// What is left of an `Expires` date, seen from the response's `Date` (or now).
fn expires_in(
    expires: &reqwest::header::HeaderValue,
    date: Option<&reqwest::header::HeaderValue>,
) -> Option<Duration> {
    let parse = |v: &reqwest::header::HeaderValue| {
        v.to_str()
            .ok()
            .and_then(|t| httpdate::parse_http_date(t).ok())
    };
    let expires = parse(expires)?;
    let now = date
        .and_then(parse)
        .unwrap_or_else(std::time::SystemTime::now);
    expires.duration_since(now).ok().filter(|d| !d.is_zero())
}

/// HLS playlists by content type or extension.
pub fn is_playlist(path: &str, headers: &HeaderMap) -> bool {
    let by_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().contains("mpegurl"));
    by_type || path.to_ascii_lowercase().ends_with(".m3u8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(cache_control: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CACHE_CONTROL, HeaderValue::from_str(cache_control).unwrap());
        h
    }

    #[test]
    fn freshness_follows_the_origin() {
        assert_eq!(
            freshness(&headers("public, max-age=30"), false),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            freshness(&headers("max-age=30, s-maxage=5"), true),
            Some(Duration::from_secs(5))
        );
        assert_eq!(freshness(&headers("no-store"), false), None);
        assert_eq!(freshness(&headers("private, max-age=60"), false), None);
        assert_eq!(freshness(&headers("max-age=0"), false), None);
        assert_eq!(
            freshness(&HeaderMap::new(), true),
            Some(DEFAULT_PLAYLIST_TTL)
        );
        assert_eq!(
            freshness(&HeaderMap::new(), false),
            Some(DEFAULT_OBJECT_TTL)
        );
    }

    #[test]
    fn playlists_are_recognized_by_type_or_name() {
        let mut h = HeaderMap::new();
        assert!(is_playlist("/live/index.M3U8", &h));
        assert!(!is_playlist("/live/seg1.ts", &h));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.apple.mpegurl"),
        );
        assert!(is_playlist("/live/index", &h));
    }

    /// I2: without max-age, `Expires` decides, counted from the origin's `Date`.
    #[test]
    fn i2_expires_is_read_when_max_age_is_absent() {
        let mut h = HeaderMap::new();
        h.insert(
            DATE,
            HeaderValue::from_static("Wed, 02 Dec 2026 00:00:00 GMT"),
        );
        h.insert(
            EXPIRES,
            HeaderValue::from_static("Wed, 02 Dec 2026 00:00:30 GMT"),
        );
        assert_eq!(freshness(&h, false), Some(Duration::from_secs(30)));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=5"));
        assert_eq!(
            freshness(&h, false),
            Some(Duration::from_secs(5)),
            "max-age wins"
        );
        let mut past = HeaderMap::new();
        past.insert(
            DATE,
            HeaderValue::from_static("Wed, 02 Dec 2026 00:00:30 GMT"),
        );
        past.insert(
            EXPIRES,
            HeaderValue::from_static("Wed, 02 Dec 2026 00:00:00 GMT"),
        );
        assert_eq!(freshness(&past, true), None);
        let mut invalid = HeaderMap::new();
        invalid.insert(EXPIRES, HeaderValue::from_static("0"));
        assert_eq!(
            freshness(&invalid, false),
            None,
            "an invalid date is already expired"
        );
    }
}
