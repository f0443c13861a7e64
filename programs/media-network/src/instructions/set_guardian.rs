use super::AuthorityOnly;
use crate::events::GuardianSet;
use anchor_lang::prelude::*;

pub fn handler(ctx: Context<AuthorityOnly>, guardian: Option<Pubkey>) -> Result<()> {
    ctx.accounts.config.guardian = guardian;
    emit!(GuardianSet { guardian });
    ctx.accounts.config.invariant()
}
