use super::BuybackCrank;
use crate::events::AuctionClosed;
use anchor_lang::prelude::*;

/// Permissionless, after the auction's end: unsold payment units return to the treasury and
/// the reference price moves to the lot's average with the unsold rest at the floor.
pub fn handler(ctx: Context<BuybackCrank>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut *ctx.accounts;
    let unsold = a.buyback.close_lot(now)?;
    a.config.add_treasury(unsold)?;
    emit!(AuctionClosed {
        sold: a.buyback.sold,
        media_burned: a.buyback.media_burned,
        unsold,
        reference_price: a.buyback.reference_price,
    });
    a.config.invariant()
}
