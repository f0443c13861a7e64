//! Committed receipt test vectors (made independently with Python's `cryptography`): the Rust
//! codec and signer must reproduce every byte, so other implementations can check against them.
use anchor_lang::prelude::Pubkey;
use ed25519_dalek::SigningKey;
use media_sdk::receipt::{pubkey_of, ReceiptV1, SignedReceipt};
use serde::Deserialize;
use std::str::FromStr;

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    node_seed: String,
    consumer_signer_seed: String,
    config: String,
    node_key: String,
    consumer: String,
    consumer_signer: String,
    epoch: String,
    cumulative: String,
    message: String,
    node_signature: String,
    consumer_signature: String,
}

fn seed(hex_seed: &str) -> SigningKey {
    SigningKey::from_bytes(&hex::decode(hex_seed).unwrap().try_into().unwrap())
}

fn key(b58: &str) -> Pubkey {
    Pubkey::from_str(b58).unwrap()
}

#[test]
fn receipt_v1_vectors_match_byte_for_byte() {
    let file: File = serde_json::from_str(include_str!("../vectors/receipt_v1.json")).unwrap();
    assert_eq!(file.vectors.len(), 3);
    for v in file.vectors {
        let node = seed(&v.node_seed);
        let consumer_signer = seed(&v.consumer_signer_seed);
        assert_eq!(pubkey_of(&node), key(&v.node_key), "{}", v.name);
        let receipt = ReceiptV1 {
            config: key(&v.config),
            node_key: key(&v.node_key),
            consumer: key(&v.consumer),
            epoch: v.epoch.parse().unwrap(),
            cumulative: v.cumulative.parse().unwrap(),
        };
        assert_eq!(hex::encode(receipt.encode()), v.message, "{}", v.name);
        assert_eq!(
            ReceiptV1::decode(&hex::decode(&v.message).unwrap()).unwrap(),
            receipt
        );

        let signed = SignedReceipt::sign(receipt, &node, &consumer_signer).unwrap();
        assert_eq!(
            signed.consumer_signer,
            key(&v.consumer_signer),
            "{}",
            v.name
        );
        assert_eq!(
            hex::encode(signed.node_signature),
            v.node_signature,
            "{}",
            v.name
        );
        assert_eq!(
            hex::encode(signed.consumer_signature),
            v.consumer_signature,
            "{}",
            v.name
        );
        signed.verify().unwrap();
    }
}
