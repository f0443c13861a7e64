use super::BuybackCrank;
use crate::errors::MediaError;
use crate::events::AuctionStarted;
use anchor_lang::prelude::*;

/// Permissionless, when fees are not paid in MEDIA: puts the whole treasury up for a Dutch
/// auction (at most once per `buyback.interval_secs`, only if it holds `min_lot`).
pub fn handler(ctx: Context<BuybackCrank>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut *ctx.accounts;
    a.config.require_not_paused(now)?;
    require!(!a.config.payment_is_media(), MediaError::PaymentMintIsMedia);
    let params = a.config.params.buyback;
    a.buyback.start(now, a.config.treasury_accrued, &params)?;
    let lot = a.config.take_treasury();
    emit!(AuctionStarted {
        lot,
        start_price: a.buyback.start_price,
        floor_price: a.buyback.floor_price,
        ends_at: a.buyback.ends_at,
    });
    a.config.invariant()
}
