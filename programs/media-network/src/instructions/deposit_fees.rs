use crate::constants::*;
use crate::errors::MediaError;
use crate::events::FeesDeposited;
use crate::state::{Config, Consumer};
use anchor_lang::prelude::*;
use anchor_spl::token::{self, Token, TokenAccount, Transfer};

/// Adds to a consumer's fee escrow. Anyone may pay for a consumer.
#[derive(Accounts)]
pub struct DepositFees<'info> {
    pub depositor: Signer<'info>,

    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(mut, seeds = [CONSUMER_SEED, consumer.owner.as_ref()], bump = consumer.bump)]
    pub consumer: Box<Account<'info, Consumer>>,

    #[account(mut, constraint = source.mint == config.payment_mint @ MediaError::WrongMint)]
    pub source: Box<Account<'info, TokenAccount>>,

    #[account(mut, address = config.payment_vault @ MediaError::InvalidVault)]
    pub payment_vault: Box<Account<'info, TokenAccount>>,

    pub token_program: Program<'info, Token>,
}

pub fn handler(ctx: Context<DepositFees>, amount: u64) -> Result<()> {
    let a = &mut *ctx.accounts;
    a.consumer.deposit(amount)?;
    token::transfer(
        CpiContext::new(
            a.token_program.key(),
            Transfer {
                from: a.source.to_account_info(),
                to: a.payment_vault.to_account_info(),
                authority: a.depositor.to_account_info(),
            },
        ),
        amount,
    )?;
    emit!(FeesDeposited {
        consumer: a.consumer.owner,
        amount,
    });
    Ok(())
}
