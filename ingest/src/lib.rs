//! `media ingest`, the publisher's live ingest: OBS (or any RTMP encoder) publishes to
//! `rtmp://HOST:1935/live/<stream-key>`, ffmpeg turns the broadcast into an HLS ladder in
//! `<dir>/live/<stream>/`, and a small origin serves it to relays.
//!
//! `config`: settings; `rtmp`: connections, keys and their bounds; `streams`: keys and who
//! is live; `flv`: the tags ffmpeg reads; `transcoder`: the ffmpeg process; `layout`: the
//! directory and its cleanup; `origin`: HTTP; `test_source`: ffmpeg publishing a test
//! pattern as OBS would (the demo's broadcaster, the tests').
pub mod config;
pub mod flv;
pub mod layout;
pub mod origin;
pub mod rtmp;
pub mod streams;
pub mod test_source;
pub mod transcoder;

use anyhow::Context;
use config::IngestConfig;
use layout::StreamDir;
use metrics::{counter, gauge};
use metrics_exporter_prometheus::PrometheusHandle;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use streams::Streams;
use tokio::net::TcpListener;

pub struct Ingest {
    pub config: IngestConfig,
    pub streams: Arc<Streams>,
    pub metrics: PrometheusHandle,
}

impl Ingest {
    pub fn rendition_names(&self) -> Vec<&str> {
        self.config
            .renditions
            .iter()
            .map(|r| r.name.as_str())
            .collect()
    }
}

/// Checks the configuration and that ffmpeg runs, creates the directory, and ends any
/// playlist a previous run left open.
pub fn build(config: IngestConfig) -> anyhow::Result<Arc<Ingest>> {
    config.validate()?;
    let version = std::process::Command::new(&config.ffmpeg)
        .arg("-version")
        .output()
        .with_context(|| {
            format!(
                "cannot run {} (install ffmpeg: apt-get install ffmpeg)",
                config.ffmpeg.display()
            )
        })?;
    if !version.status.success() {
        anyhow::bail!("{} -version failed", config.ffmpeg.display());
    }
    std::fs::create_dir_all(&config.dir)
        .with_context(|| format!("cannot create {}", config.dir.display()))?;
    let ingest = Arc::new(Ingest {
        streams: Streams::new(config.streams.clone()),
        config,
        metrics: media_service::metrics_handle(),
    });
    let renditions = ingest.rendition_names();
    for name in ingest.streams.names() {
        let dir = StreamDir::new(&ingest.config.dir, name);
        dir.ensure_endlist(&renditions)
            .with_context(|| format!("ending the playlists of {}", dir.path.display()))?;
        dir.remove_temporaries(&renditions)
            .with_context(|| format!("cleaning {}", dir.path.display()))?;
    }
    Ok(ingest)
}

/// Serves RTMP on `rtmp` and the origin on `http` until `shutdown`, then ends the live
/// broadcasts (their playlists get `#EXT-X-ENDLIST`).
pub async fn run(
    ingest: Arc<Ingest>,
    http: TcpListener,
    rtmp: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // The origin stops after the broadcasts have ended, so relays can fetch their last
    // segments and the ENDLIST.
    let (stop_http, mut http_stopped) = tokio::sync::watch::channel(false);
    let rtmp_task = tokio::spawn(rtmp::serve(rtmp, ingest.clone(), stopped));
    let cleaner = tokio::spawn(clean_forever(ingest.clone()));
    let serve = media_service::http::serve(
        http,
        origin::router(ingest.clone()),
        media_service::http::ServerLimits::default(),
        async move {
            let _ = http_stopped.wait_for(|stop| *stop).await;
        },
    );
    tokio::pin!(serve);
    let served = tokio::select! {
        () = shutdown => None,
        served = &mut serve => Some(served),
    };
    let _ = stop.send(true);
    let _ = rtmp_task.await;
    let _ = stop_http.send(true);
    cleaner.abort();
    let served = match served {
        Some(served) => served,
        None => serve.await,
    };
    served.context("the ingest's HTTP server failed")
}

/// Every segment length: deletes the segments that left their playlists, and reports each
/// stream's renditions and segment lag (how old its newest segment is while it is live).
async fn clean_forever(ingest: Arc<Ingest>) {
    let period = Duration::from_secs(u64::from(ingest.config.segment_secs));
    let renditions = ingest.rendition_names();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for name in ingest.streams.names() {
            let dir = StreamDir::new(&ingest.config.dir, name);
            let report = match dir.clean(&renditions, ingest.config.keep_segments) {
                Ok(report) => report,
                Err(e) => {
                    tracing::warn!(stream = name, error = %e, "cleaning old segments failed");
                    continue;
                }
            };
            let stream = name.to_string();
            counter!("media_ingest_segments_deleted_total").increment(report.deleted as u64);
            gauge!("media_ingest_renditions", "stream" => stream.clone())
                .set(report.renditions as f64);
            let lag = match (ingest.streams.is_live(name), report.newest) {
                (true, Some(newest)) => SystemTime::now()
                    .duration_since(newest)
                    .unwrap_or_default()
                    .as_secs_f64(),
                _ => 0.0,
            };
            gauge!("media_ingest_segment_lag_seconds", "stream" => stream).set(lag);
        }
    }
}
