//! Per-peer request limits for the endpoints anyone can call without credentials (review M3):
//! a keeper's `POST /receipts` and a gateway's `POST /cosign` cost the service signature
//! checks and store reads per request, so one address gets a steady rate and a burst, and
//! past them a `429` with `Retry-After` before the body is even read. The key is the TCP
//! peer's IP address; behind a reverse proxy every client shares the proxy's address, so
//! raise the limit there (or limit at the proxy).
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

/// Addresses tracked before idle ones are dropped, so a flood of distinct sources cannot grow
/// the limiter's memory without bound (about 100 bytes each).
pub const MAX_TRACKED_PEERS: usize = 100_000;

/// A steady rate per minute and a burst, per peer address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeerQuota {
    pub per_minute: u32,
    pub burst: u32,
}

impl Default for PeerQuota {
    /// Generous for a relay (which posts every few seconds) and still a bound on a flood:
    /// 20 requests a second on average from one address, 200 at once.
    fn default() -> Self {
        PeerQuota {
            per_minute: 1_200,
            burst: 200,
        }
    }
}

/// A rate limit per key (a peer's address, a client's identity) with a bound on the keys it
/// tracks: past `MAX_TRACKED_PEERS`, keys whose bucket is full again are dropped, at most once
/// a second, so a flood of distinct keys costs bounded memory and one scan a second.
pub struct KeyedLimit<K: std::hash::Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
    /// When idle entries were last dropped, in ms since `started` (a monotonic clock, so a
    /// wall clock stepping back cannot stop the pruning).
    pruned_at_ms: std::sync::atomic::AtomicU64,
    started: std::time::Instant,
}

impl<K: std::hash::Hash + Eq + Clone> KeyedLimit<K> {
    /// A limit of `quota`; a zero rate or burst counts as one.
    pub fn new(quota: PeerQuota) -> Self {
        let rate = NonZeroU32::new(quota.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
        KeyedLimit {
            limiter: RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
            pruned_at_ms: Default::default(),
            started: std::time::Instant::now(),
        }
    }

    /// `Ok` when `key` may make another request now, else how long until it may.
    pub fn check(&self, key: &K) -> Result<(), std::time::Duration> {
        if self.limiter.len() > MAX_TRACKED_PEERS {
            use std::sync::atomic::Ordering;
            let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let last = self.pruned_at_ms.load(Ordering::Relaxed);
            // 0: never pruned yet, so the first scan is not held back.
            let due = last == 0 || now_ms.saturating_sub(last) >= 1_000;
            if due
                && self
                    .pruned_at_ms
                    .compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.limiter.retain_recent();
            }
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Drops every key whose bucket is full again (for a periodic prune).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Keys tracked now.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }
}

/// The per-address limit: a [`KeyedLimit`] over [`bucket_of`] the peer's address.
pub struct PeerRateLimit(KeyedLimit<IpAddr>);

/// The bucket an address counts in: an IPv4 address (IPv4-mapped IPv6 included) on its own,
/// an IPv6 address by its /64, the smallest block a site is handed, so one host cannot take a
/// fresh bucket for every address it controls.
pub fn bucket_of(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

impl PeerRateLimit {
    /// A limit of `quota`; a zero rate or burst counts as one.
    pub fn new(quota: PeerQuota) -> Arc<Self> {
        Arc::new(PeerRateLimit(KeyedLimit::new(quota)))
    }

    /// `Ok` when `peer` may make another request now, else how long until it may.
    pub fn check(&self, peer: IpAddr) -> Result<(), std::time::Duration> {
        self.0.check(&bucket_of(peer))
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`) that answers `429 rate_limited` to a
/// peer over its quota. Requests without a peer address (never the case under
/// `http::serve`) pass.
pub async fn limit_by_peer(
    State(limit): State<Arc<PeerRateLimit>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    if let Some(peer) = peer {
        if let Err(wait) = limit.check(peer) {
            metrics::counter!("media_requests_rate_limited_total").increment(1);
            tracing::debug!(%peer, ?wait, "request over the per-address limit");
            // Rounded up: a client that waits what it is told is then admitted.
            let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let retry_after = whole.max(1).to_string();
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after)],
                axum::Json(serde_json::json!({ "error": "rate_limited" })),
            )
                .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn m3_a_peer_over_its_burst_waits_and_others_do_not() {
        let limit = PeerRateLimit::new(PeerQuota {
            per_minute: 60,
            burst: 3,
        });
        let flooder = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        for _ in 0..3 {
            assert_eq!(limit.check(flooder), Ok(()));
        }
        let wait = limit
            .check(flooder)
            .expect_err("the fourth is over the burst");
        // One request a second replenishes: the wait is at most that.
        assert!(wait <= std::time::Duration::from_secs(1), "{wait:?}");
        assert_eq!(limit.check(other), Ok(()));
    }

    #[test]
    fn m3_an_ipv6_host_gets_one_bucket_for_its_whole_64() {
        let limit = PeerRateLimit::new(PeerQuota {
            per_minute: 60,
            burst: 1,
        });
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(limit.check(one), Ok(()));
        assert!(limit.check(same_64).is_err(), "same /64, same bucket");
        assert_eq!(limit.check(other_64), Ok(()));
        // An IPv4-mapped address counts as its IPv4 address.
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(limit.check(v4), Ok(()));
        assert!(limit.check(mapped).is_err());
    }

    #[test]
    fn m3_a_flood_of_distinct_addresses_keeps_the_limiter_bounded() {
        let limit = PeerRateLimit::new(PeerQuota {
            per_minute: 6_000_000,
            burst: 1,
        });
        for n in 0..(MAX_TRACKED_PEERS as u32 + 10_000) {
            let _ = limit.check(IpAddr::V4(Ipv4Addr::from(n)));
        }
        // Every entry replenished within the loop (100,000 a second), so pruning dropped them.
        assert!(
            limit.0.tracked() <= MAX_TRACKED_PEERS + 1,
            "{}",
            limit.0.tracked()
        );
    }
}
