//! The viewer side: a fresh session key, a session token from the consumer's gateway, and
//! downloads through a relay that acknowledge body bytes as they arrive (viewer receipts
//! posted in the background, so the relay's credit window never runs dry), resuming with a
//! Range request after a 402 or a cut connection.
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
                .saturating_sub(crate::server::unix_now())
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

/// Whether a request's `Host` names this machine as a player would (`localhost`, or an IP
/// address with any port) rather than some web site's domain. A page that rebinds its own
/// domain to 127.0.0.1 sends its domain as Host, so it cannot spend the viewer's session
/// through the proxy (review I3).
pub fn host_is_not_a_foreign_name(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        // "[::1]:8081", "127.0.0.1:8081", "localhost:8081"; a bare IPv6 literal has colons too.
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// Whether a browser says the request comes from a page of another site (`Sec-Fetch-Site`
/// `cross-site` or `same-site`, or an `Origin` that is not local). Players and a URL typed in
/// the address bar send none of that (or `none`/`same-origin`); a page elsewhere that makes
/// the viewer's browser fetch through the proxy would spend the viewer's session (review I3).
pub fn sent_by_a_foreign_page(headers: &axum::http::HeaderMap) -> bool {
    let value = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("?"));
    let foreign_site =
        value("sec-fetch-site").is_some_and(|site| !matches!(site, "none" | "same-origin"));
    let foreign_origin = value("origin").is_some_and(|origin| {
        let host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        !host.is_some_and(host_is_not_a_foreign_name)
    });
    foreign_site || foreign_origin
}

/// The most the player proxy buffers for one object; larger ones are cut with 502 (fetch them
/// with `media fetch`). HLS and DASH segments are a few MiB.
pub const MAX_PROXIED_OBJECT_BYTES: usize = 256 << 20;

/// A buffer that refuses to grow past its limit, so one huge object cannot exhaust memory.
struct BoundedBuffer {
    bytes: Vec<u8>,
    limit: usize,
}

impl tokio::io::AsyncWrite for BoundedBuffer {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.bytes.len().saturating_add(data.len()) > this.limit {
            return std::task::Poll::Ready(Err(std::io::Error::other(format!(
                "the object is larger than the player proxy buffers ({} bytes)",
                this.limit
            ))));
        }
        this.bytes.extend_from_slice(data);
        std::task::Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A local HTTP proxy for stock players (ffmpeg, VLC, a browser): `GET /{path}` is fetched
/// through the relay with the viewer's session, receipts and all, and returned whole (up to
/// `MAX_PROXIED_OBJECT_BYTES`). It answers only requests addressed to this machine and not
/// made by another site's page.
pub fn player_proxy(viewer: Arc<Viewer>) -> axum::Router {
    use axum::extract::{Path, State};
    use axum::http::{header, StatusCode as Status};
    use axum::response::{IntoResponse, Response};

    async fn serve(
        State(viewer): State<Arc<Viewer>>,
        Path(path): Path<String>,
        headers: axum::http::HeaderMap,
    ) -> Response {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        if !host.is_some_and(host_is_not_a_foreign_name) {
            return (
                Status::FORBIDDEN,
                "the player proxy answers requests addressed to localhost or an IP address only",
            )
                .into_response();
        }
        if sent_by_a_foreign_page(&headers) {
            return (
                Status::FORBIDDEN,
                "the player proxy does not answer requests made by another site's page",
            )
                .into_response();
        }
        let mut body = BoundedBuffer {
            bytes: Vec::new(),
            limit: MAX_PROXIED_OBJECT_BYTES,
        };
        match viewer.download(&path, &mut body).await {
            Ok(download) => {
                let body = body.bytes;
                let content_type = download
                    .content_type
                    .unwrap_or_else(|| "application/octet-stream".into());
                ([(header::CONTENT_TYPE, content_type)], body).into_response()
            }
            Err(ViewerError::Refused { status, body }) => {
                let status = Status::from_u16(status.as_u16()).unwrap_or(Status::BAD_GATEWAY);
                (status, body).into_response()
            }
            Err(e) => {
                tracing::warn!(%path, error = %e, "proxy fetch failed");
                (Status::BAD_GATEWAY, e.to_string()).into_response()
            }
        }
    }

    axum::Router::new()
        .route("/{*path}", axum::routing::get(serve))
        .with_state(viewer)
}

#[cfg(test)]
mod tests {
    use super::{host_is_not_a_foreign_name, sent_by_a_foreign_page, BoundedBuffer};

    /// I3: the player proxy answers to localhost and IP addresses, not to a web site's name
    /// that was rebound to 127.0.0.1.
    #[test]
    fn i3_only_local_names_and_addresses_reach_the_player_proxy() {
        for ok in [
            "localhost",
            "LOCALHOST:8081",
            "127.0.0.1:8081",
            "127.0.0.1",
            "[::1]:8081",
            "::1",
            "192.168.1.20:8081",
        ] {
            assert!(host_is_not_a_foreign_name(ok), "{ok}");
        }
        for refused in [
            "evil.example:8081",
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8081",
            "",
        ] {
            assert!(!host_is_not_a_foreign_name(refused), "{refused}");
        }
    }

    /// I3: a page of another site cannot make the viewer's browser fetch through the proxy;
    /// players and a URL typed in the address bar can.
    #[test]
    fn i3_requests_made_by_another_sites_page_are_refused() {
        use axum::http::HeaderMap;
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, value.parse().unwrap());
            }
            headers
        };
        for allowed in [
            with(&[]),
            with(&[("sec-fetch-site", "none")]),
            with(&[
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:8081"),
            ]),
            with(&[("origin", "http://localhost:8081")]),
        ] {
            assert!(!sent_by_a_foreign_page(&allowed), "{allowed:?}");
        }
        for refused in [
            with(&[("sec-fetch-site", "cross-site")]),
            with(&[("sec-fetch-site", "same-site")]),
            with(&[("origin", "https://evil.example")]),
            with(&[("origin", "null")]),
        ] {
            assert!(sent_by_a_foreign_page(&refused), "{refused:?}");
        }
    }

    /// I3: the proxy's buffer stops at its limit instead of growing with the object.
    #[tokio::test]
    async fn i3_the_proxy_buffer_is_bounded() {
        use tokio::io::AsyncWriteExt;
        let mut buffer = BoundedBuffer {
            bytes: Vec::new(),
            limit: 10,
        };
        buffer.write_all(&[1; 8]).await.unwrap();
        let refused = buffer.write_all(&[2; 3]).await.unwrap_err();
        assert!(refused.to_string().contains("larger"), "{refused}");
        assert_eq!(buffer.bytes.len(), 8);
    }
}
