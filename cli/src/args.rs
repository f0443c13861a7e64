//! Value parsers shared by the commands' `clap` arguments.
use crate::wallet;
use anchor_lang::prelude::Pubkey;
use media_network::constants::MEDIA_DECIMALS;

/// A MEDIA amount: whole tokens with up to 6 decimals.
pub fn media_amount(text: &str) -> Result<u64, String> {
    wallet::parse_amount(text, u32::from(MEDIA_DECIMALS)).map_err(|e| e.to_string())
}

/// A base58 public key.
pub fn pubkey(text: &str) -> Result<Pubkey, String> {
    text.parse()
        .map_err(|_| format!("invalid public key {text:?}: expected base58"))
}
