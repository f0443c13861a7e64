use crate::constants::*;
use crate::errors::MediaError;
use crate::events::{EpochAdvanced, EpochFinalized};
use crate::rewards;
use crate::rewards::{Backing, EmissionCaps};
use crate::state::{Buyback, Config, Emission, Epoch, EpochTotals, Keeper};
use anchor_lang::prelude::*;
use anchor_spl::token::TokenAccount;
use media_pda::{create, load_or_create};

/// Permissionless crank: starts the next epoch once the current one has lasted
/// `epoch_duration_secs`, finalizes the epoch whose settlement window this closes (fixing and
/// reserving its emission E), and pays the cranker the crank bounty (as far as the treasury
/// reaches).
#[derive(Accounts)]
pub struct AdvanceEpoch<'info> {
    #[account(mut)]
    pub cranker: Signer<'info>,

    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    /// CHECK: the next epoch's PDA, created by the handler.
    #[account(mut, seeds = [EPOCH_SEED, &config.epoch.saturating_add(1).to_le_bytes()], bump)]
    pub next_epoch: UncheckedAccount<'info>,

    /// The epoch two before the next one (none while the current epoch is 0). Its data says
    /// which epoch it is; the seeds make sure it is that epoch's account (review I-1).
    #[account(
        mut, seeds = [EPOCH_SEED, &config.epoch.saturating_sub(1).to_le_bytes()],
        bump = closing_epoch.bump,
    )]
    pub closing_epoch: Option<Box<Account<'info, Epoch>>>,

    /// Its balance bounds the emission of the epoch being finalized.
    #[account(address = config.reward_vault @ MediaError::InvalidVault)]
    pub reward_vault: Box<Account<'info, TokenAccount>>,

    /// What the last buy-back lot says treasury revenue is worth (the fee-backed cap).
    #[account(mut, seeds = [BUYBACK_SEED], bump = buyback.bump)]
    pub buyback: Box<Account<'info, Buyback>>,

    /// CHECK: the cranker's keeper PDA, created on its first crank or settlement.
    #[account(mut, seeds = [KEEPER_SEED, cranker.key().as_ref()], bump)]
    pub keeper_account: UncheckedAccount<'info>,

    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<AdvanceEpoch>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut *ctx.accounts;
    a.config.require_not_paused(now)?;
    a.config.require_epoch_due(now)?;

    let closing = a.config.advance_epoch(now)?;
    // Taken before the closing epoch is finalized, so its revenue is netted of it at once.
    let bounty = a.config.take_crank_bounty();
    let finalized_epoch = match (closing, a.closing_epoch.as_mut()) {
        (Some(totals), Some(epoch_account)) => {
            let emission =
                finalized_emission(&mut a.config, &mut a.buyback, &a.reward_vault, &totals)?;
            epoch_account.finalize(&totals, &emission)?;
            a.config.reserve_rewards(emission.emission)?;
            emit!(EpochFinalized {
                epoch: totals.epoch,
                reward_bytes: totals.reward_bytes,
                provider_stake: totals.provider_stake,
                fees: totals.fees,
                emission: emission.emission,
                backed_revenue: emission.backed_revenue,
                backing_price: emission.backing_price,
            });
            Some(totals.epoch)
        }
        (Some(_), None) => return err!(MediaError::WrongEpochAccount),
        (None, _) => None,
    };

    let totals = *a.config.epoch_totals.slot(a.config.epoch);
    let epoch_bump = ctx.bumps.next_epoch;
    create(
        &a.cranker,
        &a.next_epoch,
        &a.system_program,
        8 + Epoch::INIT_SPACE,
        &[EPOCH_SEED, &totals.epoch.to_le_bytes(), &[epoch_bump]],
        &Epoch::new(epoch_bump, now, &totals),
    )?;

    let cranker = a.cranker.key();
    let keeper_bump = ctx.bumps.keeper_account;
    let mut keeper = load_or_create(
        &a.cranker,
        &a.keeper_account,
        &a.system_program,
        8 + Keeper::INIT_SPACE,
        &[KEEPER_SEED, cranker.as_ref(), &[keeper_bump]],
        || Keeper::new(cranker, keeper_bump),
    )?;
    keeper.add_fees(bounty)?;
    keeper.store()?;

    emit!(EpochAdvanced {
        epoch: totals.epoch,
        started_at: now,
        price_per_gib: totals.price_per_gib,
        provider_stake: totals.provider_stake,
        finalized_epoch,
        bounty,
    });
    a.config.invariant()
}

/// E for the epoch `totals` closes, with the fee-backed cap: its reward-eligible bytes' treasury
/// revenue valued in MEDIA (one to one when fees are MEDIA, else by the buy-back's backing,
/// of which the valued part is used up).
fn finalized_emission(
    config: &mut Config,
    buyback: &mut Buyback,
    reward_vault: &TokenAccount,
    totals: &EpochTotals,
) -> Result<Emission> {
    let params = config.params;
    let gross = rewards::treasury_revenue_floor(
        totals.reward_bytes,
        totals.price_per_gib,
        totals.shares_bps(),
    );
    // Net of the crank bounties paid out of the treasury so far: they are never burned, so
    // they cannot back rewards either (net supply cannot grow, not even by bounties).
    let revenue = config.net_of_bounties(gross);
    let fees_are_media = config.payment_mint == config.media_mint;
    let backing = if fees_are_media {
        Backing::MEDIA
    } else {
        buyback.backing(params.epochs_per_buyback())
    };
    let (fee_backed, valued) =
        rewards::fee_backed_cap(revenue, &backing, params.reward_fee_cap_bps);
    if !fees_are_media {
        buyback.use_backing(valued)?;
    }
    let emission = rewards::epoch_emission(
        totals.reward_bytes,
        totals.provider_stake,
        &EmissionCaps {
            emission_per_epoch: params.emission_per_epoch,
            unreserved: reward_vault.amount.saturating_sub(config.reward_reserved),
            max_reward_per_gib: params.max_reward_per_gib,
            fee_backed,
        },
    );
    Ok(Emission {
        emission,
        backed_revenue: valued,
        backing_price: backing.price,
    })
}
