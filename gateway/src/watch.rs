//! The watch page: `/watch/<stream>` is a plain page with the browser player
//! (`web/src`, bundled with hls.js into `web/dist/player.js` by `npm run build:web`), which
//! takes a session from this gateway and plays the stream through the relays.
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use media_service::settings::is_path_name;
use sha2::{Digest, Sha256};
use std::sync::{Arc, LazyLock};

const PAGE: &str = include_str!("../../web/watch.html");
const PLAYER: &[u8] = include_bytes!("../../web/dist/player.js");
/// The page runs only its own script; it fetches from any relay (they are on other hosts)
/// and hls.js runs its transmuxer in a worker made from a blob.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'unsafe-inline'; connect-src *; media-src 'self' blob:; worker-src blob:; \
    img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The script's URL carries a hash of its bytes, so a browser may keep it for good and a
/// new gateway's page never runs an old script.
static PLAYER_VERSION: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(PLAYER);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
});

pub fn player_url() -> String {
    format!("/watch/player.js?v={}", *PLAYER_VERSION)
}

/// JSON inside a `<script>` element: `<`, `>` and `&` escaped so no text ends it early.
fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The page for `stream`, naming `relays` for when the chain lists none.
pub fn page(stream: &str, relays: &[url::Url]) -> Option<String> {
    // Stream names are path components of the ingest's layout.
    if !is_path_name(stream) {
        return None;
    }
    let config = serde_json::json!({
        "gateway": "/",
        "stream": stream,
        "playlist": format!("live/{stream}/master.m3u8"),
        "relays": relays.iter().map(|u| u.as_str().trim_end_matches('/')).collect::<Vec<_>>(),
    });
    Some(
        PAGE.replace("{{STREAM}}", stream)
            .replace("{{PLAYER}}", &player_url())
            .replace("{{CONFIG}}", &script_json(&config)),
    )
}

pub async fn watch(
    State(gateway): State<Arc<crate::server::Gateway>>,
    Path(stream): Path<String>,
) -> Response {
    let Some(page) = page(&stream, &gateway.watch_relays) else {
        return (StatusCode::NOT_FOUND, "no such stream name").into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        page,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
pub struct PlayerQuery {
    v: Option<String>,
}

pub async fn player(axum::extract::Query(query): axum::extract::Query<PlayerQuery>) -> Response {
    // The versioned URL never changes content; the bare one (or an old version) may.
    let cache = if query.v.as_deref() == Some(PLAYER_VERSION.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        PLAYER,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_its_stream_and_relays_and_nothing_escapes_the_script() {
        let relays = [url::Url::parse("http://127.0.0.1:9000/").unwrap()];
        let page = page("main", &relays).unwrap();
        assert!(page.contains("<title>main · Media Network</title>"));
        assert!(page.contains(
            r#"{"gateway":"/","playlist":"live/main/master.m3u8","relays":["http://127.0.0.1:9000"],"stream":"main"}"#
        ));
        assert!(page.contains(&format!(r#"<script src="{}"></script>"#, player_url())));
        assert_eq!(PLAYER_VERSION.len(), 16);
        for refused in ["", "../x", "a b", "<script>", &"x".repeat(65)] {
            assert_eq!(super::page(refused, &relays), None, "{refused}");
        }
        let hostile = serde_json::json!({"relay": "</script><script>alert(1)</script>&"});
        assert!(!script_json(&hostile).contains('<'));
        assert!(!script_json(&hostile).contains('&'));
    }

    #[test]
    fn the_player_is_bundled() {
        assert!(PLAYER.len() > 100_000, "web/dist/player.js holds hls.js");
    }

    #[tokio::test]
    async fn only_the_versioned_script_url_is_cached_for_good() {
        let versioned = PlayerQuery {
            v: Some(PLAYER_VERSION.clone()),
        };
        let stale = PlayerQuery {
            v: Some("0000000000000000".into()),
        };
        for (query, cache) in [
            (versioned, "public, max-age=31536000, immutable"),
            (stale, "no-cache"),
            (PlayerQuery { v: None }, "no-cache"),
        ] {
            let answer = player(axum::extract::Query(query)).await;
            assert_eq!(answer.headers()[header::CACHE_CONTROL], cache);
        }
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }
}
