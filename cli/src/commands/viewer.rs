//! `media fetch` and `media proxy`: the viewer client from the command line. The relays are
//! discovered (the chain's active edges, or the gateway's listing), probed and ranked, and
//! re-read as they come and go; a transfer moves to the next relay when its relay fails.
use crate::context::Ctx;
use anyhow::{bail, Context, Result};
use media_sdk::client::Cluster;
use media_viewer::discovery::{self, Source};
use media_viewer::{proxy::player_proxy, Failover, RelayTarget, Viewer};
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Acknowledge every this many bytes: far inside any sane credit window.
const ACK_EVERY: u64 = 256 * 1024;

/// Where a viewer gets its session and its relays.
#[derive(clap::Args)]
pub struct Session {
    /// The consumer's gateway URL (issues the session token).
    #[arg(long)]
    gateway: Url,
    /// The gateway's shared secret, if it wants one.
    #[arg(long, env = "MEDIA_GATEWAY_SECRET")]
    secret: Option<String>,
    /// Use these relays (base URLs, best first; repeatable) instead of discovering them.
    #[arg(long = "relay")]
    relays: Vec<Url>,
    /// Where to discover relays: the chain at -u/--url, or the gateway's relay listing
    /// (`GET /.media/relays`, for machines without RPC access).
    #[arg(long, value_enum, default_value_t = Discover::Chain)]
    discover: Discover,
    /// Re-read and re-probe the relays this often (seconds), so relays that join are used
    /// and ones that leave are dropped.
    #[arg(long, default_value_t = 30)]
    rediscover_secs: u64,
    /// Leave a relay that sends no byte for this long (milliseconds).
    #[arg(long, default_value_t = 5000)]
    stall_timeout_ms: u64,
    /// Spread segments over this many of the fastest relays.
    #[arg(long, default_value_t = 2)]
    spread: usize,
}

/// Where relays are discovered.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Discover {
    Chain,
    Gateway,
}

/// How long a relay's health probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// `media fetch PATH`.
#[derive(clap::Args)]
pub struct FetchArgs {
    /// The path of the file at the consumer's origin (e.g. vod/film.ts).
    path: String,
    #[command(flatten)]
    session: Session,
    /// Write here instead of stdout.
    #[arg(short = 'o', long = "out")]
    out_file: Option<PathBuf>,
}

impl FetchArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        fetch(ctx, self.session, &self.path, self.out_file).await
    }
}

/// `media proxy`.
#[derive(clap::Args)]
pub struct ProxyArgs {
    /// Address for players to connect to.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    #[command(flatten)]
    session: Session,
}

impl ProxyArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        proxy(ctx, self.session, self.listen).await
    }
}

/// A viewer session: a token from the gateway and the relays named, or discovered and kept
/// up to date by a background task.
async fn open(ctx: &Ctx, session: &Session) -> Result<Arc<Viewer>> {
    let failover = Failover {
        stall_timeout: Duration::from_millis(session.stall_timeout_ms.max(1)),
        spread: session.spread.max(1),
        ..Failover::default()
    };
    let named = session
        .relays
        .iter()
        .cloned()
        .map(RelayTarget::named)
        .collect();
    let viewer = Viewer::join_over(
        named,
        &session.gateway,
        session.secret.as_deref(),
        ACK_EVERY,
        failover,
    )
    .await
    .with_context(|| format!("getting a session token from {}", session.gateway))?;
    let viewer = Arc::new(viewer);
    if !session.relays.is_empty() {
        return Ok(viewer);
    }
    let source = match session.discover {
        Discover::Chain => Source::Chain(Arc::new(Cluster::new(
            &ctx.rpc.url,
            ctx.rpc.client.commitment(),
        ))),
        Discover::Gateway => Source::Gateway(session.gateway.clone()),
    };
    let consumer = viewer.token().grant.consumer;
    let http = discovery::probe_client(PROBE_TIMEOUT);
    let ranked = discovery::discover(&http, &source, &consumer, PROBE_TIMEOUT).await?;
    if ranked.is_empty() {
        bail!(
            "no relay listed by {} serves consumer {consumer} (name one with --relay)",
            source.describe()
        );
    }
    for relay in &ranked {
        tracing::info!(relay = %relay.candidate.endpoint, region = %relay.candidate.region,
            rtt_ms = relay.rtt.as_millis() as u64, "relay found");
    }
    viewer.set_relays(ranked.into_iter().map(RelayTarget::from).collect());
    discovery::follow(
        viewer.clone(),
        source,
        Duration::from_secs(session.rediscover_secs.max(1)),
        PROBE_TIMEOUT,
    );
    Ok(viewer)
}

/// Where the bytes came from, for the report.
fn relay_report(viewer: &Viewer) -> serde_json::Value {
    let relays: Vec<serde_json::Value> = viewer
        .relay_stats()
        .into_iter()
        .map(|r| json!({"relay": r.url.to_string(), "bytes": r.bytes, "failures": r.failures}))
        .collect();
    json!(relays)
}

/// Downloads `path` through the relay into `output` (stdout when absent).
async fn fetch(ctx: &Ctx, session: Session, path: &str, output: Option<PathBuf>) -> Result<()> {
    let viewer = open(ctx, &session).await?;
    let started = std::time::Instant::now();
    let download = match &output {
        Some(file) => {
            let mut out = tokio::fs::File::create(file)
                .await
                .with_context(|| format!("cannot create {}", file.display()))?;
            viewer.download(path, &mut out).await?
        }
        None => viewer.download(path, &mut tokio::io::stdout()).await?,
    };
    let seconds = started.elapsed().as_secs_f64();
    // With the body on stdout, the report goes to stderr.
    let report = json!({"path": path, "bytes": download.bytes, "seconds": seconds,
        "session_key": viewer.session_pubkey().to_string(),
        "failovers": viewer.failovers(), "relays": relay_report(&viewer)});
    let from: Vec<String> = viewer
        .relay_stats()
        .into_iter()
        .filter(|r| r.bytes > 0)
        .map(|r| format!("{} ({} bytes)", r.url, r.bytes))
        .collect();
    let text = format!(
        "{} bytes of {path} in {seconds:.2} s from {}; {} failovers",
        download.bytes,
        from.join(", "),
        viewer.failovers()
    );
    if output.is_some() {
        ctx.report(report, || text);
    } else if ctx.json {
        eprintln!("{report}");
    } else {
        eprintln!("{text}");
    }
    Ok(())
}

/// Serves a local HTTP proxy for stock players until Ctrl-C.
async fn proxy(ctx: &Ctx, session: Session, listen: SocketAddr) -> Result<()> {
    let viewer = open(ctx, &session).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    let relays: Vec<String> = viewer.relays().iter().map(|r| r.url.to_string()).collect();
    println!(
        "media proxy on http://{address}/ → {} (session {})",
        relays.join(", "),
        viewer.session_pubkey()
    );
    media_service::http::serve(
        listener,
        player_proxy(viewer),
        media_service::http::ServerLimits::default(),
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .await?;
    Ok(())
}
