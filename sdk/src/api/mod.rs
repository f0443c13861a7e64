//! The HTTP exchanges between viewers, relays, gateways and keepers, as types: each service
//! serves and each client sends exactly these, so a renamed field fails to compile instead
//! of failing at run time. The wire formats are documented in `docs/relay-protocol.md` and
//! `docs/keeper-api.md`, whose JSON examples a test parses into these types.
pub mod gateway;
pub mod keeper;
pub mod relay;

use serde::{Deserialize, Serialize};

/// The body of every refusal (4xx and 5xx) a Media Network service answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// Serde adapter: a public key as its base58 text.
pub mod base58 {
    use anchor_lang::prelude::Pubkey;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(key: &Pubkey, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(key)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pubkey, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a base58 public key")))
    }
}

/// Serde adapter: bytes as unpadded base64url text.
pub mod base64url {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    fn engine() -> base64::engine::GeneralPurpose {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
    }

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&engine().encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        engine()
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("not base64url: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchor_lang::prelude::Pubkey;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Both {
        #[serde(with = "base58")]
        key: Pubkey,
        #[serde(with = "base64url")]
        bytes: Vec<u8>,
    }

    #[test]
    fn keys_and_bytes_round_trip_and_bad_text_is_refused_by_name() {
        let both = Both {
            key: Pubkey::new_from_array([7; 32]),
            bytes: vec![0xfb, 0xff, 0x00],
        };
        let text = serde_json::to_string(&both).unwrap();
        assert!(text.contains("\"-_8A\""), "{text}");
        assert_eq!(serde_json::from_str::<Both>(&text).unwrap(), both);
        let bad_key = serde_json::from_str::<Both>(r#"{"key": "0OIl", "bytes": ""}"#);
        assert!(bad_key.unwrap_err().to_string().contains("base58"));
        let bad_bytes = serde_json::from_str::<Both>(
            r#"{"key": "11111111111111111111111111111111", "bytes": "*"}"#,
        );
        assert!(bad_bytes.unwrap_err().to_string().contains("base64url"));
    }
}
