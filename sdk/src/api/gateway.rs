//! A consumer's gateway: `POST /session` (a session token for a viewer) and `POST /cosign`
//! (a relay shows its sessions' viewer receipts and gets the receipt co-signed).
use serde::{Deserialize, Serialize};

/// `POST /session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRequest {
    /// The viewer's session key, base58 (the gateway answers 400 to anything else).
    pub session_key: String,
}

/// The answer to `POST /session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResponse {
    /// The signed session token, base64url.
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Bytes the session may be billed for, across every relay.
    pub max_bytes: u64,
}

/// One session a relay served, as it shows it to the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionProof {
    /// The session token, base64url.
    pub token: String,
    /// The session's latest viewer receipt for this relay and epoch, base64url.
    pub receipt: String,
}

/// `POST /cosign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CosignRequest {
    /// The relay's node key, base58 (the gateway answers 400 to anything else).
    pub node_key: String,
    pub epoch: u64,
    pub sessions: Vec<SessionProof>,
}

/// A session of the request that was not counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Its index in the request's `sessions`.
    pub index: usize,
    pub reason: String,
}

/// The answer to `POST /cosign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CosignResponse {
    /// The 120-byte v1 receipt, base64url.
    pub receipt: String,
    pub cumulative: u64,
    /// The consumer's receipt signer (base58) and its signature over the receipt (base64url).
    pub consumer_signer: String,
    pub consumer_signature: String,
    /// Sessions not counted, and why.
    #[serde(default)]
    pub rejected: Vec<Rejected>,
    /// Sessions (base58 session keys) whose bytes were cut at their max_bytes.
    #[serde(default)]
    pub capped: Vec<String>,
}

/// One relay the chain lists: an active edge provider's owner and node key (base58),
/// endpoint and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayListing {
    pub owner: String,
    pub node_key: String,
    pub endpoint: String,
    pub region: String,
}

/// The answer to `GET /.media/relays`: the relays the gateway's last chain read listed, for
/// clients without RPC access (browsers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelaysResponse {
    /// The chain epoch of the read.
    pub epoch: u64,
    /// When the gateway read it (unix seconds): a listing that stops updating shows its age.
    pub read_at: i64,
    pub relays: Vec<RelayListing>,
}

/// `POST /.media/origin`: a registered relay asks for the consumer's origin with a
/// `media_sdk::session::SignedOriginAsk` (base64url), signed by its node key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginRequest {
    pub ask: String,
}

/// The answer to an origin request the gateway admitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginResponse {
    pub consumer: String,
    /// The origin's base URL.
    pub origin: String,
}
