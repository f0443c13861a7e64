use super::payout::pay_from_vault;
use crate::constants::*;
use crate::errors::MediaError;
use crate::events::FeesClaimed;
use crate::state::{Config, Keeper, Provider};
use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

/// A provider's owner claims the fee share its relays earned (works while paused).
#[derive(Accounts)]
pub struct ClaimProviderFees<'info> {
    pub owner: Signer<'info>,

    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(
        mut, has_one = owner @ MediaError::Unauthorized,
        seeds = [PROVIDER_SEED, owner.key().as_ref()], bump = provider.bump,
    )]
    pub provider: Box<Account<'info, Provider>>,

    #[account(mut, constraint = destination.mint == config.payment_mint @ MediaError::WrongMint)]
    pub destination: Box<Account<'info, TokenAccount>>,

    #[account(mut, address = config.payment_vault @ MediaError::InvalidVault)]
    pub payment_vault: Box<Account<'info, TokenAccount>>,

    pub token_program: Program<'info, Token>,
}

/// A keeper claims its settlement shares and crank bounties (works while paused).
#[derive(Accounts)]
pub struct ClaimKeeperFees<'info> {
    pub authority: Signer<'info>,

    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(
        mut, has_one = authority @ MediaError::Unauthorized,
        seeds = [KEEPER_SEED, authority.key().as_ref()], bump = keeper.bump,
    )]
    pub keeper: Box<Account<'info, Keeper>>,

    #[account(mut, constraint = destination.mint == config.payment_mint @ MediaError::WrongMint)]
    pub destination: Box<Account<'info, TokenAccount>>,

    #[account(mut, address = config.payment_vault @ MediaError::InvalidVault)]
    pub payment_vault: Box<Account<'info, TokenAccount>>,

    pub token_program: Program<'info, Token>,
}

pub fn provider_handler(ctx: Context<ClaimProviderFees>) -> Result<()> {
    let a = &mut *ctx.accounts;
    let amount = a.provider.take_fees();
    pay_claim(
        &a.config,
        &a.payment_vault,
        &a.destination,
        &a.token_program,
        a.owner.key(),
        amount,
    )
}

pub fn keeper_handler(ctx: Context<ClaimKeeperFees>) -> Result<()> {
    let a = &mut *ctx.accounts;
    let amount = a.keeper.take_fees();
    pay_claim(
        &a.config,
        &a.payment_vault,
        &a.destination,
        &a.token_program,
        a.authority.key(),
        amount,
    )
}

fn pay_claim<'info>(
    config: &Account<'info, Config>,
    payment_vault: &Account<'info, TokenAccount>,
    destination: &Account<'info, TokenAccount>,
    token_program: &Program<'info, Token>,
    claimant: Pubkey,
    amount: u64,
) -> Result<()> {
    require!(amount > 0, MediaError::NothingToClaim);
    pay_from_vault(
        config,
        &payment_vault.to_account_info(),
        &destination.to_account_info(),
        token_program,
        amount,
    )?;
    emit!(FeesClaimed { claimant, amount });
    Ok(())
}
