//! The built-in origin relays fetch from: `GET /live/<stream>/…` serves the layout's files
//! and nothing else, playlists short-lived (players poll them), segments long-lived (their
//! names are never reused while the stream's directory lives); `/health` and `/metrics` for
//! operators.
use crate::layout::{FileKind, StreamDir};
use crate::Ingest;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

/// A segment larger than this is not served (a 2 s segment at 50 Mb/s is 12.5 MB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
pub const PLAYLIST_CACHE_CONTROL: &str = "public, max-age=1";
pub const SEGMENT_CACHE_CONTROL: &str = "public, max-age=600";

pub fn router(ingest: Arc<Ingest>) -> Router {
    Router::new()
        .route("/live/{stream}/{*rest}", get(file))
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .with_state(ingest)
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "not found"})),
    )
        .into_response()
}

async fn file(
    State(ingest): State<Arc<Ingest>>,
    Path((stream, rest)): Path<(String, String)>,
) -> Response {
    if !ingest.streams.is_configured(&stream) {
        return not_found();
    }
    let dir = StreamDir::new(&ingest.config.dir, &stream);
    let Some((path, kind)) = dir.file(&rest, &ingest.rendition_names()) else {
        return not_found();
    };
    // Opened once, sized from the open file: the cleaner may delete the name meanwhile, and
    // the body streams from the handle without holding the whole file in memory.
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return not_found(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "opening a file");
            return (StatusCode::INTERNAL_SERVER_ERROR, "read failed").into_response();
        }
    };
    let size = match file.metadata().await {
        Ok(meta) if meta.is_file() => meta.len(),
        _ => return not_found(),
    };
    if size > MAX_FILE_BYTES {
        tracing::warn!(path = %path.display(), size, "file over the origin's limit");
        return (StatusCode::INTERNAL_SERVER_ERROR, "file too large").into_response();
    }
    let body = Body::from_stream(ReaderStream::new(file.take(size)));
    let (content_type, cache) = match kind {
        FileKind::Playlist => ("application/vnd.apple.mpegurl", PLAYLIST_CACHE_CONTROL),
        FileKind::Segment => ("video/mp2t", SEGMENT_CACHE_CONTROL),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (header::CONTENT_LENGTH, HeaderValue::from(size)),
        ],
        body,
    )
        .into_response()
}

async fn health(State(ingest): State<Arc<Ingest>>) -> Response {
    Json(serde_json::json!({
        "status": "ok",
        "streams": ingest.streams.status(),
        "renditions": ingest.rendition_names(),
    }))
    .into_response()
}

async fn metrics_text(State(ingest): State<Arc<Ingest>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        ingest.metrics.render(),
    )
        .into_response()
}
