use crate::constants::*;
use crate::errors::MediaError;
use crate::events::ProviderUpdated;
use crate::state::{Config, NodeKey, Provider};
use anchor_lang::prelude::*;

/// Moves a provider to a new node key. Lanes of the old key settle only receipts of epochs up
/// to this one, so a leaked key stops earning for anyone from the next epoch; the new key must
/// sign for itself and must not belong to another provider (review L-4).
#[derive(Accounts)]
pub struct RotateNodeKey<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,

    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(
        mut, has_one = owner @ MediaError::Unauthorized,
        seeds = [PROVIDER_SEED, owner.key().as_ref()], bump = provider.bump,
    )]
    pub provider: Box<Account<'info, Provider>>,

    pub new_node_key: Signer<'info>,

    /// CHECK: the new key's registry PDA, created by the handler (or already this provider's).
    #[account(mut, seeds = [NODE_KEY_SEED, new_node_key.key().as_ref()], bump)]
    pub new_node_key_record: UncheckedAccount<'info>,

    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<RotateNodeKey>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut *ctx.accounts;
    a.config.require_not_paused(now)?;
    let new_key = a.new_node_key.key();
    require_keys_neq!(new_key, a.provider.node_key, MediaError::NodeKeyInUse);
    NodeKey::claim(
        &a.owner,
        &a.new_node_key_record,
        &a.system_program,
        ctx.bumps.new_node_key_record,
        new_key,
        a.provider.key(),
    )?;
    a.provider.rotate_node_key(new_key, a.config.epoch)?;
    emit!(ProviderUpdated {
        owner: a.provider.owner,
        node_key: new_key,
    });
    Ok(())
}
