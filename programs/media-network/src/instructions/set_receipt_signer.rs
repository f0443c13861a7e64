use super::ConsumerOwner;
use crate::errors::MediaError;
use crate::events::ReceiptSignerRotated;
use anchor_lang::prelude::*;

/// Rotates the gateway key: the new key signs receipts from the next epoch on, and the key
/// valid now keeps covering every epoch up to the current one.
pub fn handler(ctx: Context<ConsumerOwner>, receipt_signer: Pubkey) -> Result<()> {
    require_keys_neq!(
        receipt_signer,
        Pubkey::default(),
        MediaError::WrongReceiptSigner
    );
    let epoch = ctx.accounts.config.epoch;
    let consumer = &mut ctx.accounts.consumer;
    require!(consumer.is_active(), MediaError::ConsumerInactive);
    consumer.rotate_signer(receipt_signer, epoch)?;
    emit!(ReceiptSignerRotated {
        owner: consumer.owner,
        receipt_signer,
        effective_epoch: consumer.signer_since_epoch,
    });
    Ok(())
}
