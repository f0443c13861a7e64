//! The audience: viewers that each take a session token from the publisher's gateway, find
//! the relays through the gateway's chain read (`/.media/relays`, as a browser would) and
//! follow the live stream over all of them, as a player would (poll the playlist, fetch the
//! new segments), acknowledging every byte. A viewer leaves a relay that fails or stalls and
//! resumes at another; its bytes are counted per relay.
use crate::origin::{viewer_playlist, viewer_segment};
use media_ingest::layout::listed_segment_names;
use media_viewer::discovery::{self, Source};
use media_viewer::{Failover, RelayTarget, Viewer};
use std::collections::{BTreeMap, HashSet};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

/// A viewer acknowledges at least this often (a fraction of the relay's credit window).
const ACK_EVERY: u64 = 256 << 10;
/// A player joining a live stream starts this many segments from the live edge.
const JOIN_BACK: usize = 3;
/// A relay that sends nothing for this long is left (a segment appears every 2 s).
const STALL_TIMEOUT: Duration = Duration::from_secs(2);
/// A relay that failed is tried again after 1 s, doubling up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// Bytes received, counted as they are written; keeps them only when asked (playlists).
struct Tally<'a> {
    counter: &'a AtomicU64,
    kept: Option<Vec<u8>>,
}

impl tokio::io::AsyncWrite for Tally<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.counter.fetch_add(buf.len() as u64, Ordering::Relaxed);
        if let Some(kept) = &mut self.kept {
            kept.extend_from_slice(buf);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// What the audience did, once it left.
pub struct Watched {
    /// Bytes received through each relay, by URL.
    pub received: BTreeMap<url::Url, u64>,
    /// Requests that failed (each retried after a pause).
    pub errors: u64,
    /// Times a transfer moved to another relay part-way.
    pub failovers: u64,
    /// Times a viewer left a relay (it failed, stalled or refused) for another, by URL.
    pub left: BTreeMap<url::Url, u64>,
    /// The longest wait any viewer had between two segments.
    pub longest_gap: Duration,
}

/// What the viewers share while they watch.
#[derive(Default)]
struct Counters {
    /// Bytes received over every relay, as they arrive.
    received: AtomicU64,
    errors: AtomicU64,
    longest_gap_ms: AtomicU64,
}

pub struct Audience {
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Option<Viewer>>>,
}

impl Audience {
    /// Finds the relays through the gateway and starts `viewers` viewers over all of them.
    pub async fn start(
        gateway: Url,
        consumer: &anchor_lang::prelude::Pubkey,
        viewers: usize,
    ) -> anyhow::Result<Audience> {
        let http = discovery::probe_client(Duration::from_secs(3));
        let found = discovery::discover(
            &http,
            &Source::Gateway(gateway.clone()),
            consumer,
            Duration::from_secs(3),
        )
        .await?;
        anyhow::ensure!(!found.is_empty(), "the gateway lists no relay");
        let relays: Vec<RelayTarget> = found.into_iter().map(RelayTarget::from).collect();
        let failover = Failover {
            stall_timeout: STALL_TIMEOUT,
            spread: relays.len(),
            max_backoff: MAX_BACKOFF,
            ..Failover::default()
        };
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = watch::channel(false);
        let tasks = (0..viewers)
            .map(|_| {
                tokio::spawn(watch_stream(
                    gateway.clone(),
                    relays.clone(),
                    failover,
                    counters.clone(),
                    stopped.clone(),
                ))
            })
            .collect();
        Ok(Audience {
            counters,
            stop,
            tasks,
        })
    }

    /// Bytes received so far over every relay.
    pub fn received(&self) -> u64 {
        self.counters.received.load(Ordering::Relaxed)
    }

    /// Stops every viewer after its current request and final acknowledgement.
    pub async fn stop(self) -> Watched {
        self.stop.send_replace(true);
        let mut received = BTreeMap::new();
        let mut failovers = 0;
        let mut left = BTreeMap::new();
        for task in self.tasks {
            let Ok(Some(viewer)) = task.await else {
                continue;
            };
            failovers += viewer.failovers();
            for stats in viewer.relay_stats() {
                *received.entry(stats.url.clone()).or_default() += stats.bytes;
                *left.entry(stats.url).or_default() += stats.failures;
            }
        }
        Watched {
            received,
            errors: self.counters.errors.load(Ordering::Relaxed),
            failovers,
            left,
            longest_gap: Duration::from_millis(
                self.counters.longest_gap_ms.load(Ordering::Relaxed),
            ),
        }
    }
}

/// One viewer until stopped; returns it (for its counts) unless it never got a session.
async fn watch_stream(
    gateway: Url,
    relays: Vec<RelayTarget>,
    failover: Failover,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Option<Viewer> {
    let viewer = loop {
        match Viewer::join_over(relays.clone(), &gateway, None, ACK_EVERY, failover).await {
            Ok(viewer) => break viewer,
            Err(e) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "no session token yet");
                if pause(&mut stop, Duration::from_secs(1)).await {
                    return None;
                }
            }
        }
    };
    let mut follower = Follower {
        viewer: &viewer,
        counters: &counters,
        seen: None,
        last_segment: None,
    };
    while !*stop.borrow() {
        if let Err(e) = follower.follow_once().await {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "viewer request failed; retrying");
        }
        if pause(&mut stop, Duration::from_millis(500)).await {
            break;
        }
    }
    // Whatever arrived last is acknowledged before the viewer leaves, at every relay.
    if let Err(e) = viewer.acknowledge_now().await {
        tracing::warn!(error = %e, "final acknowledgement failed");
    }
    Some(viewer)
}

/// A viewer's place in the stream.
struct Follower<'a> {
    viewer: &'a Viewer,
    counters: &'a Counters,
    /// Segments already fetched (or skipped when joining).
    seen: Option<HashSet<String>>,
    /// When the last segment arrived.
    last_segment: Option<Instant>,
}

impl Follower<'_> {
    /// One playlist poll and the new segments it lists; every download is acknowledged at
    /// once.
    async fn follow_once(&mut self) -> anyhow::Result<()> {
        let viewer = self.viewer;
        let mut playlist = Tally {
            counter: &self.counters.received,
            kept: Some(Vec::new()),
        };
        let result = viewer.fetch(&viewer_playlist(), &mut playlist).await;
        // A relay that is down fails its acknowledgement; the others' still go out, and it
        // gets its own at the next one after it is back.
        let acked = viewer.acknowledge_now().await;
        result?;
        if let Err(e) = acked {
            tracing::debug!(error = %e, "an acknowledgement failed");
        }
        let text = String::from_utf8_lossy(playlist.kept.as_deref().unwrap_or_default());
        let names: Vec<String> = listed_segment_names(&text).map(String::from).collect();
        let seen = self.seen.get_or_insert_with(|| {
            names
                .iter()
                .take(names.len().saturating_sub(JOIN_BACK))
                .cloned()
                .collect()
        });
        for name in names {
            if seen.contains(&name) {
                continue;
            }
            let mut sink = Tally {
                counter: &self.counters.received,
                kept: None,
            };
            let result = viewer.fetch(&viewer_segment(&name), &mut sink).await;
            if let Err(e) = viewer.acknowledge_now().await {
                tracing::debug!(error = %e, "an acknowledgement failed");
            }
            result?;
            seen.insert(name);
            let now = Instant::now();
            if let Some(last) = self.last_segment.replace(now) {
                let gap = u64::try_from(now.duration_since(last).as_millis()).unwrap_or(u64::MAX);
                self.counters
                    .longest_gap_ms
                    .fetch_max(gap, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// Sleeps for `duration` unless stopped first; true when stopped.
async fn pause(stop: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(duration) => None,
        _ = stop.wait_for(|s| *s) => Some(true),
    };
    stopped.unwrap_or_else(|| *stop.borrow())
}
