use crate::math::SafeMath;
use anchor_lang::prelude::*;

/// Earnings of whoever settles receipts or turns cranks, `["keeper", authority]`.
#[account]
#[derive(InitSpace, Debug)]
pub struct Keeper {
    pub bump: u8,
    pub authority: Pubkey,
    /// Payment-mint base units claimable from the payment vault.
    pub fees_claimable: u64,
}

impl Keeper {
    pub fn new(authority: Pubkey, bump: u8) -> Self {
        Keeper {
            bump,
            authority,
            fees_claimable: 0,
        }
    }

    pub fn add_fees(&mut self, amount: u64) -> Result<()> {
        self.fees_claimable = self.fees_claimable.safe_add(amount)?;
        Ok(())
    }

    pub fn take_fees(&mut self) -> u64 {
        std::mem::take(&mut self.fees_claimable)
    }
}
