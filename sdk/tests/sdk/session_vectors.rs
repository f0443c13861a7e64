//! Session token and viewer receipt vectors from `vectors/generate_session_v1.py` (Python's
//! `cryptography`, no Rust): the codec and signatures must match byte for byte.
use anchor_lang::prelude::Pubkey;
use ed25519_dalek::SigningKey;
use media_sdk::receipt::pubkey_of;
use media_sdk::session::{SessionGrant, SessionToken, ViewerAck, ViewerReceipt};
use serde::Deserialize;
use std::str::FromStr;

#[derive(Deserialize)]
struct File {
    tokens: Vec<TokenVector>,
    viewer_receipts: Vec<ReceiptVector>,
}

#[derive(Deserialize)]
struct TokenVector {
    name: String,
    receipt_signer_seed: String,
    receipt_signer: String,
    config: String,
    consumer: String,
    session_key: String,
    expires_at: i64,
    max_bytes: u64,
    message: String,
    token: String,
}

#[derive(Deserialize)]
struct ReceiptVector {
    name: String,
    session_seed: String,
    config: String,
    consumer: String,
    node_key: String,
    session_key: String,
    epoch: u64,
    cumulative: u64,
    message: String,
    receipt: String,
}

fn seed(hex_seed: &str) -> SigningKey {
    SigningKey::from_bytes(&hex::decode(hex_seed).unwrap().try_into().unwrap())
}

fn key(b58: &str) -> Pubkey {
    Pubkey::from_str(b58).unwrap()
}

fn file() -> File {
    serde_json::from_str(include_str!("../vectors/session_v1.json")).unwrap()
}

#[test]
fn session_tokens_match_byte_for_byte() {
    let tokens = file().tokens;
    assert_eq!(tokens.len(), 2);
    for v in tokens {
        let signer = seed(&v.receipt_signer_seed);
        assert_eq!(pubkey_of(&signer), key(&v.receipt_signer), "{}", v.name);
        let grant = SessionGrant {
            config: key(&v.config),
            consumer: key(&v.consumer),
            session_key: key(&v.session_key),
            expires_at: v.expires_at,
            max_bytes: v.max_bytes,
        };
        assert_eq!(hex::encode(grant.encode()), v.message, "{}", v.name);
        let token = grant.sign(&signer);
        assert_eq!(hex::encode(token.encode()), v.token, "{}", v.name);
        let parsed = SessionToken::decode(&hex::decode(&v.token).unwrap()).unwrap();
        assert_eq!(parsed, token);
        parsed.verify(&key(&v.receipt_signer)).unwrap();
    }
}

#[test]
fn viewer_receipts_match_byte_for_byte() {
    let receipts = file().viewer_receipts;
    assert_eq!(receipts.len(), 2);
    for v in receipts {
        let session = seed(&v.session_seed);
        assert_eq!(pubkey_of(&session), key(&v.session_key), "{}", v.name);
        let ack = ViewerAck {
            config: key(&v.config),
            consumer: key(&v.consumer),
            node_key: key(&v.node_key),
            session_key: key(&v.session_key),
            epoch: v.epoch,
            cumulative: v.cumulative,
        };
        assert_eq!(hex::encode(ack.encode()), v.message, "{}", v.name);
        let receipt = ack.sign(&session);
        assert_eq!(hex::encode(receipt.encode()), v.receipt, "{}", v.name);
        let parsed = ViewerReceipt::decode(&hex::decode(&v.receipt).unwrap()).unwrap();
        assert_eq!(parsed, receipt);
        parsed.verify().unwrap();
    }
}
