//! Who gets a session token (review C1). Every token is a promise to pay up to its
//! `max_bytes`, so issuance goes through a policy:
//! - admission: open (demos), a shared bearer secret (compared in constant time), a JWT from
//!   the publisher's own login (verified with its public key: signature, expiry, issuer,
//!   audience), or a callback to the publisher's login service;
//! - a per-client rate limit (the client is the JWT's subject, the callback's answer, or else
//!   the peer's IP address);
//! - a budget per epoch (the chain's, or a wall-clock window without one): at most
//!   `max_sessions_per_epoch` tokens and at most a total of `max_bytes` — the configured
//!   ceiling, and with a chain view no more than `session_bytes_per_escrow_byte` times what
//!   the consumer's spendable escrow pays for.
use crate::chain::ChainClock;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use media_service::rate::{KeyedLimit, PeerQuota};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use subtle::ConstantTimeEq;
use url::Url;

/// How a viewer proves it may have a session.
pub enum Admission {
    Open,
    /// SHA-256 of the secret: compared in constant time, whatever the presented length.
    Secret([u8; 32]),
    Jwt(Box<JwtCheck>),
    Callback(Callback),
}

pub struct JwtCheck {
    pub key: DecodingKey,
    pub validation: Validation,
}

pub struct Callback {
    pub url: Url,
    pub http: reqwest::Client,
}

/// The most of a callback's answer that is read.
const MAX_CALLBACK_ANSWER_BYTES: usize = 64 << 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueRefusal {
    #[error("{0}")]
    Unauthorized(String),
    #[error("too many session requests from this client; retry in a minute")]
    RateLimited,
    #[error("the gateway's session budget for this epoch is spent ({0}); retry next epoch")]
    BudgetSpent(&'static str),
    #[error("the publisher's login service failed: {0}")]
    CallbackFailed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max_sessions_per_epoch: u64,
    pub max_session_bytes_per_epoch: u64,
    /// With a chain view, Σ max_bytes ≤ this × bytes the spendable escrow pays for.
    pub session_bytes_per_escrow_byte: u64,
}

#[derive(Debug, Default)]
struct Issued {
    window: u64,
    sessions: u64,
    bytes: u64,
}

pub struct IssuePolicy {
    pub admission: Admission,
    pub budget: Budget,
    per_client: KeyedLimit<String>,
    issued: Mutex<Issued>,
}

#[derive(Deserialize)]
struct JwtClaims {
    sub: String,
}

#[derive(Deserialize, Default)]
struct CallbackAnswer {
    #[serde(default)]
    client: Option<String>,
}

impl IssuePolicy {
    pub fn new(admission: Admission, per_minute: u32, burst: u32, budget: Budget) -> Self {
        IssuePolicy {
            admission,
            budget,
            per_client: KeyedLimit::new(PeerQuota { per_minute, burst }),
            issued: Mutex::new(Issued::default()),
        }
    }

    /// The secret admission for `secret`.
    pub fn secret(secret: &str) -> Admission {
        Admission::Secret(Sha256::digest(secret.as_bytes()).into())
    }

    /// JWT admission with `pem` (an Ed25519, RSA or EC public key) for `algorithm`.
    pub fn jwt(
        pem: &[u8],
        algorithm: Algorithm,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> anyhow::Result<Admission> {
        let key = match algorithm {
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem)?,
            Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem)?,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => DecodingKey::from_rsa_pem(pem)?,
            other => anyhow::bail!(
                "{other:?} (a shared-key algorithm) is not accepted: use a public key"
            ),
        };
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        if let Some(issuer) = issuer {
            validation.set_issuer(&[issuer]);
        }
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(Admission::Jwt(Box::new(JwtCheck { key, validation })))
    }

    /// Callback admission: the viewer's Authorization header is posted to `url`.
    pub fn callback(url: Url, timeout: Duration) -> Admission {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Admission::Callback(Callback { url, http })
    }

    /// Decides whether the requester (`authorization` header, peer address) gets a token
    /// of `max_bytes` at `now`; on success the token counts against the epoch's budget.
    pub async fn authorize(
        &self,
        authorization: Option<&str>,
        peer: IpAddr,
        max_bytes: u64,
        clock: &ChainClock,
        now: i64,
    ) -> Result<(), IssueRefusal> {
        let bearer = authorization.and_then(bearer_of);
        let client = match &self.admission {
            // By /64 for IPv6, so one host cannot take a fresh burst per address.
            Admission::Open => media_service::rate::bucket_of(peer).to_string(),
            Admission::Secret(digest) => {
                let presented: [u8; 32] =
                    Sha256::digest(bearer.unwrap_or_default().as_bytes()).into();
                if bearer.is_none() || !bool::from(presented.ct_eq(digest)) {
                    return Err(IssueRefusal::Unauthorized(
                        "a valid bearer secret is required".into(),
                    ));
                }
                media_service::rate::bucket_of(peer).to_string()
            }
            Admission::Jwt(check) => {
                let token = bearer.ok_or_else(|| {
                    IssueRefusal::Unauthorized(
                        "a bearer JWT from the publisher's login is required".into(),
                    )
                })?;
                let claims =
                    jsonwebtoken::decode::<JwtClaims>(token, &check.key, &check.validation)
                        .map_err(|e| {
                            IssueRefusal::Unauthorized(format!("the JWT is not valid: {e}"))
                        })?;
                format!("sub:{}", claims.claims.sub)
            }
            Admission::Callback(callback) => callback.ask(authorization, peer).await?,
        };
        self.limit(&client)?;
        self.spend(max_bytes, clock, now)
    }

    fn limit(&self, client: &str) -> Result<(), IssueRefusal> {
        self.per_client
            .check(&client.to_string())
            .map_err(|_| IssueRefusal::RateLimited)
    }

    /// Counts one token of `max_bytes` against the budget of the window at `now`.
    fn spend(&self, max_bytes: u64, clock: &ChainClock, now: i64) -> Result<(), IssueRefusal> {
        let window = clock.window_at(now);
        let byte_budget = match clock.snapshot() {
            Some(chain) => self.budget.max_session_bytes_per_epoch.min(
                chain
                    .escrow_bytes()
                    .saturating_mul(self.budget.session_bytes_per_escrow_byte),
            ),
            None => self.budget.max_session_bytes_per_epoch,
        };
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        if issued.window != window {
            *issued = Issued {
                window,
                ..Issued::default()
            };
        }
        if issued.sessions >= self.budget.max_sessions_per_epoch {
            return Err(IssueRefusal::BudgetSpent("max_sessions_per_epoch"));
        }
        let bytes = issued.bytes.saturating_add(max_bytes);
        if bytes > byte_budget {
            return Err(IssueRefusal::BudgetSpent(
                "the sum of max_bytes the escrow and max_session_bytes_per_epoch allow",
            ));
        }
        issued.sessions += 1;
        issued.bytes = bytes;
        Ok(())
    }

    /// Forgets clients that have not asked for a while (called by the prune loop).
    pub fn forget_idle_clients(&self) {
        self.per_client.forget_idle();
    }
}

fn bearer_of(header: &str) -> Option<&str> {
    let (scheme, value) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| value.trim())
        .filter(|v| !v.is_empty())
}

impl Callback {
    /// Posts the viewer's credentials to the publisher's login service: a 2xx answer admits
    /// (optionally naming the client for rate limiting), anything else refuses.
    async fn ask(&self, authorization: Option<&str>, peer: IpAddr) -> Result<String, IssueRefusal> {
        let request = serde_json::json!({
            "authorization": authorization,
            "client_ip": peer.to_string(),
        });
        let mut response = self
            .http
            .post(self.url.clone())
            .json(&request)
            .send()
            .await
            .map_err(|e| IssueRefusal::CallbackFailed(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(IssueRefusal::Unauthorized(format!(
                "the publisher's login refused the session ({})",
                response.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| IssueRefusal::CallbackFailed(e.without_url().to_string()))?
        {
            if body.len() + chunk.len() > MAX_CALLBACK_ANSWER_BYTES {
                return Err(IssueRefusal::CallbackFailed("answer too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let answer: CallbackAnswer = serde_json::from_slice(&body).unwrap_or_default();
        Ok(answer
            .client
            .map(|c| format!("client:{c}"))
            .unwrap_or_else(|| peer.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchor_lang::prelude::Pubkey;

    fn open(per_minute: u32, burst: u32, budget: Budget) -> IssuePolicy {
        IssuePolicy::new(Admission::Open, per_minute, burst, budget)
    }

    fn roomy() -> Budget {
        Budget {
            max_sessions_per_epoch: u64::MAX,
            max_session_bytes_per_epoch: u64::MAX,
            session_bytes_per_escrow_byte: 1,
        }
    }

    fn local() -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }

    #[test]
    fn bearer_headers_parse_case_insensitively() {
        assert_eq!(bearer_of("Bearer abc"), Some("abc"));
        assert_eq!(bearer_of("bearer  abc "), Some("abc"));
        assert_eq!(bearer_of("Basic abc"), None);
        assert_eq!(bearer_of("Bearer "), None);
    }

    /// C1: one client cannot mint tokens without limit.
    #[tokio::test]
    async fn c1_a_client_is_rate_limited_and_others_are_not() {
        let clock = ChainClock::new(None, Pubkey::new_unique());
        let policy = open(60, 3, roomy());
        for _ in 0..3 {
            policy.authorize(None, local(), 1, &clock, 0).await.unwrap();
        }
        assert_eq!(
            policy.authorize(None, local(), 1, &clock, 0).await,
            Err(IssueRefusal::RateLimited)
        );
        let other = IpAddr::from([10, 0, 0, 2]);
        policy.authorize(None, other, 1, &clock, 0).await.unwrap();
    }

    /// C1: an IPv6 host counts by its /64, so rotating through its addresses does not buy a
    /// fresh burst each time; another /64 is a client of its own.
    #[tokio::test]
    async fn c1_an_ipv6_host_cannot_rotate_addresses_past_the_limit() {
        let clock = ChainClock::new(None, Pubkey::new_unique());
        let policy = open(60, 3, roomy());
        let host = |suffix: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, suffix]);
        for suffix in 1..=3 {
            policy
                .authorize(None, host(suffix), 1, &clock, 0)
                .await
                .unwrap();
        }
        assert_eq!(
            policy.authorize(None, host(4), 1, &clock, 0).await,
            Err(IssueRefusal::RateLimited)
        );
        let elsewhere = IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1]);
        policy
            .authorize(None, elsewhere, 1, &clock, 0)
            .await
            .unwrap();
    }

    /// C1: the epoch's budget caps how many tokens, and how many bytes of promises, the
    /// gateway hands out, whoever asks; a new window starts afresh.
    #[tokio::test]
    async fn c1_the_epoch_budget_caps_sessions_and_promised_bytes() {
        let clock = ChainClock::new(None, Pubkey::new_unique());
        let policy = open(
            u32::MAX,
            u32::MAX,
            Budget {
                max_sessions_per_epoch: 3,
                max_session_bytes_per_epoch: 250,
                session_bytes_per_escrow_byte: 1,
            },
        );
        let peer = |i: u8| IpAddr::from([10, 0, 0, i]);
        policy
            .authorize(None, peer(1), 100, &clock, 0)
            .await
            .unwrap();
        policy
            .authorize(None, peer(2), 100, &clock, 0)
            .await
            .unwrap();
        assert!(matches!(
            policy.authorize(None, peer(3), 100, &clock, 0).await,
            Err(IssueRefusal::BudgetSpent(_))
        ));
        policy
            .authorize(None, peer(3), 50, &clock, 0)
            .await
            .unwrap();
        assert!(matches!(
            policy.authorize(None, peer(4), 1, &clock, 0).await,
            Err(IssueRefusal::BudgetSpent("max_sessions_per_epoch"))
        ));
        let next = crate::chain::WALL_CLOCK_WINDOW_SECS;
        policy
            .authorize(None, peer(4), 100, &clock, next)
            .await
            .unwrap();
    }

    /// C1: with a chain view, the promised bytes follow the escrow.
    #[tokio::test]
    async fn c1_promised_bytes_follow_the_spendable_escrow() {
        let clock = ChainClock::fixed(
            crate::chain::ChainSnapshot {
                epoch: 3,
                epoch_started_at: 0,
                epoch_duration_secs: 600,
                spendable: 10_000,
                price_per_gib: 10_000, // 1 GiB of escrow
                consumer: None,
            },
            Pubkey::new_unique(),
        );
        let policy = open(
            u32::MAX,
            u32::MAX,
            Budget {
                session_bytes_per_escrow_byte: 4,
                ..roomy()
            },
        );
        for i in 0..4u8 {
            policy
                .authorize(None, IpAddr::from([10, 0, 1, i]), 1 << 30, &clock, 10)
                .await
                .unwrap();
        }
        assert!(matches!(
            policy.authorize(None, local(), 1, &clock, 10).await,
            Err(IssueRefusal::BudgetSpent(_))
        ));
    }

    /// L3: the secret is compared as digests in constant time; case of the scheme is free.
    #[tokio::test]
    async fn l3_the_bearer_secret_is_required_and_compared_exactly() {
        let clock = ChainClock::new(None, Pubkey::new_unique());
        let policy = IssuePolicy::new(IssuePolicy::secret("s3cret"), u32::MAX, u32::MAX, roomy());
        for wrong in [
            None,
            Some("Bearer s3cre"),
            Some("Bearer s3cret!"),
            Some("s3cret"),
        ] {
            assert!(matches!(
                policy.authorize(wrong, local(), 1, &clock, 0).await,
                Err(IssueRefusal::Unauthorized(_))
            ));
        }
        policy
            .authorize(Some("bearer s3cret"), local(), 1, &clock, 0)
            .await
            .unwrap();
    }

    /// Ed25519 keys in the DER forms jsonwebtoken takes: PKCS#8 v2 to sign, SPKI PEM to
    /// verify.
    fn ed25519_jwt_keys(seed: u8) -> (jsonwebtoken::EncodingKey, Vec<u8>) {
        use base64::Engine;
        let signing = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let public = signing.verifying_key().to_bytes();
        let mut pkcs8 = hex_bytes("3053020101300506032b657004220420");
        pkcs8.extend_from_slice(&[seed; 32]);
        pkcs8.extend_from_slice(&hex_bytes("a123032100"));
        pkcs8.extend_from_slice(&public);
        let mut spki = hex_bytes("302a300506032b6570032100");
        spki.extend_from_slice(&public);
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(spki)
        );
        (
            jsonwebtoken::EncodingKey::from_ed_der(&pkcs8),
            pem.into_bytes(),
        )
    }

    fn hex_bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    fn jwt(key: &jsonwebtoken::EncodingKey, sub: &str, iss: &str, exp: i64) -> String {
        let claims = serde_json::json!({"sub": sub, "iss": iss, "exp": exp});
        let header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        format!(
            "Bearer {}",
            jsonwebtoken::encode(&header, &claims, key).unwrap()
        )
    }

    fn unix_now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    /// C1: the publisher's own login: only JWTs its key signed, unexpired, from its issuer;
    /// and the rate limit follows the subject, not the address.
    #[tokio::test]
    async fn c1_a_jwt_from_the_publishers_login_admits_and_nothing_else_does() {
        let clock = ChainClock::new(None, Pubkey::new_unique());
        let (key, pem) = ed25519_jwt_keys(3);
        let (impostor, _) = ed25519_jwt_keys(4);
        let admission =
            IssuePolicy::jwt(&pem, Algorithm::EdDSA, Some("login.example"), None).unwrap();
        let policy = IssuePolicy::new(admission, 60, 2, roomy());
        let later = unix_now() + 600;
        let alice = jwt(&key, "alice", "login.example", later);
        policy
            .authorize(Some(&alice), local(), 1, &clock, 0)
            .await
            .unwrap();
        for refused in [
            None,
            Some(jwt(&impostor, "alice", "login.example", later)),
            Some(jwt(&key, "alice", "other.example", later)),
            Some(jwt(&key, "alice", "login.example", unix_now() - 3_600)),
            Some("Bearer not.a.jwt".to_string()),
        ] {
            assert!(
                matches!(
                    policy
                        .authorize(refused.as_deref(), local(), 1, &clock, 0)
                        .await,
                    Err(IssueRefusal::Unauthorized(_))
                ),
                "{refused:?}"
            );
        }
        // alice from another address is still alice: her burst of 2 is spent after one more.
        let elsewhere = IpAddr::from([10, 9, 9, 9]);
        policy
            .authorize(Some(&alice), elsewhere, 1, &clock, 0)
            .await
            .unwrap();
        assert_eq!(
            policy
                .authorize(Some(&alice), elsewhere, 1, &clock, 0)
                .await,
            Err(IssueRefusal::RateLimited)
        );
        let bob = jwt(&key, "bob", "login.example", later);
        policy
            .authorize(Some(&bob), local(), 1, &clock, 0)
            .await
            .unwrap();
        assert!(IssuePolicy::jwt(b"not a pem", Algorithm::EdDSA, None, None).is_err());
    }

    /// C1: a callback to the publisher's login service decides; a service that hangs is a
    /// refusal after the timeout, not a hung gateway.
    #[tokio::test]
    async fn c1_the_login_callback_decides_and_a_hung_one_times_out() {
        use axum::http::StatusCode;
        use axum::routing::post;
        async fn login(body: axum::Json<serde_json::Value>) -> axum::response::Response {
            use axum::response::IntoResponse;
            if body["authorization"] == "Bearer good" {
                axum::Json(serde_json::json!({"client": "alice"})).into_response()
            } else {
                StatusCode::FORBIDDEN.into_response()
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/login", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            axum::serve(listener, axum::Router::new().route("/login", post(login))).await
        });
        let clock = ChainClock::new(None, Pubkey::new_unique());
        let policy = IssuePolicy::new(
            IssuePolicy::callback(url, Duration::from_secs(5)),
            60,
            60,
            roomy(),
        );
        policy
            .authorize(Some("Bearer good"), local(), 1, &clock, 0)
            .await
            .unwrap();
        assert!(matches!(
            policy
                .authorize(Some("Bearer bad"), local(), 1, &clock, 0)
                .await,
            Err(IssueRefusal::Unauthorized(_))
        ));

        let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hung_url = Url::parse(&format!("http://{}/", hung.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = hung.accept().await {
                held.push(socket);
            }
        });
        let policy = IssuePolicy::new(
            IssuePolicy::callback(hung_url, Duration::from_millis(300)),
            60,
            60,
            roomy(),
        );
        let started = std::time::Instant::now();
        assert!(matches!(
            policy
                .authorize(Some("Bearer good"), local(), 1, &clock, 0)
                .await,
            Err(IssueRefusal::CallbackFailed(_))
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
