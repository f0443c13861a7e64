//! Checking receipts at ingest: both signatures of every receipt in one ed25519 batch
//! verification (individual strict checks only when the batch fails, to name the culprits),
//! then the on-chain facts the program will check.
use crate::chain::ChainCache;
use ed25519_dalek::{Signature, VerifyingKey};
use media_sdk::receipt::SignedReceipt;

/// Why a receipt is refused at ingest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("invalid signature by the {0}")]
    BadSignature(&'static str),
    #[error("the receipt is for another deployment")]
    WrongDeployment,
    #[error("epoch {epoch} cannot settle (the network is in epoch {current})")]
    WrongEpoch { epoch: u64, current: u64 },
    #[error("no provider serving epoch {epoch} has node key {node_key}")]
    UnknownProvider { node_key: String, epoch: u64 },
    #[error("{signer} is not consumer {consumer}'s receipt signer for epoch {epoch}")]
    WrongConsumerSigner {
        signer: String,
        consumer: String,
        epoch: u64,
    },
}

/// What ingest answers for one receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Duplicate,
    Rejected(Rejection),
    /// Refused by a view of the chain that could not be refreshed: post it again (M9).
    Retry(Rejection),
}

impl Verdict {
    /// Whether a fresher view of the chain may change it (a provider or consumer that
    /// registered, rotated or moved to a new epoch since the last refresh).
    pub fn may_be_stale(&self) -> bool {
        matches!(
            self,
            Verdict::Rejected(
                Rejection::UnknownProvider { .. }
                    | Rejection::WrongConsumerSigner { .. }
                    | Rejection::WrongEpoch { .. }
            )
        )
    }

    /// The answer for this receipt on the wire.
    pub fn to_result(&self) -> media_sdk::api::keeper::IngestResult {
        use media_sdk::api::keeper::IngestResult;
        match self {
            Verdict::Accepted => IngestResult::Accepted,
            Verdict::Duplicate => IngestResult::Duplicate,
            Verdict::Rejected(r) => IngestResult::Rejected {
                code: r.code().into(),
                reason: r.to_string(),
            },
            Verdict::Retry(r) => IngestResult::Retry {
                code: r.code().into(),
                reason: r.to_string(),
            },
        }
    }
}

impl Rejection {
    /// A short machine-readable reason (metrics label, API field).
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::BadSignature(_) => "bad_signature",
            Rejection::WrongDeployment => "wrong_deployment",
            Rejection::WrongEpoch { .. } => "wrong_epoch",
            Rejection::UnknownProvider { .. } => "unknown_provider",
            Rejection::WrongConsumerSigner { .. } => "wrong_consumer_signer",
        }
    }
}

fn key(bytes: &[u8; 32]) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(bytes)
        .ok()
        .filter(|k| !k.is_weak())
}

/// Both signatures checked one by one with `verify_strict`, as Solana's precompile checks
/// them: the batch check is cofactorless and may accept what the precompile refuses (L6).
pub fn check_one(receipt: &SignedReceipt) -> Result<(), Rejection> {
    let message = receipt.receipt.encode();
    for (who, signer, signature) in [
        (
            "node key",
            receipt.receipt.node_key,
            &receipt.node_signature,
        ),
        (
            "consumer's receipt signer",
            receipt.consumer_signer,
            &receipt.consumer_signature,
        ),
    ] {
        let key = key(&signer.to_bytes()).ok_or(Rejection::BadSignature(who))?;
        key.verify_strict(&message, &Signature::from_bytes(signature))
            .map_err(|_| Rejection::BadSignature(who))?;
    }
    Ok(())
}

/// Both signatures of each receipt: one batch verification for all, and strict individual
/// checks only if the batch fails (or a key is malformed or of small order).
pub fn signatures(receipts: &[SignedReceipt]) -> Vec<Result<(), Rejection>> {
    let mut messages = Vec::with_capacity(receipts.len() * 2);
    let mut signatures = Vec::with_capacity(receipts.len() * 2);
    let mut keys = Vec::with_capacity(receipts.len() * 2);
    let encoded: Vec<_> = receipts.iter().map(|r| r.receipt.encode()).collect();
    let mut all_keys_sound = true;
    for (receipt, message) in receipts.iter().zip(&encoded) {
        for (signer, signature) in [
            (receipt.receipt.node_key, receipt.node_signature),
            (receipt.consumer_signer, receipt.consumer_signature),
        ] {
            match key(&signer.to_bytes()) {
                Some(k) => {
                    messages.push(&message[..]);
                    signatures.push(Signature::from_bytes(&signature));
                    keys.push(k);
                }
                None => all_keys_sound = false,
            }
        }
    }
    if all_keys_sound
        && !receipts.is_empty()
        && ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
    {
        metrics::counter!("media_keeper_batch_verifications_total", "result" => "ok").increment(1);
        return receipts.iter().map(|_| Ok(())).collect();
    }
    metrics::counter!("media_keeper_batch_verifications_total", "result" => "fallback")
        .increment(1);
    receipts.iter().map(check_one).collect()
}

/// The chain facts the program checks at settlement, against the cached view.
pub fn against_chain(receipt: &SignedReceipt, chain: &ChainCache) -> Result<(), Rejection> {
    let r = &receipt.receipt;
    if r.config != chain.config {
        return Err(Rejection::WrongDeployment);
    }
    if r.epoch > chain.epoch || r.epoch.saturating_add(1) < chain.epoch {
        return Err(Rejection::WrongEpoch {
            epoch: r.epoch,
            current: chain.epoch,
        });
    }
    if !chain
        .providers
        .get(&r.node_key)
        .is_some_and(|p| p.serves(r.epoch) && p.accepts_node_key(&r.node_key, r.epoch))
    {
        return Err(Rejection::UnknownProvider {
            node_key: r.node_key.to_string(),
            epoch: r.epoch,
        });
    }
    let signer = chain
        .consumers
        .get(&r.consumer)
        .and_then(|c| c.signer_for(r.epoch));
    if signer != Some(receipt.consumer_signer) {
        return Err(Rejection::WrongConsumerSigner {
            signer: receipt.consumer_signer.to_string(),
            consumer: r.consumer.to_string(),
            epoch: r.epoch,
        });
    }
    Ok(())
}
