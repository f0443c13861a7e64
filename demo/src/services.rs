//! The off-chain services, each on its own 127.0.0.1 socket: the publisher's ingest (with
//! its ffmpeg broadcaster as a child process) and gateway and the keeper in this process, started with the same `run` functions the
//! `media gateway` and `media-keeper` binaries use, and the relays as `media relay` processes
//! (`relays`).
use crate::actors::Actors;
use crate::origin;
use crate::relays::{RelayNode, RelayProgram, RelaySetup};
use anyhow::Result;
use media_gateway::config::GatewayConfig;
use media_keeper::config::KeeperConfig;
use media_keeper::crank::Switches;
use media_migrations::localnet::BootstrappedLocalnet;
use solana_signer::Signer;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

/// How long a relay may take from its start to serving the publisher: a chain read, the
/// origin handshake with the gateway, and its lane opened.
pub const RELAY_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Listeners bound before anything registers, so the publisher and the relays register
/// their real endpoints. A relay's port is held until its process starts and binds it.
pub struct Sockets {
    /// The ingest's origin (HTTP) and its RTMP listener.
    origin: TcpListener,
    rtmp: TcpListener,
    gateway: TcpListener,
    keeper: TcpListener,
    relays: Vec<TcpListener>,
}

fn url_of(listener: &TcpListener) -> Url {
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    Url::parse(&format!("http://{address}/")).expect("an address makes a URL")
}

impl Sockets {
    pub async fn bind(relays: usize) -> Result<Sockets> {
        let any = || TcpListener::bind("127.0.0.1:0");
        let mut relay_listeners = Vec::with_capacity(relays);
        for _ in 0..relays {
            relay_listeners.push(any().await?);
        }
        Ok(Sockets {
            origin: any().await?,
            rtmp: any().await?,
            gateway: any().await?,
            keeper: any().await?,
            relays: relay_listeners,
        })
    }

    pub fn relay_urls(&self) -> Vec<String> {
        self.relays
            .iter()
            .map(|l| url_of(l).as_str().trim_end_matches('/').to_string())
            .collect()
    }

    /// The gateway's public URL, recorded on chain with the publisher.
    pub fn gateway_url(&self) -> String {
        url_of(&self.gateway).to_string()
    }
}

pub struct Running {
    pub gateway_url: Url,
    /// The ingest's origin, which relays fetch from.
    pub origin_url: Url,
    /// The browser player: `{gateway}/watch/demo`.
    pub watch_url: Url,
    broadcaster: Option<tokio::process::Child>,
    pub keeper_url: Url,
    pub relay_urls: Vec<Url>,
    pub relays: Vec<RelayNode>,
    stop: watch::Sender<bool>,
    tasks: Vec<(String, JoinHandle<Result<()>>)>,
}

fn stopped(stop: &watch::Sender<bool>) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut stop = stop.subscribe();
    async move {
        let _ = stop.wait_for(|s| *s).await;
    }
}

pub async fn start(
    sockets: Sockets,
    localnet: &BootstrappedLocalnet,
    actors: &Actors,
    dir: &Path,
    relay_program: &RelayProgram,
) -> Result<Running> {
    // Everything that can fail before a task is spawned goes first: nothing is left running.
    let gateway_config = GatewayConfig {
        service: media_service::settings::ServiceSettings {
            store: dir.join("gateway.redb"),
            rpc_url: Some(localnet.url.clone()),
            chain_refresh_secs: 1,
            ..Default::default()
        },
        receipt_signer_keypair: actors.gateway_key.path.clone(),
        consumer: Some(actors.publisher.pubkey()),
        // Handed only to relays the chain lists, through the signed handshake.
        origin: Some(url_of(&sockets.origin)),
        prune_interval_secs: 5,
        ..GatewayConfig::default()
    };
    let signer = media_sdk::client::signing_key(&actors.gateway_key.keypair);
    let gateway = media_gateway::build(&gateway_config, signer)?;
    let key = origin::stream_key();
    let ingest = media_ingest::build(origin::ingest_config(&dir.join("hls"), &key))?;
    let renditions: Vec<String> = ingest
        .rendition_names()
        .iter()
        .map(|r| r.to_string())
        .collect();
    let rtmp_address = sockets.rtmp.local_addr()?;
    let (stop, _) = watch::channel(false);
    let mut tasks: Vec<(String, JoinHandle<Result<()>>)> = Vec::new();
    let gateway_url = url_of(&sockets.gateway);
    let keeper_url = url_of(&sockets.keeper);
    let relay_urls: Vec<Url> = sockets.relays.iter().map(url_of).collect();
    let origin_url = url_of(&sockets.origin);
    let watch_url = gateway_url.join(&format!("watch/{}", origin::STREAM))?;

    tasks.push((
        "ingest".into(),
        tokio::spawn(media_ingest::run(
            ingest,
            sockets.origin,
            sockets.rtmp,
            stopped(&stop),
        )),
    ));

    let keeper = KeeperConfig {
        service: media_service::settings::ServiceSettings {
            rpc_url: Some(localnet.url.clone()),
            store: dir.join("keeper.redb"),
            chain_refresh_secs: 1,
            ..Default::default()
        },
        keypair: actors.keeper.path.clone(),
        settle_interval_ms: 500,
        crank_interval_secs: 1,
        cranks: Switches {
            bid_max_price: Some(u64::MAX),
            bid_amount: u64::MAX,
            ..Switches::default()
        },
        ..KeeperConfig::default()
    };
    tasks.push((
        "keeper".into(),
        tokio::spawn(media_keeper::run(keeper, sockets.keeper, stopped(&stop))),
    ));

    tasks.push((
        "gateway".into(),
        tokio::spawn(media_gateway::run(gateway, sockets.gateway, stopped(&stop))),
    ));

    let mut running = Running {
        gateway_url,
        origin_url,
        watch_url,
        broadcaster: None,
        keeper_url,
        relay_urls,
        relays: Vec::new(),
        stop,
        tasks,
    };
    match origin::start_broadcaster(rtmp_address, &key) {
        Ok(child) => running.broadcaster = Some(child),
        Err(e) => {
            running.shutdown().await;
            return Err(e);
        }
    }
    for (i, (listener, operator)) in sockets
        .relays
        .into_iter()
        .zip(&actors.operators)
        .enumerate()
    {
        let setup = RelaySetup {
            port: running.relay_urls[i].port().unwrap_or_default(),
            node_keypair: &operator.node.path,
            rpc_url: &localnet.url,
            keeper: &running.keeper_url,
            store: dir.join(format!("relay-{}.redb", i + 1)),
        };
        // Freed just before the relay binds it.
        drop(listener);
        match RelayNode::start(relay_program, &setup, dir, &format!("relay-{}", i + 1)) {
            Ok(node) => running.relays.push(node),
            Err(e) => {
                running.shutdown().await;
                return Err(e);
            }
        }
    }
    if let Err(e) = running
        .wait_healthy(&actors.publisher.pubkey(), &renditions)
        .await
    {
        running.shutdown().await;
        return Err(e);
    }
    Ok(running)
}

impl Running {
    async fn wait_healthy(
        &mut self,
        publisher: &anchor_lang::prelude::Pubkey,
        renditions: &[String],
    ) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        for url in [self.gateway_url.clone(), self.keeper_url.clone()] {
            let health = url.join("health")?;
            loop {
                if let Some(i) = self.tasks.iter().position(|(_, t)| t.is_finished()) {
                    let (name, task) = self.tasks.remove(i);
                    let why = match task.await {
                        Ok(Err(e)) => format!("{e:#}"),
                        Ok(Ok(())) => "it exited".into(),
                        Err(e) => e.to_string(),
                    };
                    anyhow::bail!("the {name} stopped while starting: {why}");
                }
                if http
                    .get(health.clone())
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    break;
                }
                anyhow::ensure!(Instant::now() < deadline, "{url} did not become healthy");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        origin::wait_live(&self.origin_url, renditions).await?;
        for relay in &self.relays {
            relay
                .wait_serving(&http, publisher, RELAY_START_TIMEOUT)
                .await?;
        }
        Ok(())
    }

    /// Waits until every relay's chain view has reached `epoch` (its `/health` says so): a
    /// relay refreshes its view every second, and bytes it serves before it learns of a new
    /// epoch are settled in the epoch before, which the viewers' count would not start at.
    pub async fn wait_relays_in(&self, epoch: u64, within: Duration) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let deadline = Instant::now() + within;
        for url in &self.relay_urls {
            let health = url.join("health")?;
            loop {
                let seen = match http.get(health.clone()).send().await {
                    Ok(r) => r.json::<media_sdk::api::relay::RelayHealth>().await.ok(),
                    Err(_) => None,
                }
                .map(|h| h.epoch);
                if seen.is_some_and(|e| e >= epoch) {
                    break;
                }
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "relay {url} did not reach epoch {epoch} (its view: {seen:?})"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// The relay that has served the most bytes (`media_relay_bytes_total`), by index.
    pub async fn busiest_relay(&self) -> Option<usize> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .ok()?;
        let mut busiest: Option<(usize, f64)> = None;
        for (i, url) in self.relay_urls.iter().enumerate() {
            let Ok(response) = http.get(url.join("metrics").ok()?).send().await else {
                continue;
            };
            let text = response.text().await.unwrap_or_default();
            let bytes: f64 = text
                .lines()
                .filter(|l| l.starts_with("media_relay_bytes_total"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            if busiest.is_none_or(|(_, most)| bytes > most) {
                busiest = Some((i, bytes));
            }
        }
        busiest.map(|(i, _)| i)
    }

    /// Receipts the keeper settled and its confirmed settlement transactions, from its
    /// Prometheus metrics.
    pub async fn keeper_counts(&self) -> (u64, u64) {
        let Ok(url) = self.keeper_url.join("metrics") else {
            return (0, 0);
        };
        let text = match reqwest::get(url).await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let value = |prefix: &str| {
            text.lines()
                .filter(|l| l.starts_with(prefix))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64
        };
        (
            value("media_keeper_receipts_settled_total"),
            value("media_keeper_transactions_total{result=\"confirmed\"}"),
        )
    }

    /// Asks every service to stop and waits for them (a few seconds at most each).
    pub async fn shutdown(mut self) {
        // The broadcast ends first, so the ingest closes its playlists.
        if let Some(mut broadcaster) = self.broadcaster.take() {
            let _ = broadcaster.kill().await;
        }
        crate::relays::stop_all(&self.relays, Duration::from_secs(10)).await;
        self.stop.send_replace(true);
        for (name, task) in self.tasks {
            match tokio::time::timeout(Duration::from_secs(10), task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    tracing::warn!(service = %name, error = %e, "stopped with an error")
                }
                Ok(Err(e)) => tracing::warn!(service = %name, error = %e, "task failed"),
                Err(_) => tracing::warn!(service = %name, "did not stop within 10 s"),
            }
        }
    }
}
