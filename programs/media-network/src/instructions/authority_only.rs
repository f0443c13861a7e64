use crate::constants::*;
use crate::errors::MediaError;
use crate::state::Config;
use anchor_lang::prelude::*;

/// Accounts of the instructions only the protocol authority (governance) may call.
#[derive(Accounts)]
pub struct AuthorityOnly<'info> {
    pub authority: Signer<'info>,

    #[account(
        mut, has_one = authority @ MediaError::Unauthorized,
        seeds = [CONFIG_SEED], bump = config.bump,
    )]
    pub config: Box<Account<'info, Config>>,
}
