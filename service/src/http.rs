//! The HTTP/1.1 server every Media Network service listens with. `axum::serve` runs hyper with
//! no timer, so hyper's header-read timeout is off, and nothing bounds idle or slow-reading
//! connections or their number (review M4: a slowloris client, or one that stops reading a
//! large response, holds a socket and its buffers for ever). This server adds:
//! - a header-read timeout (hyper's own, with a Tokio timer);
//! - an idle timeout on the socket: a connection on which neither a read nor a write makes
//!   progress for `idle_timeout` is closed, whatever hyper is waiting for;
//! - a limit on open connections: once reached, the listener stops accepting until one
//!   closes (the kernel's backlog holds the rest), so file descriptors cannot run out;
//! - graceful shutdown that waits at most `shutdown_grace` for open connections.
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// What one listener allows each connection and all of them together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// A request's head must arrive completely within this time.
    pub header_read_timeout: Duration,
    /// A connection with no read or write progress for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// How long shutdown waits for open connections to finish.
    pub shutdown_grace: Duration,
    /// Serve connections on this many threads of their own, each a single-threaded runtime
    /// that serves its connections start to finish (nginx's workers, in effect: no request
    /// wakes another thread). 0: on the caller's runtime.
    pub threads: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4_096,
            shutdown_grace: Duration::from_secs(10),
            threads: 0,
        }
    }
}

/// Raises this process's soft limit on open descriptors to its hard limit (at most 2^20), as
/// nginx's `worker_rlimit_nofile` does: a shell's default soft limit of 1,024 would otherwise
/// cap a server below its `max_connections` (4,096 by default) with `EMFILE` on accept.
/// Returns the soft limit in force afterwards.
#[cfg(unix)]
pub fn raise_descriptor_limit() -> std::io::Result<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    let wanted = limit.maximum.unwrap_or(u64::MAX).min(1 << 20);
    if limit.current.is_some_and(|current| current < wanted) {
        limit.current = Some(wanted);
        setrlimit(Resource::Nofile, limit)?;
    }
    Ok(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open connections
/// finish for at most `limits.shutdown_grace`. Handlers can read the peer's address with
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut workers = Workers::start(limits, &router, &http)?;
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let accepted = Accepted {
            peer,
            permit,
            watcher: graceful.watcher(),
        };
        match workers.as_mut() {
            Some(workers) => workers.hand_over(stream, accepted),
            None => {
                tokio::spawn(accepted.serve(stream, &router, &http, limits.idle_timeout));
            }
        }
    }
    drop(listener);
    // The workers see their channels close and wait for their connections, which the
    // graceful shutdown now tells to finish.
    let threads = workers.map(Workers::close).unwrap_or_default();
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?limits.shutdown_grace,
            "connections still open at shutdown were dropped"
        );
    }
    let _ = tokio::task::spawn_blocking(move || {
        for thread in threads {
            let _ = thread.join();
        }
    })
    .await;
    Ok(())
}

/// A connection accepted, with what it holds while it is served.
struct Accepted {
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    watcher: hyper_util::server::graceful::Watcher,
}

impl Accepted {
    /// Serves the connection to its end (or the graceful shutdown's).
    fn serve(
        self,
        stream: tokio::net::TcpStream,
        router: &Router,
        http: &Http1,
        idle_timeout: Duration,
    ) -> impl Future<Output = ()> + Send + 'static {
        let peer = self.peer;
        let service = router.clone().map_request(
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        );
        let io = TokioIo::new(IdleTimeout::new(stream, idle_timeout));
        let connection = self
            .watcher
            .watch(http.serve_connection(io, TowerToHyperService::new(service)));
        let permit = self.permit;
        async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        }
    }
}

type Http1 = hyper::server::conn::http1::Builder;

/// The threads that serve connections when `ServerLimits::threads` asks for them: the accept
/// loop hands each new connection to the next one in turn.
struct Workers {
    senders: Vec<tokio::sync::mpsc::UnboundedSender<(std::net::TcpStream, Accepted)>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    next: usize,
}

impl Workers {
    fn start(limits: ServerLimits, router: &Router, http: &Http1) -> io::Result<Option<Workers>> {
        if limits.threads == 0 {
            return Ok(None);
        }
        let mut workers = Workers {
            senders: Vec::new(),
            threads: Vec::new(),
            next: 0,
        };
        for n in 0..limits.threads {
            let (sender, mut handed) =
                tokio::sync::mpsc::unbounded_channel::<(std::net::TcpStream, Accepted)>();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (router, http) = (router.clone(), http.clone());
            let thread = std::thread::Builder::new()
                .name(format!("http-{n}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        let mut connections = tokio::task::JoinSet::new();
                        while let Some((stream, accepted)) = handed.recv().await {
                            while connections.try_join_next().is_some() {}
                            // Registered with this thread's reactor: its events wake only it.
                            match tokio::net::TcpStream::from_std(stream) {
                                Ok(stream) => {
                                    connections.spawn(accepted.serve(
                                        stream,
                                        &router,
                                        &http,
                                        limits.idle_timeout,
                                    ));
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "taking over a connection failed")
                                }
                            }
                        }
                        let grace = limits.shutdown_grace + Duration::from_secs(1);
                        let _ = tokio::time::timeout(grace, async {
                            while connections.join_next().await.is_some() {}
                        })
                        .await;
                    })
                })?;
            workers.senders.push(sender);
            workers.threads.push(thread);
        }
        Ok(Some(workers))
    }

    fn hand_over(&mut self, stream: tokio::net::TcpStream, accepted: Accepted) {
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "handing over a connection failed");
                return;
            }
        };
        let at = self.next % self.senders.len();
        self.next = self.next.wrapping_add(1);
        if self.senders[at].send((stream, accepted)).is_err() {
            tracing::warn!(
                thread = at,
                "an HTTP thread has stopped; connection dropped"
            );
        }
    }

    fn close(self) -> Vec<std::thread::JoinHandle<()>> {
        drop(self.senders);
        self.threads
    }
}

/// A socket that fails with `TimedOut` once neither reading nor writing has made progress for
/// `limit`, so a peer that stops sending or stops reading cannot hold it open.
///
/// Progress only records the time; the timer is moved when it fires early, so a busy
/// connection costs no timer-wheel update per read or write. Vectored writes pass through,
/// so hyper writes a body's `Bytes` beside its headers instead of copying them into its buffer.
pub struct IdleTimeout<T> {
    inner: T,
    limit: Duration,
    last_progress: Instant,
    deadline: Pin<Box<Sleep>>,
}

impl<T> IdleTimeout<T> {
    pub fn new(inner: T, limit: Duration) -> Self {
        IdleTimeout {
            inner,
            limit,
            last_progress: Instant::now(),
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }

    fn progressed(&mut self) {
        self.last_progress = Instant::now();
    }

    /// While the socket waits, whether the idle limit has passed (registering the waker).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.deadline.as_mut().poll(cx).is_pending() {
                return false;
            }
            let due = self.last_progress + self.limit;
            if Instant::now() >= due {
                return true;
            }
            // There was progress since the timer was set: wait out the rest from it.
            self.deadline.as_mut().reset(due);
        }
    }

    fn wrote(
        &mut self,
        result: Poll<io::Result<usize>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        match result {
            Poll::Ready(Ok(written)) => {
                if written > 0 {
                    self.progressed();
                }
                Poll::Ready(Ok(written))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn idle_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long")
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, data);
        this.wrote(result, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, data);
        this.wrote(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(idle_error())),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Served on two threads of their own: answered, the peer seen, the limit on connections
    /// held, and shutdown waits for an answer under way.
    #[tokio::test]
    async fn connections_served_on_threads_of_their_own() {
        let limits = ServerLimits {
            threads: 2,
            max_connections: 2,
            idle_timeout: Duration::from_millis(800),
            ..ServerLimits::default()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new()
            .route("/", get(|| async { "ok" }))
            .route(
                "/thread",
                get(|| async { std::thread::current().name().unwrap_or("").to_string() }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    "slow"
                }),
            );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router, limits, async {
            let _ = stopped.await;
        }));
        let mut threads = std::collections::BTreeSet::new();
        for _ in 0..4 {
            let answer = get_path(addr, "/thread").await;
            threads.insert(answer.lines().last().unwrap_or("").to_string());
        }
        assert_eq!(
            threads.into_iter().collect::<Vec<_>>(),
            ["http-0", "http-1"],
            "connections go to both threads in turn"
        );
        a_third_connection_waits_for_a_free_slot(addr).await;
        let slow = tokio::spawn(async move { get_path(addr, "/slow").await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).unwrap();
        assert!(slow.await.unwrap().ends_with("slow"), "finished, not cut");
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("shutdown ends")
            .unwrap()
            .unwrap();
    }

    async fn start(limits: ServerLimits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route("/", get(|| async { "ok" })).route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, router, limits, async {
            let _ = stopped.await;
        }));
        (addr, stop)
    }

    async fn get_path(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        answer
    }

    /// Reads until the server closes the connection; returns how long that took.
    async fn time_to_close(mut s: impl AsyncRead + Unpin) -> Duration {
        let started = std::time::Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
                Ok(Ok(_)) => continue,
                Err(_) => panic!("the server kept the connection open"),
            }
        }
    }

    #[tokio::test]
    async fn requests_are_served_and_see_their_peer() {
        let (addr, _stop) = start(ServerLimits::default()).await;
        assert!(get_path(addr, "/").await.ends_with("ok"));
        assert!(get_path(addr, "/peer").await.contains("127.0.0.1:"));
    }

    /// M4: a client that trickles its request head is cut at the header-read timeout even
    /// though every byte it sends is progress for the idle timer.
    #[tokio::test]
    async fn m4_a_slowloris_client_is_cut_at_the_header_read_timeout() {
        let limits = ServerLimits {
            header_read_timeout: Duration::from_millis(600),
            idle_timeout: Duration::from_secs(30),
            ..ServerLimits::default()
        };
        let (addr, _stop) = start(limits).await;
        let (read, mut write) = TcpStream::connect(addr).await.unwrap().into_split();
        tokio::spawn(async move {
            if write
                .write_all(b"GET / HTTP/1.1\r\nX-Slow: ")
                .await
                .is_err()
            {
                return;
            }
            for _ in 0..300 {
                if write.write_all(b"a").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let waited = time_to_close(read).await;
        assert!(waited < Duration::from_secs(10), "took {waited:?}");
    }

    /// M4: a connection that sends nothing at all is closed after the idle timeout.
    #[tokio::test]
    async fn m4_an_idle_connection_is_closed() {
        let limits = ServerLimits {
            idle_timeout: Duration::from_millis(500),
            ..ServerLimits::default()
        };
        let (addr, _stop) = start(limits).await;
        let s = TcpStream::connect(addr).await.unwrap();
        let waited = time_to_close(s).await;
        assert!(waited < Duration::from_secs(10), "took {waited:?}");
    }

    /// M4: with the connection limit reached, a new client waits; once a connection closes
    /// it is served.
    #[tokio::test]
    async fn m4_connections_beyond_the_limit_wait_for_a_free_slot() {
        let limits = ServerLimits {
            max_connections: 2,
            idle_timeout: Duration::from_millis(800),
            ..ServerLimits::default()
        };
        let (addr, _stop) = start(limits).await;
        a_third_connection_waits_for_a_free_slot(addr).await;
    }

    /// With two connections open and silent at a limit of two, a third is served only once
    /// they reach the idle timeout.
    async fn a_third_connection_waits_for_a_free_slot(addr: SocketAddr) {
        let held = [
            TcpStream::connect(addr).await.unwrap(),
            TcpStream::connect(addr).await.unwrap(),
        ];
        tokio::time::sleep(Duration::from_millis(100)).await;
        let third = tokio::spawn(async move { get_path(addr, "/").await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !third.is_finished(),
            "a third connection was served at once"
        );
        // The two silent connections hit the idle timeout; then the third is served.
        let answer = tokio::time::timeout(Duration::from_secs(10), third)
            .await
            .expect("the waiting client was never served")
            .unwrap();
        assert!(answer.ends_with("ok"));
        drop(held);
    }

    #[tokio::test]
    async fn the_idle_timeout_keeps_vectored_writes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        // Without this hyper copies every body into its own buffer before writing it.
        assert!(IdleTimeout::new(client, Duration::from_secs(1)).is_write_vectored());
    }

    #[cfg(unix)]
    #[test]
    fn the_descriptor_limit_is_raised_to_the_hard_limit() {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let original = getrlimit(Resource::Nofile);
        let hard = original.maximum.unwrap_or(u64::MAX);
        // Lowered first (a process may always lower its soft limit), so the raise is seen.
        let lowered = Rlimit {
            current: Some(hard.min(512)),
            maximum: original.maximum,
        };
        setrlimit(Resource::Nofile, lowered).unwrap();
        let raised = raise_descriptor_limit().unwrap();
        assert_eq!(raised, hard.min(1 << 20));
        assert_eq!(getrlimit(Resource::Nofile).current, Some(raised));
        setrlimit(Resource::Nofile, original).unwrap();
    }
}
