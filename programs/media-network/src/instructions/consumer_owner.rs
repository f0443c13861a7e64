use crate::constants::*;
use crate::errors::MediaError;
use crate::state::{Config, Consumer};
use anchor_lang::prelude::*;

/// Accounts of the consumer instructions that only touch the consumer's own record.
#[derive(Accounts)]
pub struct ConsumerOwner<'info> {
    pub owner: Signer<'info>,

    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(
        mut, has_one = owner @ MediaError::Unauthorized,
        seeds = [CONSUMER_SEED, owner.key().as_ref()], bump = consumer.bump,
    )]
    pub consumer: Box<Account<'info, Consumer>>,
}
