//! Signing and verifying v1 receipts (the 120-byte format lives in the program crate, so the
//! program and every off-chain component share one codec).
use anchor_lang::prelude::Pubkey;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
pub use media_network::receipt::{
    ReceiptFormatError, ReceiptV1, NODE_KEY_OFFSET, RECEIPT_DOMAIN, RECEIPT_LEN,
};

/// Who signed a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The relay's node key.
    Node,
    /// The consumer's receipt signer (held by its gateway).
    Consumer,
}

impl std::fmt::Display for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Party::Node => "node",
            Party::Consumer => "consumer",
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    #[error("malformed receipt: {0}")]
    Format(#[from] ReceiptFormatError),
    #[error("{0} key {1} is not a valid ed25519 public key")]
    InvalidKey(Party, Pubkey),
    #[error("{0} signature does not verify")]
    BadSignature(Party),
    #[error("the node key signing ({signer}) is not the receipt's node key ({expected})")]
    WrongNodeKey { signer: Pubkey, expected: Pubkey },
}

/// A receipt with both signatures over its 120 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReceipt {
    pub receipt: ReceiptV1,
    pub node_signature: [u8; 64],
    /// The consumer's receipt signer (not necessarily the consumer's owner address).
    pub consumer_signer: Pubkey,
    pub consumer_signature: [u8; 64],
}

/// One party's signature over a receipt.
pub fn sign(key: &SigningKey, receipt: &ReceiptV1) -> [u8; 64] {
    key.sign(&receipt.encode()).to_bytes()
}

pub fn pubkey_of(key: &SigningKey) -> Pubkey {
    Pubkey::new_from_array(key.verifying_key().to_bytes())
}

impl SignedReceipt {
    /// Signs `receipt` with the node key and the consumer's receipt signer.
    pub fn sign(
        receipt: ReceiptV1,
        node_key: &SigningKey,
        consumer_signer: &SigningKey,
    ) -> Result<Self, ReceiptError> {
        let signer = pubkey_of(node_key);
        if signer != receipt.node_key {
            return Err(ReceiptError::WrongNodeKey {
                signer,
                expected: receipt.node_key,
            });
        }
        Ok(SignedReceipt {
            node_signature: sign(node_key, &receipt),
            consumer_signer: pubkey_of(consumer_signer),
            consumer_signature: sign(consumer_signer, &receipt),
            receipt,
        })
    }

    /// Checks both signatures (strict ed25519: no malleable or small-order forms).
    pub fn verify(&self) -> Result<(), ReceiptError> {
        let message = self.receipt.encode();
        verify_one(
            Party::Node,
            &self.receipt.node_key,
            &self.node_signature,
            &message,
        )?;
        verify_one(
            Party::Consumer,
            &self.consumer_signer,
            &self.consumer_signature,
            &message,
        )
    }
}

/// The 280-byte binary form: receipt (120) ‖ node signature (64) ‖ consumer signer (32) ‖
/// consumer signature (64).
pub const SIGNED_RECEIPT_LEN: usize = RECEIPT_LEN + 64 + 32 + 64;

/// A co-signed receipt as relays and keepers exchange it in JSON: every field base64url
/// except the signer, base58.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WireReceipt {
    pub receipt: String,
    pub node_signature: String,
    pub consumer_signer: String,
    pub consumer_signature: String,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

impl SignedReceipt {
    pub fn to_bytes(&self) -> [u8; SIGNED_RECEIPT_LEN] {
        let mut out = [0u8; SIGNED_RECEIPT_LEN];
        out[..120].copy_from_slice(&self.receipt.encode());
        out[120..184].copy_from_slice(&self.node_signature);
        out[184..216].copy_from_slice(self.consumer_signer.as_ref());
        out[216..].copy_from_slice(&self.consumer_signature);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ReceiptError> {
        if bytes.len() != SIGNED_RECEIPT_LEN {
            return Err(ReceiptError::Format(ReceiptFormatError::Length(
                bytes.len(),
            )));
        }
        let array = |range: std::ops::Range<usize>| -> [u8; 64] {
            let mut a = [0u8; 64];
            a.copy_from_slice(&bytes[range]);
            a
        };
        let mut signer = [0u8; 32];
        signer.copy_from_slice(&bytes[184..216]);
        Ok(SignedReceipt {
            receipt: ReceiptV1::decode(&bytes[..120])?,
            node_signature: array(120..184),
            consumer_signer: Pubkey::new_from_array(signer),
            consumer_signature: array(216..280),
        })
    }

    pub fn to_wire(&self) -> WireReceipt {
        use base64::Engine;
        WireReceipt {
            receipt: b64().encode(self.receipt.encode()),
            node_signature: b64().encode(self.node_signature),
            consumer_signer: self.consumer_signer.to_string(),
            consumer_signature: b64().encode(self.consumer_signature),
        }
    }
}

/// Why a wire receipt could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("{0} is not valid base64url")]
    Encoding(&'static str),
    #[error("{0} has the wrong length")]
    Length(&'static str),
    #[error("consumer_signer is not a base58 public key")]
    Signer,
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
}

impl TryFrom<&WireReceipt> for SignedReceipt {
    type Error = WireError;

    /// Decodes (does not verify) a wire receipt.
    fn try_from(wire: &WireReceipt) -> Result<Self, WireError> {
        use base64::Engine;
        let bytes = |text: &str, what: &'static str| {
            b64().decode(text).map_err(|_| WireError::Encoding(what))
        };
        let signature = |text: &str, what: &'static str| -> Result<[u8; 64], WireError> {
            bytes(text, what)?
                .try_into()
                .map_err(|_| WireError::Length(what))
        };
        let receipt = ReceiptV1::decode(&bytes(&wire.receipt, "receipt")?)
            .map_err(|e| WireError::Receipt(e.into()))?;
        Ok(SignedReceipt {
            receipt,
            node_signature: signature(&wire.node_signature, "node_signature")?,
            consumer_signer: wire
                .consumer_signer
                .parse()
                .map_err(|_| WireError::Signer)?,
            consumer_signature: signature(&wire.consumer_signature, "consumer_signature")?,
        })
    }
}

fn verify_one(
    party: Party,
    key: &Pubkey,
    signature: &[u8; 64],
    message: &[u8],
) -> Result<(), ReceiptError> {
    let key = VerifyingKey::from_bytes(&key.to_bytes())
        .map_err(|_| ReceiptError::InvalidKey(party, *key))?;
    key.verify_strict(message, &Signature::from_bytes(signature))
        .map_err(|_| ReceiptError::BadSignature(party))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (SigningKey, SigningKey) {
        (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[2; 32]),
        )
    }

    fn receipt(node: &SigningKey) -> ReceiptV1 {
        ReceiptV1 {
            config: Pubkey::new_from_array([3; 32]),
            node_key: pubkey_of(node),
            consumer: Pubkey::new_from_array([4; 32]),
            epoch: 7,
            cumulative: 123_456_789,
        }
    }

    #[test]
    fn sign_and_verify() {
        let (node, consumer) = keys();
        let signed = SignedReceipt::sign(receipt(&node), &node, &consumer).unwrap();
        signed.verify().unwrap();

        let mut forged = signed.clone();
        forged.node_signature[0] ^= 1;
        assert_eq!(
            forged.verify(),
            Err(ReceiptError::BadSignature(Party::Node))
        );
        let mut forged = signed.clone();
        forged.receipt.cumulative += 1;
        assert_eq!(
            forged.verify(),
            Err(ReceiptError::BadSignature(Party::Node))
        );
        let mut forged = signed;
        forged.consumer_signer = pubkey_of(&node);
        assert_eq!(
            forged.verify(),
            Err(ReceiptError::BadSignature(Party::Consumer))
        );
    }

    #[test]
    fn binary_and_wire_forms_round_trip() {
        let (node, consumer) = keys();
        let signed = SignedReceipt::sign(receipt(&node), &node, &consumer).unwrap();
        assert_eq!(
            SignedReceipt::from_bytes(&signed.to_bytes()).unwrap(),
            signed
        );
        let wire = signed.to_wire();
        assert_eq!(SignedReceipt::try_from(&wire).unwrap(), signed);
        let bad = WireReceipt {
            node_signature: "AAAA".into(),
            ..wire.clone()
        };
        assert_eq!(
            SignedReceipt::try_from(&bad),
            Err(WireError::Length("node_signature"))
        );
        let bad = WireReceipt {
            receipt: "!!".into(),
            ..wire
        };
        assert_eq!(
            SignedReceipt::try_from(&bad),
            Err(WireError::Encoding("receipt"))
        );
    }

    #[test]
    fn the_node_key_must_be_the_receipts() {
        let (node, consumer) = keys();
        let err = SignedReceipt::sign(receipt(&consumer), &node, &consumer).unwrap_err();
        assert!(matches!(err, ReceiptError::WrongNodeKey { .. }));
    }
}
