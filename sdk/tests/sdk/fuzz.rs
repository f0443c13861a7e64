//! No input panics the codecs the network reads from strangers: receipts (binary and JSON
//! forms), session tokens and viewer receipts (binary and base64url); and what decodes
//! encodes back to the same bytes. Bounded runs of proptest.
use media_sdk::receipt::{SignedReceipt, WireReceipt, SIGNED_RECEIPT_LEN};
use media_sdk::session::{SessionToken, ViewerReceipt};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 2_000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn signed_receipt_bytes_never_panic_and_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(receipt) = SignedReceipt::from_bytes(&bytes) {
            prop_assert_eq!(bytes.len(), SIGNED_RECEIPT_LEN);
            prop_assert_eq!(&receipt.to_bytes()[..], &bytes[..]);
        }
    }

    #[test]
    fn wire_receipts_never_panic(
        receipt in "[A-Za-z0-9_=+/-]{0,200}",
        node_signature in "[A-Za-z0-9_=+/-]{0,100}",
        consumer_signer in "[1-9A-HJ-NP-Za-km-z]{0,50}",
        consumer_signature in "[A-Za-z0-9_=+/-]{0,100}",
    ) {
        let wire = WireReceipt { receipt, node_signature, consumer_signer, consumer_signature };
        if let Ok(signed) = SignedReceipt::try_from(&wire) {
            prop_assert_eq!(signed.to_wire(), wire);
        }
    }

    #[test]
    fn session_tokens_never_panic_and_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(token) = SessionToken::decode(&bytes) {
            prop_assert_eq!(&token.encode()[..], &bytes[..]);
        }
    }

    #[test]
    fn viewer_receipts_never_panic_and_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(receipt) = ViewerReceipt::decode(&bytes) {
            prop_assert_eq!(&receipt.encode()[..], &bytes[..]);
        }
    }

    #[test]
    fn base64_forms_never_panic(text in "\\PC{0,400}") {
        let _ = SessionToken::from_base64(&text);
        let _ = ViewerReceipt::from_base64(&text);
    }

    /// Bytes that start like a real token or receipt (the domain tags) and go on at random.
    #[test]
    fn tagged_inputs_never_panic(tag in 0usize..2, rest in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut bytes = [b"MEDIASN1".to_vec(), b"MEDIAVR1".to_vec()][tag].clone();
        bytes.extend_from_slice(&rest);
        let _ = SessionToken::decode(&bytes);
        let _ = ViewerReceipt::decode(&bytes);
    }
}
