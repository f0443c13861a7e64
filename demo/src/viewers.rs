//! The audience: viewers that each take a session token from the publisher's gateway and
//! follow the live stream through one relay, as a player would (poll the playlist, fetch the
//! new segments), acknowledging every byte. Each relay's bytes are counted as they arrive.
use crate::origin::segments_of;
use media_viewer::Viewer;
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

/// A viewer acknowledges at least this often (a fraction of the relay's credit window).
const ACK_EVERY: u64 = 256 << 10;
/// A player joining a live stream starts this many segments from the live edge.
const JOIN_BACK: usize = 3;
const PLAYLIST: &str = "live/index.m3u8";

/// Bytes received, counted as they are written; keeps them only when asked (playlists).
struct Tally {
    counter: Arc<AtomicU64>,
    kept: Option<Vec<u8>>,
}

impl tokio::io::AsyncWrite for Tally {
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

pub struct Audience {
    /// Bytes received through each relay.
    pub received: Vec<Arc<AtomicU64>>,
    /// Requests that failed (each retried after a pause).
    pub errors: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Audience {
    /// `viewers` viewers spread over `relays` round-robin.
    pub fn start(gateway: Url, relays: Vec<Url>, viewers: usize) -> Audience {
        let received: Vec<_> = relays.iter().map(|_| Arc::new(AtomicU64::new(0))).collect();
        let errors = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = watch::channel(false);
        let tasks = (0..viewers)
            .map(|i| {
                let r = i % relays.len();
                tokio::spawn(watch_stream(
                    gateway.clone(),
                    relays[r].clone(),
                    received[r].clone(),
                    errors.clone(),
                    stopped.clone(),
                ))
            })
            .collect();
        Audience {
            received,
            errors,
            stop,
            tasks,
        }
    }

    pub fn received(&self) -> Vec<u64> {
        self.received
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// Stops every viewer after its current request and final acknowledgement; returns the
    /// bytes received per relay and the number of failed requests.
    pub async fn stop(self) -> (Vec<u64>, u64) {
        self.stop.send_replace(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let received = self
            .received
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        (received, self.errors.load(Ordering::Relaxed))
    }
}

async fn watch_stream(
    gateway: Url,
    relay: Url,
    received: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) {
    let viewer = loop {
        match Viewer::join(relay.clone(), &gateway, None, ACK_EVERY).await {
            Ok(viewer) => break viewer,
            Err(e) => {
                errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "no session token yet");
                if pause(&mut stop, Duration::from_secs(1)).await {
                    return;
                }
            }
        }
    };
    let mut seen: Option<HashSet<String>> = None;
    while !*stop.borrow() {
        if let Err(e) = follow_once(&viewer, &received, &mut seen).await {
            errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "viewer request failed; retrying");
        }
        if pause(&mut stop, Duration::from_millis(500)).await {
            break;
        }
    }
    // Whatever arrived last is acknowledged before the viewer leaves.
    if let Err(e) = viewer.acknowledge_now().await {
        tracing::warn!(error = %e, "final acknowledgement failed");
    }
}

/// One playlist poll and the new segments it lists; every download is acknowledged at once.
async fn follow_once(
    viewer: &Viewer,
    received: &Arc<AtomicU64>,
    seen: &mut Option<HashSet<String>>,
) -> anyhow::Result<()> {
    let mut playlist = Tally {
        counter: received.clone(),
        kept: Some(Vec::new()),
    };
    let result = viewer.fetch(PLAYLIST, &mut playlist).await;
    viewer.acknowledge_now().await?;
    result?;
    let names = segments_of(&String::from_utf8_lossy(
        playlist.kept.as_deref().unwrap_or_default(),
    ));
    let seen = seen.get_or_insert_with(|| {
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
            counter: received.clone(),
            kept: None,
        };
        let result = viewer.fetch(&format!("live/{name}"), &mut sink).await;
        viewer.acknowledge_now().await?;
        result?;
        seen.insert(name);
    }
    Ok(())
}

/// Sleeps for `duration` unless stopped first; true when stopped.
async fn pause(stop: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(duration) => None,
        _ = stop.wait_for(|s| *s) => Some(true),
    };
    stopped.unwrap_or_else(|| *stop.borrow())
}
