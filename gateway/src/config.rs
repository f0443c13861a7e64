//! The gateway's configuration (TOML; `media gateway` flags override it).
use anchor_lang::prelude::Pubkey;
use anyhow::{bail, Result};
use media_service::settings::{RefuseUnknownKeys, ServiceConfig, ServiceDefaults, ServiceSettings};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

fn base58_pubkey<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Pubkey>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    text.map(|t| {
        t.parse()
            .map_err(|_| serde::de::Error::custom(format!("{t:?} is not a base58 public key")))
    })
    .transpose()
}

fn base58_pubkeys<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Pubkey>, D::Error> {
    Vec::<String>::deserialize(d)?
        .into_iter()
        .map(|t| {
            t.parse()
                .map_err(|_| serde::de::Error::custom(format!("{t:?} is not a base58 public key")))
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct GatewayConfig {
    /// `listen`, `rpc_url`, `store` and `chain_refresh_secs`, at the file's top level.
    #[serde(flatten)]
    pub service: ServiceSettings<GatewayDefaults>,
    /// The consumer's receipt signer keypair (Solana keypair file).
    pub receipt_signer_keypair: PathBuf,
    /// During a rotation, the signer it replaces: it still co-signs the epochs before the new
    /// one takes over, and its session tokens stay valid (review M7).
    pub previous_receipt_signer_keypair: Option<PathBuf>,
    /// The consumer's owner address.
    #[serde(deserialize_with = "base58_pubkey")]
    pub consumer: Option<Pubkey>,
    /// Viewers must send `Authorization: Bearer <secret>` for a token. At most one of
    /// `shared_secret`, `jwt_public_key` and `auth_callback_url`; none: open (demos).
    pub shared_secret: Option<String>,
    /// Viewers must send `Authorization: Bearer <JWT>` signed by the publisher's login with
    /// this public key (PEM), with `sub` and `exp` claims.
    pub jwt_public_key: Option<PathBuf>,
    /// `EdDSA` (default), `ES256`, `ES384`, `RS256`, … (public-key algorithms only).
    pub jwt_algorithm: String,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    /// The viewer's Authorization header is POSTed here (`{"authorization", "client_ip"}`);
    /// a 2xx answer admits it.
    pub auth_callback_url: Option<url::Url>,
    pub auth_callback_timeout_ms: u64,
    /// Tokens one client (IP address, JWT subject or callback client) may get per minute,
    /// and in one burst.
    pub sessions_per_client_per_minute: u32,
    pub session_burst: u32,
    /// Tokens issued per epoch at most, whoever asks.
    pub max_sessions_per_epoch: u64,
    /// The sum of issued tokens' `max_bytes` per epoch at most; with `rpc_url` also at most
    /// `session_bytes_per_escrow_byte` times what the spendable escrow pays for.
    pub max_session_bytes_per_epoch: u64,
    pub session_bytes_per_escrow_byte: u64,
    pub token_ttl_secs: i64,
    pub max_bytes_per_session: u64,
    /// Co-signed for one relay in one epoch at most.
    pub max_bytes_per_relay_epoch: u64,
    /// Co-signed for a relay in its first epoch here; later at most this plus twice its best
    /// earlier epoch (with `rpc_url`; without it relays stay at this).
    pub new_relay_bytes: u64,
    /// Co-signed for all relays together in one epoch at most.
    pub max_cosigned_bytes_per_epoch: u64,
    /// `POST /cosign` per peer address (`[cosign_rate] per_minute, burst`); over it the answer
    /// is 429 before the body is read (review M3).
    pub cosign_rate: media_service::rate::PeerQuota,
    pub expiry_grace_secs: i64,
    /// Seconds between pruning passes.
    pub prune_interval_secs: u64,
    /// The origin relays fetch this consumer's content from, handed only to registered
    /// relays that ask `POST /.media/origin` with their node key's signature (never shown to
    /// viewers). None: relays are configured with the origin by hand.
    pub origin: Option<url::Url>,
    /// When not empty, only these relays (node keys or provider owners) get the origin.
    #[serde(deserialize_with = "base58_pubkeys")]
    pub origin_allow: Vec<Pubkey>,
    /// These relays (node keys or provider owners) never get it.
    #[serde(deserialize_with = "base58_pubkeys")]
    pub origin_deny: Vec<Pubkey>,
    /// The least bond (MEDIA base units) a relay must have to get it.
    pub origin_min_bond: u64,
    /// How far an origin ask's time may be from this gateway's clock (seconds).
    pub origin_ask_window_secs: i64,
    /// Relays the watch page (`/watch/<stream>`) uses when the chain lists none (without
    /// `rpc_url`, or before any relay registered).
    pub watch_relays: Vec<url::Url>,
    /// Refuses a key no setting took.
    #[serde(flatten)]
    pub unknown: RefuseUnknownKeys,
}

const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            service: ServiceSettings::default(),
            receipt_signer_keypair: PathBuf::from("receipt-signer.json"),
            previous_receipt_signer_keypair: None,
            consumer: None,
            shared_secret: None,
            jwt_public_key: None,
            jwt_algorithm: "EdDSA".into(),
            jwt_issuer: None,
            jwt_audience: None,
            auth_callback_url: None,
            auth_callback_timeout_ms: 2_000,
            sessions_per_client_per_minute: 120,
            session_burst: 60,
            max_sessions_per_epoch: 100_000,
            max_session_bytes_per_epoch: 1 << 50,
            session_bytes_per_escrow_byte: 10,
            token_ttl_secs: 3_600,
            max_bytes_per_session: 10 * GIB,
            max_bytes_per_relay_epoch: TIB,
            new_relay_bytes: 16 * GIB,
            max_cosigned_bytes_per_epoch: 16 * TIB,
            cosign_rate: Default::default(),
            expiry_grace_secs: 3_600,
            prune_interval_secs: 60,
            origin: None,
            origin_allow: Vec::new(),
            origin_deny: Vec::new(),
            origin_min_bond: 0,
            origin_ask_window_secs: 120,
            watch_relays: Vec::new(),
            unknown: RefuseUnknownKeys,
        }
    }
}

impl GatewayConfig {
    pub fn validate(&self) -> Result<Pubkey> {
        let Some(consumer) = self.consumer else {
            bail!("no consumer configured: set `consumer` (the consumer's owner address) or --consumer");
        };
        if self.token_ttl_secs <= 0 {
            bail!("token_ttl_secs must be positive");
        }
        if self.prune_interval_secs == 0 {
            bail!("prune_interval_secs must be more than 0");
        }
        if self.max_bytes_per_session == 0 {
            bail!("max_bytes_per_session must be more than 0");
        }
        let hooks = [
            self.shared_secret.is_some(),
            self.jwt_public_key.is_some(),
            self.auth_callback_url.is_some(),
        ];
        if hooks.iter().filter(|h| **h).count() > 1 {
            bail!("set at most one of shared_secret, jwt_public_key and auth_callback_url");
        }
        if self.max_bytes_per_relay_epoch == 0
            || self.new_relay_bytes == 0
            || self.max_cosigned_bytes_per_epoch == 0
        {
            bail!("max_bytes_per_relay_epoch, new_relay_bytes and max_cosigned_bytes_per_epoch must be more than 0");
        }
        if self.max_sessions_per_epoch == 0 || self.max_session_bytes_per_epoch == 0 {
            bail!("max_sessions_per_epoch and max_session_bytes_per_epoch must be more than 0");
        }
        if self.origin_ask_window_secs <= 0 {
            bail!("origin_ask_window_secs must be more than 0");
        }
        if let Some(origin) = &self.origin {
            if !matches!(origin.scheme(), "http" | "https") || origin.host().is_none() {
                bail!("origin {origin} must be an http(s) URL with a host");
            }
            if self.service.rpc_url.is_none() {
                bail!("origin needs rpc_url: the gateway hands it only to relays the chain lists");
            }
        }
        Ok(consumer)
    }
}

/// The gateway's defaults for the shared settings.
pub struct GatewayDefaults;

impl ServiceDefaults for GatewayDefaults {
    const WHAT: &'static str = "gateway config";
    fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8090))
    }
    fn store() -> PathBuf {
        PathBuf::from("gateway.redb")
    }
    fn rpc_url() -> Option<String> {
        None
    }
}

impl ServiceConfig for GatewayConfig {
    type Defaults = GatewayDefaults;
    fn service_mut(&mut self) -> &mut ServiceSettings<GatewayDefaults> {
        &mut self.service
    }
}
