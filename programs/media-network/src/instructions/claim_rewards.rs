use super::payout::pay_from_vault;
use crate::constants::*;
use crate::errors::MediaError;
use crate::events::RewardsClaimed;
use crate::state::{Config, Provider};
use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

/// A provider's owner claims accrued MEDIA rewards from the reward vault (works while paused).
#[derive(Accounts)]
pub struct ClaimRewards<'info> {
    pub owner: Signer<'info>,

    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(
        mut, has_one = owner @ MediaError::Unauthorized,
        seeds = [PROVIDER_SEED, owner.key().as_ref()], bump = provider.bump,
    )]
    pub provider: Box<Account<'info, Provider>>,

    #[account(mut, constraint = destination.mint == config.media_mint @ MediaError::WrongMint)]
    pub destination: Box<Account<'info, TokenAccount>>,

    #[account(mut, address = config.reward_vault @ MediaError::InvalidVault)]
    pub reward_vault: Box<Account<'info, TokenAccount>>,

    pub token_program: Program<'info, Token>,
}

pub fn handler(ctx: Context<ClaimRewards>) -> Result<()> {
    let a = &mut *ctx.accounts;
    let amount = a.provider.take_rewards();
    require!(amount > 0, MediaError::NothingToClaim);
    a.config.release_rewards(amount)?;
    pay_from_vault(
        &a.config,
        &a.reward_vault.to_account_info(),
        &a.destination.to_account_info(),
        &a.token_program,
        amount,
    )?;
    emit!(RewardsClaimed {
        provider: a.provider.key(),
        amount,
    });
    a.config.invariant()
}
