//! Reading the ed25519 precompile instruction that carries a receipt's two signatures.
//!
//! The runtime verifies every signature entry of a precompile instruction before the
//! transaction runs; what the program must check is *what* was verified: that an entry's
//! message and public key lie inside that same instruction (not in another one an attacker
//! controls) and are exactly the receipt bytes and keys settlement expects.
use crate::errors::MediaError;
use crate::receipt::RECEIPT_LEN;
use anchor_lang::prelude::*;

/// Layout: `[count u8, padding u8, count x 14-byte offsets, ...data]`.
const OFFSETS_START: usize = 2;
const ENTRY_LEN: usize = 14;
/// In an offsets field, "this instruction".
pub const THIS_INSTRUCTION: u16 = u16::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignatureEntry {
    pub signature_offset: u16,
    pub signature_instruction_index: u16,
    pub public_key_offset: u16,
    pub public_key_instruction_index: u16,
    pub message_data_offset: u16,
    pub message_data_size: u16,
    pub message_instruction_index: u16,
}

impl SignatureEntry {
    pub fn to_bytes(&self) -> [u8; ENTRY_LEN] {
        let fields = [
            self.signature_offset,
            self.signature_instruction_index,
            self.public_key_offset,
            self.public_key_instruction_index,
            self.message_data_offset,
            self.message_data_size,
            self.message_instruction_index,
        ];
        let mut out = [0u8; ENTRY_LEN];
        for (chunk, field) in out.chunks_exact_mut(2).zip(fields) {
            chunk.copy_from_slice(&field.to_le_bytes());
        }
        out
    }
}

/// Reads signature entry `index` of an ed25519 instruction's data.
pub fn read_entry(data: &[u8], index: u8) -> Result<SignatureEntry> {
    let count = *data
        .first()
        .ok_or_else(|| error!(MediaError::Ed25519NoSignatures))?;
    require!(count > 0, MediaError::Ed25519NoSignatures);
    require!(index < count, MediaError::Ed25519EntryOutOfRange);
    let start = OFFSETS_START + ENTRY_LEN * usize::from(index);
    let raw = data
        .get(start..start + ENTRY_LEN)
        .ok_or_else(|| error!(MediaError::Ed25519EntryOutOfRange))?;
    let field = |i: usize| u16::from_le_bytes([raw[2 * i], raw[2 * i + 1]]);
    Ok(SignatureEntry {
        signature_offset: field(0),
        signature_instruction_index: field(1),
        public_key_offset: field(2),
        public_key_instruction_index: field(3),
        message_data_offset: field(4),
        message_data_size: field(5),
        message_instruction_index: field(6),
    })
}

/// The receipt-sized message and the public key that the runtime verified for `entry`,
/// provided both (and the signature) are inside this same instruction.
pub fn signed_receipt<'a>(data: &'a [u8], entry: &SignatureEntry) -> Result<(&'a [u8], Pubkey)> {
    require!(
        entry.signature_instruction_index == THIS_INSTRUCTION
            && entry.public_key_instruction_index == THIS_INSTRUCTION
            && entry.message_instruction_index == THIS_INSTRUCTION,
        MediaError::Ed25519OtherInstruction
    );
    require!(
        usize::from(entry.message_data_size) == RECEIPT_LEN,
        MediaError::Ed25519MessageSize
    );
    let message_start = usize::from(entry.message_data_offset);
    let message = data
        .get(message_start..message_start + RECEIPT_LEN)
        .ok_or_else(|| error!(MediaError::Ed25519OffsetOutOfBounds))?;
    let key_start = usize::from(entry.public_key_offset);
    let key: [u8; 32] = data
        .get(key_start..key_start + 32)
        .ok_or_else(|| error!(MediaError::Ed25519OffsetOutOfBounds))?
        .try_into()
        .map_err(|_| error!(MediaError::Ed25519OffsetOutOfBounds))?;
    Ok((message, Pubkey::new_from_array(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instruction(entries: &[SignatureEntry], tail: &[u8]) -> Vec<u8> {
        let mut data = vec![entries.len() as u8, 0];
        for e in entries {
            data.extend_from_slice(&e.to_bytes());
        }
        data.extend_from_slice(tail);
        data
    }

    fn local(message_offset: u16, key_offset: u16) -> SignatureEntry {
        SignatureEntry {
            signature_offset: 0,
            signature_instruction_index: THIS_INSTRUCTION,
            public_key_offset: key_offset,
            public_key_instruction_index: THIS_INSTRUCTION,
            message_data_offset: message_offset,
            message_data_size: RECEIPT_LEN as u16,
            message_instruction_index: THIS_INSTRUCTION,
        }
    }

    #[test]
    fn reads_entries_and_their_data() {
        let tail: Vec<u8> = (0..200u8).collect();
        let e = local(16 + 10, 16 + 150);
        let data = instruction(&[e], &tail);
        assert_eq!(read_entry(&data, 0).unwrap(), e);
        let (message, key) = signed_receipt(&data, &e).unwrap();
        assert_eq!(message, &tail[10..130]);
        assert_eq!(
            key.to_bytes(),
            <[u8; 32]>::try_from(&tail[150..182]).unwrap()
        );
    }

    #[test]
    fn rejects_what_settlement_must_not_trust() {
        let data = instruction(&[local(16, 16)], &[0u8; 120]);
        assert_eq!(
            read_entry(&data, 1).unwrap_err(),
            error!(MediaError::Ed25519EntryOutOfRange)
        );
        assert_eq!(
            read_entry(&[0, 0], 0).unwrap_err(),
            error!(MediaError::Ed25519NoSignatures)
        );
        assert_eq!(
            read_entry(&[], 0).unwrap_err(),
            error!(MediaError::Ed25519NoSignatures)
        );
        // A count that claims more entries than the data holds.
        assert_eq!(
            read_entry(&[3, 0, 1, 2], 1).unwrap_err(),
            error!(MediaError::Ed25519EntryOutOfRange)
        );

        for tweak in [
            |e: &mut SignatureEntry| e.signature_instruction_index = 0,
            |e: &mut SignatureEntry| e.public_key_instruction_index = 1,
            |e: &mut SignatureEntry| e.message_instruction_index = 2,
        ] {
            let mut e = local(16, 16);
            tweak(&mut e);
            assert_eq!(
                signed_receipt(&data, &e).unwrap_err(),
                error!(MediaError::Ed25519OtherInstruction)
            );
        }
        let mut e = local(16, 16);
        e.message_data_size = 119;
        assert_eq!(
            signed_receipt(&data, &e).unwrap_err(),
            error!(MediaError::Ed25519MessageSize)
        );
        let e = local(20, 16);
        assert_eq!(
            signed_receipt(&data, &e).unwrap_err(),
            error!(MediaError::Ed25519OffsetOutOfBounds)
        );
        let e = local(16, 120);
        assert_eq!(
            signed_receipt(&data, &e).unwrap_err(),
            error!(MediaError::Ed25519OffsetOutOfBounds)
        );
    }

    // Any instruction data the transaction's sender chose: reading entries and their
    // messages returns a named error or a slice inside the data, never a panic.
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3_000, ..Default::default() })]

        #[test]
        fn fuzz_entries_of_arbitrary_instruction_data_never_panic(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            index in proptest::prelude::any::<u8>(),
        ) {
            if let Ok(entry) = read_entry(&data, index) {
                if let Ok((message, _key)) = signed_receipt(&data, &entry) {
                    proptest::prop_assert_eq!(message.len(), 120);
                }
            }
        }

        #[test]
        fn fuzz_well_formed_entries_with_arbitrary_offsets_never_panic(
            offsets in proptest::collection::vec(proptest::prelude::any::<u16>(), 7),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let entry = SignatureEntry {
                signature_offset: offsets[0],
                signature_instruction_index: THIS_INSTRUCTION,
                public_key_offset: offsets[1],
                public_key_instruction_index: THIS_INSTRUCTION,
                message_data_offset: offsets[2],
                message_data_size: offsets[3] % 200,
                message_instruction_index: THIS_INSTRUCTION,
            };
            let data = instruction(&[entry], &tail);
            if let Ok(read) = read_entry(&data, 0) {
                let _ = signed_receipt(&data, &read);
            }
        }
    }
}
