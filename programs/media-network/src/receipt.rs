//! The v1 bandwidth receipt: the exact 120 bytes that a relay's node key and the consumer's
//! receipt signer both sign. Shared by the program, the SDK, relays, gateways and keepers.
//!
//! ```text
//! offset len field
//! 0      8   domain tag "MEDIARC1"
//! 8      32  Config account address
//! 40     32  provider node key
//! 72     32  consumer owner address
//! 104    8   epoch, u64 LE
//! 112    8   cumulative bytes in this epoch from this provider to this consumer, u64 LE
//! ```
use anchor_lang::prelude::Pubkey;

pub const RECEIPT_DOMAIN: &[u8; 8] = b"MEDIARC1";
pub const RECEIPT_LEN: usize = 120;
pub const NODE_KEY_OFFSET: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptV1 {
    pub config: Pubkey,
    pub node_key: Pubkey,
    pub consumer: Pubkey,
    pub epoch: u64,
    pub cumulative: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptFormatError {
    /// Not exactly 120 bytes.
    Length(usize),
    /// The first 8 bytes are not "MEDIARC1".
    Domain,
}

impl std::fmt::Display for ReceiptFormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Length(n) => write!(f, "receipt must be {RECEIPT_LEN} bytes, got {n}"),
            Self::Domain => write!(f, "receipt does not start with the MEDIARC1 domain tag"),
        }
    }
}

impl std::error::Error for ReceiptFormatError {}

impl ReceiptV1 {
    pub fn encode(&self) -> [u8; RECEIPT_LEN] {
        let mut out = [0u8; RECEIPT_LEN];
        out[0..8].copy_from_slice(RECEIPT_DOMAIN);
        out[8..40].copy_from_slice(self.config.as_ref());
        out[40..72].copy_from_slice(self.node_key.as_ref());
        out[72..104].copy_from_slice(self.consumer.as_ref());
        out[104..112].copy_from_slice(&self.epoch.to_le_bytes());
        out[112..120].copy_from_slice(&self.cumulative.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, ReceiptFormatError> {
        let bytes: &[u8; RECEIPT_LEN] = bytes
            .try_into()
            .map_err(|_| ReceiptFormatError::Length(bytes.len()))?;
        if &bytes[0..8] != RECEIPT_DOMAIN {
            return Err(ReceiptFormatError::Domain);
        }
        let key = |at: usize| Pubkey::new_from_array(bytes[at..at + 32].try_into().unwrap());
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        Ok(ReceiptV1 {
            config: key(8),
            node_key: key(40),
            consumer: key(72),
            epoch: word(104),
            cumulative: word(112),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_malformed_input() {
        let r = ReceiptV1 {
            config: Pubkey::new_unique(),
            node_key: Pubkey::new_unique(),
            consumer: Pubkey::new_unique(),
            epoch: 42,
            cumulative: u64::MAX - 1,
        };
        let bytes = r.encode();
        assert_eq!(&bytes[..8], b"MEDIARC1");
        assert_eq!(
            &bytes[NODE_KEY_OFFSET..NODE_KEY_OFFSET + 32],
            r.node_key.as_ref()
        );
        assert_eq!(ReceiptV1::decode(&bytes).unwrap(), r);
        assert_eq!(
            ReceiptV1::decode(&bytes[..119]),
            Err(ReceiptFormatError::Length(119))
        );
        let mut wrong = bytes;
        wrong[7] = b'2';
        assert_eq!(ReceiptV1::decode(&wrong), Err(ReceiptFormatError::Domain));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3_000, ..Default::default() })]

        /// Whatever bytes a signature entry points at: a named error or the same 120 bytes back.
        #[test]
        fn fuzz_receipt_bytes_never_panic_and_round_trip(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            if let Ok(receipt) = ReceiptV1::decode(&bytes) {
                proptest::prop_assert_eq!(&receipt.encode()[..], &bytes[..]);
            }
        }
    }
}
