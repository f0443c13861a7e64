//! The embedded localnet: a Solana JSON-RPC endpoint whose ledger is a solana-program-test
//! bank running media-network and media-governance natively (plus the real SPL programs that
//! program-test bundles), so the CLI, keeper and relay run unchanged on a machine without the
//! Solana toolchain.
pub mod chain;
pub mod programs;
pub mod rpc;

pub use chain::Chain;

use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// Serves the JSON-RPC endpoint on `listener` until `shutdown` completes (then drains the
/// requests under way) or the server fails, with the header-read and idle timeouts and the
/// connection limit every service has.
pub async fn serve(
    listener: TcpListener,
    chain: Chain,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    media_service::http::serve(
        listener,
        rpc::router(Arc::new(Mutex::new(chain))),
        media_service::http::ServerLimits::default(),
        shutdown,
    )
    .await
}
