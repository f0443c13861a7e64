//! Co-signing: a relay shows the latest viewer receipt of each session it served for this
//! consumer in one epoch; the gateway checks each (token signed by its receipt signer, for
//! this deployment and consumer, not long expired; viewer receipt signed by the token's
//! session key, for this relay and epoch), records what they justify, and signs the v1
//! receipt for that total — never for what the relay merely claims.
use crate::chain::ChainClock;
use crate::store::{CosignLimits, Shown, Store, StoreError};
use anchor_lang::prelude::Pubkey;
use ed25519_dalek::SigningKey;
use media_sdk::receipt::{pubkey_of, sign, ReceiptV1};
use media_sdk::session::{SessionGrant, SessionToken, ViewerReceipt};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionProof {
    /// The session token, base64url.
    pub token: String,
    /// The session's latest viewer receipt for this relay and epoch, base64url.
    pub receipt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CosignRequest {
    /// The relay's node key (base58).
    pub node_key: String,
    pub epoch: u64,
    pub sessions: Vec<SessionProof>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rejected {
    pub index: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CosignResponse {
    /// The 120-byte v1 receipt, base64url.
    pub receipt: String,
    pub cumulative: u64,
    /// The consumer's receipt signer (base58) and its signature over the receipt (base64url).
    pub consumer_signer: String,
    pub consumer_signature: String,
    /// Sessions not counted, and why.
    pub rejected: Vec<Rejected>,
    /// Sessions cut at their max_bytes.
    pub capped: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CosignError {
    #[error("invalid node key {0:?}")]
    NodeKey(String),
    #[error("epoch {epoch} cannot settle now (epochs {from}..={to} can)")]
    EpochOutOfWindow { epoch: u64, from: u64, to: u64 },
    #[error("at most {max} sessions per request (got {got})")]
    TooManySessions { got: usize, max: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Policy {
    /// Tokens are honored this long after they expire: receipts of a session's last bytes
    /// reach the gateway some time after the session ends.
    pub expiry_grace_secs: i64,
    /// What the gateway co-signs at most, per relay and per epoch.
    pub limits: CosignLimits,
}

/// Sessions one co-sign request may carry (relays send `COSIGN_CHUNK` = 1,000).
pub const MAX_SESSIONS_PER_REQUEST: usize = 2_000;

pub struct Cosigner {
    pub config: Pubkey,
    pub consumer: Pubkey,
    pub signer: SigningKey,
    pub policy: Policy,
    pub store: Store,
    pub clock: std::sync::Arc<ChainClock>,
}

impl Cosigner {
    /// Checks one session's proof; the grant and the acknowledged bytes when it holds.
    fn check(
        &self,
        proof: &SessionProof,
        node_key: &Pubkey,
        epoch: u64,
        now: i64,
    ) -> Result<(SessionGrant, u64), String> {
        let token = SessionToken::from_base64(&proof.token).map_err(|e| e.to_string())?;
        token
            .verify(&pubkey_of(&self.signer))
            .map_err(|_| "the token is not signed by this gateway".to_string())?;
        let grant = token.grant;
        if grant.config != self.config || grant.consumer != self.consumer {
            return Err("the token is for another deployment or consumer".into());
        }
        if grant
            .expires_at
            .saturating_add(self.policy.expiry_grace_secs)
            < now
        {
            return Err(format!(
                "the token expired at unix time {}",
                grant.expires_at
            ));
        }
        let receipt = ViewerReceipt::from_base64(&proof.receipt).map_err(|e| e.to_string())?;
        receipt
            .verify()
            .map_err(|_| "the viewer receipt's signature does not verify".to_string())?;
        let ack = receipt.ack;
        if ack.session_key != grant.session_key {
            return Err("the viewer receipt is not signed by the token's session key".into());
        }
        if ack.config != self.config || ack.consumer != self.consumer {
            return Err("the viewer receipt is for another deployment or consumer".into());
        }
        if ack.node_key != *node_key || ack.epoch != epoch {
            return Err(format!(
                "the viewer receipt is for relay {} in epoch {}, not {node_key} in {epoch}",
                ack.node_key, ack.epoch
            ));
        }
        Ok((grant, ack.cumulative))
    }

    pub fn cosign(&self, request: &CosignRequest, now: i64) -> Result<CosignResponse, CosignError> {
        let node_key: Pubkey = request
            .node_key
            .parse()
            .map_err(|_| CosignError::NodeKey(request.node_key.clone()))?;
        if request.sessions.len() > MAX_SESSIONS_PER_REQUEST {
            return Err(CosignError::TooManySessions {
                got: request.sessions.len(),
                max: MAX_SESSIONS_PER_REQUEST,
            });
        }
        // Only epochs that can still settle (review L9): a co-signature for a future epoch
        // could be banked past the caps, and its rows would never be pruned.
        if let Some(chain) = self.clock.snapshot() {
            let (from, to) = (chain.epoch.saturating_sub(1), chain.epoch_at(now));
            if request.epoch < from || request.epoch > to {
                return Err(CosignError::EpochOutOfWindow {
                    epoch: request.epoch,
                    from,
                    to,
                });
            }
        }
        let mut rejected = Vec::new();
        // One entry per session: a session shown twice counts once, at its highest.
        let mut shown: HashMap<Pubkey, Shown> = HashMap::new();
        for (index, proof) in request.sessions.iter().enumerate() {
            match self.check(proof, &node_key, request.epoch, now) {
                Ok((grant, cumulative)) => {
                    let entry = shown.entry(grant.session_key).or_insert(Shown {
                        session: grant.session_key,
                        cumulative,
                        max_bytes: grant.max_bytes,
                        expires_at: grant.expires_at,
                    });
                    entry.cumulative = entry.cumulative.max(cumulative);
                }
                Err(reason) => rejected.push(Rejected { index, reason }),
            }
        }
        let shown: Vec<Shown> = shown.into_values().collect();
        let recorded = self.store.record(&node_key, request.epoch, &shown)?;
        let cumulative = self.store.cosign_within(
            &node_key,
            request.epoch,
            recorded.justified,
            &self.policy.limits,
        )?;
        let receipt = ReceiptV1 {
            config: self.config,
            node_key,
            consumer: self.consumer,
            epoch: request.epoch,
            cumulative,
        };
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        metrics::counter!("media_gateway_cosigned_total").increment(1);
        Ok(CosignResponse {
            receipt: b64.encode(receipt.encode()),
            cumulative,
            consumer_signer: pubkey_of(&self.signer).to_string(),
            consumer_signature: b64.encode(sign(&self.signer, &receipt)),
            rejected,
            capped: recorded.capped.iter().map(ToString::to_string).collect(),
        })
    }
}
