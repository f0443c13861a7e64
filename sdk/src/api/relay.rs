//! A relay's data plane: `GET /c/{consumer}/{path}` with a session token, answered with the
//! `x-media-*` headers, and `POST /.media/receipt` with a viewer receipt.

/// Request header: the viewer's session token (base64url).
pub const SESSION_HEADER: &str = "x-media-session";
/// Response headers: the relay's current epoch, its node key (base58), the bytes delivered
/// to the session in that epoch, the bytes it acknowledged, and whether the object came from
/// the relay's cache.
pub const EPOCH_HEADER: &str = "x-media-epoch";
pub const NODE_KEY_HEADER: &str = "x-media-node-key";
pub const DELIVERED_HEADER: &str = "x-media-delivered";
pub const ACKED_HEADER: &str = "x-media-acked";
pub const CACHE_HEADER: &str = "x-media-cache";

use serde::{Deserialize, Serialize};

/// The answer to `POST /.media/receipt` (the body is the base64url viewer receipt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptAnswer {
    /// Bytes of the session's epoch the relay now holds a receipt for.
    pub acked: u64,
    /// The receipt acknowledged nothing new.
    pub duplicate: bool,
}

/// What a viewer reads of a relay's `GET /health` to choose it: the node key it signs with,
/// its epoch, and for each consumer it is configured for whether it serves it now. Other
/// fields (tasks, store, debts) are for operators and ignored here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayHealth {
    pub node_key: String,
    pub epoch: u64,
    #[serde(default)]
    pub consumers: std::collections::BTreeMap<String, ConsumerHealth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerHealth {
    pub served: bool,
}
