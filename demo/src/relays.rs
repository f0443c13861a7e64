//! The demo's relays, each its own `media relay` process (so one can be SIGKILLed as a real
//! crash would end it), configured with `serve = "all"`: each finds the publisher on chain
//! and learns its origin from the gateway's handshake, as any relay on the open network does.
use anchor_lang::prelude::Pubkey;
use anyhow::{Context, Result};
use media_sdk::api::relay::RelayHealth;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use url::Url;

/// The command that runs a relay: `program args… --config FILE`.
#[derive(Debug, Clone)]
pub struct RelayProgram {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl RelayProgram {
    /// `media relay`, where `media` is this executable (what `media demo` runs).
    pub fn this_executable() -> Result<RelayProgram> {
        Ok(RelayProgram {
            program: std::env::current_exe().context("finding the running executable")?,
            args: vec!["relay".into()],
        })
    }
}

/// What a relay's configuration file holds.
pub struct RelaySetup<'a> {
    pub port: u16,
    pub node_keypair: &'a Path,
    pub rpc_url: &'a str,
    pub keeper: &'a Url,
    pub store: PathBuf,
}

impl RelaySetup<'_> {
    fn toml(&self) -> String {
        let mut table = toml::Table::new();
        let mut put = |key: &str, value: toml::Value| {
            table.insert(key.into(), value);
        };
        put("listen", format!("127.0.0.1:{}", self.port).into());
        put(
            "node_keypair",
            self.node_keypair.display().to_string().into(),
        );
        put("rpc_url", self.rpc_url.into());
        put("store", self.store.display().to_string().into());
        put(
            "keepers",
            toml::Value::Array(vec![self.keeper.as_str().into()]),
        );
        put("chain_refresh_secs", 1.into());
        put("cosign_interval_secs", 1.into());
        put("serve", "all".into());
        // The demo's gateway and origin listen on 127.0.0.1, which a relay on the open
        // network refuses by default.
        put("allow_private_gateways", true.into());
        put("allow_private_origins", true.into());
        put("allow_private_discovered_origins", true.into());
        table.to_string()
    }
}

/// One relay process; killed when dropped.
pub struct RelayNode {
    pub url: Url,
    config: PathBuf,
    log: PathBuf,
    program: RelayProgram,
    child: Mutex<Option<Child>>,
}

impl RelayNode {
    /// Writes `name.toml` into `dir` and starts the relay, logging to `name.log`.
    pub fn start(
        program: &RelayProgram,
        setup: &RelaySetup<'_>,
        dir: &Path,
        name: &str,
    ) -> Result<RelayNode> {
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, setup.toml())
            .with_context(|| format!("writing {}", config.display()))?;
        let node = RelayNode {
            url: Url::parse(&format!("http://127.0.0.1:{}/", setup.port))?,
            config,
            log: dir.join(format!("{name}.log")),
            program: program.clone(),
            child: Mutex::new(None),
        };
        node.spawn()?;
        Ok(node)
    }

    fn spawn(&self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = Command::new(&self.program.program)
            .args(&self.program.args)
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "warn,solana_metrics=error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.program.program.display()))?;
        *self.lock() = Some(child);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn pid(&self) -> Option<u32> {
        self.lock().as_ref().map(Child::id)
    }

    /// SIGKILL: nothing of the relay's shutdown runs; what it wrote to its store survives.
    pub fn kill(&self) {
        if let Some(mut child) = self.lock().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same configuration and store.
    pub fn restart(&self) -> Result<()> {
        self.kill();
        self.spawn()
    }

    /// Sends SIGTERM unless it has exited already; true when it was sent.
    fn terminate(&self) -> bool {
        let mut child = self.lock();
        let Ok(running) = running(&mut child) else {
            return false;
        };
        let pid = nix::unistd::Pid::from_raw(i32::try_from(running.id()).unwrap_or(i32::MAX));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).is_ok()
    }

    /// Whether it has exited (and is reaped).
    fn has_exited(&self) -> bool {
        running(&mut self.lock()).is_err()
    }

    /// Why it is not running, when it exited by itself: its status and the end of its log.
    fn exited(&self) -> Option<String> {
        let status = running(&mut self.lock()).err()??;
        Some(format!("it exited ({status}): {}", self.log_tail()))
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    }

    /// Waits until its `/health` says it serves `consumer` (it found the publisher on chain
    /// and completed the origin handshake).
    pub async fn wait_serving(
        &self,
        http: &reqwest::Client,
        consumer: &Pubkey,
        within: Duration,
    ) -> Result<()> {
        let health = self.url.join("health")?;
        let deadline = Instant::now() + within;
        loop {
            if let Some(why) = self.exited() {
                anyhow::bail!("the relay at {} stopped: {why}", self.url);
            }
            let serving = match http.get(health.clone()).send().await {
                Ok(response) => response.json::<RelayHealth>().await.ok(),
                Err(_) => None,
            }
            .and_then(|h| h.consumers.get(&consumer.to_string()).map(|c| c.served));
            if serving == Some(true) {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the relay at {} did not start serving the publisher within {within:?} \
                 (its log: {})",
                self.url,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The child in `slot` while it runs. One that has exited is reaped and the slot emptied (a
/// reaped child's pid may belong to another process by now, so it is never signalled again):
/// `Err` with its status, or `Err(None)` when there is no child (or its state is unknown).
fn running(
    slot: &mut Option<Child>,
) -> std::result::Result<&mut Child, Option<std::process::ExitStatus>> {
    let status = match slot.as_mut().map(Child::try_wait) {
        Some(Ok(None)) => None,
        Some(Ok(Some(status))) => Some(Some(status)),
        Some(Err(_)) | None => Some(None),
    };
    match status {
        None => slot.as_mut().ok_or(None),
        Some(status) => {
            *slot = None;
            Err(status)
        }
    }
}

/// SIGTERM to every relay at once, then waits up to `within` for their exits (each runs its
/// last co-signing round); SIGKILL for those still running after it.
pub async fn stop_all(relays: &[RelayNode], within: Duration) {
    for relay in relays {
        relay.terminate();
    }
    let deadline = Instant::now() + within;
    while Instant::now() < deadline && !relays.iter().all(RelayNode::has_exited) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for relay in relays {
        if !relay.has_exited() {
            tracing::warn!(relay = %relay.url, "did not stop within {within:?}; killing it");
            relay.kill();
        }
    }
}

impl Drop for RelayNode {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_is_one_a_relay_reads() {
        let keeper = Url::parse("http://127.0.0.1:9/").unwrap();
        let setup = RelaySetup {
            port: 4242,
            node_keypair: Path::new("/tmp/a \"quoted\" node.json"),
            rpc_url: "http://127.0.0.1:8899",
            keeper: &keeper,
            store: PathBuf::from("/tmp/relay.redb"),
        };
        let config: media_relay::config::RelayConfig = toml::from_str(&setup.toml()).unwrap();
        config.validate().unwrap();
        assert_eq!(config.service.listen.port(), 4242);
        assert_eq!(
            config.node_keypair,
            PathBuf::from("/tmp/a \"quoted\" node.json")
        );
        assert_eq!(config.keepers, vec![keeper]);
        assert_eq!(config.serve, Some(media_relay::config::Serve::All));
        assert!(config.consumers.is_empty());
    }
}
