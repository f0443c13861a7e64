//! Serving the consumers the chain lists (`serve` in the config, issue 17). At each chain
//! refresh the relay reads the consumer accounts, keeps those its policy includes that are
//! active, publish a gateway URL and have spendable escrow, and takes on new ones a few per
//! refresh (`new_consumers_per_refresh`, up to `max_consumers` routes): it asks the
//! consumer's gateway for the origin with an ask signed by its node key, checks the URLs it
//! is given as it checks configured ones, opens its lane if it has none, and adds the route.
//! A consumer that leaves the listing stops being served (its debts are still co-signed).
//! A gateway that refuses or fails is asked again after a back-off.
use crate::config::Serve;
use crate::directory::Directory;
use anchor_lang::prelude::Pubkey;
use ed25519_dalek::SigningKey;
use media_network::state::Consumer;
use media_sdk::api::gateway::{OriginRequest, OriginResponse};
use media_sdk::client::Cluster;
use media_sdk::pda;
use media_sdk::session::OriginAsk;
use solana_keypair::Keypair;
use solana_signer::Signer;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// The longest a consumer whose gateway failed waits before it is asked again.
const MAX_RETRY: Duration = Duration::from_secs(600);
/// A consumer taken on is not asked again (a changed gateway URL) before this: flipping the
/// URL on chain every refresh cannot take every handshake slot.
const REHANDSHAKE_AFTER: Duration = Duration::from_secs(60);

/// A consumer the chain lists for this relay to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub owner: Pubkey,
    pub gateway: String,
}

/// The consumers among `accounts` that `serve` includes and that can be served in `epoch`:
/// active, with a gateway URL and spendable escrow, sorted by owner.
pub fn listed_consumers(accounts: &[Consumer], serve: &Serve, epoch: u64) -> Vec<Listed> {
    let mut listed: Vec<Listed> = accounts
        .iter()
        .filter(|c| c.is_active() && serve.includes(&c.owner) && c.spendable_for(epoch) > 0)
        .filter_map(|c| {
            Some(Listed {
                owner: c.owner,
                gateway: c.gateway_url.clone()?,
            })
        })
        .collect();
    listed.sort_by_key(|l| l.owner);
    listed.dedup_by_key(|l| l.owner);
    listed
}

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("gateway URL {0:?} is not an http(s) URL")]
    GatewayUrl(String),
    #[error("gateway {url} resolves to {ip}, which is not public; set allow_private_gateways")]
    PrivateGateway { url: String, ip: std::net::IpAddr },
    #[error("resolving gateway {url}: {message}")]
    Resolve { url: String, message: String },
    #[error("asking {url} for the origin: {message}")]
    Call { url: String, message: String },
    #[error("the gateway answered for consumer {0}")]
    WrongConsumer(String),
    #[error("the origin {origin:?} the gateway gave is not usable: {message}")]
    Origin { origin: String, message: String },
}

/// What the handshake may reach and how long it may take.
#[derive(Debug, Clone, Copy)]
pub struct HandshakeLimits {
    pub allow_private_gateways: bool,
    pub allow_private_origins: bool,
    pub timeout: Duration,
}

/// Checks that `gateway` is an http(s) URL whose host (a literal address or every address
/// its name resolves to) is public, unless private gateways are allowed.
pub async fn check_gateway_url(gateway: &str, allow_private: bool) -> Result<Url, HandshakeError> {
    let url = Url::parse(gateway)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| HandshakeError::GatewayUrl(gateway.to_string()))?;
    if allow_private {
        return Ok(url);
    }
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let resolved = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::lookup_host((host.trim_matches(['[', ']']), port)),
    )
    .await
    .map_err(|_| HandshakeError::Resolve {
        url: url.to_string(),
        message: "timed out".into(),
    })?
    .map_err(|e| HandshakeError::Resolve {
        url: url.to_string(),
        message: e.to_string(),
    })?;
    for address in resolved {
        if !crate::origin::is_public(address.ip()) {
            return Err(HandshakeError::PrivateGateway {
                url: url.to_string(),
                ip: address.ip(),
            });
        }
    }
    Ok(url)
}

/// Asks `gateway` for `consumer`'s origin with an ask signed by `node`, and checks the
/// answer: for that consumer, an http(s) origin at an address the relay may fetch from.
pub async fn ask_origin(
    http: &reqwest::Client,
    gateway: &Url,
    node: &SigningKey,
    config: Pubkey,
    consumer: Pubkey,
    limits: HandshakeLimits,
    now: i64,
) -> Result<Url, HandshakeError> {
    let ask = OriginAsk {
        config,
        consumer,
        node_key: media_sdk::receipt::pubkey_of(node),
        issued_at: now,
    }
    .sign(node);
    let failed = |message: String| HandshakeError::Call {
        url: gateway.to_string(),
        message,
    };
    let url = gateway
        .join(".media/origin")
        .map_err(|e| failed(e.to_string()))?;
    let call = http
        .post(url)
        .timeout(limits.timeout)
        .json(&OriginRequest {
            ask: ask.to_base64(),
        })
        .send();
    let response = call.await.map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(crate::outbox::error_text(response).await));
    }
    let answer: OriginResponse = crate::outbox::read_json(response).await.map_err(failed)?;
    if answer.consumer != consumer.to_string() {
        return Err(HandshakeError::WrongConsumer(answer.consumer));
    }
    let bad = |message: String| HandshakeError::Origin {
        origin: answer.origin.clone(),
        message,
    };
    let origin = Url::parse(&answer.origin).map_err(|e| bad(e.to_string()))?;
    if !matches!(origin.scheme(), "http" | "https") || origin.host().is_none() {
        return Err(bad("not an http(s) URL with a host".into()));
    }
    crate::origin::check_literal_host(&origin, limits.allow_private_origins)
        .map_err(|e| bad(e.to_string()))?;
    Ok(origin)
}

/// The job that keeps the directory following the chain's listing.
pub struct Discover {
    pub cluster: Arc<Cluster>,
    pub node: Arc<Keypair>,
    pub directory: Arc<Directory>,
    pub serve: Serve,
    pub max_consumers: usize,
    pub new_per_refresh: usize,
    pub limits: HandshakeLimits,
    pub http: reqwest::Client,
    pub every: Duration,
    /// The provider's owner (for `open_lane`), found on the first pass.
    pub provider_owner: Option<Pubkey>,
    /// Consumers whose handshake failed: when to ask again and how many failures in a row.
    pub retry: HashMap<Pubkey, (Instant, u32)>,
    /// Each consumer's gateway URL as last taken on, so a change is noticed.
    pub taken: HashMap<Pubkey, String>,
    /// Passes so far: where in the listing a pass starts turns with it, so owners that sort
    /// first (addresses can be ground) do not always go first.
    pub passes: usize,
}

impl Discover {
    /// One pass: returns how many consumers were taken on.
    pub async fn pass(&mut self) -> anyhow::Result<usize> {
        let config: media_network::state::Config = self.cluster.decode(&pda::config()).await?;
        let accounts: Vec<Consumer> = self
            .cluster
            .all::<Consumer>(&media_network::ID)
            .await?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        let mut listed = listed_consumers(&accounts, &self.serve, config.epoch);
        if !listed.is_empty() {
            let turn = self.passes % listed.len();
            listed.rotate_left(turn);
        }
        self.passes = self.passes.wrapping_add(1);
        let owners: Vec<Pubkey> = listed.iter().map(|l| l.owner).collect();
        for gone in self.directory.unlist_others(&owners, config.epoch) {
            self.taken.remove(&gone);
            tracing::info!(consumer = %gone, "consumer left the chain's listing; no longer served");
        }
        for evicted in self.directory.evict_unlisted(config.epoch) {
            self.retry.remove(&evicted);
            tracing::info!(consumer = %evicted, "forgot a consumer unlisted two epochs ago");
        }
        let now = Instant::now();
        let mut taken_on = 0;
        for consumer in listed {
            if taken_on >= self.new_per_refresh {
                tracing::info!(
                    "{} new consumers taken on this refresh; the rest wait",
                    self.new_per_refresh
                );
                break;
            }
            let known = self.directory.route(&consumer.owner);
            if known.as_ref().is_some_and(|r| !r.discovered) {
                continue; // configured by hand
            }
            let same_gateway = self.taken.get(&consumer.owner) == Some(&consumer.gateway);
            if known.as_ref().is_some_and(|r| r.listed) && same_gateway {
                continue;
            }
            if known.is_none() && self.directory.len() >= self.max_consumers {
                tracing::warn!(max_consumers = self.max_consumers, consumer = %consumer.owner,
                    "not taking on another consumer: max_consumers reached");
                break;
            }
            if self
                .retry
                .get(&consumer.owner)
                .is_some_and(|(at, _)| *at > now)
            {
                continue;
            }
            taken_on += 1;
            match self.take_on(&consumer).await {
                Ok(origin) => {
                    self.retry
                        .insert(consumer.owner, (now + REHANDSHAKE_AFTER, 0));
                    tracing::info!(consumer = %consumer.owner, gateway = %consumer.gateway,
                        origin_host = origin.host_str().unwrap_or(""), "serving a consumer the chain lists");
                }
                Err(e) => {
                    let failures = self.retry.get(&consumer.owner).map_or(0, |(_, n)| *n) + 1;
                    let wait = self
                        .every
                        .saturating_mul(1 << failures.min(10))
                        .min(MAX_RETRY);
                    self.retry.insert(consumer.owner, (now + wait, failures));
                    tracing::warn!(consumer = %consumer.owner, error = %format!("{e:#}"), ?wait,
                        "cannot serve a listed consumer yet");
                }
            }
        }
        Ok(taken_on)
    }

    /// The handshake, the lane and the route for one consumer.
    async fn take_on(&mut self, consumer: &Listed) -> anyhow::Result<Url> {
        let gateway =
            check_gateway_url(&consumer.gateway, self.limits.allow_private_gateways).await?;
        let origin = ask_origin(
            &self.http,
            &gateway,
            &media_sdk::client::signing_key(&self.node),
            pda::config(),
            consumer.owner,
            self.limits,
            media_sdk::clock::unix_now(),
        )
        .await?;
        self.open_lane(&consumer.owner).await?;
        self.directory
            .discovered(consumer.owner, origin.clone(), gateway);
        self.taken.insert(consumer.owner, consumer.gateway.clone());
        Ok(origin)
    }

    async fn open_lane(&mut self, consumer: &Pubkey) -> anyhow::Result<()> {
        let owner = match self.provider_owner {
            Some(owner) => owner,
            None => {
                let owner =
                    crate::chain::provider_owner(&self.cluster, &self.node.pubkey()).await?;
                self.provider_owner = Some(owner);
                owner
            }
        };
        crate::chain::open_lane(&self.cluster, &self.node, &owner, consumer).await
    }
}

impl media_service::tasks::Job for Discover {
    fn name(&self) -> &'static str {
        "consumer discovery"
    }

    fn interval(&self) -> Duration {
        self.every
    }

    async fn tick(&mut self) -> anyhow::Result<()> {
        self.pass().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gateways_at_private_addresses_are_refused_unless_allowed() {
        for private in [
            "http://127.0.0.1:8090/",
            "http://10.1.2.3/",
            "http://169.254.169.254/",
            "http://[::1]:80/",
            "http://localhost:8090/",
        ] {
            assert!(
                matches!(
                    check_gateway_url(private, false).await,
                    Err(HandshakeError::PrivateGateway { .. })
                ),
                "{private}"
            );
            assert!(check_gateway_url(private, true).await.is_ok(), "{private}");
        }
        for bad in ["ftp://gw.example/", "not a url", "http://"] {
            assert!(
                matches!(
                    check_gateway_url(bad, true).await,
                    Err(HandshakeError::GatewayUrl(_))
                ),
                "{bad}"
            );
        }
        assert!(check_gateway_url("http://93.184.216.34/", false)
            .await
            .is_ok());
    }
}
