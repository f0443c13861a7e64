//! The embedded localnet: a Solana JSON-RPC endpoint whose ledger is a solana-program-test
//! bank running media-network and media-governance natively (plus the real SPL programs that
//! program-test bundles), so the CLI, keeper and relay run unchanged on a machine without the
//! Solana toolchain.
pub mod accounts;
pub mod chain;
pub mod history;
pub mod ledger;
pub mod programs;
pub mod pubsub;
pub mod rpc;

pub use chain::{Chain, ChainOptions};

use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// How long PubSub connections may take to close at shutdown.
pub const PUBSUB_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the JSON-RPC endpoint on `listener`, and PubSub (WebSocket) on `pubsub` when given,
/// until `shutdown` completes (then drains the requests under way) or a server fails. JSON-RPC
/// has the header-read and idle timeouts and the connection limit every service has; PubSub
/// has its own bounds (`pubsub`) and `PUBSUB_SHUTDOWN_GRACE`.
pub async fn serve(
    listener: TcpListener,
    pubsub: Option<TcpListener>,
    chain: Chain,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slot_duration = chain.slot_duration();
    let chain = Arc::new(Mutex::new(chain));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stopping = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let rpc = media_service::http::serve(
        listener,
        rpc::router(chain.clone()),
        media_service::http::ServerLimits::default(),
        stopping(),
    );
    let websocket = async {
        match pubsub {
            // Upgraded sockets outlive their HTTP connection: the router closes them itself.
            // A connection still half-way through its request at shutdown gets the grace
            // period, then is dropped.
            Some(listener) => {
                let server = axum::serve(listener, pubsub::router(chain.clone(), stop.subscribe()))
                    .with_graceful_shutdown(stopping());
                let grace = async {
                    stopping().await;
                    tokio::time::sleep(PUBSUB_SHUTDOWN_GRACE).await;
                };
                tokio::select! {
                    served = server => served,
                    () = grace => Ok(()),
                }
            }
            None => {
                stopping().await;
                Ok(())
            }
        }
    };
    // The cluster clock: slots (and PubSub's slot and root notifications) move on with wall
    // time, with or without requests.
    let clock = {
        let chain = chain.clone();
        let stopped = stopping();
        async move {
            let mut ticks = tokio::time::interval(slot_duration);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            tokio::pin!(stopped);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {
                        chain.lock().await.slot().await;
                    }
                    () = &mut stopped => return Ok::<(), std::io::Error>(()),
                }
            }
        }
    };
    let servers = async { tokio::try_join!(rpc, websocket, clock).map(|_| ()) };
    tokio::pin!(servers);
    tokio::select! {
        result = &mut servers => result,
        () = shutdown => {
            stop.send_replace(true);
            servers.await
        }
    }
}
