use crate::constants::*;
use crate::errors::MediaError;
use crate::events::FeesBurned;
use crate::state::Config;
use anchor_lang::prelude::*;
use anchor_spl::token::{self, Burn, Mint, Token, TokenAccount};

/// Permissionless, when fees are paid in MEDIA: burns the treasury's share from the payment
/// vault, so MEDIA's supply falls by exactly that much.
#[derive(Accounts)]
pub struct BurnFees<'info> {
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(mut, address = config.media_mint @ MediaError::WrongMint)]
    pub media_mint: Box<Account<'info, Mint>>,

    #[account(mut, address = config.payment_vault @ MediaError::InvalidVault)]
    pub payment_vault: Box<Account<'info, TokenAccount>>,

    pub token_program: Program<'info, Token>,
}

pub fn handler(ctx: Context<BurnFees>) -> Result<()> {
    let a = &mut *ctx.accounts;
    require!(
        a.config.payment_is_media(),
        MediaError::PaymentMintIsNotMedia
    );
    let amount = a.config.take_treasury();
    require!(amount > 0, MediaError::NothingToBurn);
    let seeds = a.config.signer_seeds();
    token::burn(
        CpiContext::new_with_signer(
            a.token_program.key(),
            Burn {
                mint: a.media_mint.to_account_info(),
                from: a.payment_vault.to_account_info(),
                authority: a.config.to_account_info(),
            },
            &[&seeds],
        ),
        amount,
    )?;
    emit!(FeesBurned { amount });
    a.config.invariant()
}
