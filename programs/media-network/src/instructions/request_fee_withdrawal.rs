use super::ConsumerOwner;
use crate::events::FeeWithdrawalRequested;
use anchor_lang::prelude::*;

/// Asks for `amount` of the escrow back. It stays in the escrow, and keeps paying receipts,
/// until it becomes payable two epochs later.
pub fn handler(ctx: Context<ConsumerOwner>, amount: u64) -> Result<()> {
    let epoch = ctx.accounts.config.epoch;
    let consumer = &mut ctx.accounts.consumer;
    consumer.request_withdrawal(amount, epoch)?;
    emit!(FeeWithdrawalRequested {
        consumer: consumer.owner,
        amount,
        payable_from_epoch: epoch.saturating_add(2),
    });
    Ok(())
}
