//! Finding relays: the candidates are the active edge providers the chain lists (endpoint,
//! region, node key), and a probe of each one's `/health` keeps those that answer with the
//! node key the chain has for them and serve the consumer, ranked by round-trip time.
//! A relay's own word is never enough: one whose node key differs from the chain's is
//! dropped, since the receipts a viewer signs name the node key they pay.
use crate::{RelayTarget, Viewer};
use anchor_lang::prelude::Pubkey;
use media_network::state::Provider;
use media_sdk::api::gateway::RelaysResponse;
use media_sdk::api::relay::RelayHealth;
use media_sdk::client::Cluster;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// The most of a relay's `/health` a probe reads.
const MAX_HEALTH_BYTES: usize = 64 << 10;
/// Probes in flight at once: bounds sockets and memory however many providers the chain
/// lists, and keeps the measured RTTs from being mostly contention.
const PROBES_AT_ONCE: usize = 32;

/// A relay the chain lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub owner: Pubkey,
    pub node_key: Pubkey,
    pub endpoint: Url,
    pub region: String,
}

/// A candidate that answered its probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub candidate: Candidate,
    pub rtt: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("reading the providers from {url}: {message}")]
    Chain { url: String, message: String },
    #[error("reading the relay listing of {url}: {message}")]
    Gateway { url: String, message: String },
}

/// Where a viewer learns of relays: the chain over RPC, or a gateway's listing
/// (`GET /.media/relays`, the gateway's own chain read) for clients without RPC access.
#[derive(Clone)]
pub enum Source {
    Chain(Arc<Cluster>),
    Gateway(Url),
}

impl Source {
    /// The relays the source lists now.
    pub async fn candidates(
        &self,
        http: &reqwest::Client,
    ) -> Result<Vec<Candidate>, DiscoveryError> {
        match self {
            Source::Chain(cluster) => relays_from_chain(cluster).await,
            Source::Gateway(gateway) => relays_from_gateway(http, gateway).await,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Source::Chain(cluster) => format!("the chain at {}", cluster.url),
            Source::Gateway(gateway) => format!("the relay listing of {gateway}"),
        }
    }
}

/// The most of a gateway's relay listing a viewer reads (some 200 bytes per relay).
const MAX_LISTING_BYTES: usize = 4 << 20;
/// How long reading a listing may take.
const LISTING_TIMEOUT: Duration = Duration::from_secs(10);

/// The candidates of `providers`: the listed relays (active edges with an http(s)
/// endpoint, `media_sdk::discovery::is_listed`) whose endpoint parses, by node key.
pub fn candidates(providers: &[Provider]) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = providers
        .iter()
        .filter(|p| media_sdk::discovery::is_listed(p))
        .filter_map(|p| {
            Some(Candidate {
                owner: p.owner,
                node_key: p.node_key,
                endpoint: base_url(&p.endpoint)?,
                region: media_sdk::discovery::region_text(&p.region),
            })
        })
        .collect();
    found.sort_by_key(|c| c.node_key.to_string());
    found
}

/// `endpoint` as a base that relative paths (`health`, `c/...`) extend rather than replace:
/// a path gets a trailing `/`, and a query or fragment is dropped.
fn base_url(endpoint: &str) -> Option<Url> {
    let mut url = Url::parse(endpoint).ok()?;
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Some(url)
}

/// The candidates the chain at `cluster` lists now.
pub async fn relays_from_chain(cluster: &Cluster) -> Result<Vec<Candidate>, DiscoveryError> {
    let providers = cluster
        .all::<Provider>(&media_network::ID)
        .await
        .map_err(|e| DiscoveryError::Chain {
            url: cluster.url.clone(),
            message: format!("{e:#}"),
        })?;
    let providers: Vec<Provider> = providers.into_iter().map(|(_, p)| p).collect();
    Ok(candidates(&providers))
}

/// The candidates a gateway lists at `GET {gateway}/.media/relays` (read within
/// `LISTING_TIMEOUT`, at most `MAX_LISTING_BYTES`); entries that do not parse are skipped.
/// The gateway is trusted for the list only: each relay's node key is still checked by its
/// probe and by every answer.
pub async fn relays_from_gateway(
    http: &reqwest::Client,
    gateway: &Url,
) -> Result<Vec<Candidate>, DiscoveryError> {
    let failed = |message: String| DiscoveryError::Gateway {
        url: gateway.to_string(),
        message,
    };
    let url = gateway
        .join(".media/relays")
        .map_err(|e| failed(e.to_string()))?;
    let read = async {
        let mut response = http
            .get(url)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("answered {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
            if body.len() + chunk.len() > MAX_LISTING_BYTES {
                return Err(failed(format!("larger than {MAX_LISTING_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    let body = tokio::time::timeout(LISTING_TIMEOUT, read)
        .await
        .map_err(|_| failed(format!("no answer in {LISTING_TIMEOUT:?}")))??;
    let listing: RelaysResponse =
        serde_json::from_slice(&body).map_err(|e| failed(e.to_string()))?;
    let mut found: Vec<Candidate> = listing
        .relays
        .into_iter()
        .filter_map(|relay| {
            Some(Candidate {
                owner: Pubkey::from_str(&relay.owner).ok()?,
                node_key: Pubkey::from_str(&relay.node_key).ok()?,
                endpoint: base_url(&relay.endpoint)
                    .filter(|u| matches!(u.scheme(), "http" | "https"))?,
                region: relay.region,
            })
        })
        .collect();
    found.sort_by_key(|c| c.node_key.to_string());
    found.dedup_by_key(|c| c.node_key);
    Ok(found)
}

/// The relays of `source` that serve `consumer`, probed and ranked (`rank`).
pub async fn discover(
    http: &reqwest::Client,
    source: &Source,
    consumer: &Pubkey,
    probe_timeout: Duration,
) -> Result<Vec<Ranked>, DiscoveryError> {
    let candidates = source.candidates(http).await?;
    Ok(rank(http, candidates, consumer, probe_timeout).await)
}

/// Keeps `viewer`'s relays following `source`: every `every`, the listed relays are probed
/// and ranked again; a relay that joined is added, one no longer listed (deactivated, or
/// its node key changed) is dropped, and one still listed that missed its probe stays at
/// the end (its failures bench it). A failed read keeps the relays as they are.
pub fn follow(
    viewer: Arc<Viewer>,
    source: Source,
    every: Duration,
    probe_timeout: Duration,
) -> tokio::task::JoinHandle<()> {
    let http = probe_client(probe_timeout);
    tokio::spawn(async move {
        let consumer = viewer.token().grant.consumer;
        loop {
            tokio::time::sleep(every).await;
            let candidates = match source.candidates(&http).await {
                Ok(candidates) => candidates,
                Err(e) => {
                    tracing::warn!(error = %e, "re-reading the relays failed; keeping the ones in use");
                    continue;
                }
            };
            let ranked = rank(&http, candidates.clone(), &consumer, probe_timeout).await;
            let next = still_listed(ranked, &candidates, &viewer.relays());
            if next.is_empty() {
                // The source answered and lists none: a deactivated relay is not used, even
                // when it was the last one (a failed read keeps the relays, above).
                tracing::warn!(source = %source.describe(), "no listed relay serves this consumer");
            }
            viewer.set_relays(next);
        }
    })
}

/// The relays to use after a re-read: the ranked ones, then those in use that are still
/// listed with the same node key but missed their probe.
fn still_listed(
    ranked: Vec<Ranked>,
    listed: &[Candidate],
    in_use: &[RelayTarget],
) -> Vec<RelayTarget> {
    let mut next: Vec<RelayTarget> = ranked.into_iter().map(RelayTarget::from).collect();
    for target in in_use {
        let listed_so = listed
            .iter()
            .any(|c| c.endpoint == target.url && Some(c.node_key) == target.node_key);
        if listed_so && !next.contains(target) {
            next.push(target.clone());
        }
    }
    next
}

/// An HTTP client for probes and listings: no redirects (a relay answers for itself).
pub fn probe_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// Probes the candidates' `/health` (`PROBES_AT_ONCE` at a time, each within `timeout`) and
/// keeps those that answer with their chain node key and serve `consumer`, fastest first.
/// `http` should not follow redirects (a relay must answer for itself).
pub async fn rank(
    http: &reqwest::Client,
    candidates: Vec<Candidate>,
    consumer: &Pubkey,
    timeout: Duration,
) -> Vec<Ranked> {
    let probes = candidates.into_iter().map(|candidate| async move {
        let started = Instant::now();
        let health = tokio::time::timeout(timeout, probe(http, &candidate.endpoint))
            .await
            .ok()
            .flatten()?;
        let rtt = started.elapsed();
        let serves = health
            .consumers
            .get(&consumer.to_string())
            .is_some_and(|c| c.served);
        let same_key = health.node_key == candidate.node_key.to_string();
        if !same_key {
            tracing::warn!(relay = %candidate.endpoint, chain = %candidate.node_key, answered = %health.node_key,
                "a relay answered with another node key than the chain's; not used");
        }
        (same_key && serves).then_some(Ranked { candidate, rtt })
    });
    use futures::StreamExt;
    let mut ranked: Vec<Ranked> = futures::stream::iter(probes)
        .buffer_unordered(PROBES_AT_ONCE)
        .filter_map(|r| async move { r })
        .collect()
        .await;
    ranked.sort_by_key(|r| r.rtt);
    ranked
}

/// A relay's health, read up to `MAX_HEALTH_BYTES`; `None` for any failure (a relay whose
/// store failed answers 503, still with its health, and is still a candidate only if 200).
async fn probe(http: &reqwest::Client, endpoint: &Url) -> Option<RelayHealth> {
    let url = endpoint.join("health").ok()?;
    let mut response = http.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        if body.len() + chunk.len() > MAX_HEALTH_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use media_network::state::{ProviderKind, ProviderStatus};

    fn provider(endpoint: &str, status: ProviderStatus, kind: ProviderKind) -> Provider {
        let mut region = [0u8; 8];
        region[..2].copy_from_slice(b"eu");
        let registration = media_network::state::Registration {
            node_key: Pubkey::new_unique(),
            kind,
            endpoint: endpoint.into(),
            region,
            bond: 1,
        };
        let mut provider = Provider::register(255, Pubkey::new_unique(), registration, 1);
        provider.status = status;
        provider
    }

    #[test]
    fn only_active_edges_with_a_usable_endpoint_are_candidates() {
        let listed = [
            provider(
                "http://127.0.0.1:1/",
                ProviderStatus::Active,
                ProviderKind::Edge,
            ),
            provider(
                "http://127.0.0.1:2/",
                ProviderStatus::Deactivated,
                ProviderKind::Edge,
            ),
            provider(
                "http://127.0.0.1:3/",
                ProviderStatus::Active,
                ProviderKind::Guard,
            ),
            provider(
                "ftp://127.0.0.1:4/",
                ProviderStatus::Active,
                ProviderKind::Edge,
            ),
        ];
        let found = candidates(&listed);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].endpoint.as_str(), "http://127.0.0.1:1/");
        // A path is a base that `health` extends, not replaces.
        let with_path = [provider(
            "https://edge.example/relay?x=1",
            ProviderStatus::Active,
            ProviderKind::Edge,
        )];
        let base = &candidates(&with_path)[0].endpoint;
        assert_eq!(
            base.join("health").unwrap().as_str(),
            "https://edge.example/relay/health"
        );
        assert_eq!(found[0].region, "eu");
        assert_eq!(found[0].node_key, listed[0].node_key);
    }

    /// A relay that serves the consumer with its chain node key is ranked, the faster first;
    /// one that answers with another node key, one that does not serve the consumer, and
    /// one that does not answer within the timeout are not.
    #[tokio::test]
    async fn relays_are_ranked_by_rtt_and_impostors_are_dropped() {
        let consumer = Pubkey::new_unique();
        let serve = |node_key: Pubkey, served: bool, delay_ms: u64| async move {
            let body = serde_json::json!({
                "node_key": node_key.to_string(),
                "epoch": 3,
                "consumers": { consumer.to_string(): { "served": served } },
                "tasks": {},
            });
            let app = axum::Router::new().route(
                "/health",
                get(move || async move {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    axum::Json(body)
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await });
            url
        };
        let candidate = |url: String, node_key: Pubkey| Candidate {
            owner: Pubkey::new_unique(),
            node_key,
            endpoint: url.parse().unwrap(),
            region: "eu".into(),
        };
        let (slow, fast, impostor, idle, hung) = (
            Pubkey::new_unique(),
            Pubkey::new_unique(),
            Pubkey::new_unique(),
            Pubkey::new_unique(),
            Pubkey::new_unique(),
        );
        let candidates = vec![
            candidate(serve(slow, true, 150).await, slow),
            candidate(serve(fast, true, 0).await, fast),
            // Answers with a key the chain does not have for it.
            candidate(serve(Pubkey::new_unique(), true, 0).await, impostor),
            candidate(serve(idle, false, 0).await, idle),
            candidate(serve(hung, true, 5_000).await, hung),
            candidate("http://127.0.0.1:1/".into(), Pubkey::new_unique()),
        ];
        let http = reqwest::Client::new();
        let ranked = rank(&http, candidates, &consumer, Duration::from_secs(1)).await;
        let order: Vec<Pubkey> = ranked.iter().map(|r| r.candidate.node_key).collect();
        assert_eq!(order, vec![fast, slow]);
        assert!(ranked[0].rtt <= ranked[1].rtt);
    }
}
