//! What the ingest's integration tests share: an ingest running on loopback ports with a
//! small ladder, and polling for a condition.
#![allow(dead_code)]
use media_ingest::config::{IngestConfig, Rendition, StreamConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const KEY: &str = "test-stream-key-1";

pub struct Running {
    pub http: SocketAddr,
    pub rtmp: SocketAddr,
    pub dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    pub async fn start(name: &str) -> Running {
        Self::start_with(name, |_| {}).await
    }

    pub async fn start_with(name: &str, tweak: impl FnOnce(&mut IngestConfig)) -> Running {
        let dir = std::env::temp_dir().join(format!("media-ingest-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // A small ladder keeps three live encodes light on a two-core machine.
        let mut config = IngestConfig {
            dir: dir.clone(),
            streams: vec![StreamConfig {
                name: "main".into(),
                key: KEY.into(),
            }],
            renditions: vec![
                Rendition::new("360p", 640, 360, 600),
                Rendition::new("240p", 426, 240, 300),
                Rendition::new("144p", 256, 144, 150),
            ],
            x264_preset: "ultrafast".into(),
            playlist_segments: 30,
            ..IngestConfig::default()
        };
        tweak(&mut config);
        let ingest = media_ingest::build(config).unwrap();
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rtmp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (http_addr, rtmp_addr) = (http.local_addr().unwrap(), rtmp.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(media_ingest::run(ingest, http, rtmp, async {
            let _ = stopped.await;
        }));
        Running {
            http: http_addr,
            rtmp: rtmp_addr,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn stream_dir(&self) -> PathBuf {
        self.dir.join("live").join("main")
    }

    pub async fn health(&self) -> serde_json::Value {
        reqwest::get(format!("http://{}/health", self.http))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn stream_health(&self) -> serde_json::Value {
        self.health().await["streams"][0].clone()
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Running {
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.http))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
