//! A switchable TCP link for outage and latency tests.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TCP forwarder that can be cut or slowed: while down it refuses new connections and drops
/// the open ones; with a delay, every chunk coming back from upstream waits that long first.
/// Tests put it between a service and its RPC endpoint, gateway or keeper, or in front of a
/// relay.
pub struct Link {
    pub url: String,
    up: tokio::sync::watch::Sender<bool>,
    delay_us: Arc<AtomicU64>,
}

impl Link {
    pub async fn to(upstream: &str) -> Link {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (up, watch) = tokio::sync::watch::channel(true);
        let delay_us = Arc::new(AtomicU64::new(0));
        let delay = delay_us.clone();
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !*watch.borrow() {
                    continue;
                }
                let upstream = upstream.clone();
                let mut watch = watch.clone();
                let delay = delay.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut in_read, mut in_write) = inbound.into_split();
                    let (mut out_read, mut out_write) = outbound.into_split();
                    let requests = async {
                        tokio::io::copy(&mut in_read, &mut out_write).await?;
                        out_write.shutdown().await
                    };
                    let answers = async {
                        let mut chunk = vec![0u8; 16 << 10];
                        loop {
                            let n = out_read.read(&mut chunk).await?;
                            if n == 0 {
                                return in_write.shutdown().await;
                            }
                            let wait = delay.load(Ordering::Relaxed);
                            if wait > 0 {
                                tokio::time::sleep(Duration::from_micros(wait)).await;
                            }
                            in_write.write_all(&chunk[..n]).await?;
                        }
                    };
                    tokio::select! {
                        _ = async { tokio::join!(requests, answers) } => {}
                        _ = watch.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Link { url, up, delay_us }
    }

    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }

    /// Every chunk (at most 16 KiB) from upstream waits `delay` before it is passed on.
    pub fn set_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.delay_us.store(micros, Ordering::Relaxed);
    }
}
