//! The watch page in a real browser: Debian's Chromium, driven by playwright-core
//! (tests/browser/watch.mjs, nothing downloaded), opens `/watch/demo` on the gateway of a
//! whole local network (localnet, ingest fed by an ffmpeg broadcaster, two `media relay`
//! processes, gateway, keeper). The video must play, the page's receipts must reach the relay,
//! and after the relay in use is SIGKILLed mid-play it must keep playing through the other;
//! in the end the lanes on chain must hold exactly the bytes the page acknowledged to each
//! relay. The screenshot, the startup time and the rebuffer count are printed and written
//! under the test's output directory.
use media_demo::relays::RelayProgram;
use media_demo::{Network, Options, Progress};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

struct Log;

impl Progress for Log {
    fn step(&self, message: &str) {
        eprintln!("network: {message}");
    }
    fn status(&self, message: &str) {
        eprintln!("network: {message}");
    }
}

/// The page driver: one command line in, one JSON line out.
struct Browser {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
}

impl Browser {
    fn open(url: &url::Url) -> Browser {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut child = Command::new("node")
            .arg("tests/browser/watch.mjs")
            .arg(url.as_str())
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (npm ci installs playwright-core)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Browser {
            child,
            stdin,
            stdout,
        }
    }

    async fn ask(&mut self, command: &str) -> Value {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        let line = tokio::time::timeout(Duration::from_secs(150), self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("the browser answers {command:?}"))
            .unwrap()
            .unwrap_or_else(|| panic!("the browser driver exited before answering {command:?}"));
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert_ne!(answer["event"], "error", "{command}: {answer}");
        answer
    }

    async fn close(mut self) {
        let _ = self.stdin.write_all(b"quit\n").await;
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
    }
}

fn number(value: &Value) -> u64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_u64())
        .unwrap_or_else(|| panic!("{value} is a byte count"))
}

/// The page is playing: enough data for the current position, no media error, no fatal
/// player error.
fn assert_playing(stats: &Value) {
    assert!(stats["readyState"].as_u64().unwrap() >= 3, "{stats}");
    assert!(stats["videoError"].is_null(), "{stats}");
    assert!(
        stats["errors"].as_array().unwrap().is_empty(),
        "no fatal player error: {stats}"
    );
}

/// Bytes the page had acknowledged per relay node key, over every epoch.
fn acknowledged(stats: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for relay in stats["relays"].as_array().unwrap() {
        for epoch in relay["epochs"].as_array().unwrap() {
            let key = epoch["nodeKey"].as_str().unwrap().to_string();
            *out.entry(key).or_default() += number(&epoch["acked"]);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_browser_plays_through_the_relays_survives_one_killed_and_its_bytes_settle() {
    media_service::init_tracing("warn,solana_metrics=error,tarpc=error");
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists()
            || std::env::var_os("CHROMIUM").is_some(),
        "Debian's chromium is needed (apt-get install chromium; scripts/test installs it)"
    );
    let out_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&out_dir).unwrap();
    let options = Options {
        epoch_secs: 6,
        epochs: 1,
        relays: 2,
        viewers: 1,
        outage: false,
        relay_program: Some(RelayProgram {
            program: env!("CARGO_BIN_EXE_media").into(),
            args: vec!["relay".into()],
        }),
    };
    let (_interrupt, never) = tokio::sync::watch::channel(false);
    let network = Arc::new(
        Network::start(&options, &Log, never)
            .await
            .expect("the network starts"),
    );
    let first_epoch = network.epoch().await.unwrap();
    // Lanes keep two epochs: sample them all along so every epoch's final figure is seen.
    let settled = Arc::new(tokio::sync::Mutex::new(BTreeMap::new()));
    let sampler = {
        let (network, settled) = (network.clone(), settled.clone());
        tokio::spawn(async move {
            loop {
                if let Ok(epoch) = network.epoch().await {
                    let mut settled = settled.lock().await;
                    let _ = network
                        .sample_settled(first_epoch..=epoch, &mut settled)
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };

    let mut browser = Browser::open(&network.services.watch_url);
    let codecs = browser.ask("codecs").await;
    eprintln!("this Chromium's MSE: {}", codecs["supported"]);
    assert_eq!(
        codecs["supported"]["video/mp4; codecs=\"avc1.42c01e,mp4a.40.2\""], true,
        "the ladder's H.264/AAC (hls.js remuxes the TS segments into fMP4)"
    );

    // Plays for 10 s through one relay.
    let reached = browser.ask("play-until 10").await;
    assert_eq!(reached["event"], "reached", "{reached}");
    let stats = &reached["stats"];
    assert_playing(stats);
    assert_eq!(stats["signer"], "webcrypto", "{stats}");
    let level = &stats["level"];
    assert!(
        level["codecs"].as_str().unwrap().starts_with("avc1."),
        "{level}"
    );
    let first_relay = stats["relay"].as_str().unwrap().to_string();
    assert!(
        number(&stats["acked"]) > 0,
        "receipts reached the relay: {stats}"
    );
    let screenshot = out_dir.join("watch.png");
    browser
        .ask(&format!("screenshot {}", screenshot.display()))
        .await;
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);
    let startup_ms = stats["firstFrameMs"].as_f64().unwrap();

    // The relay in use dies; the page moves to the other and keeps playing.
    let killed = network
        .services
        .relay_urls
        .iter()
        .position(|u| u.as_str().trim_end_matches('/') == first_relay)
        .expect("the page uses one of the network's relays");
    network.services.relays[killed].kill();
    let killed_at = Instant::now();
    let played = stats["playedSeconds"].as_f64().unwrap();
    // Back soon, so the bytes it acknowledged before dying settle in their epoch.
    tokio::time::sleep(Duration::from_secs(2)).await;
    network.services.relays[killed].restart().unwrap();
    let reached = browser.ask(&format!("play-until {}", played + 10.0)).await;
    assert_eq!(reached["event"], "reached", "kept playing: {reached}");
    let stats = &reached["stats"];
    assert_playing(stats);
    assert!(number(&stats["failovers"]) >= 1, "{stats}");
    assert_ne!(stats["relay"].as_str().unwrap(), first_relay, "{stats}");
    eprintln!(
        "played 10 s more within {:?} of the kill",
        killed_at.elapsed()
    );

    // Loading stops and the loads under way finish before the last acknowledgement, so no
    // byte arrives after it.
    let last = browser.ask("stop").await;
    let stats = last["stats"].clone();
    browser.close().await;
    let rebuffers = stats["rebuffers"].as_u64().unwrap();
    let page_acked = acknowledged(&stats);
    assert_eq!(page_acked.len(), 2, "both relays served the page: {stats}");
    let report = serde_json::json!({
        "screenshot": screenshot.display().to_string(),
        "startup_ms": startup_ms,
        "rebuffers": rebuffers,
        "failovers": stats["failovers"],
        "acknowledged": page_acked,
        "received": stats["received"],
        "codecs": codecs["supported"],
    });
    std::fs::write(out_dir.join("report.json"), report.to_string()).unwrap();
    eprintln!("browser test: {report}");

    // Every byte the page acknowledged to each relay is settled on chain, and no more.
    let nodes: Vec<String> = network.nodes().iter().map(|n| n.to_string()).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let per_relay = loop {
        let per_relay: BTreeMap<String, u64> = {
            let settled = settled.lock().await;
            let mut sums = BTreeMap::new();
            for ((relay, _epoch), bytes) in settled.iter() {
                *sums.entry(nodes[*relay].clone()).or_default() += *bytes;
            }
            sums
        };
        if per_relay == page_acked || Instant::now() > deadline {
            break per_relay;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        per_relay, page_acked,
        "settled on chain vs acknowledged by the page"
    );
    sampler.abort();
    let _ = sampler.await;
    let network = Arc::try_unwrap(network)
        .ok()
        .expect("the sampler let go of the network");
    network.shutdown(&Log).await;
}
