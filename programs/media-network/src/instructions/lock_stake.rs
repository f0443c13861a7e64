use crate::constants::*;
use crate::errors::MediaError;
use crate::state::StakeAccount;
use anchor_lang::prelude::*;

/// Called by media-governance when someone votes: no unstake request before `until` (the end
/// of the vote), so the same stake cannot vote and leave. Only governance's `["vote"]` PDA
/// signs this; no other key can lock anyone's stake.
#[derive(Accounts)]
pub struct LockStake<'info> {
    #[account(address = GOVERNANCE_VOTE_AUTHORITY @ MediaError::NotGovernanceVoteAuthority)]
    pub vote_authority: Signer<'info>,

    #[account(
        mut, seeds = [STAKE_SEED, stake_account.owner.as_ref()], bump = stake_account.bump,
    )]
    pub stake_account: Box<Account<'info, StakeAccount>>,
}

pub fn handler(ctx: Context<LockStake>, until: i64) -> Result<()> {
    let stake = &mut ctx.accounts.stake_account;
    stake.vote_lock = stake.vote_lock.max(until);
    Ok(())
}
