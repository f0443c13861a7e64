use crate::constants::*;
use crate::errors::MediaError;
use crate::events::AuthorityAccepted;
use crate::state::Config;
use anchor_lang::prelude::*;

#[derive(Accounts)]
pub struct AcceptAuthority<'info> {
    pub new_authority: Signer<'info>,

    #[account(
        mut, seeds = [CONFIG_SEED], bump = config.bump,
        constraint = config.pending_authority == Some(new_authority.key()) @ MediaError::NotPendingAuthority,
    )]
    pub config: Box<Account<'info, Config>>,
}

pub fn handler(ctx: Context<AcceptAuthority>) -> Result<()> {
    let config = &mut ctx.accounts.config;
    config.authority = ctx.accounts.new_authority.key();
    config.pending_authority = None;
    emit!(AuthorityAccepted {
        authority: config.authority,
    });
    config.invariant()
}
