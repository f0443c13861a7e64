//! Building settlement transactions: one ed25519 precompile instruction carrying every
//! receipt's two signatures (both pointing at a single copy of the message, the node key read
//! from inside the message), followed by one `settle_receipt` per receipt.
use crate::ix;
use crate::receipt::{SignedReceipt, NODE_KEY_OFFSET, RECEIPT_LEN};
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use media_network::ed25519::{SignatureEntry, THIS_INSTRUCTION};
use media_network::instructions::SettleReceiptArgs;

const HEADER_LEN: usize = 2;
const ENTRY_LEN: usize = 14;

pub use solana_sdk_ids::ed25519_program::ID as ED25519_PROGRAM_ID;

/// An ed25519 precompile instruction under construction. Offsets are kept relative to the
/// payload and fixed up when the instruction is built, once the entry count is known.
#[derive(Debug, Clone, Default)]
pub struct Ed25519Batch {
    entries: Vec<SignatureEntry>,
    payload: Vec<u8>,
    /// Where each consumer signer's key already is, so receipts of one consumer share it.
    signer_offsets: Vec<(Pubkey, u16)>,
}

impl Ed25519Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn push(&mut self, bytes: &[u8]) -> u16 {
        let at = self.payload.len();
        self.payload.extend_from_slice(bytes);
        at as u16
    }

    fn entry(&mut self, signature: u16, key: u16, message: u16, size: usize) -> u8 {
        self.entries.push(SignatureEntry {
            signature_offset: signature,
            signature_instruction_index: THIS_INSTRUCTION,
            public_key_offset: key,
            public_key_instruction_index: THIS_INSTRUCTION,
            message_data_offset: message,
            message_data_size: size as u16,
            message_instruction_index: THIS_INSTRUCTION,
        });
        (self.entries.len() - 1) as u8
    }

    /// Adds a receipt's two signatures; returns their entry indexes (node, consumer).
    pub fn add_receipt(&mut self, signed: &SignedReceipt) -> (u8, u8) {
        let message = self.push(&signed.receipt.encode());
        let node_signature = self.push(&signed.node_signature);
        let consumer_signature = self.push(&signed.consumer_signature);
        let consumer_key = self.consumer_key_offset(&signed.consumer_signer);
        let node_key = message + NODE_KEY_OFFSET as u16;
        let node = self.entry(node_signature, node_key, message, RECEIPT_LEN);
        let consumer = self.entry(consumer_signature, consumer_key, message, RECEIPT_LEN);
        (node, consumer)
    }

    fn consumer_key_offset(&mut self, signer: &Pubkey) -> u16 {
        if let Some((_, at)) = self.signer_offsets.iter().find(|(k, _)| k == signer) {
            return *at;
        }
        let at = self.push(signer.as_ref());
        self.signer_offsets.push((*signer, at));
        at
    }

    /// Adds an entry verifying `signature` by `key` over arbitrary `message` bytes.
    pub fn add_signature(&mut self, message: &[u8], signature: &[u8; 64], key: &Pubkey) -> u8 {
        let message_at = self.push(message);
        let signature_at = self.push(signature);
        let key_at = self.push(key.as_ref());
        self.entry(signature_at, key_at, message_at, message.len())
    }

    /// Entry `index` for inspection or deliberate tampering in tests; offsets are relative.
    pub fn entry_mut(&mut self, index: u8) -> &mut SignatureEntry {
        &mut self.entries[usize::from(index)]
    }

    pub fn instruction(&self) -> Instruction {
        let base = (HEADER_LEN + ENTRY_LEN * self.entries.len()) as u16;
        let mut data = Vec::with_capacity(base as usize + self.payload.len());
        data.extend_from_slice(&[self.entries.len() as u8, 0]);
        for entry in &self.entries {
            let absolute = SignatureEntry {
                signature_offset: entry.signature_offset + base,
                public_key_offset: entry.public_key_offset + base,
                message_data_offset: entry.message_data_offset + base,
                ..*entry
            };
            data.extend_from_slice(&absolute.to_bytes());
        }
        data.extend_from_slice(&self.payload);
        Instruction {
            program_id: ED25519_PROGRAM_ID,
            accounts: vec![],
            data,
        }
    }
}

/// One receipt to settle and the Provider account its lane credits.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub signed: SignedReceipt,
    /// The Provider PDA recorded in the lane (`pda::provider(provider owner)`).
    pub provider: Pubkey,
}

/// The most receipts one ed25519 instruction can carry (its entry count is a u8).
pub const MAX_RECEIPTS_PER_INSTRUCTION: usize = 127;

/// The instructions that settle `items`: the ed25519 instruction first, then one settle per
/// receipt. `ed25519_index` is the position the first returned instruction will have in the
/// transaction (0 unless the caller puts e.g. compute-budget instructions before it).
pub fn settlement_instructions(
    keeper: &Pubkey,
    items: &[Settlement],
    ed25519_index: u8,
) -> Vec<Instruction> {
    assert!(
        items.len() <= MAX_RECEIPTS_PER_INSTRUCTION,
        "too many receipts for one instruction"
    );
    let mut batch = Ed25519Batch::new();
    let mut settles = Vec::with_capacity(items.len());
    for item in items {
        let (node_signature, consumer_signature) = batch.add_receipt(&item.signed);
        settles.push(ix::settle_receipt(
            keeper,
            &item.signed.receipt.node_key,
            &item.signed.receipt.consumer,
            &item.provider,
            SettleReceiptArgs {
                ed25519_instruction: ed25519_index,
                node_signature,
                consumer_signature,
            },
        ));
    }
    let mut instructions = vec![batch.instruction()];
    instructions.extend(settles);
    instructions
}
