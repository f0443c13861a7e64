//! An origin that counts its fetches, a relay with a fixed chain view, token signing.
use anchor_lang::prelude::Pubkey;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ed25519_dalek::SigningKey;
use media_relay::cache::{CacheSettings, ObjectCache};
use media_relay::chain::{ChainView, ConsumerState};
use media_relay::metering::Meter;
use media_relay::origin::{Origin, OriginLimits};
use media_relay::server::{router, Relay};
use media_sdk::receipt::pubkey_of;
use media_sdk::session::{SessionGrant, SessionToken};
use media_service::http::ServerLimits;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use url::Url;

pub use media_service::temp_path;

/// Deterministic content of `len` bytes.
pub fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A file's body and its Cache-Control header.
type File = (Vec<u8>, Option<&'static str>);

#[derive(Default)]
pub struct OriginState {
    pub files: Mutex<HashMap<String, File>>,
    pub fetches: Mutex<HashMap<String, usize>>,
    pub delay: Mutex<Duration>,
    pub total: AtomicUsize,
}

impl OriginState {
    pub fn put(&self, path: &str, body: Vec<u8>, cache_control: Option<&'static str>) {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_string(), (body, cache_control));
    }

    pub fn fetches(&self, path: &str) -> usize {
        self.fetches.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

async fn serve_file(State(state): State<Arc<OriginState>>, Path(path): Path<String>) -> Response {
    state.total.fetch_add(1, Ordering::SeqCst);
    *state
        .fetches
        .lock()
        .unwrap()
        .entry(path.clone())
        .or_default() += 1;
    let delay = *state.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let file = state.files.lock().unwrap().get(&path).cloned();
    match file {
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
        Some((body, cache_control)) => {
            let content_type = if path.ends_with(".m3u8") {
                "application/vnd.apple.mpegurl"
            } else {
                "video/mp2t"
            };
            let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
            if let Some(cc) = cache_control {
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, cc.parse().unwrap());
            }
            response
        }
    }
}

/// An origin on a free port; returns its state and base URL.
pub async fn start_origin() -> (Arc<OriginState>, Url) {
    let state = Arc::new(OriginState::default());
    let app = Router::new()
        .route("/{*path}", get(serve_file))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (state, url)
}

pub struct Options {
    pub credit_window: u64,
    pub stall: Duration,
    pub cache: CacheSettings,
    pub origin: OriginLimits,
    pub forward_query: bool,
    pub server: ServerLimits,
    /// The consumer served (a new one when unset); two relays of one consumer share keys.
    pub consumer: Option<Pubkey>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            credit_window: 1 << 20,
            stall: Duration::from_secs(5),
            cache: CacheSettings {
                memory_bytes: 64 << 20,
                slice_bytes: media_relay::cache::DEFAULT_SLICE_BYTES,
                disk: None,
                max_fetches_per_consumer: 64,
            },
            // The test origins listen on 127.0.0.1.
            origin: OriginLimits {
                timeout: Duration::from_secs(5),
                max_object_bytes: 64 << 20,
                max_concurrent_fetches: 64,
                max_fetch_bytes: 512 << 20,
                allow_private: true,
            },
            forward_query: false,
            server: ServerLimits::default(),
            consumer: None,
        }
    }
}

pub struct TestRelay {
    pub relay: Arc<Relay>,
    pub url: Url,
    pub consumer: Pubkey,
    pub receipt_signer: SigningKey,
    pub node: SigningKey,
}

pub const EPOCH: u64 = 5;

/// A relay for one consumer whose origin is `origin`, with a fixed chain view.
pub async fn start_relay(origin: &Url, options: Options) -> TestRelay {
    let receipt_signer = SigningKey::from_bytes(&[11; 32]);
    let node = SigningKey::from_bytes(&[12; 32]);
    let consumer = options.consumer.unwrap_or_else(Pubkey::new_unique);
    let mut view = ChainView {
        config: media_sdk::pda::config(),
        epoch: EPOCH,
        consumers: HashMap::new(),
    };
    view.consumers.insert(
        consumer,
        ConsumerState {
            signers: vec![pubkey_of(&receipt_signer)],
            signer_by_epoch: vec![
                (EPOCH, pubkey_of(&receipt_signer)),
                (EPOCH - 1, pubkey_of(&receipt_signer)),
            ],
            spendable: u64::MAX,
            price_per_gib: 10_000,
            ..ConsumerState::default()
        },
    );
    let store = Arc::new(media_relay::store::Store::open(&temp_path("relay")).unwrap());
    let metrics = media_relay::metrics_handle();
    let relay = Arc::new(Relay {
        node_key: pubkey_of(&node),
        node_key_header: pubkey_of(&node).to_string().parse().unwrap(),
        counters: media_relay::server::ServedCounters::new(),
        meter: Arc::new(Meter::new(
            pubkey_of(&node),
            options.credit_window,
            options.stall,
        )),
        cache: ObjectCache::new(options.cache, Origin::new(options.origin)).unwrap(),
        forward_query: options.forward_query,
        view: Arc::new(RwLock::new(view)),
        directory: Arc::new(media_relay::directory::Directory::configured(&[
            media_relay::config::ConsumerConfig {
                owner: consumer,
                origin: origin.clone(),
                gateway: None,
            },
        ])),
        store: store.clone(),
        acks: media_relay::acks::AckWriter::start(store, Default::default()),
        debts: Arc::new(media_relay::debt::Debts::new(u64::MAX)),
        metrics,
        store_health: Default::default(),
        tasks: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let app = router(relay.clone());
    let limits = options.server;
    tokio::spawn(media_service::http::serve(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    TestRelay {
        relay,
        url,
        consumer,
        receipt_signer,
        node,
    }
}

impl TestRelay {
    pub fn token(&self, session: &SigningKey, max_bytes: u64) -> SessionToken {
        SessionGrant {
            config: media_sdk::pda::config(),
            consumer: self.consumer,
            session_key: pubkey_of(session),
            expires_at: i64::MAX,
            max_bytes,
        }
        .sign(&self.receipt_signer)
    }

    /// The relay's (epoch, bytes delivered) for `session` viewing this consumer.
    pub fn position(&self, session: &SigningKey) -> Option<(u64, u64)> {
        self.relay
            .meter
            .position(&media_relay::metering::SessionId {
                consumer: self.consumer,
                session_key: pubkey_of(session),
            })
    }

    pub fn object_url(&self, path: &str) -> String {
        format!("{}c/{}/{path}", self.url, self.consumer)
    }
}

/// The relay's Prometheus page at `relay_url`.
pub async fn scrape_metrics(http: &reqwest::Client, relay_url: &Url) -> String {
    let answer = http.get(relay_url.join("metrics").unwrap()).send().await;
    answer.unwrap().text().await.unwrap()
}

/// Reads a body to its end or until the relay cuts it: (the bytes received, whether it was
/// cut).
pub async fn read_until_cut(response: reqwest::Response) -> (Vec<u8>, bool) {
    use futures::StreamExt;
    let mut received = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => received.extend_from_slice(&chunk),
            Err(_) => return (received, true),
        }
    }
    (received, false)
}
