use crate::constants::*;
use crate::errors::GovernanceError;
use crate::events::ProposalCreated;
use crate::state::{GovConfig, Proposal, ProposalAction, ProposalStatus, Proposer};
use anchor_lang::prelude::*;
use media_network::state::{Config as NetworkConfig, StakeAccount};
use media_pda::{create, load_or_create};

#[derive(Accounts)]
#[instruction(action: ProposalAction, nonce: u64)]
pub struct CreateProposal<'info> {
    #[account(mut)]
    pub proposer: Signer<'info>,

    #[account(mut, seeds = [GOVERNANCE_SEED], bump = gov_config.bump)]
    pub gov_config: Box<Account<'info, GovConfig>>,

    /// CHECK: the proposer's PDA (one open proposal each), created on first use.
    #[account(mut, seeds = [PROPOSER_SEED, proposer.key().as_ref()], bump)]
    pub proposer_record: UncheckedAccount<'info>,

    /// CHECK: the new proposal's PDA, created by the handler once `nonce` is checked against
    /// the proposer's record.
    #[account(mut, seeds = [PROPOSAL_SEED, proposer.key().as_ref(), &nonce.to_le_bytes()], bump)]
    pub proposal: UncheckedAccount<'info>,

    /// The proposer's media-network stake (owner and PDA checked).
    #[account(
        seeds = [media_network::constants::STAKE_SEED, proposer.key().as_ref()],
        bump = stake_account.bump, seeds::program = media_network::ID,
    )]
    pub stake_account: Box<Account<'info, StakeAccount>>,

    #[account(
        seeds = [media_network::constants::CONFIG_SEED], bump = network_config.bump,
        seeds::program = media_network::ID,
    )]
    pub network_config: Box<Account<'info, NetworkConfig>>,

    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<CreateProposal>, action: ProposalAction, nonce: u64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut *ctx.accounts;
    let params = a.gov_config.params;
    action.apply(&a.network_config.params, &params)?;
    require!(
        a.stake_account.voting_weight(now) >= params.proposal_min_stake,
        GovernanceError::InsufficientStakeToPropose
    );

    let proposer = a.proposer.key();
    let proposer_bump = ctx.bumps.proposer_record;
    let mut record = load_or_create(
        &a.proposer,
        &a.proposer_record,
        &a.system_program,
        8 + Proposer::INIT_SPACE,
        &[PROPOSER_SEED, proposer.as_ref(), &[proposer_bump]],
        || Proposer {
            bump: proposer_bump,
            proposer,
            open_proposal: None,
            proposals_made: 0,
        },
    )?;
    require!(
        record.open_proposal.is_none(),
        GovernanceError::ProposerHasOpenProposal
    );

    let nonce = record.take_nonce(nonce)?;
    let id = a.gov_config.proposal_count;
    let voting_ends_at = now
        .checked_add(params.voting_period_secs)
        .ok_or_else(|| error!(GovernanceError::MathOverflow))?;
    let bump = ctx.bumps.proposal;
    let proposal = Proposal {
        bump,
        id,
        proposer,
        nonce,
        action,
        status: ProposalStatus::Voting,
        created_at: now,
        voting_ends_at,
        stake_snapshot: a.network_config.staked_total,
        yes: 0,
        no: 0,
        abstain: 0,
        voters: 0,
        executable_at: 0,
        expires_at: 0,
        rules: params,
    };
    create(
        &a.proposer,
        &a.proposal,
        &a.system_program,
        8 + Proposal::INIT_SPACE,
        &[
            PROPOSAL_SEED,
            proposer.as_ref(),
            &nonce.to_le_bytes(),
            &[bump],
        ],
        &proposal,
    )?;
    record.open_proposal = Some(id);
    record.store()?;
    a.gov_config.proposal_count = id
        .checked_add(1)
        .ok_or_else(|| error!(GovernanceError::MathOverflow))?;
    emit!(ProposalCreated {
        id,
        proposal: a.proposal.key(),
        proposer,
        action,
        voting_ends_at,
        stake_snapshot: proposal.stake_snapshot,
    });
    Ok(())
}
