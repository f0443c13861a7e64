use crate::constants::*;
use crate::errors::GovernanceError;
use crate::events::VoteCast;
use crate::state::{GovConfig, Proposal, VoteChoice, VoteRecord};
use anchor_lang::prelude::*;
use media_network::cpi::accounts::LockStake;
use media_network::program::MediaNetwork;
use media_network::state::StakeAccount;
use media_pda::create;

#[derive(Accounts)]
pub struct CastVote<'info> {
    #[account(mut)]
    pub voter: Signer<'info>,

    #[account(seeds = [GOVERNANCE_SEED], bump = gov_config.bump)]
    pub gov_config: Box<Account<'info, GovConfig>>,

    #[account(mut, seeds = [PROPOSAL_SEED, proposal.proposer.as_ref(), &proposal.nonce.to_le_bytes()], bump = proposal.bump)]
    pub proposal: Box<Account<'info, Proposal>>,

    /// CHECK: the vote record PDA; that it does not exist yet is what makes a vote count once.
    #[account(
        mut, seeds = [VOTE_RECORD_SEED, proposal.key().as_ref(), voter.key().as_ref()], bump,
        constraint = vote_record.data_is_empty() @ GovernanceError::AlreadyVoted,
    )]
    pub vote_record: UncheckedAccount<'info>,

    /// The voter's media-network stake (owner and PDA checked); locked until the vote ends.
    #[account(
        mut, seeds = [media_network::constants::STAKE_SEED, voter.key().as_ref()],
        bump = stake_account.bump, seeds::program = media_network::ID,
    )]
    pub stake_account: Box<Account<'info, StakeAccount>>,

    /// CHECK: governance's `["vote"]` PDA, which signs `lock_stake`.
    #[account(seeds = [VOTE_SEED], bump = gov_config.vote_bump)]
    pub vote_authority: UncheckedAccount<'info>,

    pub media_network_program: Program<'info, MediaNetwork>,
    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<CastVote>, choice: VoteChoice) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut *ctx.accounts;
    let weight = a.stake_account.voting_weight(now);
    require!(weight > 0, GovernanceError::NoVotingPower);
    a.proposal.record_vote(choice, weight, now)?;

    let voter = a.voter.key();
    let proposal = a.proposal.key();
    let bump = ctx.bumps.vote_record;
    create(
        &a.voter,
        &a.vote_record,
        &a.system_program,
        8 + VoteRecord::INIT_SPACE,
        &[VOTE_RECORD_SEED, proposal.as_ref(), voter.as_ref(), &[bump]],
        &VoteRecord {
            bump,
            proposal,
            voter,
            choice,
            weight,
        },
    )?;

    let vote_seeds: &[&[u8]] = &[VOTE_SEED, &[a.gov_config.vote_bump]];
    media_network::cpi::lock_stake(
        CpiContext::new_with_signer(
            media_network::ID,
            LockStake {
                vote_authority: a.vote_authority.to_account_info(),
                stake_account: a.stake_account.to_account_info(),
            },
            &[vote_seeds],
        ),
        a.proposal.voting_ends_at,
    )?;
    emit!(VoteCast {
        proposal: a.proposal.id,
        voter,
        choice,
        weight,
    });
    Ok(())
}
