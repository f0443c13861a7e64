use crate::constants::*;
use crate::state::{Buyback, Config};
use anchor_lang::prelude::*;

/// Accounts of the permissionless auction cranks (`start_buyback`, `close_buyback`).
#[derive(Accounts)]
pub struct BuybackCrank<'info> {
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(mut, seeds = [BUYBACK_SEED], bump = buyback.bump)]
    pub buyback: Box<Account<'info, Buyback>>,
}
