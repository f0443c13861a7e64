//! The configured streams and which of them are live: a stream key names one stream, and a
//! stream has at most one publisher at a time. A second publisher with the key is refused
//! while the first is sending; once the first has sent nothing for a while (its connection
//! died without closing, as when an encoder's network drops and it reconnects), the second
//! takes over: the first is told to end, and the second gets the stream when it has.
use crate::config::StreamConfig;
use crate::transcoder::TranscoderState;
use metrics::gauge;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishRefusal {
    #[error("unknown stream key")]
    UnknownKey,
    #[error("stream {0} already has a publisher")]
    AlreadyLive(String),
    #[error("application {0:?} is not served (publish to /live/<stream-key>)")]
    WrongApp(String),
    #[error("this connection is already publishing")]
    SecondPublish,
    #[error("{0}")]
    UnsupportedCodec(String),
}

impl PublishRefusal {
    /// The metric label.
    pub fn why(&self) -> &'static str {
        match self {
            PublishRefusal::UnknownKey => "key",
            PublishRefusal::AlreadyLive(_) => "live",
            PublishRefusal::WrongApp(_) => "app",
            PublishRefusal::SecondPublish => "second_publish",
            PublishRefusal::UnsupportedCodec(_) => "codec",
        }
    }
}

pub struct Streams {
    config: Vec<StreamConfig>,
    /// Per stream: its transcoder's state, kept across broadcasts (restart counts add up).
    state: HashMap<String, Arc<Mutex<TranscoderState>>>,
    live: Mutex<HashMap<String, Publisher>>,
    /// `Publisher::last_media` counts milliseconds from here.
    epoch: Instant,
}

/// The live publisher of a stream, as others see it.
#[derive(Clone)]
struct Publisher {
    last_media: Arc<AtomicU64>,
    evict: Arc<Notify>,
}

/// A stream held by its publisher; dropping it frees the stream.
pub struct Claim {
    streams: Arc<Streams>,
    pub name: String,
    pub state: Arc<Mutex<TranscoderState>>,
    publisher: Publisher,
}

impl Claim {
    /// Marks media arriving: a publisher that keeps doing so cannot be taken over.
    pub fn touch(&self) {
        self.publisher
            .last_media
            .store(self.streams.millis(), Ordering::Relaxed);
    }

    /// Resolves when another publisher with the key has taken the stream over.
    pub fn evicted(&self) -> Arc<Notify> {
        self.publisher.evict.clone()
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut live = self.streams.live.lock().unwrap_or_else(|e| e.into_inner());
        live.remove(&self.name);
        gauge!("media_ingest_streams_live").set(live.len() as f64);
    }
}

/// How long a publisher taking over waits for the one it replaces to end its broadcast.
pub const TAKEOVER_WAIT: Duration = Duration::from_secs(15);

/// What `/health` shows of a stream.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamStatus {
    pub name: String,
    pub live: bool,
    #[serde(flatten)]
    pub transcoder: TranscoderState,
}

impl Streams {
    pub fn new(config: Vec<StreamConfig>) -> Arc<Self> {
        let state = config
            .iter()
            .map(|s| (s.name.clone(), Arc::default()))
            .collect();
        Arc::new(Streams {
            config,
            state,
            live: Mutex::default(),
            epoch: Instant::now(),
        })
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.config.iter().map(|s| s.name.as_str())
    }

    pub fn is_configured(&self, name: &str) -> bool {
        self.config.iter().any(|s| s.name == name)
    }

    pub fn is_live(&self, name: &str) -> bool {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(name)
    }

    /// The stream `key` publishes to, held until the claim is dropped. Every key is compared
    /// in constant time, so timing tells nothing about how close a guess was.
    pub fn claim(self: &Arc<Self>, key: &str) -> Result<Claim, PublishRefusal> {
        let mut found = None;
        for stream in &self.config {
            if bool::from(stream.key.as_bytes().ct_eq(key.as_bytes())) {
                found = Some(stream.name.clone());
            }
        }
        let name = found.ok_or(PublishRefusal::UnknownKey)?;
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if live.contains_key(&name) {
            return Err(PublishRefusal::AlreadyLive(name));
        }
        let publisher = Publisher {
            last_media: Arc::new(AtomicU64::new(self.millis())),
            evict: Arc::default(),
        };
        live.insert(name.clone(), publisher.clone());
        gauge!("media_ingest_streams_live").set(live.len() as f64);
        let state = self.state.get(&name).cloned().unwrap_or_default();
        Ok(Claim {
            streams: self.clone(),
            name,
            state,
            publisher,
        })
    }

    /// Like `claim`, but a live publisher that is or falls silent for `idle` within about
    /// that long is told to end and, within `TAKEOVER_WAIT`, replaced. One that keeps
    /// sending keeps the stream.
    pub async fn claim_taking_over(
        self: &Arc<Self>,
        key: &str,
        idle: Duration,
    ) -> Result<Claim, PublishRefusal> {
        let start = Instant::now();
        let decide_by = start + idle + Duration::from_millis(500);
        let give_up = decide_by + TAKEOVER_WAIT;
        let mut evicting = false;
        loop {
            match self.claim(key) {
                Err(PublishRefusal::AlreadyLive(name)) => {
                    evicting = evicting || self.evict_if_idle(&name, idle);
                    let deadline = if evicting { give_up } else { decide_by };
                    if Instant::now() >= deadline {
                        return Err(PublishRefusal::AlreadyLive(name));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                claimed => return claimed,
            }
        }
    }

    fn evict_if_idle(&self, name: &str, idle: Duration) -> bool {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let Some(publisher) = live.get(name) else {
            // Ended since: the next claim gets it.
            return true;
        };
        let silent = self
            .millis()
            .saturating_sub(publisher.last_media.load(Ordering::Relaxed));
        if u128::from(silent) < idle.as_millis() {
            return false;
        }
        tracing::warn!(
            stream = name,
            silent_ms = silent,
            "taking the stream over from a silent publisher"
        );
        publisher.evict.notify_one();
        true
    }

    pub fn status(&self) -> Vec<StreamStatus> {
        self.config
            .iter()
            .map(|s| StreamStatus {
                name: s.name.clone(),
                live: self.is_live(&s.name),
                transcoder: self
                    .state
                    .get(&s.name)
                    .and_then(|st| st.lock().ok().map(|st| *st))
                    .unwrap_or_default(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_claims_its_stream_once_at_a_time() {
        let streams = Streams::new(vec![StreamConfig {
            name: "main".into(),
            key: "a-long-secret".into(),
        }]);
        assert_eq!(
            streams.claim("a-long-secreT").err(),
            Some(PublishRefusal::UnknownKey)
        );
        let claim = streams.claim("a-long-secret").unwrap();
        assert_eq!(claim.name, "main");
        assert!(streams.is_live("main"));
        assert_eq!(
            streams.claim("a-long-secret").err(),
            Some(PublishRefusal::AlreadyLive("main".into()))
        );
        drop(claim);
        assert!(!streams.is_live("main"));
        assert!(streams.claim("a-long-secret").is_ok());
    }

    #[tokio::test]
    async fn a_silent_publisher_is_taken_over_and_a_sending_one_is_not() {
        let streams = Streams::new(vec![StreamConfig {
            name: "main".into(),
            key: "a-long-secret".into(),
        }]);
        let idle = Duration::from_millis(100);
        let first = streams.claim("a-long-secret").unwrap();
        let sending = {
            let (streams, last_media) = (streams.clone(), first.publisher.last_media.clone());
            tokio::spawn(async move {
                loop {
                    last_media.store(streams.millis(), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        assert_eq!(
            streams.claim_taking_over("a-long-secret", idle).await.err(),
            Some(PublishRefusal::AlreadyLive("main".into())),
            "a sending publisher keeps its stream"
        );
        sending.abort();
        assert_eq!(
            streams
                .claim_taking_over("not-the-secret", idle)
                .await
                .err(),
            Some(PublishRefusal::UnknownKey)
        );
        // It falls silent while the next one waits: the first publisher's connection ends when told to, and so frees the stream.
        let evicted = first.evicted();
        let ending = tokio::spawn(async move {
            evicted.notified().await;
            drop(first);
        });
        let second = tokio::time::timeout(
            Duration::from_secs(5),
            streams.claim_taking_over("a-long-secret", idle),
        )
        .await
        .expect("the takeover finishes")
        .unwrap();
        ending.await.unwrap();
        assert_eq!(second.name, "main");
        assert!(streams.is_live("main"));
    }
}
