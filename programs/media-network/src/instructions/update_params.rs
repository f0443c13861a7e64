use super::AuthorityOnly;
use crate::events::ParamsUpdated;
use crate::state::Params;
use anchor_lang::prelude::*;

pub fn handler(ctx: Context<AuthorityOnly>, params: Params) -> Result<()> {
    params.validate()?;
    ctx.accounts.config.params = params;
    emit!(ParamsUpdated { params });
    ctx.accounts.config.invariant()
}
