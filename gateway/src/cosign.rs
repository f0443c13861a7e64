//! Co-signing: a relay shows the latest viewer receipt of each session it served for this
//! consumer in one epoch; the gateway checks each (token signed by its receipt signer, for
//! this deployment and consumer, not long expired; viewer receipt signed by the token's
//! session key, for this relay and epoch), records what they justify, and signs the v1
//! receipt for that total — never for what the relay merely claims.
use crate::chain::{ChainClock, ChainSnapshot};
use crate::store::{CosignLimits, Shown, Store, StoreError};
use anchor_lang::prelude::Pubkey;
use ed25519_dalek::SigningKey;
use media_sdk::receipt::{pubkey_of, sign, ReceiptV1};
use media_sdk::session::{SessionGrant, SessionToken, ViewerReceipt};
use std::collections::HashMap;

pub use media_sdk::api::gateway::{CosignRequest, CosignResponse, Rejected, SessionProof};

#[derive(Debug, thiserror::Error)]
pub enum CosignError {
    #[error("invalid node key {0:?}")]
    NodeKey(String),
    #[error("epoch {epoch} cannot settle now (epochs {from}..={to} can)")]
    EpochOutOfWindow { epoch: u64, from: u64, to: u64 },
    #[error("at most {max} sessions per request (got {got})")]
    TooManySessions { got: usize, max: usize },
    #[error("epoch {epoch}'s receipt signer is {signer}, which this gateway does not hold (give it with --previous-receipt-signer during a rotation)")]
    SignerNotHeld { epoch: u64, signer: String },
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

/// The receipt-signer keys the gateway holds: the current one and, through a rotation
/// (`set_receipt_signer` takes effect from the next epoch, and the old key still covers the
/// epochs before), the previous one (review M7).
pub struct Signers {
    pub current: SigningKey,
    pub previous: Option<SigningKey>,
}

impl From<SigningKey> for Signers {
    fn from(current: SigningKey) -> Self {
        Signers {
            current,
            previous: None,
        }
    }
}

impl Signers {
    pub fn all(&self) -> impl Iterator<Item = &SigningKey> {
        std::iter::once(&self.current).chain(self.previous.as_ref())
    }

    /// The keys whose session tokens count now: the current one, and the previous one only
    /// while the chain still names it for an epoch that can settle (without a chain view the
    /// operator's configuration decides). A leaked old key kept configured past the rotation
    /// therefore mints nothing the gateway honors.
    pub fn for_tokens<'a>(
        &'a self,
        chain: Option<&'a ChainSnapshot>,
    ) -> impl Iterator<Item = &'a SigningKey> + 'a {
        let previous = self.previous.as_ref().filter(move |key| {
            chain.is_none_or(|c| {
                let key = pubkey_of(key);
                [c.epoch.saturating_sub(1), c.epoch]
                    .iter()
                    .any(|epoch| c.signer_for(*epoch) == Some(key))
            })
        });
        std::iter::once(&self.current).chain(previous)
    }

    /// The key the program accepts for `epoch`: the one the chain names when the gateway
    /// knows the chain, else the current one. `Err` names a key the chain wants and the
    /// gateway does not hold.
    pub fn for_epoch(
        &self,
        chain: Option<&ChainSnapshot>,
        epoch: u64,
    ) -> Result<&SigningKey, Pubkey> {
        let Some(wanted) = chain.and_then(|c| c.signer_for(epoch)) else {
            return Ok(&self.current);
        };
        self.all().find(|k| pubkey_of(k) == wanted).ok_or(wanted)
    }
}

pub struct Cosigner {
    pub config: Pubkey,
    pub consumer: Pubkey,
    pub signers: Signers,
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
        chain: Option<&ChainSnapshot>,
        now: i64,
    ) -> Result<(SessionGrant, u64), String> {
        let token = SessionToken::from_base64(&proof.token).map_err(|e| e.to_string())?;
        if !self
            .signers
            .for_tokens(chain)
            .any(|key| token.verify(&pubkey_of(key)).is_ok())
        {
            return Err("the token is not signed by this gateway".to_string());
        }
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
        let chain = self.clock.snapshot();
        let signer = self
            .signers
            .for_epoch(chain.as_ref(), request.epoch)
            .map_err(|wanted| CosignError::SignerNotHeld {
                epoch: request.epoch,
                signer: wanted.to_string(),
            })?;
        if let Some(chain) = &chain {
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
            match self.check(proof, &node_key, request.epoch, chain.as_ref(), now) {
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
            consumer_signer: pubkey_of(signer).to_string(),
            consumer_signature: b64.encode(sign(signer, &receipt)),
            rejected,
            capped: recorded.capped.iter().map(ToString::to_string).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use media_network::state::{Consumer, ConsumerStatus, EpochRing};
    use media_sdk::session::ViewerAck;

    /// A consumer that moved its receipt signer from `old` to `new`, effective in `since`.
    fn rotated(owner: Pubkey, old: &SigningKey, new: &SigningKey, since: u64) -> Consumer {
        Consumer {
            bump: 0,
            owner,
            status: ConsumerStatus::Active,
            registered_epoch: 0,
            deactivated_epoch: 0,
            receipt_signer: pubkey_of(new),
            signer_since_epoch: since,
            previous_signer: pubkey_of(old),
            bond: 1,
            escrow: u64::MAX,
            pending_withdrawal: 0,
            withdrawal_epoch: 0,
            usage: EpochRing::EMPTY,
            gateway_url: None,
        }
    }

    /// The chain in epoch 4, which began at `now`.
    fn epoch_4(now: i64, consumer: Option<Consumer>) -> ChainSnapshot {
        ChainSnapshot {
            epoch: 4,
            epoch_started_at: now,
            epoch_duration_secs: 600,
            spendable: u64::MAX,
            price_per_gib: 1,
            consumer,
        }
    }

    /// A co-signer that sees `snapshot`, without ceilings, its store in a fresh temp file.
    fn cosigner_at(
        snapshot: &ChainSnapshot,
        owner: Pubkey,
        signers: Signers,
        test: &str,
    ) -> (Cosigner, media_service::TempStores) {
        let stores = media_service::TempStores::new(&format!("gateway-{test}")).unwrap();
        let path = stores.path("store");
        let cosigner = Cosigner {
            config: media_sdk::pda::config(),
            consumer: owner,
            signers,
            policy: Policy {
                expiry_grace_secs: 60,
                limits: CosignLimits {
                    max_bytes_per_relay_epoch: u64::MAX,
                    new_relay_bytes: u64::MAX,
                    max_cosigned_bytes_per_epoch: u64::MAX,
                    grow: true,
                },
            },
            store: Store::open(&path).unwrap(),
            clock: std::sync::Arc::new(ChainClock::fixed(snapshot.clone(), owner)),
        };
        (cosigner, stores)
    }

    /// M7: through a rotation the gateway co-signs each epoch with the key the program
    /// accepts for it, honors tokens its old key issued, and names the key it lacks.
    #[test]
    fn m7_a_rotating_gateway_cosigns_each_epoch_with_that_epochs_key() {
        let (old, new) = (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[2; 32]),
        );
        let owner = Pubkey::new_unique();
        let now = 1_000_000;
        let snapshot = epoch_4(now, Some(rotated(owner, &old, &new, 4)));
        let signers = Signers {
            current: new.clone(),
            previous: Some(old.clone()),
        };
        let (cosigner, _stores) = cosigner_at(&snapshot, owner, signers, "m7");
        // A token issued before the rotation, by the old key.
        let session = SigningKey::from_bytes(&[3; 32]);
        let token = SessionGrant {
            config: cosigner.config,
            consumer: owner,
            session_key: pubkey_of(&session),
            expires_at: now + 3_600,
            max_bytes: 1 << 30,
        }
        .sign(&old);
        let node_key = Pubkey::new_unique();
        for (epoch, key) in [(3, &old), (4, &new)] {
            let receipt = ViewerAck {
                config: cosigner.config,
                consumer: owner,
                node_key,
                session_key: pubkey_of(&session),
                epoch,
                cumulative: 1_000,
            }
            .sign(&session);
            let request = CosignRequest {
                node_key: node_key.to_string(),
                epoch,
                sessions: vec![SessionProof {
                    token: token.to_base64(),
                    receipt: receipt.to_base64(),
                }],
            };
            let answer = cosigner.cosign(&request, now).unwrap();
            assert!(answer.rejected.is_empty(), "{:?}", answer.rejected);
            assert_eq!(answer.cumulative, 1_000);
            assert_eq!(
                answer.consumer_signer,
                pubkey_of(key).to_string(),
                "epoch {epoch}"
            );
        }
        // Once the old key covers no epoch that can settle, its tokens stop counting.
        let keys = |chain: Option<&ChainSnapshot>| -> Vec<Pubkey> {
            cosigner.signers.for_tokens(chain).map(pubkey_of).collect()
        };
        assert_eq!(keys(Some(&snapshot)), [pubkey_of(&new), pubkey_of(&old)]);
        let later = ChainSnapshot {
            epoch: 6,
            ..snapshot.clone()
        };
        assert_eq!(keys(Some(&later)), [pubkey_of(&new)]);
        assert_eq!(keys(None), [pubkey_of(&new), pubkey_of(&old)]);
        let new_only = Signers::from(new.clone());
        assert_eq!(
            new_only.for_epoch(Some(&snapshot), 3).err(),
            Some(pubkey_of(&old))
        );
        assert_eq!(
            pubkey_of(new_only.for_epoch(None, 3).unwrap()),
            pubkey_of(&new),
            "without a chain view the current key signs"
        );
        drop(cosigner);
    }

    /// L9: with a chain view only the previous and the current epoch are co-signed: a
    /// co-signature for a future epoch could be banked past the caps, one for an old epoch
    /// can no longer settle.
    #[test]
    fn l9_only_epochs_that_can_settle_are_cosigned() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let owner = Pubkey::new_unique();
        let now = 1_000_000;
        let (cosigner, _stores) = cosigner_at(&epoch_4(now, None), owner, Signers::from(key), "l9");
        let request = |epoch| CosignRequest {
            node_key: Pubkey::new_unique().to_string(),
            epoch,
            sessions: Vec::new(),
        };
        for epoch in [0, 2, 5, u64::MAX] {
            assert!(
                matches!(
                    cosigner.cosign(&request(epoch), now),
                    Err(CosignError::EpochOutOfWindow { from: 3, to: 4, .. })
                ),
                "epoch {epoch}"
            );
        }
        for epoch in [3, 4] {
            assert_eq!(cosigner.cosign(&request(epoch), now).unwrap().cumulative, 0);
        }
        drop(cosigner);
    }
}
