//! The relay's object cache: what it keeps of consumers' origins and how a request reaches it.
//!
//! - **Parts.** An object is kept as one part (`part` 0 of its key) when it fits in a slice
//!   (`slice_bytes`, 4 MiB by default) or its origin does not answer ranges; a larger one is
//!   fetched and kept in slices, part `i` holding bytes `i·slice ..`, as nginx's slice module
//!   does. Every origin request asks for the slice holding the viewer's first byte, so a
//!   Range into a 4 GiB file fetches only the slices it covers and a full GET holds at most
//!   a slice or two in flight.
//! - **Streaming misses.** A part not held is fetched by a task of its own into a `Growing`
//!   body; every viewer of it (request collapsing: one fetch per part at a time) reads that
//!   body from its own offset as it arrives, so the first bytes go out before the origin has
//!   sent the last. A finished part is kept if its freshness allows.
//! - **Two tiers.** Memory (moka: LRU within `memory_bytes`, per-part expiry from
//!   `freshness`) and, when configured, disk (`disk`: the same rules within its own budget,
//!   read back after a restart). A part found on disk is a hit and is kept in memory again.
pub mod disk;
mod freshness;
mod growing;

pub use freshness::{freshness, is_playlist, DEFAULT_OBJECT_TTL, DEFAULT_PLAYLIST_TTL};

use crate::origin::{ByteRange, Origin, OriginError};
use crate::target::CacheKey;
use bytes::Bytes;
use futures::stream::BoxStream;
use growing::Growing;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use moka::Expiry;
use reqwest::header::{HeaderMap, ETAG, LAST_MODIFIED};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub const DEFAULT_SLICE_BYTES: u64 = 4 << 20;
/// The smallest slice accepted: smaller ones would cost an origin request per few packets.
pub const MIN_SLICE_BYTES: u64 = 64 << 10;
/// Error bodies are read from the origin up to about this much (they are passed on unmetered
/// only when this small).
pub const MAX_ERROR_BODY_BYTES: u64 = 16 << 10;
/// A fetch may take the origin timeout plus a second per this many bytes of its limit: an
/// origin trickling bytes cannot hold a fetch slot for longer.
const MIN_ORIGIN_BYTES_PER_SEC: u64 = 256 << 10;

/// What the cache may hold.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub memory_bytes: u64,
    pub slice_bytes: u64,
    /// The disk tier's directory and byte budget.
    pub disk: Option<(PathBuf, u64)>,
    /// Fetches one consumer may have under way at once (of the origin's
    /// `max_concurrent_fetches` for all): a consumer's own slow origin cannot keep the others'
    /// misses waiting.
    pub max_fetches_per_consumer: usize,
}

/// What is known of an object once its origin has answered, kept with each of its parts.
#[derive(Debug)]
pub struct Head {
    /// The status viewers are given for the whole object (200 for a sliced one).
    pub status: u16,
    /// The origin's headers passed on to viewers.
    pub headers: HeaderMap,
    /// The whole object's length, when the origin said it (always, for a sliced object).
    pub length: Option<u64>,
    /// Kept in slices of the cache's slice size.
    pub sliced: bool,
    /// `None`: never kept (an error, `no-store`, `private`, …).
    pub ttl: Option<Duration>,
    pub fetched_at: SystemTime,
}

impl Head {
    pub fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.fetched_at)
            .unwrap_or_default()
    }

    /// How much longer it may be served; `None` once stale or when never kept.
    fn fresh_for(&self) -> Option<Duration> {
        self.ttl
            .and_then(|ttl| ttl.checked_sub(self.age()))
            .filter(|left| !left.is_zero())
    }

    /// Whether two answers are of one version of an object: same length and, where the
    /// origin gave them, the same validators. Slices of different versions never mix.
    fn same_object(&self, other: &Head) -> bool {
        let same = |name| match (self.headers.get(&name), other.headers.get(&name)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        self.length == other.length && same(ETAG) && same(LAST_MODIFIED)
    }
}

/// A part held whole: a small object, or one slice of a large one.
#[derive(Debug)]
pub struct Part {
    pub head: Arc<Head>,
    pub body: Bytes,
}

impl Part {
    fn weight(&self) -> u64 {
        let headers: usize = self
            .head
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        (self.body.len() + headers + 64) as u64
    }
}

/// Whether the answer came from the cache (either tier).
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

/// A part's body: held, or still arriving.
#[derive(Clone)]
enum Body {
    Held(Bytes),
    Growing(Arc<Growing>),
}

impl Body {
    async fn read_at(&self, offset: u64) -> Result<Option<Bytes>, OriginError> {
        match self {
            Body::Held(body) => Ok(usize::try_from(offset)
                .ok()
                .filter(|o| *o < body.len())
                .map(|o| body.slice(o..))),
            Body::Growing(growing) => growing.read_at(offset).await,
        }
    }
}

struct UntilStale;

impl Expiry<CacheKey, Arc<Part>> for UntilStale {
    fn expire_after_create(&self, _: &CacheKey, part: &Arc<Part>, _: Instant) -> Option<Duration> {
        Some(part.head.fresh_for().unwrap_or_default())
    }
}

struct Inner {
    memory: Cache<CacheKey, Arc<Part>>,
    /// The parts being fetched now, each read by all its viewers.
    fetching: Mutex<HashMap<CacheKey, Arc<Growing>>>,
    origin: Origin,
    slice_bytes: u64,
    disk: Option<disk::DiskTier>,
    /// Fetches under way per consumer, and the most each may have.
    fetches_by_consumer: Mutex<HashMap<anchor_lang::prelude::Pubkey, usize>>,
    max_fetches_per_consumer: usize,
}

pub struct ObjectCache {
    inner: Arc<Inner>,
}

/// An object found (or being fetched) for one request.
pub struct Found {
    pub head: Arc<Head>,
    pub lookup: Lookup,
    /// The part the lookup opened, and its index (0 for an object kept whole).
    first: Body,
    first_part: u64,
    key: CacheKey,
    url: url::Url,
    inner: Arc<Inner>,
}

impl ObjectCache {
    /// The cache, fetching misses from `origin`.
    pub fn new(settings: CacheSettings, origin: Origin) -> Result<Self, disk::DiskError> {
        let memory = Cache::builder()
            .max_capacity(settings.memory_bytes)
            .weigher(|key: &CacheKey, part: &Arc<Part>| {
                u32::try_from(key.weight() as u64 + part.weight()).unwrap_or(u32::MAX)
            })
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(UntilStale)
            .build();
        let disk = match &settings.disk {
            Some((dir, bytes)) => Some(disk::DiskTier::open(
                dir,
                *bytes,
                settings.slice_bytes.max(MIN_SLICE_BYTES),
            )?),
            None => None,
        };
        Ok(ObjectCache {
            inner: Arc::new(Inner {
                memory,
                fetching: Mutex::new(HashMap::new()),
                origin,
                slice_bytes: settings.slice_bytes.max(MIN_SLICE_BYTES),
                disk,
                fetches_by_consumer: Mutex::new(HashMap::new()),
                max_fetches_per_consumer: settings.max_fetches_per_consumer.max(1),
            }),
        })
    }

    /// The object at `key` (part 0 of the consumer's URL, see `target::cache_key`), fetched
    /// from `url` when not held; `from` is the first byte the viewer wants (its slice is the
    /// one asked of the origin). Returns once the object's head is known.
    pub async fn get(&self, key: CacheKey, url: &url::Url, from: u64) -> Result<Found, FetchError> {
        let inner = &self.inner;
        let found = |head: Arc<Head>, lookup, first, first_part, key| Found {
            head,
            lookup,
            first,
            first_part,
            key,
            url: url.clone(),
            inner: inner.clone(),
        };
        // The hit path: one lookup, nothing fetched.
        if let Some(part) = inner.memory.get(&key) {
            if !part.head.sliced || from < inner.slice_bytes {
                return Ok(found(
                    part.head.clone(),
                    Lookup::Hit,
                    Body::Held(part.body.clone()),
                    0,
                    key,
                ));
            }
        }
        let wanted = from / inner.slice_bytes;
        match inner.open_part(key.with_part(wanted), url, None) {
            Opening::Held(part) => Ok(found(
                part.head.clone(),
                Lookup::Hit,
                Body::Held(part.body.clone()),
                if part.head.sliced { wanted } else { 0 },
                key,
            )),
            Opening::Growing(growing) => {
                let head = growing.head().await?;
                let lookup = if growing.came_from_disk() {
                    Lookup::Hit
                } else {
                    Lookup::Miss
                };
                let first_part = if head.sliced { wanted } else { 0 };
                Ok(found(head, lookup, Body::Growing(growing), first_part, key))
            }
        }
    }

    /// Bytes held in memory now (after pending evictions run).
    pub async fn weighted_size(&self) -> u64 {
        self.inner.memory.run_pending_tasks();
        self.inner.memory.weighted_size()
    }

    /// Bytes of files held by the disk tier, if there is one.
    pub fn disk_bytes(&self) -> Option<u64> {
        self.inner.disk.as_ref().map(disk::DiskTier::held_bytes)
    }

    /// Whether the disk tier holds `key` (tests wait for a write with it).
    pub fn on_disk(&self, key: &CacheKey) -> bool {
        self.inner.disk.as_ref().is_some_and(|d| d.contains(key))
    }

    pub fn slice_bytes(&self) -> u64 {
        self.inner.slice_bytes
    }
}

impl Found {
    /// The whole object's length: from the head, or once a body of unknown length has
    /// arrived.
    pub async fn length(&self) -> Result<u64, FetchError> {
        if let Some(length) = self.head.length {
            return Ok(length);
        }
        match &self.first {
            Body::Held(body) => Ok(body.len() as u64),
            Body::Growing(growing) => Ok(growing.finished_len().await?),
        }
    }

    /// The object when it is held whole in one piece (the hit path sends it without a
    /// stream of its own).
    pub fn held_whole(&self) -> Option<&Bytes> {
        match &self.first {
            Body::Held(body) if !self.head.sliced => Some(body),
            _ => None,
        }
    }

    /// The whole body of an object kept whole, once it has arrived.
    pub async fn whole_body(&self) -> Result<Bytes, FetchError> {
        match &self.first {
            Body::Held(body) => Ok(body.clone()),
            Body::Growing(growing) => {
                growing.finished_len().await?;
                Ok(growing.concatenated())
            }
        }
    }

    /// The bytes of `range` as they become available, slice after slice.
    pub fn read(self, range: ByteRange) -> BoxStream<'static, Result<Bytes, FetchError>> {
        let reading = Reading {
            offset: range.start,
            end: range.end,
            current: Some((self.first_part, self.first.clone())),
            prefetched: self.first_part,
            ahead: None,
            failed: false,
            found: self,
        };
        Box::pin(futures::stream::unfold(reading, Reading::next))
    }
}

struct Reading {
    found: Found,
    offset: u64,
    end: u64,
    current: Option<(u64, Body)>,
    /// The highest slice asked for ahead of the reader, and that slice as it was opened
    /// (held here, so it is read even if it is not kept).
    prefetched: u64,
    ahead: Option<(u64, Opening)>,
    failed: bool,
}

impl Reading {
    /// A slice joined while another viewer's fetch brings it may be of another version of
    /// the object (that fetch did not know this one's head), or an error page: its head must
    /// be this object's before a byte of it is read.
    async fn checked(&self, opened: Opening) -> Result<Body, OriginError> {
        match opened {
            Opening::Held(part) => Ok(Body::Held(part.body.clone())),
            Opening::Growing(growing) => {
                let head = growing.head().await?;
                let fits = head.status == 200
                    && head.sliced == self.found.head.sliced
                    && self.found.head.same_object(&head);
                if !fits {
                    return Err(OriginError::BadRange(
                        "the object changed between its slices".into(),
                    ));
                }
                Ok(Body::Growing(growing))
            }
        }
    }

    fn open(&self, index: u64) -> Opening {
        let found = &self.found;
        found.inner.open_part(
            found.key.with_part(index),
            &found.url,
            Some(found.head.clone()),
        )
    }

    async fn next(mut self) -> Option<(Result<Bytes, FetchError>, Reading)> {
        if self.failed || self.offset >= self.end {
            return None;
        }
        let slice = self.found.inner.slice_bytes;
        let (index, part_start) = if self.found.head.sliced {
            let index = self.offset / slice;
            (index, index * slice)
        } else {
            (0, 0)
        };
        let body = match &self.current {
            Some((current, body)) if *current == index => body.clone(),
            _ => {
                let opened = match self.ahead.take() {
                    // A slice asked ahead while the consumer's fetch slots were all taken
                    // is asked again now.
                    Some((ahead, body)) if ahead == index && !body.was_busy() => body,
                    _ => self.open(index),
                };
                let body = match self.checked(opened).await {
                    Ok(body) => body,
                    Err(e) => {
                        self.failed = true;
                        return Some((Err(e.into()), self));
                    }
                };
                self.current = Some((index, body.clone()));
                body
            }
        };
        // The next slice the range needs is fetched while this one is read, so a long read
        // does not wait on the origin at every slice boundary (one slice ahead at most).
        let last = (self.end - 1) / slice;
        if self.found.head.sliced && index < last && self.prefetched <= index {
            self.prefetched = index + 1;
            self.ahead = Some((index + 1, self.open(index + 1)));
        }
        let read = match body.read_at(self.offset - part_start).await {
            Ok(Some(chunk)) => {
                let take = chunk
                    .len()
                    .min(usize::try_from(self.end - self.offset).unwrap_or(usize::MAX));
                self.offset += take as u64;
                Ok(chunk.slice(..take))
            }
            // A body of unknown length ends when its origin's does.
            Ok(None) if self.found.head.length.is_none() => return None,
            Ok(None) => {
                Err(OriginError::BadRange("the object ended before the range did".into()).into())
            }
            Err(e) => Err(e.into()),
        };
        self.failed = read.is_err();
        Some((read, self))
    }
}

/// A part as a lookup opens it.
enum Opening {
    Held(Arc<Part>),
    Growing(Arc<Growing>),
}

impl Opening {
    /// Refused for want of a fetch slot.
    fn was_busy(&self) -> bool {
        matches!(self, Opening::Growing(growing) if growing.was_busy())
    }
}

/// What a finished fetch leaves to keep.
struct Filled {
    /// Where the part is kept (`None`: not kept); a whole object is part 0 whichever slice
    /// was asked.
    keep_as: Option<CacheKey>,
    from_disk: bool,
}

impl Inner {
    /// The part at `key`: held (in memory, of the object `expected` when given), being
    /// fetched (joined), or a fetch started now.
    fn open_part(
        self: &Arc<Self>,
        key: CacheKey,
        url: &url::Url,
        expected: Option<Arc<Head>>,
    ) -> Opening {
        let fits = |part: &Part| expected.as_ref().is_none_or(|e| e.same_object(&part.head));
        if let Some(part) = self.memory.get(&key) {
            if fits(&part) {
                return Opening::Held(part);
            }
            self.memory.invalidate(&key);
        }
        let mut fetching = self.fetching.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(growing) = fetching.get(&key) {
            return Opening::Growing(growing.clone());
        }
        // A fetch that ended between the first look and the lock has put its part here.
        if let Some(part) = self.memory.get(&key).filter(|p| fits(p)) {
            return Opening::Held(part);
        }
        let growing = Growing::new();
        if !self.take_fetch_slot(&key) {
            metrics::counter!("media_relay_consumer_fetch_limit_total").increment(1);
            growing.finish(Err(OriginError::Busy));
            return Opening::Growing(growing);
        }
        fetching.insert(key.clone(), growing.clone());
        drop(fetching);
        let fill = Fill {
            inner: self.clone(),
            key,
            growing: growing.clone(),
        };
        tokio::spawn(fill.run(url.clone(), expected));
        Opening::Growing(growing)
    }

    /// One of the consumer's fetch slots, if it has one free (given back by `Fill`'s drop).
    fn take_fetch_slot(&self, key: &CacheKey) -> bool {
        let mut counts = self
            .fetches_by_consumer
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let under_way = counts.entry(key.consumer).or_default();
        if *under_way >= self.max_fetches_per_consumer {
            return false;
        }
        *under_way += 1;
        true
    }

    fn give_back_fetch_slot(&self, key: &CacheKey) {
        let mut counts = self
            .fetches_by_consumer
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(under_way) = counts.get_mut(&key.consumer) {
            *under_way = under_way.saturating_sub(1);
            if *under_way == 0 {
                counts.remove(&key.consumer);
            }
        }
    }

    /// Fills `growing` with the part at `key`: from disk when there, else from the origin.
    async fn fetch_part(
        &self,
        key: &CacheKey,
        url: &url::Url,
        expected: Option<&Head>,
        growing: &Growing,
    ) -> Result<Filled, OriginError> {
        if let Some(disk) = &self.disk {
            if let Some(part) = disk.read(key).await {
                let whole_part = part.head.length.is_none()
                    || part_len(key.part, slice_or_whole(&part.head, self.slice_bytes))
                        == Some(part.body.len() as u64);
                if whole_part && expected.is_none_or(|e| e.same_object(&part.head)) {
                    growing.set_head(part.head.clone(), true);
                    growing.push(part.body.clone());
                    return Ok(Filled {
                        keep_as: Some(key.clone()),
                        from_disk: true,
                    });
                }
            }
        }
        let slice = self.slice_bytes;
        let start = key
            .part
            .checked_mul(slice)
            .ok_or_else(|| OriginError::BadRange("no such slice".into()))?;
        let asked = start..start.saturating_add(slice);
        let max_object = self.origin.max_object_bytes();
        let mut opened = self
            .origin
            .open(url, Some(asked.clone()), max_object.max(slice))
            .await?;
        let fetched_at = SystemTime::now();
        let playlist = opened.is_playlist();
        let headers = std::mem::take(&mut opened.headers);
        let whole = || key.with_part(0);
        let (head, expected_len, keep_as) = match opened.status {
            206 => {
                let (first, last, total) = match opened.content_range {
                    Some(crate::origin::ContentRange {
                        range: Some((first, last)),
                        total: Some(total),
                    }) => (first, last, total),
                    _ => {
                        return Err(OriginError::BadRange(
                            "a 206 without a whole Content-Range".into(),
                        ))
                    }
                };
                if first != asked.start || last + 1 != asked.end.min(total) {
                    return Err(OriginError::BadRange(format!(
                        "asked bytes {}-{}, got {first}-{last}/{total}",
                        asked.start,
                        asked.end - 1
                    )));
                }
                let sliced = total > slice;
                let ttl = freshness(&headers, playlist);
                let head = Head {
                    status: 200,
                    headers,
                    length: Some(total),
                    sliced,
                    ttl,
                    fetched_at,
                };
                (
                    head,
                    Some(last + 1 - first),
                    Some(if sliced { key.clone() } else { whole() }),
                )
            }
            416 => {
                let Some(total) = opened.content_range.and_then(|r| r.total) else {
                    return Err(OriginError::BadRange("a 416 without the length".into()));
                };
                if expected.is_some() {
                    return Err(OriginError::BadRange(format!(
                        "a slice was refused (length {total})"
                    )));
                }
                // An empty object, or a first byte past the end: the length tells which.
                let empty = total == 0;
                let ttl = if empty {
                    freshness(&headers, playlist)
                } else {
                    None
                };
                let head = Head {
                    status: 200,
                    headers,
                    length: Some(total),
                    sliced: total > slice,
                    ttl,
                    fetched_at,
                };
                (head, Some(0), empty.then(whole))
            }
            status @ 200..=299 => {
                if expected.is_some() {
                    return Err(OriginError::BadRange(
                        "the origin answered a slice with the whole object".into(),
                    ));
                }
                let ttl = if status == 200 {
                    freshness(&headers, playlist)
                } else {
                    None
                };
                let head = Head {
                    status,
                    headers,
                    length: opened.content_length,
                    sliced: false,
                    ttl,
                    fetched_at,
                };
                (head, opened.content_length, Some(whole()))
            }
            status => {
                let head = Head {
                    status,
                    headers,
                    length: None,
                    sliced: false,
                    ttl: None,
                    fetched_at,
                };
                (head, None, None)
            }
        };
        if let Some(expected) = expected {
            if !expected.same_object(&head) {
                return Err(OriginError::BadRange(
                    "the object changed between its slices".into(),
                ));
            }
        }
        let error_body = !(200..300).contains(&head.status);
        let limit = match expected_len {
            Some(len) => len,
            None if error_body => MAX_ERROR_BODY_BYTES.saturating_mul(2),
            None => max_object,
        };
        growing.set_head(Arc::new(head), false);
        // After the first timeout the origin must keep up the minimum rate on what it has
        // actually sent: a trickle cannot hold a fetch slot for longer than that.
        let started = tokio::time::Instant::now();
        let mut received = 0u64;
        loop {
            let earned = Duration::from_secs_f64(received as f64 / MIN_ORIGIN_BYTES_PER_SEC as f64);
            let deadline = started + self.origin.timeout() + earned;
            let chunk = tokio::time::timeout_at(deadline, opened.chunk())
                .await
                .map_err(|_| OriginError::Timeout(self.origin.timeout()))??;
            let Some(chunk) = chunk else { break };
            received += chunk.len() as u64;
            if received > limit {
                return Err(OriginError::TooLarge {
                    limit: usize::try_from(limit).unwrap_or(usize::MAX),
                });
            }
            growing.push(chunk);
            if error_body && received > MAX_ERROR_BODY_BYTES {
                break;
            }
        }
        if expected_len.is_some_and(|len| len != received) {
            return Err(OriginError::BadRange(format!(
                "{received} bytes arrived of the {} announced",
                expected_len.unwrap_or_default()
            )));
        }
        Ok(Filled {
            keep_as,
            from_disk: false,
        })
    }
}

/// The length of part `part` of an object of `length` bytes cut in slices of `slice` bytes
/// (`slice` is the whole length for an object kept whole, which has only part 0).
fn part_len(part: u64, (length, slice): (Option<u64>, u64)) -> Option<u64> {
    let length = length?;
    let start = part.checked_mul(slice)?;
    (start < length || (start == 0 && length == 0)).then(|| (length - start).min(slice))
}

/// What `part_len` needs of a head: the object's length and its slice size.
fn slice_or_whole(head: &Head, slice: u64) -> (Option<u64>, u64) {
    match head.length {
        Some(length) if !head.sliced => (Some(length), length.max(1)),
        length => (length, slice),
    }
}

/// One part's fetch, run as a task of its own so that it finishes (and is kept) whoever of
/// its viewers leaves. Dropped however it ends — even by a panic — it ends the body for its
/// readers and leaves the set of fetches.
struct Fill {
    inner: Arc<Inner>,
    key: CacheKey,
    growing: Arc<Growing>,
}

impl Fill {
    async fn run(self, url: url::Url, expected: Option<Arc<Head>>) {
        let inner = self.inner.clone();
        let result = inner
            .fetch_part(&self.key, &url, expected.as_deref(), &self.growing)
            .await;
        let filled = match result {
            Ok(filled) => filled,
            Err(e) => {
                tracing::warn!(url = %url, part = self.key.part, error = %e, "origin fetch failed");
                self.growing.finish(Err(e));
                return;
            }
        };
        let kept = match self.growing.head().await {
            Ok(head) => filled
                .keep_as
                .filter(|_| head.fresh_for().is_some())
                .map(|keep_as| {
                    let part = Arc::new(Part {
                        head,
                        body: self.growing.concatenated(),
                    });
                    // In memory before the fetch ends and leaves the set of fetches: a viewer
                    // who found neither would start a second fetch.
                    inner.memory.insert(keep_as.clone(), part.clone());
                    (keep_as, part)
                }),
            Err(_) => None,
        };
        self.growing.finish(Ok(()));
        drop(self);
        let Some((keep_as, part)) = kept else {
            return;
        };
        if let (Some(disk), false) = (&inner.disk, filled.from_disk) {
            if let Err(e) = disk.write(&keep_as, &part).await {
                tracing::warn!(error = %e, "writing to the disk cache failed");
            }
        }
    }
}

impl Drop for Fill {
    fn drop(&mut self) {
        self.growing.finish(Err(OriginError::Unreachable(
            "the fetch was stopped".into(),
        )));
        self.inner.give_back_fetch_slot(&self.key);
        let mut fetching = self
            .inner
            .fetching
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if fetching
            .get(&self.key)
            .is_some_and(|g| Arc::ptr_eq(g, &self.growing))
        {
            fetching.remove(&self.key);
        }
    }
}
