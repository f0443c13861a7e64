//! The configured streams and which of them are live: a stream key names one stream, and a
//! stream has at most one publisher at a time (a second is refused, not mixed in).
use crate::config::StreamConfig;
use crate::transcoder::TranscoderState;
use metrics::gauge;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishRefusal {
    #[error("unknown stream key")]
    UnknownKey,
    #[error("stream {0} already has a publisher")]
    AlreadyLive(String),
    #[error("application {0:?} is not served (publish to /live/<stream-key>)")]
    WrongApp(String),
}

impl PublishRefusal {
    /// The metric label.
    pub fn why(&self) -> &'static str {
        match self {
            PublishRefusal::UnknownKey => "key",
            PublishRefusal::AlreadyLive(_) => "live",
            PublishRefusal::WrongApp(_) => "app",
        }
    }
}

pub struct Streams {
    config: Vec<StreamConfig>,
    /// Per stream: its transcoder's state, kept across broadcasts (restart counts add up).
    state: HashMap<String, Arc<Mutex<TranscoderState>>>,
    live: Mutex<std::collections::HashSet<String>>,
}

/// A stream held by its publisher; dropping it frees the stream.
pub struct Claim {
    streams: Arc<Streams>,
    pub name: String,
    pub state: Arc<Mutex<TranscoderState>>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut live = self.streams.live.lock().unwrap_or_else(|e| e.into_inner());
        live.remove(&self.name);
        gauge!("media_ingest_streams_live").set(live.len() as f64);
    }
}

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
        })
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
            .contains(name)
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
        if !live.insert(name.clone()) {
            return Err(PublishRefusal::AlreadyLive(name));
        }
        gauge!("media_ingest_streams_live").set(live.len() as f64);
        let state = self.state.get(&name).cloned().unwrap_or_default();
        Ok(Claim {
            streams: self.clone(),
            name,
            state,
        })
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
}
