//! The relay's object cache: a byte budget with LRU eviction, per-object freshness from the
//! origin's headers (HLS playlists go stale in about a second, segments stay), and request
//! collapsing — concurrent misses for one object wait on a single origin fetch (moka's
//! `try_get_with` runs one initializer per key and hands its result to every waiter).
use crate::origin::{Fetched, Origin, OriginError};
use crate::target::CacheKey;
use bytes::Bytes;
use moka::future::Cache;
use moka::policy::EvictionPolicy;
use moka::Expiry;
use reqwest::header::{HeaderMap, CACHE_CONTROL, CONTENT_TYPE, DATE, EXPIRES};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a live playlist without Cache-Control stays fresh: players poll it every target
/// duration, and a relay must not hide new segments for longer than about a second.
pub const DEFAULT_PLAYLIST_TTL: Duration = Duration::from_secs(1);
/// Segments and other media without Cache-Control: immutable once published.
pub const DEFAULT_OBJECT_TTL: Duration = Duration::from_secs(3_600);

/// An origin response as the relay serves it.
#[derive(Debug)]
pub struct Object {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `None`: never cached (an error, `no-store`, `private`, …).
    pub ttl: Option<Duration>,
    pub fetched_at: Instant,
}

impl Object {
    fn weight(&self) -> u32 {
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        u32::try_from(self.body.len() + headers + 64).unwrap_or(u32::MAX)
    }
}

/// Whether the answer came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    Miss,
}

/// Why an object could not be served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Origin(#[from] OriginError),
}

/// Carries an object that must not be cached out of `try_get_with` to every collapsed waiter.
#[derive(Debug)]
enum Uncached {
    Object(Arc<Object>),
    Failed(OriginError),
}

struct Freshness;

impl Expiry<CacheKey, Arc<Object>> for Freshness {
    fn expire_after_create(
        &self,
        _: &CacheKey,
        object: &Arc<Object>,
        _: Instant,
    ) -> Option<Duration> {
        object.ttl
    }
}

pub struct ObjectCache {
    objects: Cache<CacheKey, Arc<Object>>,
}

impl ObjectCache {
    /// A cache holding at most `budget_bytes` of bodies and headers, evicting least recently
    /// used objects first.
    pub fn new(budget_bytes: u64) -> Self {
        let objects = Cache::builder()
            .max_capacity(budget_bytes)
            .weigher(|key: &CacheKey, object: &Arc<Object>| {
                u32::try_from(key.weight()).map_or(u32::MAX, |k| k.saturating_add(object.weight()))
            })
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(Freshness)
            .build();
        ObjectCache { objects }
    }

    /// The object at `key` (the consumer and the URL, see `target::cache_key`), fetched from
    /// `origin` at `url` when it is missing or stale; concurrent misses share one fetch.
    pub async fn get(
        &self,
        key: CacheKey,
        origin: &Origin,
        url: &url::Url,
    ) -> Result<(Arc<Object>, Lookup), FetchError> {
        if let Some(object) = self.objects.get(&key).await {
            return Ok((object, Lookup::Hit));
        }
        let fetch = async {
            match origin.get(url).await {
                Ok(fetched) => {
                    let object = Arc::new(into_object(fetched));
                    if object.ttl.is_some() {
                        Ok(object)
                    } else {
                        Err(Uncached::Object(object))
                    }
                }
                Err(e) => Err(Uncached::Failed(e)),
            }
        };
        match self.objects.try_get_with(key, fetch).await {
            Ok(object) => Ok((object, Lookup::Miss)),
            Err(shared) => match &*shared {
                Uncached::Object(object) => Ok((object.clone(), Lookup::Miss)),
                Uncached::Failed(e) => Err(e.clone().into()),
            },
        }
    }

    /// Bytes held now (after pending evictions run).
    pub async fn weighted_size(&self) -> u64 {
        self.objects.run_pending_tasks().await;
        self.objects.weighted_size()
    }
}

fn into_object(fetched: Fetched) -> Object {
    let ttl = if fetched.status == 200 {
        freshness(&fetched.headers, fetched.is_playlist())
    } else {
        None
    };
    Object {
        status: fetched.status,
        headers: fetched.headers,
        body: fetched.body,
        ttl,
        fetched_at: Instant::now(),
    }
}

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
