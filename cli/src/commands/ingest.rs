//! `media ingest`: the publisher's live ingest (RTMP in, HLS ladder out, a small origin),
//! configured by TOML and flags.
use anyhow::{Context, Result};
use media_ingest::config::{IngestConfig, StreamConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct IngestArgs {
    /// TOML configuration (see docs/ingest.md); the flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// HTTP address of the origin relays fetch from (and /health, /metrics).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// RTMP address OBS publishes to (0.0.0.0:1935 for broadcasts from other machines).
    #[arg(long)]
    pub rtmp_listen: Option<SocketAddr>,
    /// Directory the playlists and segments are written to.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// A stream to accept, NAME=KEY (repeatable): OBS publishes to rtmp://HOST/live/KEY and
    /// viewers watch NAME. Adds to the config's [[streams]].
    #[arg(long = "stream", value_parser = stream_flag, env = "MEDIA_INGEST_STREAM", value_delimiter = ',')]
    pub streams: Vec<StreamConfig>,
    /// The ffmpeg binary.
    #[arg(long)]
    pub ffmpeg: Option<PathBuf>,
}

fn stream_flag(text: &str) -> Result<StreamConfig, String> {
    let (name, key) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=KEY"))?;
    Ok(StreamConfig {
        name: name.into(),
        key: key.into(),
    })
}

impl IngestArgs {
    /// Runs until Ctrl-C or SIGTERM, then ends the live broadcasts' playlists.
    pub async fn run(self) -> Result<()> {
        let mut config = match &self.config {
            Some(path) => IngestConfig::load(path)?,
            None => IngestConfig::default(),
        };
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(listen) = self.rtmp_listen {
            config.rtmp_listen = listen;
        }
        if let Some(dir) = self.dir {
            config.dir = dir;
        }
        if let Some(ffmpeg) = self.ffmpeg {
            config.ffmpeg = ffmpeg;
        }
        config.streams.extend(self.streams);
        let ingest = media_ingest::build(config)?;
        let http = media_service::settings::bind(ingest.config.listen).await?;
        let rtmp = tokio::net::TcpListener::bind(ingest.config.rtmp_listen)
            .await
            .with_context(|| format!("cannot listen for RTMP on {}", ingest.config.rtmp_listen))?;
        let http_addr = http.local_addr()?;
        let rtmp_addr = rtmp.local_addr()?;
        println!(
            "media ingest: RTMP on rtmp://{rtmp_addr}/{}",
            media_ingest::rtmp::APP
        );
        for name in ingest.streams.names() {
            println!("  stream {name}: publish to rtmp://{rtmp_addr}/live/<its key>, HLS at http://{http_addr}/live/{name}/master.m3u8");
        }
        media_ingest::run(ingest, http, rtmp, media_service::shutdown_signal()).await
    }
}
