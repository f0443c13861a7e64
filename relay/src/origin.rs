//! Fetching from a consumer's origin: whole objects or byte ranges of them, their bodies read
//! as they arrive, with timeouts, no content decoding (the relay forwards the origin's bytes
//! as they are).
//!
//! The relay's host is protected from the origin and from viewers (review H3, H4):
//! - redirects are never followed and no system proxy is used, so an origin cannot send the
//!   relay to another host;
//! - every address the origin's name resolves to, and an address literal in the URL, must be
//!   public (not loopback, private, link-local — where cloud metadata lives — shared,
//!   multicast or unspecified) unless the operator allows private origins;
//! - bodies are read chunk by chunk and abandoned past the fetch's limit (`max_object_bytes`
//!   for a whole object, the slice for a range), whatever the origin says its length is;
//! - at most `max_concurrent_fetches` fetches run at once and together buffer at most
//!   `max_fetch_bytes`; a fetch beyond either limit fails at once with `Busy` (503).
use bytes::Bytes;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, CONTENT_RANGE, RANGE};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::{Host, Url};

#[derive(Debug, Clone, thiserror::Error)]
pub enum OriginError {
    #[error("origin timed out after {0:?}")]
    Timeout(Duration),
    #[error("origin unreachable: {0}")]
    Unreachable(String),
    #[error("origin object larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the origin answered with a redirect ({0}); relays do not follow redirects")]
    Redirect(u16),
    #[error("origin address {0} is not public; set allow_private_origins to fetch from it")]
    PrivateAddress(IpAddr),
    #[error("too many origin fetches in flight; retry shortly")]
    Busy,
    /// A ranged answer that does not fit what was asked, or an object that changed between
    /// the slices of one response.
    #[error("the origin's ranged answer does not fit: {0}")]
    BadRange(String),
}

impl OriginError {
    /// What a viewer is told: the kind of failure, never the origin's URL or address, which
    /// the publisher keeps private (issue 17; the relay's log has the details).
    pub fn viewer_message(&self) -> String {
        match self {
            OriginError::Unreachable(_) => "the origin is unreachable".into(),
            OriginError::PrivateAddress(_) => {
                "the origin's address is not one this relay fetches from".into()
            }
            OriginError::Timeout(_)
            | OriginError::TooLarge { .. }
            | OriginError::Redirect(_)
            | OriginError::Busy
            | OriginError::BadRange(_) => self.to_string(),
        }
    }
}

/// A byte range of an object, `start..end` (end exclusive), as the relay asks it of an origin.
pub type ByteRange = std::ops::Range<u64>;

/// `Content-Range: bytes a-b/total` (or `bytes */total` on a 416).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// `None` for `*` (a 416's "no range").
    pub range: Option<(u64, u64)>,
    /// `None` for `*` (length unknown).
    pub total: Option<u64>,
}

impl ContentRange {
    pub fn parse(value: &str) -> Option<ContentRange> {
        let spec = value.trim().strip_prefix("bytes ")?;
        let (range, total) = spec.split_once('/')?;
        let total = match total.trim() {
            "*" => None,
            n => Some(n.parse().ok()?),
        };
        let range = match range.trim() {
            "*" => None,
            r => {
                let (first, last) = r.split_once('-')?;
                let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
                if last < first || total.is_some_and(|t| last >= t) {
                    return None;
                }
                Some((first, last))
            }
        };
        Some(ContentRange { range, total })
    }
}

/// An origin's answer whose body is still to be read, chunk by chunk.
pub struct Opened {
    pub status: u16,
    /// The headers passed on to viewers.
    pub headers: HeaderMap,
    pub content_length: Option<u64>,
    pub content_range: Option<ContentRange>,
    response: reqwest::Response,
    idle_timeout: Duration,
    buffered_kib: Arc<Semaphore>,
    /// The fetch slot and the buffer budget this body holds until it is dropped.
    _slot: OwnedSemaphorePermit,
    held: Vec<OwnedSemaphorePermit>,
    received: u64,
    limit: u64,
}

impl Opened {
    /// The next piece of the body, `None` at its end. Fails when the origin is silent for
    /// the timeout, when the body passes `limit` bytes, or when the relay's buffers are full.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, OriginError> {
        let next = tokio::time::timeout(self.idle_timeout, self.response.chunk())
            .await
            .map_err(|_| OriginError::Timeout(self.idle_timeout))?
            .map_err(|e| OriginError::Unreachable(format!("{e:#}")))?;
        let Some(chunk) = next else {
            return Ok(None);
        };
        self.received += chunk.len() as u64;
        if self.received > self.limit {
            return Err(OriginError::TooLarge {
                limit: usize::try_from(self.limit).unwrap_or(usize::MAX),
            });
        }
        let permits = u32::try_from(kib(chunk.len())).map_err(|_| OriginError::Busy)?;
        if permits > 0 {
            let permit = self
                .buffered_kib
                .clone()
                .try_acquire_many_owned(permits)
                .map_err(|_| OriginError::Busy)?;
            self.held.push(permit);
        }
        Ok(Some(chunk))
    }

    pub fn is_playlist(&self) -> bool {
        crate::cache::is_playlist(self.response.url().path(), &self.headers)
    }
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("status", &self.status)
            .field("content_length", &self.content_length)
            .field("content_range", &self.content_range)
            .finish_non_exhaustive()
    }
}

/// Headers passed from the origin to viewers (hop-by-hop and length headers are the relay's).
const FORWARDED: [&str; 7] = [
    "content-type",
    "cache-control",
    "etag",
    "last-modified",
    "expires",
    "content-encoding",
    "content-language",
];

/// What the relay lets origins cost it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginLimits {
    pub timeout: Duration,
    pub max_object_bytes: usize,
    pub max_concurrent_fetches: usize,
    pub max_fetch_bytes: usize,
    pub allow_private: bool,
}

pub struct Origin {
    http: reqwest::Client,
    limits: OriginLimits,
    fetches: Arc<Semaphore>,
    /// Buffered bytes of fetches in flight, in KiB permits.
    buffered_kib: Arc<Semaphore>,
}

impl Origin {
    pub fn new(limits: OriginLimits) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(limits.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(PublicResolver {
                allow_private: limits.allow_private,
            }))
            .build()
            .unwrap_or_default();
        Origin {
            http,
            limits,
            fetches: Arc::new(Semaphore::new(limits.max_concurrent_fetches.max(1))),
            buffered_kib: Arc::new(Semaphore::new(kib(limits.max_fetch_bytes).max(1))),
        }
    }

    /// Starts a GET of `url` (of `range` of it, when given) and returns once the origin has
    /// answered with its status and headers; the body, at most `limit` bytes, is read from
    /// the answer. Connection failures are `Unreachable`; no answer within the timeout, or a
    /// body silent for as long, is `Timeout`.
    pub async fn open(
        &self,
        url: &Url,
        range: Option<ByteRange>,
        limit: u64,
    ) -> Result<Opened, OriginError> {
        check_literal_host(url, self.limits.allow_private)?;
        let Ok(slot) = self.fetches.clone().try_acquire_owned() else {
            return Err(OriginError::Busy);
        };
        let timeout = self.limits.timeout;
        let unreachable = |e: reqwest::Error| match private_address_in(&e) {
            Some(ip) => OriginError::PrivateAddress(ip),
            None => OriginError::Unreachable(format!("{e:#}")),
        };
        let mut request = self.http.get(url.as_str());
        if let Some(range) = &range {
            if range.is_empty() {
                return Err(OriginError::BadRange("an empty range was asked".into()));
            }
            request = request.header(RANGE, format!("bytes={}-{}", range.start, range.end - 1));
        }
        let response = tokio::time::timeout(timeout, request.send())
            .await
            .map_err(|_| OriginError::Timeout(timeout))?
            .map_err(unreachable)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(OriginError::Redirect(status.as_u16()));
        }
        let mut headers = HeaderMap::new();
        for name in FORWARDED {
            let name = HeaderName::from_static(name);
            for value in response.headers().get_all(&name) {
                headers.append(name.clone(), value.clone());
            }
        }
        let content_length = response.content_length();
        if content_length.is_some_and(|n| n > limit) {
            return Err(OriginError::TooLarge {
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            });
        }
        let content_range = response
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(ContentRange::parse);
        Ok(Opened {
            status: status.as_u16(),
            headers,
            content_length,
            content_range,
            response,
            idle_timeout: timeout,
            buffered_kib: self.buffered_kib.clone(),
            _slot: slot,
            held: Vec::new(),
            received: 0,
            limit,
        })
    }

    /// How long the origin may take to answer, or be silent within a body.
    pub fn timeout(&self) -> Duration {
        self.limits.timeout
    }

    /// The most one object fetched whole may be.
    pub fn max_object_bytes(&self) -> u64 {
        self.limits.max_object_bytes as u64
    }
}

fn kib(bytes: usize) -> usize {
    bytes.div_ceil(1024)
}

/// reqwest's resolver, refusing names that resolve to non-public addresses (checked at every
/// connection, so a name cannot be rebound to a private address after a check).
pub(crate) struct PublicResolver {
    pub(crate) allow_private: bool,
}

/// The error a refused resolution carries to the fetch, which names the address.
#[derive(Debug, thiserror::Error)]
#[error("{0} is not a public address")]
struct RefusedAddress(IpAddr);

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private {
                if let Some(refused) = resolved.iter().find(|a| !is_public(a.ip())) {
                    return Err(Box::new(RefusedAddress(refused.ip())) as _);
                }
            }
            Ok(Box::new(resolved.into_iter()) as Addrs)
        })
    }
}

/// Finds a `RefusedAddress` in a reqwest error's source chain.
fn private_address_in(error: &reqwest::Error) -> Option<IpAddr> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(RefusedAddress(ip)) = e.downcast_ref::<RefusedAddress>() {
            return Some(*ip);
        }
        source = e.source();
    }
    None
}

/// reqwest does not resolve address literals, so they are checked here.
pub fn check_literal_host(url: &Url, allow_private: bool) -> Result<(), OriginError> {
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ => return Ok(()),
    };
    if allow_private || is_public(ip) {
        Ok(())
    } else {
        Err(OriginError::PrivateAddress(ip))
    }
}

/// Whether `ip` is a globally routable unicast address: not loopback, private (RFC 1918,
/// unique-local), link-local (169.254/16, where cloud metadata answers, and fe80::/10),
/// shared (100.64/10), documentation, benchmarking, multicast, broadcast, unspecified or
/// reserved; IPv4-mapped and -compatible IPv6 addresses are judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped().or_else(|| compatible_v4(v6)) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn compatible_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    (s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1)).then(|| {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    })
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let reserved = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240; // reserved
    !reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let reserved = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || (first & 0xffc0) == 0xfec0 // site local (deprecated)
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b; // NAT64 of anything
    !reserved
}

#[cfg(test)]
mod tests {
    /// Issue 17: errors shown to viewers do not carry the origin's URL or address.
    #[test]
    fn viewers_are_not_told_where_the_origin_is() {
        let unreachable = super::OriginError::Unreachable(
            "error sending request for url (http://10.0.0.5:9000/vod/a.ts)".into(),
        );
        let private = super::OriginError::PrivateAddress("10.0.0.5".parse().unwrap());
        for e in [unreachable, private] {
            assert!(e.to_string().contains("10.0.0.5"), "the log keeps it");
            assert!(
                !e.viewer_message().contains("10.0.0.5"),
                "{}",
                e.viewer_message()
            );
        }
    }

    use super::*;

    #[test]
    fn h3_internal_and_metadata_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn h3_address_literals_are_checked_before_any_connection() {
        let metadata = Url::parse("http://169.254.169.254/latest/meta-data/").unwrap();
        assert!(matches!(
            check_literal_host(&metadata, false),
            Err(OriginError::PrivateAddress(_))
        ));
        check_literal_host(&metadata, true).unwrap();
        let v6 = Url::parse("http://[::1]:8080/").unwrap();
        assert!(check_literal_host(&v6, false).is_err());
        let named = Url::parse("http://origin.example/").unwrap();
        check_literal_host(&named, false).unwrap();
    }

    /// H3: a name that resolves to loopback is refused by the resolver itself.
    #[tokio::test]
    async fn h3_a_name_resolving_to_loopback_is_refused() {
        let origin = Origin::new(OriginLimits {
            timeout: Duration::from_secs(5),
            max_object_bytes: 1 << 20,
            max_concurrent_fetches: 4,
            max_fetch_bytes: 1 << 20,
            allow_private: false,
        });
        let url = Url::parse("http://localhost:9/x").unwrap();
        match origin.open(&url, None, 1 << 20).await.map(|_| ()) {
            Err(OriginError::PrivateAddress(ip)) => assert!(ip.is_loopback(), "{ip}"),
            other => panic!("expected a refused address, got {other:?}"),
        }
    }
}
