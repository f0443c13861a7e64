//! media-viewer, the viewer side of Media Network: a fresh session key, a session token from
//! the consumer's gateway, and downloads through a relay that acknowledge body bytes as they
//! arrive (viewer receipts posted in the background, so the relay's credit window never runs
//! dry), resuming with a Range request after a 402 or a cut connection. `proxy` serves stock
//! players on this machine through a `Viewer`. It shares no code with the relay server: only
//! the wire types of `media_sdk::api`.
pub mod discovery;
mod links;
pub mod proxy;
use anchor_lang::prelude::Pubkey;
use ed25519_dalek::SigningKey;
use futures::StreamExt;
pub use links::{Failover, RelayStats, RelayTarget};
use links::{Link, Position};
use media_sdk::api::gateway::{SessionRequest, SessionResponse};
use media_sdk::api::relay::{EPOCH_HEADER, NODE_KEY_HEADER, SESSION_HEADER};
use media_sdk::receipt::pubkey_of;
use media_sdk::session::{SessionToken, ViewerAck};
use reqwest::header::RANGE;
use reqwest::StatusCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
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
        let body = read_error_body(response, GATEWAY_ERROR_READ).await;
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

/// One viewer session (one session key and token) over one or more relays.
pub struct Viewer {
    http: reqwest::Client,
    session_key: SigningKey,
    token: Mutex<SessionToken>,
    renewal: Option<Renewal>,
    /// Acknowledge at least every this many bytes (a fraction of the relay's window).
    ack_every: u64,
    failover: Failover,
    /// In rank order; replaced as discovery learns of relays joining and leaving.
    links: RwLock<Vec<Arc<Link>>>,
    /// The relay the last playlist came from.
    playlist_relay: Mutex<Option<Arc<Link>>>,
    failovers: AtomicU64,
}

impl Viewer {
    /// A viewer of one relay, posting receipts to it from a background task.
    pub fn new(relay: Url, session_key: SigningKey, token: SessionToken, ack_every: u64) -> Self {
        Self::over(
            vec![RelayTarget::named(relay)],
            session_key,
            token,
            ack_every,
            Failover::default(),
        )
    }

    /// A viewer over `relays` (best first), moving between them by `failover`'s rules.
    pub fn over(
        relays: Vec<RelayTarget>,
        session_key: SigningKey,
        token: SessionToken,
        ack_every: u64,
        failover: Failover,
    ) -> Self {
        let http = reqwest::Client::builder()
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .connect_timeout(failover.stall_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let links = relays.into_iter().map(|t| Link::new(t, &http)).collect();
        Viewer {
            http,
            session_key,
            token: Mutex::new(token),
            renewal: None,
            ack_every: ack_every.max(1),
            failover,
            links: RwLock::new(links),
            playlist_relay: Mutex::new(None),
            failovers: AtomicU64::new(0),
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
        Self::join_over(
            vec![RelayTarget::named(relay)],
            gateway,
            secret,
            ack_every,
            Failover::default(),
        )
        .await
    }

    /// `join`, over `relays` (best first) with `failover`'s rules.
    pub async fn join_over(
        relays: Vec<RelayTarget>,
        gateway: &Url,
        secret: Option<&str>,
        ack_every: u64,
        failover: Failover,
    ) -> Result<Self, ViewerError> {
        let session_key = Self::new_session_key();
        let http = gateway_client();
        let token = request_token(&http, gateway, &pubkey_of(&session_key), secret).await?;
        let mut viewer = Viewer::over(relays, session_key, token, ack_every, failover);
        viewer.renewal = Some(Renewal {
            http,
            gateway: gateway.clone(),
            secret: secret.map(String::from),
        });
        Ok(viewer)
    }

    fn links(&self) -> Vec<Arc<Link>> {
        self.links.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the relays (best first): a relay already in use keeps its counts and
    /// back-off; one no longer given is dropped once its last receipt is posted.
    pub fn set_relays(&self, relays: Vec<RelayTarget>) {
        let mut links = self.links.write().unwrap_or_else(|e| e.into_inner());
        let next: Vec<Arc<Link>> = relays
            .into_iter()
            .map(|target| {
                links
                    .iter()
                    .find(|l| l.target == target)
                    .cloned()
                    .unwrap_or_else(|| {
                        tracing::info!(relay = %target.url, "relay added");
                        Link::new(target, &self.http)
                    })
            })
            .collect();
        for gone in links
            .iter()
            .filter(|l| !next.iter().any(|n| Arc::ptr_eq(n, l)))
        {
            tracing::info!(relay = %gone.target.url, "relay dropped");
        }
        *links = next;
    }

    /// The relays in use, best first.
    pub fn relays(&self) -> Vec<RelayTarget> {
        self.links().iter().map(|l| l.target.clone()).collect()
    }

    /// How each relay has served this session.
    pub fn relay_stats(&self) -> Vec<RelayStats> {
        let now = Instant::now();
        self.links().iter().map(|l| l.stats(now)).collect()
    }

    /// How many times a transfer moved to another relay part-way.
    pub fn failovers(&self) -> u64 {
        self.failovers.load(Ordering::Relaxed)
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

    /// Bytes received in the current epoch, over all relays.
    pub fn received(&self) -> u64 {
        self.links().iter().map(|l| l.position().received).sum()
    }

    fn url_for(&self, link: &Link, path: &str) -> String {
        format!(
            "{}/c/{}/{}",
            link.target.url.as_str().trim_end_matches('/'),
            self.token().grant.consumer,
            path.trim_start_matches('/')
        )
    }

    /// Posts a receipt to every relay for everything received from it so far and waits for
    /// the answers: a viewer leaving calls it so its last bytes are acknowledged too.
    pub async fn acknowledge_now(&self) -> Result<(), ViewerError> {
        let mut first_error = None;
        for link in self.links() {
            if let Err(e) = self.acknowledge(&link, true).await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Signs a receipt for everything received from `link`; `post_now` sends it and waits.
    async fn acknowledge(&self, link: &Link, post_now: bool) -> Result<(), ViewerError> {
        let position = *link.position();
        self.acknowledge_position(link, position, post_now).await
    }

    /// Signs a receipt for `position` at `link`; `post_now` sends it and waits.
    async fn acknowledge_position(
        &self,
        link: &Link,
        position: Position,
        post_now: bool,
    ) -> Result<(), ViewerError> {
        let Some(node_key) = position.node_key else {
            return Ok(());
        };
        if position.received == 0 {
            return Ok(());
        }
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
            let url = link
                .target
                .url
                .join(".media/receipt")
                .map_err(|e| ViewerError::Refused {
                    status: StatusCode::BAD_REQUEST,
                    body: e.to_string(),
                })?;
            let sent = self
                .http
                .post(url.clone())
                .body(receipt)
                .timeout(self.failover.stall_timeout)
                .send()
                .await;
            let response = sent.map_err(|source| ViewerError::Http {
                url: url.to_string(),
                source,
            })?;
            // A refused receipt is not an acknowledgement: the caller learns why (a relay
            // that keeps refusing them is left when it next asks for payment).
            let status = response.status();
            if !status.is_success() {
                let body = read_error_body(response, self.failover.stall_timeout).await;
                return Err(ViewerError::Refused { status, body });
            }
        } else {
            let _ = link.acks.send(Some(receipt));
        }
        Ok(())
    }

    /// Learns the relay's epoch and node key from a response; a new epoch counts from 0, and
    /// what the epoch left behind is acknowledged first, so its last bytes are paid (L8).
    async fn observe(&self, link: &Link, response: &reqwest::Response) -> Result<(), ViewerError> {
        let left = observe_headers(link, response)?;
        if let Some(left) = left.filter(|p| p.received > 0) {
            if let Err(e) = self.acknowledge_position(link, left, true).await {
                tracing::debug!(error = %e, "acknowledging the epoch just left failed");
            }
        }
        Ok(())
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

    /// `fetch`, also reporting the object's content type. The transfer moves to another
    /// relay when its relay fails (see `Outcome`), resuming with `Range` from the bytes
    /// written, so no byte is delivered twice and each relay is acknowledged for its own.
    pub async fn download<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        path: &str,
        out: &mut W,
    ) -> Result<Download, ViewerError> {
        let playlist = links::is_playlist(path);
        let mut transfer = Transfer::default();
        // Relays that gave this object a final answer (404, say): not asked again for it.
        let mut answered: Vec<Arc<Link>> = Vec::new();
        let mut last_answer: Option<(StatusCode, String)> = None;
        // Rounds in a row that brought no new byte; a long download cut many times over is
        // fine as long as each round makes progress.
        let mut idle = 0u32;
        let mut last = String::new();
        let mut current: Option<Arc<Link>> = None;
        let mut resume_on: Option<Arc<Link>> = None;
        // Relays that failed since the last new byte.
        let mut failed_here: Vec<Arc<Link>> = Vec::new();
        loop {
            if idle >= MAX_IDLE_ROUNDS {
                return Err(ViewerError::Stuck {
                    attempts: idle,
                    last,
                });
            }
            let links = self.links();
            let now = Instant::now();
            let sticky = if playlist {
                self.playlist_relay
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
            } else {
                None
            };
            // A transfer cut after some bytes, or a 402 answered, goes back to its relay.
            let chosen = match resume_on.take().filter(|l| l.usable(now)) {
                Some(link) => Some(link),
                None => links::choose(
                    &links,
                    &answered,
                    playlist,
                    self.failover.spread,
                    sticky.as_ref(),
                    now,
                ),
            };
            let Some(link) = chosen else {
                // Every relay has answered or failed since the last new byte: that is the
                // download's answer, rather than waiting out their back-offs.
                let tried = |l: &Arc<Link>| {
                    answered
                        .iter()
                        .chain(&failed_here)
                        .any(|a| Arc::ptr_eq(a, l))
                };
                if links.iter().all(tried) {
                    return Err(match last_answer {
                        Some((status, body)) => ViewerError::Refused { status, body },
                        None if links.is_empty() => ViewerError::Refused {
                            status: StatusCode::SERVICE_UNAVAILABLE,
                            body: "no relay to fetch from".into(),
                        },
                        None => ViewerError::Stuck {
                            attempts: idle,
                            last,
                        },
                    });
                }
                // The rest are backed off from earlier downloads: wait for the first to come
                // back (each does within `max_backoff`, and is then tried, so this ends).
                let wake = links
                    .iter()
                    .filter(|l| !tried(l))
                    .filter_map(|l| l.benched_until())
                    .filter(|until| *until > now)
                    .min()
                    .unwrap_or(now + MAX_WAIT);
                tokio::time::sleep(wake.saturating_duration_since(now).min(MAX_WAIT)).await;
                continue;
            };
            if let Some(previous) = current.replace(link.clone()) {
                if !Arc::ptr_eq(&previous, &link) && transfer.written > 0 {
                    self.failovers.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%path, from = %previous.target.url, to = %link.target.url,
                        at = transfer.written, "moved to another relay");
                }
            }
            let before = transfer.written;
            let outcome = self.attempt(&link, path, &mut transfer, out).await?;
            if transfer.written > before {
                idle = 0;
                failed_here.clear();
            } else {
                idle += 1;
            }
            match outcome {
                Outcome::Complete => {
                    use tokio::io::AsyncWriteExt;
                    if playlist {
                        *self
                            .playlist_relay
                            .lock()
                            .unwrap_or_else(|e| e.into_inner()) = Some(link);
                    }
                    out.flush().await?;
                    return Ok(Download {
                        bytes: transfer.written,
                        content_type: transfer.content_type,
                    });
                }
                Outcome::Resume => resume_on = Some(link),
                Outcome::Answered { status, body } => {
                    answered.push(link);
                    last_answer = Some((status, body));
                }
                Outcome::Refused { status, body } => {
                    let backoff = link.failed(&self.failover, Instant::now());
                    tracing::info!(relay = %link.target.url, %path, %status, %body, ?backoff,
                        "leaving a relay");
                    last = format!("{status}: {body}");
                    failed_here.push(link);
                    last_answer = Some((status, body));
                }
                Outcome::Failed(reason) => {
                    let backoff = link.failed(&self.failover, Instant::now());
                    tracing::info!(relay = %link.target.url, %path, %reason, ?backoff,
                        "leaving a relay");
                    last = reason;
                    failed_here.push(link);
                    last_answer = None;
                }
            }
        }
    }

    /// One request for the rest of `path` at `link`, its body written to `out`.
    async fn attempt<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        link: &Arc<Link>,
        path: &str,
        transfer: &mut Transfer,
        out: &mut W,
    ) -> Result<Outcome, ViewerError> {
        use tokio::io::AsyncWriteExt;
        let stall = self.failover.stall_timeout;
        let url = self.url_for(link, path);
        let token = self.token_for_request().await;
        let mut request = self.http.get(&url).header(SESSION_HEADER, &token);
        if transfer.written > 0 {
            request = request.header(RANGE, format!("bytes={}-", transfer.written));
        }
        let started = Instant::now();
        let response = match tokio::time::timeout(stall, request.send()).await {
            Err(_) => return Ok(Outcome::Failed(format!("no answer in {stall:?}"))),
            Ok(Err(e)) => return Ok(Outcome::Failed(e.to_string())),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status == StatusCode::PAYMENT_REQUIRED {
            // Everything received is acknowledged (and the epoch learned) before retrying; a
            // relay that keeps asking without taking the receipts is left.
            transfer.payment_asks += 1;
            if transfer.payment_asks > MAX_PAYMENT_ASKS {
                transfer.payment_asks = 0;
                return Ok(Outcome::Failed(
                    "402 Payment Required again after receipts were posted".into(),
                ));
            }
            if self.observe(link, &response).await.is_ok() {
                if let Err(e) = self.acknowledge(link, true).await {
                    return Ok(Outcome::Failed(e.to_string()));
                }
            }
            return Ok(Outcome::Resume);
        }
        if status == StatusCode::RANGE_NOT_SATISFIABLE && transfer.written > 0 {
            // Complete only if the relay's object is exactly as long as what was written.
            let total = content_range(&response).and_then(|r| r.total);
            return Ok(if total == Some(transfer.written) {
                Outcome::Complete
            } else {
                Outcome::Failed(format!(
                    "416 for an object of {total:?} bytes after {} were written",
                    transfer.written
                ))
            });
        }
        if !status.is_success() {
            let body = read_error_body(response, stall).await;
            return Ok(if leaves_the_relay(status) {
                Outcome::Refused { status, body }
            } else {
                Outcome::Answered { status, body }
            });
        }
        if let Err(e) = self.observe(link, &response).await {
            return Ok(Outcome::Failed(e.to_string()));
        }
        if let Some(expected) = link.target.node_key {
            let answered = response
                .headers()
                .get(NODE_KEY_HEADER)
                .and_then(|v| v.to_str().ok());
            if answered != Some(expected.to_string().as_str()) {
                return Ok(Outcome::Failed(format!(
                    "answered with node key {answered:?}, the chain has {expected}"
                )));
            }
        }
        if transfer.written > 0 {
            if status != StatusCode::PARTIAL_CONTENT {
                // The relay ignored the range: another may not, and none must duplicate bytes.
                return Ok(Outcome::Failed(
                    "answered a range request with the whole object".into(),
                ));
            }
            // The rest must start where the bytes written end, and the object must be as
            // long as the first answer said: no gap, no overlap, no splice of two versions.
            let range = content_range(&response);
            let fits = range.is_some_and(|r| {
                r.start == Some(transfer.written)
                    && (transfer.total.is_none() || r.total == transfer.total)
            });
            if !fits {
                return Ok(Outcome::Failed(format!(
                    "answered bytes={}- with Content-Range {range:?} (total {:?})",
                    transfer.written, transfer.total
                )));
            }
        } else {
            transfer.total = response.content_length();
        }
        if transfer.content_type.is_none() {
            transfer.content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(String::from);
        }
        let mut since_ack = 0u64;
        let mut here = 0u64;
        let mut body = response.bytes_stream();
        // Bytes since `window` began: a window as long as the stall timeout must carry at
        // least the minimum rate.
        let (mut window, mut in_window) = (Instant::now(), 0u64);
        let ended = loop {
            let chunk = match tokio::time::timeout(stall, body.next()).await {
                Err(_) => break End::Stalled(format!("no byte in {stall:?}")),
                Ok(None) => break End::Complete,
                Ok(Some(Err(e))) => break End::Cut(e.to_string()),
                Ok(Some(Ok(chunk))) => chunk,
            };
            out.write_all(&chunk).await?;
            let n = chunk.len() as u64;
            transfer.written += n;
            here += n;
            since_ack += n;
            link.position().received += n;
            if since_ack >= self.ack_every {
                since_ack = 0;
                self.acknowledge(link, false).await?;
            }
            in_window += n;
            let elapsed = window.elapsed();
            if elapsed >= stall {
                if self.failover.too_slow(in_window, elapsed) {
                    break End::Stalled(format!(
                        "{in_window} bytes in {elapsed:?}, under {} bytes/s",
                        self.failover.min_bytes_per_sec
                    ));
                }
                (window, in_window) = (Instant::now(), 0);
            }
        };
        self.acknowledge(link, false).await?;
        if here > 0 {
            transfer.payment_asks = 0;
        }
        Ok(match ended {
            End::Complete => {
                link.delivered(here, started.elapsed());
                Outcome::Complete
            }
            // Cut after some bytes: the relay's credit window, most likely; ask it again (a
            // relay that is gone then fails to connect and is left).
            End::Cut(_) if here > 0 => {
                link.received_before_failing(here);
                Outcome::Resume
            }
            End::Cut(reason) => Outcome::Failed(reason),
            End::Stalled(reason) => {
                link.received_before_failing(here);
                Outcome::Failed(reason)
            }
        })
    }
}

/// Rounds in a row without a new byte before a download gives up.
const MAX_IDLE_ROUNDS: u32 = 20;
/// 402s in a row, each answered with a receipt, before the relay is left.
const MAX_PAYMENT_ASKS: u32 = 2;
/// The longest a download waits for a backed-off relay before looking again.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// The most of an error body a viewer reads.
const MAX_ERROR_BODY: usize = 4 << 10;
/// How long reading a gateway's error answer may take.
const GATEWAY_ERROR_READ: Duration = Duration::from_secs(10);

/// Where one download stands.
#[derive(Default)]
struct Transfer {
    written: u64,
    /// The object's length as the first answer gave it.
    total: Option<u64>,
    content_type: Option<String>,
    payment_asks: u32,
}

/// How one request to one relay ended.
enum Outcome {
    /// The object is complete.
    Complete,
    /// Bytes came and the connection was cut, or a 402 was answered: ask the relay again.
    Resume,
    /// The relay's final word on this object (404, 401, ...): not asked again for it.
    Answered { status: StatusCode, body: String },
    /// The relay cannot serve now (403, 408, 429, 5xx): backed off, the next one asked.
    Refused { status: StatusCode, body: String },
    /// The relay failed (error, stall, wrong node key, a 402 loop): backed off.
    Failed(String),
}

/// A `Content-Range` header: `bytes start-end/total` or `bytes */total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ContentRange {
    start: Option<u64>,
    total: Option<u64>,
}

fn content_range(response: &reqwest::Response) -> Option<ContentRange> {
    let value = response
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    parse_content_range(value)
}

fn parse_content_range(value: &str) -> Option<ContentRange> {
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let total = (total != "*").then(|| total.parse().ok()).flatten();
    let start = match range {
        "*" => None,
        range => Some(range.split_once('-')?.0.parse().ok()?),
    };
    Some(ContentRange { start, total })
}

/// How a response body ended.
enum End {
    Complete,
    /// The connection failed.
    Cut(String),
    /// No byte came within the stall timeout.
    Stalled(String),
}

/// Whether a refusal says the relay cannot serve now (the next relay may) rather than
/// something about the object or the session.
fn leaves_the_relay(status: StatusCode) -> bool {
    status == StatusCode::FORBIDDEN
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// Up to `MAX_ERROR_BODY` of an error answer, within `timeout`.
async fn read_error_body(mut response: reqwest::Response, timeout: Duration) -> String {
    let read = async {
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            body.extend_from_slice(&chunk);
            if body.len() >= MAX_ERROR_BODY {
                body.truncate(MAX_ERROR_BODY);
                break;
            }
        }
        String::from_utf8_lossy(&body).into_owned()
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_default()
}

/// The position update of `observe`; returns the position of the epoch it left, if any.
fn observe_headers(
    link: &Link,
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
    let mut position = link.position();
    if link.target.node_key.is_none() {
        if let Ok(key) = header(NODE_KEY_HEADER).map(Pubkey::from_str) {
            position.node_key = key.ok();
        }
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

#[cfg(test)]
mod tests {
    use super::{parse_content_range, ContentRange};

    #[test]
    fn content_ranges_parse_and_nonsense_does_not() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some(ContentRange {
                start: Some(100),
                total: Some(1000)
            })
        );
        assert_eq!(
            parse_content_range("bytes */1000"),
            Some(ContentRange {
                start: None,
                total: Some(1000)
            })
        );
        assert_eq!(
            parse_content_range("bytes 5-9/*"),
            Some(ContentRange {
                start: Some(5),
                total: None
            })
        );
        for bad in ["", "bytes", "items 1-2/3", "bytes x-2/3", "bytes 1-2"] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
