//! A local HTTP proxy for stock players (ffmpeg, VLC, a browser's address bar): each `GET`
//! is fetched through a relay by a [`Viewer`], receipts and all. It answers only requests
//! addressed to this machine and not made by another site's page (review I3).
use crate::{Viewer, ViewerError};
use std::sync::Arc;

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
                // The proxy's origin is this machine: whatever the relay serves must not run as
                // a page of it (its scripts' requests would pass as same-origin).
                (
                    [
                        (header::CONTENT_TYPE, content_type),
                        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                        (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
                    ],
                    body,
                )
                    .into_response()
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
