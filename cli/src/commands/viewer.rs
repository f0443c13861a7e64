//! `media fetch` and `media proxy`: the viewer client from the command line.
use crate::context::Ctx;
use anyhow::{Context, Result};
use media_viewer::{proxy::player_proxy, Viewer};
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use url::Url;

/// Acknowledge every this many bytes: far inside any sane credit window.
const ACK_EVERY: u64 = 256 * 1024;

/// Where a viewer gets its session: the relay and the consumer's gateway.
#[derive(clap::Args)]
pub struct Session {
    /// The relay's base URL.
    #[arg(long)]
    relay: Url,
    /// The consumer's gateway URL (issues the session token).
    #[arg(long)]
    gateway: Url,
    /// The gateway's shared secret, if it wants one.
    #[arg(long, env = "MEDIA_GATEWAY_SECRET")]
    secret: Option<String>,
}

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
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        proxy(self.session, self.listen).await
    }
}

async fn open(session: &Session) -> Result<Viewer> {
    Viewer::join(
        session.relay.clone(),
        &session.gateway,
        session.secret.as_deref(),
        ACK_EVERY,
    )
    .await
    .with_context(|| format!("getting a session token from {}", session.gateway))
}

/// Downloads `path` through the relay into `output` (stdout when absent).
async fn fetch(ctx: &Ctx, session: Session, path: &str, output: Option<PathBuf>) -> Result<()> {
    let viewer = open(&session).await?;
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
        "session_key": viewer.session_pubkey().to_string()});
    let text = format!(
        "{} bytes of {path} in {seconds:.2} s through {}",
        download.bytes, session.relay
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
async fn proxy(session: Session, listen: SocketAddr) -> Result<()> {
    let viewer = Arc::new(open(&session).await?);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    println!(
        "media proxy on http://{address}/ → {} (session {})",
        session.relay,
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
