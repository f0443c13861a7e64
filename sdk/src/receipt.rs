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
    fn the_node_key_must_be_the_receipts() {
        let (node, consumer) = keys();
        let err = SignedReceipt::sign(receipt(&consumer), &node, &consumer).unwrap_err();
        assert!(matches!(err, ReceiptError::WrongNodeKey { .. }));
    }
}
