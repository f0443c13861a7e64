//! The relay's configuration: a TOML file, with command-line flags overriding it.
use anchor_lang::prelude::Pubkey;
use anyhow::{anyhow, bail, Result};
use media_service::settings::{RefuseUnknownKeys, ServiceConfig, ServiceDefaults, ServiceSettings};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// The consumer's owner address (its on-chain identity), base58.
    #[serde(deserialize_with = "base58_pubkey")]
    pub owner: Pubkey,
    /// Base URL of the consumer's origin; `/c/{owner}/{path}` is fetched from `{origin}/{path}`.
    pub origin: Url,
    /// The consumer's gateway, which co-signs this relay's receipts.
    pub gateway: Option<Url>,
}

/// Which consumers the chain lists this relay serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serve {
    All,
    Only(Vec<Pubkey>),
}

impl Serve {
    pub fn includes(&self, consumer: &Pubkey) -> bool {
        match self {
            Serve::All => true,
            Serve::Only(list) => list.contains(consumer),
        }
    }
}

impl<'de> Deserialize<'de> for Serve {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Text {
            One(String),
            Many(Vec<String>),
        }
        match Text::deserialize(d)? {
            Text::One(all) if all == "all" => Ok(Serve::All),
            Text::One(other) => Err(serde::de::Error::custom(format!(
                "serve must be \"all\" or a list of consumer addresses, got {other:?}"
            ))),
            Text::Many(list) => list
                .iter()
                .map(|t| {
                    t.parse().map_err(|_| {
                        serde::de::Error::custom(format!("{t:?} is not a base58 public key"))
                    })
                })
                .collect::<Result<Vec<Pubkey>, D::Error>>()
                .map(Serve::Only),
        }
    }
}

fn base58_pubkey<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Pubkey, D::Error> {
    let text = String::deserialize(d)?;
    text.parse()
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a base58 public key")))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RelayConfig {
    /// `listen`, `rpc_url`, `store` and `chain_refresh_secs`, at the file's top level.
    #[serde(flatten)]
    pub service: ServiceSettings<RelayDefaults>,
    pub node_keypair: PathBuf,
    pub keepers: Vec<Url>,
    /// The memory tier's budget (`cache_bytes` in older files).
    #[serde(alias = "cache_bytes")]
    pub memory_cache_bytes: u64,
    /// Where the disk tier keeps its files; no disk tier when unset.
    pub disk_cache_dir: Option<PathBuf>,
    /// The disk tier's budget (files included whole).
    pub disk_cache_bytes: u64,
    /// Objects larger than this are fetched from their origins and kept in slices of it.
    pub slice_bytes: u64,
    pub credit_window_bytes: u64,
    /// The most an object fetched whole may be (from an origin that does not answer ranges).
    pub max_object_bytes: usize,
    /// Origin fetches in flight at once; a miss beyond it is answered 503 at once.
    pub max_concurrent_fetches: usize,
    /// Bytes all fetches in flight may buffer together; beyond it a fetch fails with 503.
    pub max_fetch_bytes: usize,
    /// Of `max_concurrent_fetches`, how many one consumer's misses may hold at once (503
    /// beyond): one consumer's slow origin cannot starve the others.
    pub max_fetches_per_consumer: usize,
    /// Fetch from origins whose addresses are loopback, private or link-local. Off by
    /// default: a relay must not be a way into its own host's network.
    pub allow_private_origins: bool,
    /// Pass viewers' query strings to the origin (and into the cache key). Off by default,
    /// so `?nonce` requests cannot bypass the cache.
    pub forward_query: bool,
    pub origin_timeout_ms: u64,
    /// Threads serving viewers' connections, each serving its own start to finish; one per
    /// core when unset; 0: served on the relay's shared runtime instead.
    pub http_threads: Option<usize>,
    /// The most one call to a gateway or keeper may take, connecting included.
    pub peer_timeout_ms: u64,
    pub stall_timeout_ms: u64,
    /// How often receipts are co-signed by gateways and shipped to keepers.
    pub cosign_interval_secs: u64,
    /// A consumer whose gateway leaves more acknowledged bytes than this un-co-signed is not
    /// served (503) until it catches up: the most this relay risks on one gateway.
    pub max_uncosigned_bytes: u64,
    /// The consumers in this table are served as configured (private deployments).
    pub consumers: Vec<ConsumerConfig>,
    /// Also serve consumers the chain lists: `"all"` (every active consumer with a gateway
    /// URL and spendable escrow) or a list of consumer addresses. Each one's origin is asked
    /// of its gateway with this relay's node key; lanes are opened as needed.
    pub serve: Option<Serve>,
    /// The most consumers this relay keeps routes for (configured and discovered).
    pub max_consumers: usize,
    /// New consumers taken on per chain refresh at most (each costs a gateway call and
    /// perhaps a lane): a flood of registrations is taken in slowly.
    pub new_consumers_per_refresh: usize,
    /// Ask gateways at loopback, private or link-local addresses. Off by default, as for
    /// origins: a consumer's on-chain URL must not be a way into this host's network.
    pub allow_private_gateways: bool,
    /// With `serve`, origins that gateways hand out are fetched with the same client as
    /// configured ones: `allow_private_origins` would then let any consumer point this relay
    /// at its own network. So the two go together only when this is set too (a localnet).
    pub allow_private_discovered_origins: bool,
    /// Refuses a key no setting took.
    #[serde(flatten)]
    pub unknown: RefuseUnknownKeys,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            service: ServiceSettings::default(),
            node_keypair: PathBuf::from("node.json"),
            keepers: Vec::new(),
            memory_cache_bytes: 1 << 30,
            disk_cache_dir: None,
            disk_cache_bytes: 10 << 30,
            slice_bytes: crate::cache::DEFAULT_SLICE_BYTES,
            credit_window_bytes: 8 << 20,
            max_object_bytes: 64 << 20,
            max_concurrent_fetches: 64,
            max_fetch_bytes: 512 << 20,
            max_fetches_per_consumer: 16,
            allow_private_origins: false,
            forward_query: false,
            origin_timeout_ms: 10_000,
            http_threads: None,
            peer_timeout_ms: 10_000,
            stall_timeout_ms: 10_000,
            cosign_interval_secs: 10,
            max_uncosigned_bytes: 1 << 30,
            consumers: Vec::new(),
            serve: None,
            max_consumers: 1_000,
            new_consumers_per_refresh: 16,
            allow_private_gateways: false,
            allow_private_discovered_origins: false,
            unknown: RefuseUnknownKeys,
        }
    }
}

impl RelayConfig {
    pub fn validate(&self) -> Result<()> {
        if self.consumers.is_empty() && self.serve.is_none() {
            bail!(
                "no consumers configured: set serve = \"all\" (or a list of consumer \
                 addresses) to serve those the chain lists, or add [[consumers]] with owner \
                 and origin"
            );
        }
        if self.serve.is_some()
            && self.allow_private_origins
            && !self.allow_private_discovered_origins
        {
            bail!(
                "serve with allow_private_origins would let any consumer on chain point this \
                 relay at private addresses: serve private origins from a relay without serve, \
                 or set allow_private_discovered_origins (trusted networks only)"
            );
        }
        if self.max_consumers < self.consumers.len() {
            bail!(
                "max_consumers ({}) is less than the {} consumers configured",
                self.max_consumers,
                self.consumers.len()
            );
        }
        if self.credit_window_bytes == 0 {
            bail!("credit_window_bytes must be more than 0");
        }
        if self.memory_cache_bytes == 0 {
            bail!("memory_cache_bytes must be more than 0");
        }
        if self.disk_cache_dir.is_some() && self.disk_cache_bytes == 0 {
            bail!("disk_cache_bytes must be more than 0 when disk_cache_dir is set");
        }
        let min_slice = crate::cache::MIN_SLICE_BYTES;
        if self.slice_bytes < min_slice || self.slice_bytes > self.max_fetch_bytes as u64 {
            bail!(
                "slice_bytes must be between {min_slice} and max_fetch_bytes ({})",
                self.max_fetch_bytes
            );
        }
        if self.max_uncosigned_bytes == 0 {
            bail!("max_uncosigned_bytes must be more than 0");
        }
        if self.max_fetches_per_consumer == 0 {
            bail!("max_fetches_per_consumer must be more than 0");
        }
        if self.max_concurrent_fetches == 0 || self.max_fetch_bytes < self.max_object_bytes {
            bail!(
                "max_concurrent_fetches must be more than 0 and max_fetch_bytes at least \
                 max_object_bytes ({})",
                self.max_object_bytes
            );
        }
        for c in &self.consumers {
            if !matches!(c.origin.scheme(), "http" | "https") {
                return Err(anyhow!(
                    "consumer {}: origin must be http(s), got {}",
                    c.owner,
                    c.origin
                ));
            }
            crate::origin::check_literal_host(&c.origin, self.allow_private_origins)
                .map_err(|e| anyhow!("consumer {}: {e}", c.owner))?;
        }
        Ok(())
    }

    /// `http_threads`, one per core when unset.
    pub fn http_threads(&self) -> usize {
        self.http_threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }

    pub fn cache_settings(&self) -> crate::cache::CacheSettings {
        crate::cache::CacheSettings {
            memory_bytes: self.memory_cache_bytes,
            slice_bytes: self.slice_bytes,
            disk: self
                .disk_cache_dir
                .clone()
                .map(|dir| (dir, self.disk_cache_bytes)),
            max_fetches_per_consumer: self.max_fetches_per_consumer,
        }
    }

    pub fn origin_limits(&self) -> crate::origin::OriginLimits {
        crate::origin::OriginLimits {
            timeout: self.origin_timeout(),
            max_object_bytes: self.max_object_bytes,
            max_concurrent_fetches: self.max_concurrent_fetches,
            max_fetch_bytes: self.max_fetch_bytes,
            allow_private: self.allow_private_origins,
        }
    }

    pub fn origin_timeout(&self) -> Duration {
        Duration::from_millis(self.origin_timeout_ms)
    }

    pub fn peer_timeout(&self) -> Duration {
        Duration::from_millis(self.peer_timeout_ms.max(1))
    }

    pub fn stall_timeout(&self) -> Duration {
        Duration::from_millis(self.stall_timeout_ms)
    }
}

/// The relay's defaults for the shared settings.
pub struct RelayDefaults;

impl ServiceDefaults for RelayDefaults {
    const WHAT: &'static str = "relay config";
    fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    fn store() -> PathBuf {
        PathBuf::from("relay.redb")
    }
}

impl ServiceConfig for RelayConfig {
    type Defaults = RelayDefaults;
    fn service_mut(&mut self) -> &mut ServiceSettings<RelayDefaults> {
        &mut self.service
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_parses_and_bad_ones_are_refused() {
        let config: RelayConfig = toml::from_str(
            r#"
            listen = "127.0.0.1:9000"
            credit_window_bytes = 1024
            allow_private_origins = true
            [[consumers]]
            owner = "11111111111111111111111111111111"
            origin = "http://127.0.0.1:8000/media/"
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        let mut private = config.clone();
        private.allow_private_origins = false;
        assert!(private
            .validate()
            .unwrap_err()
            .to_string()
            .contains("allow_private_origins"));
        assert_eq!(config.credit_window_bytes, 1024);
        assert_eq!(config.memory_cache_bytes, 1 << 30, "defaults fill the rest");
        let older: RelayConfig = toml::from_str("cache_bytes = 5").unwrap();
        assert_eq!(older.memory_cache_bytes, 5, "the older name still reads");
        assert!(
            toml::from_str::<RelayConfig>("cache_byte = 1").is_err(),
            "typos are errors"
        );
        let none = RelayConfig::default();
        assert!(none
            .validate()
            .unwrap_err()
            .to_string()
            .contains("no consumers"));
    }

    #[test]
    fn the_serving_policy_is_all_or_a_list() {
        let all: RelayConfig = toml::from_str(r#"serve = "all""#).unwrap();
        all.validate().unwrap();
        assert_eq!(all.serve, Some(Serve::All));
        let key = "11111111111111111111111111111111";
        let some: RelayConfig = toml::from_str(&format!("serve = [{key:?}]")).unwrap();
        assert_eq!(some.serve, Some(Serve::Only(vec![key.parse().unwrap()])));
        assert!(Serve::All.includes(&Pubkey::new_unique()));
        assert!(!some.serve.unwrap().includes(&Pubkey::new_unique()));
        let mut private = all.clone();
        private.allow_private_origins = true;
        assert!(private
            .validate()
            .unwrap_err()
            .to_string()
            .contains("allow_private_discovered_origins"));
        private.allow_private_discovered_origins = true;
        private.validate().unwrap();
        for bad in [r#"serve = "everyone""#, r#"serve = ["nope"]"#, "serve = 3"] {
            assert!(toml::from_str::<RelayConfig>(bad).is_err(), "{bad}");
        }
    }
}
