//! The relays one viewer session uses and how it chooses among them: each link keeps what
//! this session received from its relay (the receipts it signs count per relay, so each
//! relay is paid for exactly its own bytes), the throughput it measured there, and a
//! back-off after failures. Playlists go to the fastest usable relay; other objects (HLS
//! segments) are spread over the best `spread` by smooth weighted round robin, weighted by
//! measured throughput, so a slow relay gets few of them and a failed one none until its
//! back-off ends.
use anchor_lang::prelude::Pubkey;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use url::Url;

/// How a viewer moves between relays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Failover {
    /// A relay that sends no byte (headers or body) for this long is left.
    pub stall_timeout: Duration,
    /// Objects other than playlists are spread over this many of the best relays.
    pub spread: usize,
    /// The back-off after a relay's first failure; it doubles with each failure in a row.
    pub backoff: Duration,
    /// The longest back-off.
    pub max_backoff: Duration,
    /// A relay whose body arrives slower than this over a whole `stall_timeout` is left too:
    /// a relay sending a byte just before each stall timeout would otherwise hold the viewer
    /// for ever (0: no minimum).
    pub min_bytes_per_sec: u64,
}

impl Default for Failover {
    fn default() -> Self {
        Failover {
            stall_timeout: Duration::from_secs(5),
            spread: 2,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            // 32 kbit/s: far below any stream worth watching.
            min_bytes_per_sec: 4 << 10,
        }
    }
}

impl Failover {
    /// Whether `bytes` arriving over `elapsed` (at least one stall timeout) is too slow.
    pub fn too_slow(&self, bytes: u64, elapsed: Duration) -> bool {
        let wanted = (self.min_bytes_per_sec as f64 * elapsed.as_secs_f64()) as u64;
        bytes < wanted
    }
}

/// A relay to use: its base URL and, when known from the chain, the node key it must answer
/// with (the receipts name it; a relay answering with another is not used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayTarget {
    pub url: Url,
    pub node_key: Option<Pubkey>,
}

impl RelayTarget {
    /// A relay whose node key is learned from its answers (a relay the user named).
    pub fn named(url: Url) -> Self {
        RelayTarget {
            url,
            node_key: None,
        }
    }
}

impl From<crate::discovery::Ranked> for RelayTarget {
    fn from(ranked: crate::discovery::Ranked) -> Self {
        RelayTarget {
            url: ranked.candidate.endpoint,
            node_key: Some(ranked.candidate.node_key),
        }
    }
}

/// What this viewer has received from one relay in one epoch.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Position {
    pub epoch: u64,
    pub received: u64,
    pub node_key: Option<Pubkey>,
}

/// A link's record of how its relay has done.
#[derive(Debug, Clone, Default)]
struct Record {
    failures_in_row: u32,
    benched_until: Option<Instant>,
    /// Bytes per second, an exponentially weighted mean over completed transfers.
    throughput: Option<f64>,
    /// Smooth weighted round robin's running credit.
    credit: f64,
    bytes: u64,
    failures: u64,
}

/// One relay of a session.
pub(crate) struct Link {
    pub target: RelayTarget,
    pub position: Mutex<Position>,
    /// The newest receipt for this relay, posted by a background task (dropped with the link).
    pub acks: watch::Sender<Option<String>>,
    record: Mutex<Record>,
}

/// How one relay has served a session so far.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayStats {
    pub url: Url,
    pub node_key: Option<Pubkey>,
    /// Body bytes received from it.
    pub bytes: u64,
    /// Times it was left (error, stall, refusal).
    pub failures: u64,
    /// Its measured throughput, bytes per second.
    pub throughput: Option<f64>,
    /// Whether it is backed off now.
    pub benched: bool,
}

/// How long posting one receipt may take (a hung relay holds up only its own receipts).
const RECEIPT_POST_TIMEOUT: Duration = Duration::from_secs(10);

/// A receipt that could not be delivered is posted again after this, doubling up to
/// `RECEIPT_RETRY_MAX`, for at most `RECEIPT_RETRY_FOR`.
const RECEIPT_RETRY_FIRST: Duration = Duration::from_millis(250);
const RECEIPT_RETRY_MAX: Duration = Duration::from_secs(4);
const RECEIPT_RETRY_FOR: Duration = Duration::from_secs(600);
/// Once its link is gone, a receipt is retried for at most this long: a relay list that keeps
/// changing cannot pile up posters that each retry for `RECEIPT_RETRY_FOR`.
const RECEIPT_RETRY_AFTER_DROP: Duration = Duration::from_secs(30);

/// Posts the newest receipt in `latest` whenever there is one; older unsent ones are
/// superseded. One that did not reach the relay, or that the relay could not take (5xx), is
/// posted again with back-off until it is taken, refused (4xx) or superseded: the bytes in
/// flight when a relay dies are acknowledged as soon as it is back, while their epoch can
/// still settle, rather than only when the viewer next uses it. Ends with the link.
async fn post_receipts(
    mut latest: watch::Receiver<Option<String>>,
    http: reqwest::Client,
    url: Option<Url>,
) {
    let Some(url) = url else { return };
    let mut pending: Option<String> = None;
    let mut delay = RECEIPT_RETRY_FIRST;
    let mut give_up = Instant::now();
    // The link is gone: no newer receipt will come, but the last one is still delivered.
    let mut closed = false;
    loop {
        let Some(receipt) = pending.take() else {
            if closed || latest.changed().await.is_err() {
                return;
            }
            pending = latest.borrow_and_update().clone();
            delay = RECEIPT_RETRY_FIRST;
            give_up = Instant::now() + RECEIPT_RETRY_FOR;
            continue;
        };
        let post = http.post(url.clone()).body(receipt.clone());
        match post.timeout(RECEIPT_POST_TIMEOUT).send().await {
            Ok(answer) if answer.status().is_success() => continue,
            Ok(answer) if !answer.status().is_server_error() => {
                // Refused for good (stale, or an epoch the relay no longer counts).
                let status = answer.status();
                let body = crate::read_error_body(answer, RECEIPT_POST_TIMEOUT).await;
                tracing::debug!(%status, body, "a viewer receipt was refused");
                continue;
            }
            Ok(answer) => {
                tracing::debug!(status = %answer.status(), "a viewer receipt was not taken")
            }
            Err(e) => tracing::debug!(error = %e, "posting a viewer receipt failed"),
        }
        if Instant::now() + delay > give_up {
            tracing::debug!("a viewer receipt was given up after retrying");
            continue;
        }
        let superseded = async {
            if closed {
                std::future::pending().await
            } else {
                latest.changed().await
            }
        };
        // Whether a newer receipt came (Some(true)), the link went (Some(false)), or the
        // delay passed (None).
        let newer = tokio::select! {
            changed = superseded => Some(changed.is_ok()),
            () = tokio::time::sleep(delay) => None,
        };
        match newer {
            // Taken up at the top of the loop, as any new receipt is.
            Some(true) => latest.mark_changed(),
            Some(false) => {
                closed = true;
                give_up = give_up.min(Instant::now() + RECEIPT_RETRY_AFTER_DROP);
                pending = Some(receipt);
            }
            None => {
                pending = Some(receipt);
                delay = (delay * 2).min(RECEIPT_RETRY_MAX);
            }
        }
    }
}

/// Weight of the newest measurement in the throughput mean.
const THROUGHPUT_WEIGHT: f64 = 0.3;
/// Transfers smaller than this take as long as the round trip, whatever the relay's
/// bandwidth: they are counted but not measured (a playlist would make any relay look slow).
const MIN_MEASURED_BYTES: u64 = 16 << 10;
/// The relays in the spread share at least this much of the best one's weight between them
/// (each its part), so a relay measured slow once still gets the odd segment and its
/// measurement stays current, and many slow relays together still get no more than this.
const EXPLORE_SHARE: f64 = 0.1;

impl Link {
    pub fn new(target: RelayTarget, http: &reqwest::Client) -> Arc<Self> {
        let (acks, latest) = watch::channel(None::<String>);
        let receipt_url = target.url.join(".media/receipt").ok();
        tokio::spawn(post_receipts(latest, http.clone(), receipt_url));
        Arc::new(Link {
            position: Mutex::new(Position {
                node_key: target.node_key,
                ..Position::default()
            }),
            target,
            acks,
            record: Mutex::new(Record::default()),
        })
    }

    fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn position(&self) -> std::sync::MutexGuard<'_, Position> {
        self.position.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn usable(&self, now: Instant) -> bool {
        self.record().benched_until.is_none_or(|until| until <= now)
    }

    /// When a benched link may be used again.
    pub fn benched_until(&self) -> Option<Instant> {
        self.record().benched_until
    }

    /// `bytes` arrived in `elapsed` (one transfer, from request to its last byte).
    pub fn delivered(&self, bytes: u64, elapsed: Duration) {
        let mut record = self.record();
        record.bytes = record.bytes.saturating_add(bytes);
        record.failures_in_row = 0;
        record.benched_until = None;
        if bytes < MIN_MEASURED_BYTES {
            return;
        }
        let seconds = elapsed.as_secs_f64().max(1e-4);
        let measured = bytes as f64 / seconds;
        record.throughput = Some(match record.throughput {
            Some(mean) => mean + THROUGHPUT_WEIGHT * (measured - mean),
            None => measured,
        });
    }

    /// Bytes that arrived in a transfer that then failed: counted, not measured.
    pub fn received_before_failing(&self, bytes: u64) {
        let mut record = self.record();
        record.bytes = record.bytes.saturating_add(bytes);
    }

    /// The relay failed: it is backed off, twice as long as last time, up to the maximum.
    pub fn failed(&self, failover: &Failover, now: Instant) -> Duration {
        let mut record = self.record();
        record.failures = record.failures.saturating_add(1);
        let doublings = record.failures_in_row.min(16);
        record.failures_in_row = record.failures_in_row.saturating_add(1);
        let backoff = failover
            .backoff
            .saturating_mul(1u32 << doublings)
            .min(failover.max_backoff);
        record.benched_until = Some(now + backoff);
        backoff
    }

    pub fn stats(&self, now: Instant) -> RelayStats {
        let record = self.record();
        RelayStats {
            url: self.target.url.clone(),
            node_key: self.position().node_key,
            bytes: record.bytes,
            failures: record.failures,
            throughput: record.throughput,
            benched: record.benched_until.is_some_and(|until| until > now),
        }
    }
}

/// A playlist stays with its relay unless another measures this many times faster: a live
/// playlist read from one relay does not jump back and forth between relays' views.
const PLAYLIST_SWITCH_FACTOR: f64 = 2.0;

/// Picks the link for the next transfer among `links` (in rank order), leaving out those
/// benched at `now` and those in `excluded`: for a playlist `sticky` (the last playlist's
/// relay) while it is usable and not much slower than the best, else the one with the best
/// measured throughput (an unmeasured link counts as best, so each is tried); otherwise one
/// of the best `spread` by smooth weighted round robin over their throughputs (each given at
/// least its part of `EXPLORE_SHARE` of the best's weight).
pub(crate) fn choose(
    links: &[Arc<Link>],
    excluded: &[Arc<Link>],
    playlist: bool,
    spread: usize,
    sticky: Option<&Arc<Link>>,
    now: Instant,
) -> Option<Arc<Link>> {
    let mut usable: Vec<(&Arc<Link>, Option<f64>)> = links
        .iter()
        .filter(|l| l.usable(now) && !excluded.iter().any(|e| Arc::ptr_eq(e, l)))
        .map(|l| (l, l.record().throughput))
        .collect();
    // Stable: among equals (all unmeasured, say) the rank order stands.
    usable.sort_by(|(_, a), (_, b)| {
        let key = |t: &Option<f64>| t.unwrap_or(f64::INFINITY);
        key(b).total_cmp(&key(a))
    });
    if playlist {
        let best = usable.first().and_then(|(_, t)| *t);
        let keep = sticky.and_then(|sticky| {
            let (_, throughput) = usable.iter().find(|(l, _)| Arc::ptr_eq(l, sticky))?;
            let fast_enough = match (throughput, best) {
                (Some(mine), Some(best)) => mine * PLAYLIST_SWITCH_FACTOR >= best,
                _ => true,
            };
            fast_enough.then(|| Arc::clone(sticky))
        });
        if keep.is_some() {
            return keep;
        }
    }
    let take = if playlist { 1 } else { spread.max(1) };
    usable.truncate(take);
    if usable.len() <= 1 {
        return usable.first().map(|(l, _)| Arc::clone(l));
    }
    let best_known = usable
        .iter()
        .filter_map(|(_, t)| *t)
        .fold(0.0_f64, f64::max);
    let floor = best_known * EXPLORE_SHARE / usable.len() as f64;
    let weight = |t: Option<f64>| t.unwrap_or(best_known).max(floor).max(1.0);
    let total: f64 = usable.iter().map(|(_, t)| weight(*t)).sum();
    let mut chosen: Option<&Arc<Link>> = None;
    let mut highest = f64::NEG_INFINITY;
    for (link, throughput) in &usable {
        let mut record = link.record();
        record.credit += weight(*throughput);
        if record.credit > highest {
            highest = record.credit;
            chosen = Some(link);
        }
    }
    let chosen = chosen?;
    chosen.record().credit -= total;
    Some(Arc::clone(chosen))
}

/// Whether `path` names a playlist or manifest (fetched from the fastest relay).
pub(crate) fn is_playlist(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".m3u8") || lower.ends_with(".mpd")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(n: usize) -> Vec<Arc<Link>> {
        let http = reqwest::Client::new();
        (0..n)
            .map(|i| {
                let url = format!("http://127.0.0.1:{}/", 1000 + i).parse().unwrap();
                Link::new(RelayTarget::named(url), &http)
            })
            .collect()
    }

    fn index(links: &[Arc<Link>], chosen: &Arc<Link>) -> usize {
        links.iter().position(|l| Arc::ptr_eq(l, chosen)).unwrap()
    }

    #[tokio::test]
    async fn segments_spread_by_throughput_and_playlists_go_to_the_fastest() {
        let links = links(3);
        let now = Instant::now();
        // 10 MB/s, 5 MB/s, 0.1 MB/s.
        links[0].delivered(10_000_000, Duration::from_secs(1));
        links[1].delivered(5_000_000, Duration::from_secs(1));
        links[2].delivered(100_000, Duration::from_secs(1));
        let mut counts = [0usize; 3];
        for _ in 0..30 {
            let chosen = choose(&links, &[], false, 2, None, now).unwrap();
            counts[index(&links, &chosen)] += 1;
        }
        assert_eq!(counts, [20, 10, 0], "two to one over the best two");
        for _ in 0..5 {
            let chosen = choose(&links, &[], true, 2, None, now).unwrap();
            assert_eq!(index(&links, &chosen), 0);
        }
        // With the fastest excluded, the playlist goes to the next.
        let chosen = choose(&links, &links[..1], true, 2, None, now).unwrap();
        assert_eq!(index(&links, &chosen), 1);
    }

    #[tokio::test]
    async fn a_playlist_stays_with_its_relay_unless_another_is_much_faster() {
        let links = links(2);
        let now = Instant::now();
        links[0].delivered(6_000_000, Duration::from_secs(1));
        links[1].delivered(10_000_000, Duration::from_secs(1));
        let kept = choose(&links, &[], true, 2, Some(&links[0]), now).unwrap();
        assert_eq!(index(&links, &kept), 0, "within a factor of two: kept");
        links[1].delivered(40_000_000, Duration::from_secs(1));
        let moved = choose(&links, &[], true, 2, Some(&links[0]), now).unwrap();
        assert_eq!(index(&links, &moved), 1, "much faster: moved");
        let failover = Failover::default();
        links[1].failed(&failover, now);
        let fallback = choose(&links, &[], true, 2, Some(&links[1]), now).unwrap();
        assert_eq!(
            index(&links, &fallback),
            0,
            "a benched sticky relay is left"
        );
    }

    #[tokio::test]
    async fn unmeasured_relays_are_tried_in_rank_order() {
        let links = links(3);
        let now = Instant::now();
        let first = choose(&links, &[], true, 2, None, now).unwrap();
        assert_eq!(index(&links, &first), 0);
        links[0].delivered(100_000, Duration::from_secs(1));
        // Unmeasured ones count as best, so the next playlist tries relay 1.
        let next = choose(&links, &[], true, 2, None, now).unwrap();
        assert_eq!(index(&links, &next), 1);
    }

    #[tokio::test]
    async fn small_transfers_are_not_measured_and_a_slow_relay_still_gets_a_share() {
        let links = links(2);
        let now = Instant::now();
        // A playlist's round trip says nothing of the relay's bandwidth.
        links[0].delivered(2_000, Duration::from_millis(50));
        assert_eq!(links[0].stats(now).throughput, None);
        assert_eq!(links[0].stats(now).bytes, 2_000);
        links[0].delivered(10_000_000, Duration::from_secs(1));
        links[1].delivered(100_000, Duration::from_secs(1));
        let mut counts = [0usize; 2];
        for _ in 0..105 {
            let chosen = choose(&links, &[], false, 2, None, now).unwrap();
            counts[index(&links, &chosen)] += 1;
        }
        // Weights 10 MB/s and the floor of 0.5 MB/s (a tenth of the best, shared by two):
        // 100 to 5.
        assert_eq!(counts, [100, 5]);
    }

    #[tokio::test]
    async fn a_failed_relay_is_backed_off_doubling_and_readmitted() {
        let links = links(2);
        let failover = Failover {
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3),
            ..Failover::default()
        };
        let now = Instant::now();
        assert_eq!(links[0].failed(&failover, now), Duration::from_secs(1));
        for _ in 0..5 {
            let chosen = choose(&links, &[], false, 2, None, now).unwrap();
            assert_eq!(index(&links, &chosen), 1, "the failed relay is left alone");
        }
        let later = now + Duration::from_secs(1);
        assert!(links[0].usable(later), "re-admitted after its back-off");
        assert_eq!(links[0].failed(&failover, later), Duration::from_secs(2));
        assert_eq!(links[0].failed(&failover, later), Duration::from_secs(3));
        assert_eq!(links[0].stats(later).failures, 3);
        links[0].delivered(10, Duration::from_secs(1));
        assert!(links[0].usable(later), "a delivery ends the back-off");
        assert_eq!(links[0].failed(&failover, later), Duration::from_secs(1));
        links[1].failed(&failover, later);
        links[0].failed(&failover, later);
        assert!(choose(&links, &[], false, 2, None, later).is_none());
    }

    #[test]
    fn playlists_are_told_by_their_extension() {
        assert!(is_playlist("live/index.m3u8"));
        assert!(is_playlist("live/INDEX.M3U8?x=1"));
        assert!(is_playlist("vod/manifest.mpd"));
        assert!(!is_playlist("live/seg-0001.ts"));
        assert!(!is_playlist("m3u8/seg.ts"));
    }

    /// A receipt endpoint answering with `statuses` in turn (the last one from then on),
    /// recording every body posted.
    async fn receipt_endpoint(statuses: Vec<u16>) -> (Url, Arc<Mutex<Vec<String>>>) {
        use axum::http::StatusCode;
        let posted: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = posted.clone();
        let answer = move |body: String| {
            let seen = seen.clone();
            let statuses = statuses.clone();
            async move {
                let mut seen = seen.lock().unwrap();
                seen.push(body);
                let status = statuses[(seen.len() - 1).min(statuses.len() - 1)];
                StatusCode::from_u16(status).unwrap()
            }
        };
        let app = axum::Router::new().route("/.media/receipt", axum::routing::post(answer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.media/receipt", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url.parse().unwrap(), posted)
    }

    async fn posted_after(posted: &Mutex<Vec<String>>, count: usize) -> Vec<String> {
        for _ in 0..100 {
            if posted.lock().unwrap().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        posted.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn a_receipt_the_relay_could_not_take_is_posted_again_until_taken() {
        let (url, posted) = receipt_endpoint(vec![503, 503, 200]).await;
        let (acks, latest) = watch::channel(None::<String>);
        tokio::spawn(post_receipts(latest, reqwest::Client::new(), Some(url)));
        acks.send(Some("r1".into())).unwrap();
        assert_eq!(posted_after(&posted, 3).await, ["r1", "r1", "r1"]);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            posted.lock().unwrap().len(),
            3,
            "not posted again once taken"
        );
    }

    #[tokio::test]
    async fn a_refused_receipt_is_not_retried_and_a_newer_one_supersedes_a_retry() {
        let (url, posted) = receipt_endpoint(vec![409]).await;
        let (acks, latest) = watch::channel(None::<String>);
        tokio::spawn(post_receipts(latest, reqwest::Client::new(), Some(url)));
        acks.send(Some("stale".into())).unwrap();
        posted_after(&posted, 1).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(posted.lock().unwrap().clone(), ["stale"], "a 4xx is final");

        let (url, posted) = receipt_endpoint(vec![503, 503, 503, 200]).await;
        let (acks, latest) = watch::channel(None::<String>);
        tokio::spawn(post_receipts(latest, reqwest::Client::new(), Some(url)));
        acks.send(Some("old".into())).unwrap();
        posted_after(&posted, 1).await;
        acks.send(Some("new".into())).unwrap();
        let seen = posted_after(&posted, 4).await;
        assert_eq!(seen.first().map(String::as_str), Some("old"));
        assert!(seen[1..].iter().all(|r| r == "new"), "{seen:?}");
    }

    #[tokio::test]
    async fn the_last_receipt_of_a_dropped_link_is_still_delivered() {
        let (url, posted) = receipt_endpoint(vec![503, 200]).await;
        let (acks, latest) = watch::channel(None::<String>);
        tokio::spawn(post_receipts(latest, reqwest::Client::new(), Some(url)));
        acks.send(Some("last".into())).unwrap();
        posted_after(&posted, 1).await;
        drop(acks);
        assert_eq!(posted_after(&posted, 2).await, ["last", "last"]);
    }
}
