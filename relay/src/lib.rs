//! media-relay: an HTTP reverse proxy and cache in front of consumers' origins, metered by
//! viewer receipts (PROTOCOL.md §5 and §9), and the viewer client library.
//!
//! - `origin`: fetching from an origin; `cache`: byte-budgeted LRU with collapsing and
//!   freshness; `metering`: sessions, credit window, viewer receipts; `chain`: the on-chain
//!   view and lanes; `server`: the HTTP routes; `viewer`: the client side.
pub mod cache;
pub mod chain;
pub mod config;
pub mod metering;
pub mod origin;
pub mod server;
pub mod viewer;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// The process's Prometheus recorder, installed on first use (one per process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding process); ours then
            // renders an empty page rather than failing the relay.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
