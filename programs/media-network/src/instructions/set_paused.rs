use crate::constants::*;
use crate::errors::MediaError;
use crate::events::PauseChanged;
use crate::state::Config;
use anchor_lang::prelude::*;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug)]
pub struct SetPausedArgs {
    pub paused: bool,
    /// The guardian's pause length (at most `max_pause_secs`); ignored for the authority, whose
    /// pause lasts until it unpauses.
    pub duration_secs: i64,
}

#[derive(Accounts)]
pub struct SetPaused<'info> {
    pub signer: Signer<'info>,

    #[account(
        mut, seeds = [CONFIG_SEED], bump = config.bump,
        constraint = signer.key() == config.authority || Some(signer.key()) == config.guardian
            @ MediaError::NotAuthorityOrGuardian,
    )]
    pub config: Box<Account<'info, Config>>,
}

pub fn handler(ctx: Context<SetPaused>, args: SetPausedArgs) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let signer = ctx.accounts.signer.key();
    let config = &mut ctx.accounts.config;
    if signer == config.authority {
        if args.paused {
            config.pause_by_authority();
        } else {
            config.unpause_by_authority(now);
        }
    } else {
        require!(args.paused, MediaError::GuardianPauseNotAllowed);
        config.pause_by_guardian(now, args.duration_secs)?;
    }
    emit!(PauseChanged {
        by: signer,
        paused_until: config.paused_until,
    });
    config.invariant()
}
