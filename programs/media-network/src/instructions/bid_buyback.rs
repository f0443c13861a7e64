use super::payout::pay_from_vault;
use crate::constants::*;
use crate::errors::MediaError;
use crate::events::AuctionBid;
use crate::state::{Buyback, Config};
use anchor_lang::prelude::*;
use anchor_spl::token::{self, Burn, Mint, Token, TokenAccount};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug)]
pub struct BidBuybackArgs {
    /// Payment-mint units to buy (capped at what is left of the lot).
    pub amount: u64,
    /// The highest Q32.32 price (MEDIA per payment unit) the bidder accepts.
    pub max_price: u64,
}

/// Buys payment-mint units from the running lot with MEDIA, which is burned in the same
/// instruction.
#[derive(Accounts)]
pub struct BidBuyback<'info> {
    pub bidder: Signer<'info>,

    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(mut, seeds = [BUYBACK_SEED], bump = buyback.bump)]
    pub buyback: Box<Account<'info, Buyback>>,

    #[account(mut, address = config.media_mint @ MediaError::WrongMint)]
    pub media_mint: Box<Account<'info, Mint>>,

    /// The bidder's MEDIA, burned.
    #[account(mut, constraint = bidder_media.mint == config.media_mint @ MediaError::WrongMint)]
    pub bidder_media: Box<Account<'info, TokenAccount>>,

    /// Receives the payment-mint units bought.
    #[account(mut, constraint = bidder_payment.mint == config.payment_mint @ MediaError::WrongMint)]
    pub bidder_payment: Box<Account<'info, TokenAccount>>,

    #[account(mut, address = config.payment_vault @ MediaError::InvalidVault)]
    pub payment_vault: Box<Account<'info, TokenAccount>>,

    pub token_program: Program<'info, Token>,
}

pub fn handler(ctx: Context<BidBuyback>, args: BidBuybackArgs) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut *ctx.accounts;
    a.config.require_not_paused(now)?;
    let params = a.config.params.buyback;
    let fill = a.buyback.fill(now, args.amount, args.max_price, &params)?;

    token::burn(
        CpiContext::new(
            a.token_program.key(),
            Burn {
                mint: a.media_mint.to_account_info(),
                from: a.bidder_media.to_account_info(),
                authority: a.bidder.to_account_info(),
            },
        ),
        fill.media,
    )?;
    pay_from_vault(
        &a.config,
        &a.payment_vault.to_account_info(),
        &a.bidder_payment.to_account_info(),
        &a.token_program,
        fill.payment,
    )?;
    emit!(AuctionBid {
        bidder: a.bidder.key(),
        payment: fill.payment,
        media_burned: fill.media,
        price: fill.price,
        remaining: a.buyback.remaining,
    });
    Ok(())
}
