use crate::state::Config;
use anchor_lang::prelude::*;
use anchor_spl::token::{self, Transfer};

/// Pays `amount` out of a vault that Config owns.
pub fn pay_from_vault<'info>(
    config: &Account<'info, Config>,
    vault: &AccountInfo<'info>,
    destination: &AccountInfo<'info>,
    token_program: &AccountInfo<'info>,
    amount: u64,
) -> Result<()> {
    let seeds = config.signer_seeds();
    token::transfer(
        CpiContext::new_with_signer(
            token_program.key(),
            Transfer {
                from: vault.clone(),
                to: destination.clone(),
                authority: config.to_account_info(),
            },
            &[&seeds],
        ),
        amount,
    )
}
