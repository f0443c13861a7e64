//! Fetching from a consumer's origin: whole objects, with a timeout, no content decoding
//! (the relay forwards the origin's bytes as they are).
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName};
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum OriginError {
    #[error("origin timed out after {0:?}")]
    Timeout(Duration),
    #[error("origin unreachable: {0}")]
    Unreachable(String),
    #[error("origin object larger than {limit} bytes")]
    TooLarge { limit: usize },
}

/// The origin's answer.
#[derive(Debug)]
pub struct Fetched {
    pub path: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Fetched {
    pub fn is_playlist(&self) -> bool {
        crate::cache::is_playlist(&self.path, &self.headers)
    }
}

/// Headers passed from the origin to viewers (hop-by-hop and length headers are the relay's).
const FORWARDED: [&str; 7] = [
    "content-type",
    "cache-control",
    "etag",
    "last-modified",
    "expires",
    "content-encoding",
    "content-language",
];

pub struct Origin {
    http: reqwest::Client,
    timeout: Duration,
    max_object_bytes: usize,
}

impl Origin {
    pub fn new(timeout: Duration, max_object_bytes: usize) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .build()
            .unwrap_or_default();
        Origin {
            http,
            timeout,
            max_object_bytes,
        }
    }

    /// GETs `url` whole. Connection failures are `Unreachable`; no complete answer within
    /// the timeout is `Timeout`.
    pub async fn get(&self, url: &str) -> Result<Fetched, OriginError> {
        match tokio::time::timeout(self.timeout, self.fetch(url)).await {
            Ok(result) => result,
            Err(_) => Err(OriginError::Timeout(self.timeout)),
        }
    }

    async fn fetch(&self, url: &str) -> Result<Fetched, OriginError> {
        let unreachable = |e: reqwest::Error| OriginError::Unreachable(e.to_string());
        let response = self.http.get(url).send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let mut headers = HeaderMap::new();
        for name in FORWARDED {
            let name = HeaderName::from_static(name);
            for value in response.headers().get_all(&name) {
                headers.append(name.clone(), value.clone());
            }
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_object_bytes as u64)
        {
            return Err(OriginError::TooLarge {
                limit: self.max_object_bytes,
            });
        }
        let path = response.url().path().to_string();
        let body = response.bytes().await.map_err(unreachable)?;
        if body.len() > self.max_object_bytes {
            return Err(OriginError::TooLarge {
                limit: self.max_object_bytes,
            });
        }
        Ok(Fetched {
            path,
            status,
            headers,
            body,
        })
    }
}
