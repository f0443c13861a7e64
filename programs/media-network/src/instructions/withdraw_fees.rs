use super::payout::pay_from_vault;
use crate::constants::*;
use crate::errors::MediaError;
use crate::events::FeesWithdrawn;
use crate::state::{Config, Consumer};
use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

/// Pays out a fee withdrawal requested at least two epochs ago (works while paused).
#[derive(Accounts)]
pub struct WithdrawFees<'info> {
    pub owner: Signer<'info>,

    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(
        mut, has_one = owner @ MediaError::Unauthorized,
        seeds = [CONSUMER_SEED, owner.key().as_ref()], bump = consumer.bump,
    )]
    pub consumer: Box<Account<'info, Consumer>>,

    #[account(mut, constraint = destination.mint == config.payment_mint @ MediaError::WrongMint)]
    pub destination: Box<Account<'info, TokenAccount>>,

    #[account(mut, address = config.payment_vault @ MediaError::InvalidVault)]
    pub payment_vault: Box<Account<'info, TokenAccount>>,

    pub token_program: Program<'info, Token>,
}

pub fn handler(ctx: Context<WithdrawFees>) -> Result<()> {
    let a = &mut *ctx.accounts;
    let amount = a.consumer.take_withdrawal(a.config.epoch)?;
    if amount > 0 {
        pay_from_vault(
            &a.config,
            &a.payment_vault.to_account_info(),
            &a.destination.to_account_info(),
            &a.token_program,
            amount,
        )?;
    }
    emit!(FeesWithdrawn {
        consumer: a.consumer.owner,
        amount,
    });
    Ok(())
}
