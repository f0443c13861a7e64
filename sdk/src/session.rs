//! Viewer sessions (PROTOCOL.md §5): the gateway's **session token** and the viewer's
//! **viewer receipts**, with their exact bytes.
//!
//! ```text
//! session token message (120 bytes), signed by the consumer's receipt signer:
//!   0   8  "MEDIASN1"
//!   8  32  Config address
//!  40  32  consumer owner address
//!  72  32  session public key (the viewer's fresh ed25519 key)
//! 104   8  expires_at, unix seconds, i64 LE
//! 112   8  max_bytes, u64 LE (across every relay together)
//!
//! viewer receipt message (152 bytes), signed by the session key:
//!   0   8  "MEDIAVR1"
//!   8  32  Config address
//!  40  32  consumer owner address
//!  72  32  provider node key (the relay serving the session)
//! 104  32  session public key
//! 136   8  epoch, u64 LE
//! 144   8  cumulative body bytes this session received from this relay in this epoch, u64 LE
//! ```
//!
//! On the wire a token is its message followed by the 64-byte signature (184 bytes) and a
//! viewer receipt likewise (216 bytes); HTTP carries them base64url without padding.
use anchor_lang::prelude::Pubkey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

pub const SESSION_TOKEN_DOMAIN: &[u8; 8] = b"MEDIASN1";
pub const SESSION_TOKEN_MESSAGE_LEN: usize = 120;
pub const SESSION_TOKEN_LEN: usize = SESSION_TOKEN_MESSAGE_LEN + 64;
pub const VIEWER_RECEIPT_DOMAIN: &[u8; 8] = b"MEDIAVR1";
pub const VIEWER_RECEIPT_MESSAGE_LEN: usize = 152;
pub const VIEWER_RECEIPT_LEN: usize = VIEWER_RECEIPT_MESSAGE_LEN + 64;
pub const ORIGIN_ASK_DOMAIN: &[u8; 8] = b"MEDIAOR1";
pub const ORIGIN_ASK_MESSAGE_LEN: usize = 112;
pub const ORIGIN_ASK_LEN: usize = ORIGIN_ASK_MESSAGE_LEN + 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("{what} must be {expected} bytes, got {actual}")]
    Length {
        what: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("{what} does not start with its domain tag")]
    Domain { what: &'static str },
    #[error("{what} is not valid base64url")]
    Encoding { what: &'static str },
    #[error("{0} is not a valid ed25519 public key")]
    InvalidKey(Pubkey),
    #[error("{what} signature does not verify")]
    BadSignature { what: &'static str },
}

/// What the gateway grants a viewer's session key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionGrant {
    pub config: Pubkey,
    pub consumer: Pubkey,
    pub session_key: Pubkey,
    pub expires_at: i64,
    pub max_bytes: u64,
}

/// A session grant signed by the consumer's receipt signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionToken {
    pub grant: SessionGrant,
    pub signature: [u8; 64],
}

/// What a viewer acknowledges to one relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerAck {
    pub config: Pubkey,
    pub consumer: Pubkey,
    pub node_key: Pubkey,
    pub session_key: Pubkey,
    pub epoch: u64,
    pub cumulative: u64,
}

/// A viewer acknowledgement signed by the session key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewerReceipt {
    pub ack: ViewerAck,
    pub signature: [u8; 64],
}

fn key_at(bytes: &[u8], offset: usize) -> Pubkey {
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes[offset..offset + 32]);
    Pubkey::new_from_array(key)
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(word)
}

fn check_frame(
    bytes: &[u8],
    what: &'static str,
    expected: usize,
    domain: &[u8; 8],
) -> Result<(), SessionError> {
    if bytes.len() != expected {
        return Err(SessionError::Length {
            what,
            expected,
            actual: bytes.len(),
        });
    }
    if &bytes[..8] != domain {
        return Err(SessionError::Domain { what });
    }
    Ok(())
}

fn split_signature(bytes: &[u8], message_len: usize) -> [u8; 64] {
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&bytes[message_len..message_len + 64]);
    signature
}

fn verify(
    what: &'static str,
    key: &Pubkey,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SessionError> {
    let key =
        VerifyingKey::from_bytes(&key.to_bytes()).map_err(|_| SessionError::InvalidKey(*key))?;
    key.verify_strict(message, &Signature::from_bytes(signature))
        .map_err(|_| SessionError::BadSignature { what })
}

fn decode_base64(text: &str, what: &'static str) -> Result<Vec<u8>, SessionError> {
    URL_SAFE_NO_PAD
        .decode(text.trim())
        .map_err(|_| SessionError::Encoding { what })
}

impl SessionGrant {
    pub fn encode(&self) -> [u8; SESSION_TOKEN_MESSAGE_LEN] {
        let mut out = [0u8; SESSION_TOKEN_MESSAGE_LEN];
        out[..8].copy_from_slice(SESSION_TOKEN_DOMAIN);
        out[8..40].copy_from_slice(self.config.as_ref());
        out[40..72].copy_from_slice(self.consumer.as_ref());
        out[72..104].copy_from_slice(self.session_key.as_ref());
        out[104..112].copy_from_slice(&self.expires_at.to_le_bytes());
        out[112..120].copy_from_slice(&self.max_bytes.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SessionError> {
        check_frame(
            bytes,
            "session token message",
            SESSION_TOKEN_MESSAGE_LEN,
            SESSION_TOKEN_DOMAIN,
        )?;
        Ok(SessionGrant {
            config: key_at(bytes, 8),
            consumer: key_at(bytes, 40),
            session_key: key_at(bytes, 72),
            expires_at: u64_at(bytes, 104) as i64,
            max_bytes: u64_at(bytes, 112),
        })
    }

    /// The token: this grant signed by the consumer's receipt signer.
    pub fn sign(self, receipt_signer: &SigningKey) -> SessionToken {
        SessionToken {
            signature: receipt_signer.sign(&self.encode()).to_bytes(),
            grant: self,
        }
    }
}

impl SessionToken {
    pub fn encode(&self) -> [u8; SESSION_TOKEN_LEN] {
        let mut out = [0u8; SESSION_TOKEN_LEN];
        out[..SESSION_TOKEN_MESSAGE_LEN].copy_from_slice(&self.grant.encode());
        out[SESSION_TOKEN_MESSAGE_LEN..].copy_from_slice(&self.signature);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SessionError> {
        check_frame(
            bytes,
            "session token",
            SESSION_TOKEN_LEN,
            SESSION_TOKEN_DOMAIN,
        )?;
        Ok(SessionToken {
            grant: SessionGrant::decode(&bytes[..SESSION_TOKEN_MESSAGE_LEN])?,
            signature: split_signature(bytes, SESSION_TOKEN_MESSAGE_LEN),
        })
    }

    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.encode())
    }

    pub fn from_base64(text: &str) -> Result<Self, SessionError> {
        Self::decode(&decode_base64(text, "session token")?)
    }

    /// Checks the signature against `receipt_signer` (strict ed25519).
    pub fn verify(&self, receipt_signer: &Pubkey) -> Result<(), SessionError> {
        verify(
            "session token",
            receipt_signer,
            &self.grant.encode(),
            &self.signature,
        )
    }
}

impl ViewerAck {
    pub fn encode(&self) -> [u8; VIEWER_RECEIPT_MESSAGE_LEN] {
        let mut out = [0u8; VIEWER_RECEIPT_MESSAGE_LEN];
        out[..8].copy_from_slice(VIEWER_RECEIPT_DOMAIN);
        out[8..40].copy_from_slice(self.config.as_ref());
        out[40..72].copy_from_slice(self.consumer.as_ref());
        out[72..104].copy_from_slice(self.node_key.as_ref());
        out[104..136].copy_from_slice(self.session_key.as_ref());
        out[136..144].copy_from_slice(&self.epoch.to_le_bytes());
        out[144..152].copy_from_slice(&self.cumulative.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SessionError> {
        check_frame(
            bytes,
            "viewer receipt message",
            VIEWER_RECEIPT_MESSAGE_LEN,
            VIEWER_RECEIPT_DOMAIN,
        )?;
        Ok(ViewerAck {
            config: key_at(bytes, 8),
            consumer: key_at(bytes, 40),
            node_key: key_at(bytes, 72),
            session_key: key_at(bytes, 104),
            epoch: u64_at(bytes, 136),
            cumulative: u64_at(bytes, 144),
        })
    }

    /// The receipt: this acknowledgement signed by the session key it names.
    pub fn sign(self, session_key: &SigningKey) -> ViewerReceipt {
        ViewerReceipt {
            signature: session_key.sign(&self.encode()).to_bytes(),
            ack: self,
        }
    }
}

impl ViewerReceipt {
    pub fn encode(&self) -> [u8; VIEWER_RECEIPT_LEN] {
        let mut out = [0u8; VIEWER_RECEIPT_LEN];
        out[..VIEWER_RECEIPT_MESSAGE_LEN].copy_from_slice(&self.ack.encode());
        out[VIEWER_RECEIPT_MESSAGE_LEN..].copy_from_slice(&self.signature);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SessionError> {
        check_frame(
            bytes,
            "viewer receipt",
            VIEWER_RECEIPT_LEN,
            VIEWER_RECEIPT_DOMAIN,
        )?;
        Ok(ViewerReceipt {
            ack: ViewerAck::decode(&bytes[..VIEWER_RECEIPT_MESSAGE_LEN])?,
            signature: split_signature(bytes, VIEWER_RECEIPT_MESSAGE_LEN),
        })
    }

    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.encode())
    }

    pub fn from_base64(text: &str) -> Result<Self, SessionError> {
        Self::decode(&decode_base64(text, "viewer receipt")?)
    }

    /// Checks the signature against the session key the receipt names.
    pub fn verify(&self) -> Result<(), SessionError> {
        verify(
            "viewer receipt",
            &self.ack.session_key,
            &self.ack.encode(),
            &self.signature,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::pubkey_of;

    fn grant(session: &SigningKey) -> SessionGrant {
        SessionGrant {
            config: Pubkey::new_from_array([3; 32]),
            consumer: Pubkey::new_from_array([4; 32]),
            session_key: pubkey_of(session),
            expires_at: -1,
            max_bytes: u64::MAX,
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let signer = SigningKey::from_bytes(&[1; 32]);
        let session = SigningKey::from_bytes(&[2; 32]);
        let token = grant(&session).sign(&signer);
        let parsed = SessionToken::from_base64(&token.to_base64()).unwrap();
        assert_eq!(parsed, token);
        assert_eq!(
            parsed.grant.expires_at, -1,
            "i64 survives the LE round trip"
        );
        parsed.verify(&pubkey_of(&signer)).unwrap();
        assert_eq!(
            parsed.verify(&pubkey_of(&session)),
            Err(SessionError::BadSignature {
                what: "session token"
            })
        );
        let mut bytes = token.encode();
        bytes[112] ^= 1; // max_bytes
        let tampered = SessionToken::decode(&bytes).unwrap();
        assert!(tampered.verify(&pubkey_of(&signer)).is_err());
        bytes[0] = b'X';
        assert_eq!(
            SessionToken::decode(&bytes),
            Err(SessionError::Domain {
                what: "session token"
            })
        );
        assert!(matches!(
            SessionToken::decode(&bytes[..100]),
            Err(SessionError::Length { actual: 100, .. })
        ));
        assert_eq!(
            SessionToken::from_base64("not base64!"),
            Err(SessionError::Encoding {
                what: "session token"
            })
        );
    }

    #[test]
    fn viewer_receipts_round_trip_and_bind_every_field() {
        let session = SigningKey::from_bytes(&[2; 32]);
        let ack = ViewerAck {
            config: Pubkey::new_from_array([3; 32]),
            consumer: Pubkey::new_from_array([4; 32]),
            node_key: Pubkey::new_from_array([5; 32]),
            session_key: pubkey_of(&session),
            epoch: 9,
            cumulative: 1 << 40,
        };
        let receipt = ack.sign(&session);
        let parsed = ViewerReceipt::from_base64(&receipt.to_base64()).unwrap();
        assert_eq!(parsed, receipt);
        parsed.verify().unwrap();
        for offset in [8, 40, 72, 136, 144] {
            let mut bytes = receipt.encode();
            bytes[offset] ^= 1;
            let changed = ViewerReceipt::decode(&bytes).unwrap();
            assert!(changed.verify().is_err(), "byte {offset} is signed");
        }
        let other = SigningKey::from_bytes(&[6; 32]);
        let mut forged = ViewerAck {
            session_key: pubkey_of(&other),
            ..ack
        }
        .sign(&other);
        forged.ack.session_key = ack.session_key;
        assert!(forged.verify().is_err(), "signed by a key it does not name");
    }
}

/// A relay asking a consumer's gateway for its origin (`POST /.media/origin`, issue 17):
/// `MEDIAOR1 ‖ config ‖ consumer ‖ node_key ‖ issued_at (i64 LE)`, 112 bytes, signed by the
/// node key it names. The consumer in the message keeps one gateway from replaying it to
/// another; `issued_at` bounds how long a captured one is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginAsk {
    pub config: Pubkey,
    pub consumer: Pubkey,
    pub node_key: Pubkey,
    pub issued_at: i64,
}

/// An origin ask signed by its node key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedOriginAsk {
    pub ask: OriginAsk,
    pub signature: [u8; 64],
}

impl OriginAsk {
    pub fn encode(&self) -> [u8; ORIGIN_ASK_MESSAGE_LEN] {
        let mut out = [0u8; ORIGIN_ASK_MESSAGE_LEN];
        out[..8].copy_from_slice(ORIGIN_ASK_DOMAIN);
        out[8..40].copy_from_slice(self.config.as_ref());
        out[40..72].copy_from_slice(self.consumer.as_ref());
        out[72..104].copy_from_slice(self.node_key.as_ref());
        out[104..112].copy_from_slice(&self.issued_at.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SessionError> {
        check_frame(
            bytes,
            "origin ask message",
            ORIGIN_ASK_MESSAGE_LEN,
            ORIGIN_ASK_DOMAIN,
        )?;
        Ok(OriginAsk {
            config: key_at(bytes, 8),
            consumer: key_at(bytes, 40),
            node_key: key_at(bytes, 72),
            issued_at: u64_at(bytes, 104) as i64,
        })
    }

    /// The ask signed by the relay's node key (which it must name).
    pub fn sign(self, node: &SigningKey) -> SignedOriginAsk {
        SignedOriginAsk {
            signature: node.sign(&self.encode()).to_bytes(),
            ask: self,
        }
    }
}

impl SignedOriginAsk {
    pub fn encode(&self) -> [u8; ORIGIN_ASK_LEN] {
        let mut out = [0u8; ORIGIN_ASK_LEN];
        out[..ORIGIN_ASK_MESSAGE_LEN].copy_from_slice(&self.ask.encode());
        out[ORIGIN_ASK_MESSAGE_LEN..].copy_from_slice(&self.signature);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SessionError> {
        check_frame(bytes, "origin ask", ORIGIN_ASK_LEN, ORIGIN_ASK_DOMAIN)?;
        Ok(SignedOriginAsk {
            ask: OriginAsk::decode(&bytes[..ORIGIN_ASK_MESSAGE_LEN])?,
            signature: split_signature(bytes, ORIGIN_ASK_MESSAGE_LEN),
        })
    }

    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.encode())
    }

    pub fn from_base64(text: &str) -> Result<Self, SessionError> {
        Self::decode(&decode_base64(text, "origin ask")?)
    }

    /// Checks the signature against the node key the ask names.
    pub fn verify(&self) -> Result<(), SessionError> {
        verify(
            "origin ask",
            &self.ask.node_key,
            &self.ask.encode(),
            &self.signature,
        )
    }
}

#[cfg(test)]
mod origin_ask_tests {
    use super::*;

    #[test]
    fn an_origin_ask_round_trips_and_only_its_node_key_verifies_it() {
        let node = SigningKey::from_bytes(&[7; 32]);
        let ask = OriginAsk {
            config: Pubkey::new_unique(),
            consumer: Pubkey::new_unique(),
            node_key: crate::receipt::pubkey_of(&node),
            issued_at: 1_700_000_000,
        };
        let signed = ask.sign(&node);
        let back = SignedOriginAsk::from_base64(&signed.to_base64()).unwrap();
        assert_eq!(back, signed);
        back.verify().unwrap();
        // Naming another node key than the signer's does not verify.
        let impostor = OriginAsk {
            node_key: Pubkey::new_unique(),
            ..ask
        }
        .sign(&node);
        assert!(matches!(
            impostor.verify(),
            Err(SessionError::BadSignature { .. }) | Err(SessionError::InvalidKey(_))
        ));
        // Any changed field breaks the signature.
        let mut tampered = signed;
        tampered.ask.issued_at += 1;
        assert_eq!(
            tampered.verify(),
            Err(SessionError::BadSignature { what: "origin ask" })
        );
        // A viewer receipt is not an origin ask.
        let mut bytes = signed.encode();
        bytes[..8].copy_from_slice(VIEWER_RECEIPT_DOMAIN);
        assert_eq!(
            SignedOriginAsk::decode(&bytes),
            Err(SessionError::Domain { what: "origin ask" })
        );
    }
}
