use super::AuthorityOnly;
use crate::events::AuthorityProposed;
use anchor_lang::prelude::*;

/// First of two steps: the new authority must accept, so a typo cannot brick the protocol.
pub fn handler(ctx: Context<AuthorityOnly>, new_authority: Pubkey) -> Result<()> {
    let config = &mut ctx.accounts.config;
    config.pending_authority = Some(new_authority);
    emit!(AuthorityProposed {
        current: config.authority,
        proposed: new_authority,
    });
    config.invariant()
}
