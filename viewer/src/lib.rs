//! media-viewer, the viewer side of Media Network: a fresh session key, a session token from
//! the consumer's gateway, and downloads through a relay that acknowledge body bytes as they
//! arrive (viewer receipts posted in the background, so the relay's credit window never runs
//! dry), resuming with a Range request after a 402 or a cut connection. `proxy` serves stock
//! players on this machine through a `Viewer`. It shares no code with the relay server: only
//! the wire types of `media_sdk::api`.
pub mod discovery;
pub mod proxy;
use anchor_lang::prelude::Pubkey;
use ed25519_dalek::SigningKey;
use futures::StreamExt;
use media_sdk::api::gateway::{SessionRequest, SessionResponse};
use media_sdk::api::relay::{EPOCH_HEADER, NODE_KEY_HEADER, SESSION_HEADER};
use media_sdk::receipt::pubkey_of;
use media_sdk::session::{SessionToken, ViewerAck};
use reqwest::header::RANGE;
use reqwest::StatusCode;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    #[error("relay {url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("relay answered {status}: {body}")]
    Refused { status: StatusCode, body: String },
    #[error("gateway refused a session token: {0}")]
    Gateway(String),
    #[error("the relay did not say its {0}")]
    MissingHeader(&'static str),
    #[error("no progress in {attempts} attempts in a row (last: {last})")]
    Stuck { attempts: u32, last: String },
    #[error("writing the download: {0}")]
    Output(#[from] std::io::Error),
}

/// A completed download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub bytes: u64,
    pub content_type: Option<String>,
}

/// What this viewer has received from one relay in one epoch.
#[derive(Debug, Clone, Copy, Default)]
struct Position {
    epoch: u64,
    received: u64,
    node_key: Option<Pubkey>,
}

/// Asks `gateway` (`POST {gateway}/session`) for a token for `session_key`, presenting
/// `secret` when the gateway wants one.
pub async fn request_token(
    http: &reqwest::Client,
    gateway: &Url,
    session_key: &Pubkey,
    secret: Option<&str>,
) -> Result<SessionToken, ViewerError> {
    let url = gateway
        .join("session")
        .map_err(|e| ViewerError::Gateway(e.to_string()))?;
    let mut request = http.post(url.clone()).json(&SessionRequest {
        session_key: session_key.to_string(),
    });
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    let response = request.send().await.map_err(|source| ViewerError::Http {
        url: url.to_string(),
        source,
    })?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(ViewerError::Gateway(format!("{status}: {body}")));
    }
    let answer: SessionResponse = response
        .json()
        .await
        .map_err(|e| ViewerError::Gateway(format!("{status}: {e}")))?;
    SessionToken::from_base64(&answer.token).map_err(|e| ViewerError::Gateway(e.to_string()))
}

/// A token is renewed this long before it expires (review L7).
pub const RENEW_BEFORE_SECS: i64 = 60;
/// How long a call to the gateway may take.
pub const GATEWAY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Where a viewer gets a fresh token for its session key when the current one is about to
/// expire, so a session outlives `token_ttl_secs`.
struct Renewal {
    http: reqwest::Client,
    gateway: Url,
    secret: Option<String>,
}

fn gateway_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(GATEWAY_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// One viewer session with one relay.
pub struct Viewer {
    http: reqwest::Client,
    relay: Url,
    session_key: SigningKey,
    token: Mutex<SessionToken>,
    renewal: Option<Renewal>,
    /// Acknowledge at least every this many bytes (a fraction of the relay's window).
    ack_every: u64,
    position: Arc<Mutex<Position>>,
    acks: watch::Sender<Option<String>>,
}

impl Viewer {
    /// A viewer that posts receipts to `relay` from a background task.
    pub fn new(relay: Url, session_key: SigningKey, token: SessionToken, ack_every: u64) -> Self {
        let http = reqwest::Client::builder()
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .build()
            .unwrap_or_default();
        let (acks, mut latest) = watch::channel(None::<String>);
        let poster = http.clone();
        let receipt_url = relay.join(".media/receipt").ok();
        tokio::spawn(async move {
            // Posts the newest receipt whenever there is one; older unsent ones are superseded.
            while latest.changed().await.is_ok() {
                let receipt = latest.borrow_and_update().clone();
                if let (Some(receipt), Some(url)) = (receipt, receipt_url.clone()) {
                    if let Err(e) = poster.post(url).body(receipt).send().await {
                        tracing::debug!(error = %e, "posting a viewer receipt failed");
                    }
                }
            }
        });
        Viewer {
            http,
            relay,
            session_key,
            token: Mutex::new(token),
            renewal: None,
            ack_every: ack_every.max(1),
            position: Arc::new(Mutex::new(Position::default())),
            acks,
        }
    }

    /// A viewer with a fresh session key and a token for it from `gateway` (presenting
    /// `secret` when the gateway wants one), fetching through `relay`.
    pub async fn join(
        relay: Url,
        gateway: &Url,
        secret: Option<&str>,
        ack_every: u64,
    ) -> Result<Self, ViewerError> {
        let session_key = Self::new_session_key();
        let http = gateway_client();
        let token = request_token(&http, gateway, &pubkey_of(&session_key), secret).await?;
        let mut viewer = Viewer::new(relay, session_key, token, ack_every);
        viewer.renewal = Some(Renewal {
            http,
            gateway: gateway.clone(),
            secret: secret.map(String::from),
        });
        Ok(viewer)
    }

    /// The session's token as it stands.
    pub fn token(&self) -> SessionToken {
        *self.token.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The token to present now: renewed from the gateway first when it expires within
    /// `RENEW_BEFORE_SECS` (a failed renewal keeps the current one and says so in the log).
    async fn token_for_request(&self) -> String {
        let token = self.token();
        if let Some(renewal) = &self.renewal {
            if token
                .grant
                .expires_at
                .saturating_sub(media_sdk::clock::unix_now())
                < RENEW_BEFORE_SECS
            {
                let renewed = request_token(
                    &renewal.http,
                    &renewal.gateway,
                    &self.session_pubkey(),
                    renewal.secret.as_deref(),
                )
                .await;
                match renewed {
                    Ok(fresh) => {
                        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
                        tracing::debug!(
                            expires_at = fresh.grant.expires_at,
                            "session token renewed"
                        );
                        return fresh.to_base64();
                    }
                    Err(e) => tracing::warn!(error = %e, "renewing the session token failed"),
                }
            }
        }
        token.to_base64()
    }

    /// A fresh random session key.
    pub fn new_session_key() -> SigningKey {
        SigningKey::generate(&mut rand::rngs::OsRng)
    }

    pub fn session_pubkey(&self) -> Pubkey {
        pubkey_of(&self.session_key)
    }

    /// Bytes received from the relay in the current epoch.
    pub fn received(&self) -> u64 {
        self.position
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .received
    }

    fn url_for(&self, path: &str) -> String {
        format!(
            "{}/c/{}/{}",
            self.relay.as_str().trim_end_matches('/'),
            self.token().grant.consumer,
            path.trim_start_matches('/')
        )
    }

    /// Posts a receipt for everything received so far and waits for the relay's answer: a
    /// viewer leaving (or switching epochs) calls it so its last bytes are acknowledged too.
    pub async fn acknowledge_now(&self) -> Result<(), ViewerError> {
        self.acknowledge(true).await
    }

    /// Signs a receipt for everything received so far; `post_now` sends it and waits.
    async fn acknowledge(&self, post_now: bool) -> Result<(), ViewerError> {
        let position = *self.position.lock().unwrap_or_else(|e| e.into_inner());
        self.acknowledge_position(position, post_now).await
    }

    /// Signs a receipt for `position`; `post_now` sends it and waits.
    async fn acknowledge_position(
        &self,
        position: Position,
        post_now: bool,
    ) -> Result<(), ViewerError> {
        let Some(node_key) = position.node_key else {
            return Ok(());
        };
        let grant = self.token().grant;
        let receipt = ViewerAck {
            config: grant.config,
            consumer: grant.consumer,
            node_key,
            session_key: self.session_pubkey(),
            epoch: position.epoch,
            cumulative: position.received,
        }
        .sign(&self.session_key)
        .to_base64();
        if post_now {
            let url = self
                .relay
                .join(".media/receipt")
                .map_err(|e| ViewerError::Refused {
                    status: StatusCode::BAD_REQUEST,
                    body: e.to_string(),
                })?;
            self.http
                .post(url.clone())
                .body(receipt)
                .send()
                .await
                .map_err(|source| ViewerError::Http {
                    url: url.to_string(),
                    source,
                })?;
        } else {
            let _ = self.acks.send(Some(receipt));
        }
        Ok(())
    }

    /// Learns the relay's epoch and node key from a response; a new epoch counts from 0, and
    /// what the epoch left behind is acknowledged first, so its last bytes are paid (L8).
    async fn observe(&self, response: &reqwest::Response) -> Result<(), ViewerError> {
        let left = self.observe_headers(response)?;
        if let Some(left) = left.filter(|p| p.received > 0) {
            if let Err(e) = self.acknowledge_position(left, true).await {
                tracing::debug!(error = %e, "acknowledging the epoch just left failed");
            }
        }
        Ok(())
    }

    /// The position update of `observe`; returns the position of the epoch it left, if any.
    fn observe_headers(
        &self,
        response: &reqwest::Response,
    ) -> Result<Option<Position>, ViewerError> {
        let header = |name: &'static str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(ViewerError::MissingHeader(name))
        };
        let epoch: u64 = header(EPOCH_HEADER)?
            .parse()
            .map_err(|_| ViewerError::MissingHeader(EPOCH_HEADER))?;
        let mut position = self.position.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(key) = header(NODE_KEY_HEADER).map(Pubkey::from_str) {
            position.node_key = key.ok();
        }
        if epoch == position.epoch {
            return Ok(None);
        }
        let left = *position;
        *position = Position {
            epoch,
            received: 0,
            node_key: position.node_key,
        };
        Ok(Some(left))
    }

    /// Downloads `path` of the token's consumer into `out`, acknowledging as bytes arrive,
    /// and returns the number of body bytes written.
    pub async fn fetch<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        path: &str,
        out: &mut W,
    ) -> Result<u64, ViewerError> {
        Ok(self.download(path, out).await?.bytes)
    }

    /// `fetch`, also reporting the object's content type.
    pub async fn download<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        path: &str,
        out: &mut W,
    ) -> Result<Download, ViewerError> {
        use tokio::io::AsyncWriteExt;
        let url = self.url_for(path);
        let mut written: u64 = 0;
        let mut content_type = None;
        // Attempts in a row that brought no new byte; a long download cut many times over is
        // fine as long as each attempt makes progress.
        let mut attempts = 0u32;
        let mut last = String::new();
        let mut written_before = 0u64;
        loop {
            if written > written_before {
                attempts = 0;
                written_before = written;
            }
            attempts += 1;
            if attempts > 20 {
                return Err(ViewerError::Stuck { attempts, last });
            }
            let token = self.token_for_request().await;
            let mut request = self.http.get(&url).header(SESSION_HEADER, &token);
            if written > 0 {
                request = request.header(RANGE, format!("bytes={written}-"));
            }
            let response = request.send().await.map_err(|source| ViewerError::Http {
                url: url.clone(),
                source,
            })?;
            let status = response.status();
            if status == StatusCode::PAYMENT_REQUIRED {
                // Everything received is acknowledged (and the epoch learned) before retrying.
                if self.observe(&response).await.is_ok() {
                    self.acknowledge(true).await?;
                }
                last = "402 Payment Required".into();
                continue;
            }
            if status == StatusCode::RANGE_NOT_SATISFIABLE && written > 0 {
                return Ok(Download {
                    bytes: written,
                    content_type,
                });
            }
            if !(status.is_success()) {
                let body = response.text().await.unwrap_or_default();
                return Err(ViewerError::Refused { status, body });
            }
            self.observe(&response).await?;
            if content_type.is_none() {
                content_type = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(String::from);
            }
            if written > 0 && status == StatusCode::OK {
                // The relay ignored the range: start over rather than duplicate bytes.
                return Err(ViewerError::Refused {
                    status,
                    body: "the relay answered a range request with the whole object".into(),
                });
            }
            let mut since_ack = 0u64;
            let mut body = response.bytes_stream();
            let mut cut = false;
            while let Some(chunk) = body.next().await {
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(e) => {
                        last = e.to_string();
                        cut = true;
                        break;
                    }
                };
                out.write_all(&chunk).await?;
                let n = chunk.len() as u64;
                written += n;
                since_ack += n;
                self.position
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .received += n;
                if since_ack >= self.ack_every {
                    since_ack = 0;
                    self.acknowledge(false).await?;
                }
            }
            self.acknowledge(false).await?;
            if !cut {
                out.flush().await?;
                return Ok(Download {
                    bytes: written,
                    content_type,
                });
            }
        }
    }
}
