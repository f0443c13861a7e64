//! The cache's disk tier: every part worth keeping (a whole object or one slice, fresh for at
//! least `MIN_DISK_TTL`) is also written to a file of its own under `disk_cache_dir`, so a
//! restarted relay serves it as a hit.
//!
//! Why not `foyer`: its hybrid cache stores opaque values in its own block format, has no
//! per-entry expiry (the freshness rules would be a second check on every read) and brings a
//! large dependency tree to a crate that already has moka. Here the index is a moka cache of
//! the same kind as the memory tier — LRU over a byte budget, per-entry expiry from the
//! origin's freshness — whose eviction deletes the file, and the files are plain: a record
//! (`MAGIC`, the record's length, JSON) and the body. Files are written under a temporary
//! name and renamed, so a crash leaves whole files or temporaries (removed at start), and at
//! start the directory is read back into the index, most recently written last.
use super::{Head, Part};
use crate::target::CacheKey;
use anchor_lang::prelude::Pubkey;
use bytes::Bytes;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use moka::Expiry;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Parts fresh for less than this (live playlists) are kept in memory only.
pub const MIN_DISK_TTL: Duration = Duration::from_secs(30);
const MAGIC: &[u8; 4] = b"MRC1";
/// A record longer than this is not one this relay wrote.
const MAX_RECORD_BYTES: u32 = 256 << 10;
/// Bodies being read back at once, in KiB (256 MiB).
const MAX_READING_KIB: usize = 256 << 10;
/// Writes waiting at once.
const MAX_PENDING_WRITES: usize = 16;
const EXTENSION: &str = "part";
const TEMPORARY_EXTENSION: &str = "tmp";

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("disk cache {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("disk cache {0}: not a cache file")]
    Corrupt(PathBuf),
}

/// What is written before a part's body.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    consumer: [u8; 32],
    url: String,
    part: u64,
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    length: Option<u64>,
    sliced: bool,
    /// The slice size the part was cut with: a sliced part is of no use to a relay that cuts
    /// objects differently.
    slice_bytes: u64,
    ttl_ms: u64,
    fetched_at_ms: u64,
    body_len: u64,
}

impl Record {
    fn key(&self) -> CacheKey {
        CacheKey {
            consumer: Pubkey::new_from_array(self.consumer),
            url: self.url.clone(),
            part: self.part,
        }
    }

    fn fresh_until(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.fetched_at_ms.saturating_add(self.ttl_ms))
    }

    fn head(&self) -> Head {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value),
            ) {
                headers.append(name, value);
            }
        }
        Head {
            status: self.status,
            headers,
            length: self.length,
            sliced: self.sliced,
            ttl: Some(Duration::from_millis(self.ttl_ms)),
            fetched_at: UNIX_EPOCH + Duration::from_millis(self.fetched_at_ms),
        }
    }
}

/// A file in the tier.
#[derive(Debug)]
struct Stored {
    path: PathBuf,
    size: u64,
    fresh_until: SystemTime,
}

struct UntilStale;

impl Expiry<CacheKey, Arc<Stored>> for UntilStale {
    fn expire_after_create(
        &self,
        _: &CacheKey,
        stored: &Arc<Stored>,
        _: Instant,
    ) -> Option<Duration> {
        Some(
            stored
                .fresh_until
                .duration_since(SystemTime::now())
                .unwrap_or_default(),
        )
    }
}

pub struct DiskTier {
    dir: PathBuf,
    slice_bytes: u64,
    /// Bodies read back at once, in KiB: a burst of disk hits cannot pull the tier into
    /// memory.
    reading_kib: tokio::sync::Semaphore,
    /// Writes waiting at once; past it a part is not written (each holds its body).
    writing: tokio::sync::Semaphore,
    index: Cache<CacheKey, Arc<Stored>>,
    /// Makes every file name new, so a replaced part's file is never the new one's.
    written: AtomicU64,
    started: u128,
}

impl DiskTier {
    /// Opens (or creates) the tier in `dir`, holding at most `budget_bytes` of files, and
    /// reads back what an earlier run left there.
    pub fn open(dir: &Path, budget_bytes: u64, slice_bytes: u64) -> Result<DiskTier, DiskError> {
        let io = |source| DiskError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let index = Cache::builder()
            .max_capacity(budget_bytes)
            .weigher(|_: &CacheKey, stored: &Arc<Stored>| {
                u32::try_from(stored.size).unwrap_or(u32::MAX)
            })
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(UntilStale)
            // Evicted, stale, replaced or dropped: the file goes too (a replaced part's file is
            // the old one, as names are never reused).
            .eviction_listener(|_, stored: Arc<Stored>, _cause| {
                let _ = std::fs::remove_file(&stored.path);
            })
            .build();
        let tier = DiskTier {
            dir: dir.to_path_buf(),
            slice_bytes,
            reading_kib: tokio::sync::Semaphore::new(MAX_READING_KIB),
            writing: tokio::sync::Semaphore::new(MAX_PENDING_WRITES),
            index,
            written: AtomicU64::new(0),
            started: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        };
        tier.read_back()?;
        Ok(tier)
    }

    fn read_back(&self) -> Result<(), DiskError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| DiskError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            match path.extension().and_then(|e| e.to_str()) {
                Some(TEMPORARY_EXTENSION) => {
                    let _ = std::fs::remove_file(&path);
                }
                Some(EXTENSION) => match read_record(&path) {
                    Ok((record, size))
                        if record.fresh_until() > SystemTime::now()
                            && (!record.sliced || record.slice_bytes == self.slice_bytes) =>
                    {
                        let written = entry
                            .metadata()
                            .and_then(|m| m.modified())
                            .unwrap_or(UNIX_EPOCH);
                        found.push((written, record, size, path));
                    }
                    Ok(_) => {
                        let _ = std::fs::remove_file(&path);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "removing an unreadable disk cache file");
                        let _ = std::fs::remove_file(&path);
                    }
                },
                _ => {}
            }
        }
        found.sort_by_key(|(written, ..)| *written);
        let parts = found.len();
        for (_, record, size, path) in found {
            let fresh_until = record.fresh_until();
            self.index.insert(
                record.key(),
                Arc::new(Stored {
                    path,
                    size,
                    fresh_until,
                }),
            );
        }
        self.index.run_pending_tasks();
        tracing::info!(
            dir = %self.dir.display(),
            parts,
            bytes = self.index.weighted_size(),
            "disk cache read back"
        );
        Ok(())
    }

    pub fn contains(&self, key: &CacheKey) -> bool {
        self.index.contains_key(key)
    }

    /// The part at `key`, when the tier has it fresh and its file reads back whole.
    pub async fn read(&self, key: &CacheKey) -> Option<Part> {
        let stored = self.index.get(key)?;
        let path = stored.path.clone();
        let kib = u32::try_from(stored.size.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .min(MAX_READING_KIB as u32);
        let _reading = self.reading_kib.acquire_many(kib).await.ok()?;
        let read = tokio::task::spawn_blocking(move || read_part(&path)).await;
        match read {
            Ok(Ok((record, body))) if record.key() == *key => Some(Part {
                head: Arc::new(record.head()),
                body,
            }),
            Ok(Ok(_)) | Ok(Err(_)) | Err(_) => {
                tracing::warn!(path = %stored.path.display(), "a disk cache file no longer reads back; dropped");
                self.index.invalidate(key);
                None
            }
        }
    }

    /// Writes `part` at `key` (when it stays fresh long enough to be worth it).
    pub async fn write(&self, key: &CacheKey, part: &Part) -> Result<(), DiskError> {
        let Some(ttl) = part.head.ttl.filter(|t| *t >= MIN_DISK_TTL) else {
            return Ok(());
        };
        let Ok(_writing) = self.writing.try_acquire() else {
            metrics::counter!("media_relay_disk_writes_skipped_total").increment(1);
            return Ok(());
        };
        let fetched_at_ms = part
            .head
            .fetched_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let record = Record {
            consumer: key.consumer.to_bytes(),
            url: key.url.clone(),
            part: key.part,
            status: part.head.status,
            headers: part
                .head
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
                .collect(),
            length: part.head.length,
            sliced: part.head.sliced,
            slice_bytes: self.slice_bytes,
            ttl_ms: ttl.as_millis() as u64,
            fetched_at_ms,
            body_len: part.body.len() as u64,
        };
        let fresh_until = record.fresh_until();
        let name = format!(
            "{:x}-{:x}",
            self.started,
            self.written.fetch_add(1, Ordering::Relaxed)
        );
        let path = self.dir.join(&name).with_extension(EXTENSION);
        let temporary = self.dir.join(&name).with_extension(TEMPORARY_EXTENSION);
        let body = part.body.clone();
        let written = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || write_part(&temporary, &path, &record, &body))
                .await
                .map_err(|e| DiskError::Io {
                    path: self.dir.clone(),
                    source: std::io::Error::other(e),
                })?
        }?;
        self.index.insert(
            key.clone(),
            Arc::new(Stored {
                path,
                size: written,
                fresh_until,
            }),
        );
        Ok(())
    }

    /// Bytes of files the tier holds (after pending evictions have deleted theirs).
    pub fn held_bytes(&self) -> u64 {
        self.index.run_pending_tasks();
        self.index.weighted_size()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn write_part(
    temporary: &Path,
    path: &Path,
    record: &Record,
    body: &Bytes,
) -> Result<u64, DiskError> {
    use std::io::Write;
    let io = |source| DiskError::Io {
        path: path.to_path_buf(),
        source,
    };
    let json = serde_json::to_vec(record).map_err(|e| io(std::io::Error::other(e)))?;
    let record_len = u32::try_from(json.len())
        .ok()
        .filter(|n| *n <= MAX_RECORD_BYTES)
        .ok_or_else(|| io(std::io::Error::other("the record is too long")))?;
    let mut file = std::fs::File::create(temporary).map_err(io)?;
    let result = (|| {
        file.write_all(MAGIC)?;
        file.write_all(&record_len.to_le_bytes())?;
        file.write_all(&json)?;
        file.write_all(body)?;
        file.sync_data()?;
        std::fs::rename(temporary, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(temporary);
        return Err(io(e));
    }
    Ok((MAGIC.len() + 4 + json.len() + body.len()) as u64)
}

/// The record at the start of `path`, and the file's size (checked against the record).
fn read_record(path: &Path) -> Result<(Record, u64), DiskError> {
    let mut file = std::fs::File::open(path).map_err(|source| DiskError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (record, body_offset) = record_from(&mut file, path)?;
    let size = file
        .metadata()
        .map_err(|source| DiskError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if size != body_offset + record.body_len {
        return Err(DiskError::Corrupt(path.to_path_buf()));
    }
    Ok((record, size))
}

fn record_from(file: &mut std::fs::File, path: &Path) -> Result<(Record, u64), DiskError> {
    let corrupt = || DiskError::Corrupt(path.to_path_buf());
    let mut start = [0u8; 8];
    file.read_exact(&mut start).map_err(|_| corrupt())?;
    if &start[..4] != MAGIC {
        return Err(corrupt());
    }
    let record_len = u32::from_le_bytes([start[4], start[5], start[6], start[7]]);
    if record_len > MAX_RECORD_BYTES {
        return Err(corrupt());
    }
    let mut json = vec![0u8; record_len as usize];
    file.read_exact(&mut json).map_err(|_| corrupt())?;
    let record: Record = serde_json::from_slice(&json).map_err(|_| corrupt())?;
    Ok((record, 8 + u64::from(record_len)))
}

fn read_part(path: &Path) -> Result<(Record, Bytes), DiskError> {
    let mut file = std::fs::File::open(path).map_err(|source| DiskError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (record, _) = record_from(&mut file, path)?;
    let len = usize::try_from(record.body_len).map_err(|_| DiskError::Corrupt(path.into()))?;
    let mut body = Vec::with_capacity(len);
    file.by_ref()
        .take(record.body_len + 1)
        .read_to_end(&mut body)
        .map_err(|source| DiskError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if body.len() != len {
        return Err(DiskError::Corrupt(path.to_path_buf()));
    }
    Ok((record, Bytes::from(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> CacheKey {
        CacheKey {
            consumer: Pubkey::new_from_array([7; 32]),
            url: format!("http://origin.example/vod/{n}.ts"),
            part: n % 3,
        }
    }

    fn part(len: usize, ttl: Duration) -> Part {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("video/mp2t"));
        Part {
            head: Arc::new(Head {
                status: 200,
                headers,
                length: Some(len as u64),
                sliced: false,
                ttl: Some(ttl),
                fetched_at: SystemTime::now(),
            }),
            body: Bytes::from(vec![9u8; len]),
        }
    }

    fn files_in(dir: &Path) -> (usize, u64) {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.metadata().unwrap().len())
            .fold((0, 0), |(n, bytes), len| (n + 1, bytes + len))
    }

    #[tokio::test]
    async fn parts_come_back_after_a_restart_and_the_budget_is_held() {
        let dir = media_service::temp_path("disk-tier");
        let budget = 1_000_000;
        {
            let tier = DiskTier::open(&dir, budget, 1 << 20).unwrap();
            for n in 0..30 {
                tier.write(&key(n), &part(100_000, Duration::from_secs(3_600)))
                    .await
                    .unwrap();
            }
            tier.write(&key(99), &part(10, Duration::from_secs(1)))
                .await
                .unwrap();
            assert!(!tier.contains(&key(99)), "a playlist stays in memory only");
            let held = tier.held_bytes();
            let (files, bytes) = files_in(&dir);
            assert!(
                held <= budget && bytes <= budget,
                "{held} / {bytes} of {budget}"
            );
            assert!(files >= 5, "the budget is used: {files} files");
            assert!(tier.read(&key(29)).await.is_some(), "the newest is kept");
            assert!(tier.read(&key(0)).await.is_none(), "the oldest is evicted");
        }
        std::fs::write(dir.join("torn.tmp"), b"half").unwrap();
        std::fs::write(dir.join("junk.part"), b"not a record").unwrap();
        let reopened = DiskTier::open(&dir, budget, 1 << 20).unwrap();
        let back = reopened
            .read(&key(29))
            .await
            .expect("read back after restart");
        assert_eq!(back.body.len(), 100_000);
        assert_eq!(back.head.status, 200);
        assert_eq!(back.head.headers["content-type"], "video/mp2t");
        assert!(!dir.join("torn.tmp").exists() && !dir.join("junk.part").exists());
        assert!(reopened.held_bytes() <= budget);
    }

    /// Review of issue 20: a slice cut with another slice size holds other bytes.
    #[tokio::test]
    async fn sliced_parts_of_another_slice_size_are_not_read_back() {
        let dir = media_service::temp_path("disk-tier-slices");
        let mut sliced = part(1 << 20, Duration::from_secs(3_600));
        Arc::get_mut(&mut sliced.head).unwrap().sliced = true;
        let whole = part(1_000, Duration::from_secs(3_600));
        {
            let tier = DiskTier::open(&dir, 1 << 30, 1 << 20).unwrap();
            tier.write(&key(1), &sliced).await.unwrap();
            tier.write(&key(2), &whole).await.unwrap();
        }
        let same = DiskTier::open(&dir, 1 << 30, 1 << 20).unwrap();
        assert!(same.contains(&key(1)) && same.contains(&key(2)));
        drop(same);
        let other = DiskTier::open(&dir, 1 << 30, 2 << 20).unwrap();
        assert!(!other.contains(&key(1)), "the slice is dropped");
        assert!(
            other.read(&key(2)).await.is_some(),
            "a whole object still serves"
        );
    }

    #[tokio::test]
    async fn stale_parts_are_dropped_and_a_damaged_file_is_a_miss() {
        let dir = media_service::temp_path("disk-tier-stale");
        let tier = DiskTier::open(&dir, 1 << 20, 1 << 20).unwrap();
        let mut stale = part(100, Duration::from_secs(60));
        Arc::get_mut(&mut stale.head).unwrap().fetched_at =
            SystemTime::now() - Duration::from_secs(120);
        tier.write(&key(1), &stale).await.unwrap();
        assert!(tier.read(&key(1)).await.is_none(), "stale");
        tier.write(&key(2), &part(100, Duration::from_secs(60)))
            .await
            .unwrap();
        let path = tier.index.get(&key(2)).unwrap().path.clone();
        let mut damaged = std::fs::read(&path).unwrap();
        damaged.truncate(damaged.len() - 10);
        std::fs::write(&path, damaged).unwrap();
        assert!(tier.read(&key(2)).await.is_none(), "a short file is a miss");
        assert!(!tier.contains(&key(2)));
    }
}
