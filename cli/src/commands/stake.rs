//! Staking: `stake`, `unstake`, `cancel-unstake`, `withdraw`, and the wallet's stake view.
use crate::context::Ctx;
use crate::output::media;
use crate::rpc::Submit;
use crate::rpc::{associated_token_account, require_balance};
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use anyhow::{bail, Result};
use media_network::constants::MEDIA_DECIMALS;
use media_network::state::StakeAccount;
use media_sdk::{ix, pda};
use serde_json::json;
use solana_signer::Signer;

/// `media stake AMOUNT`.
#[derive(clap::Args)]
pub struct StakeArgs {
    #[arg(value_parser = crate::args::media_amount)]
    amount: u64,
}

impl StakeArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        stake(ctx, self.amount).await
    }
}

/// `media unstake AMOUNT`.
#[derive(clap::Args)]
pub struct UnstakeArgs {
    #[arg(value_parser = crate::args::media_amount)]
    amount: u64,
}

impl UnstakeArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        unstake(ctx, self.amount).await
    }
}

/// `media cancel-unstake`.
#[derive(clap::Args)]
pub struct CancelUnstakeArgs {}

impl CancelUnstakeArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        cancel_unstake(ctx).await
    }
}

/// `media withdraw`.
#[derive(clap::Args)]
pub struct WithdrawArgs {}

impl WithdrawArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        withdraw(ctx).await
    }
}

async fn stake(ctx: &Ctx, amount: u64) -> Result<()> {
    let signer = ctx.signer()?;
    let config = ctx.config().await?;
    let owner = signer.pubkey();
    let (source, _) = associated_token_account(&owner, &owner, &config.media_mint);
    require_balance(&ctx.rpc, &source, amount, "MEDIA", MEDIA_DECIMALS).await?;
    let signature = ctx
        .rpc
        .send("stake", &[ix::stake(&owner, &source, amount)], &signer, &[])
        .await?;
    let account: StakeAccount = ctx.rpc.decode(&pda::stake(&owner)).await?;
    ctx.report(
        json!({"signature": signature.to_string(), "staked": amount, "stake": stake_json(&account)}),
        || {
            format!(
                "Staked {} MEDIA; it counts after warm-up (unix time {}).\n{}",
                media(amount),
                account.warm_at,
                stake_text(&account)
            )
        },
    );
    Ok(())
}

async fn unstake(ctx: &Ctx, amount: u64) -> Result<()> {
    change_stake(
        ctx,
        "unstake",
        |owner| ix::request_unstake(owner, amount),
        |s| {
            format!(
                "Unstaking {} MEDIA; withdrawable from unix time {}.",
                media(s.unstaking),
                s.unlock_at
            )
        },
    )
    .await
}

async fn cancel_unstake(ctx: &Ctx) -> Result<()> {
    change_stake(ctx, "cancel-unstake", ix::cancel_unstake, |s| {
        format!("Unstake cancelled.\n{}", stake_text(s))
    })
    .await
}

/// Sends the signer's one-instruction stake change and reports the stake account after it.
async fn change_stake(
    ctx: &Ctx,
    what: &str,
    instruction: impl FnOnce(&Pubkey) -> Instruction,
    text: impl FnOnce(&StakeAccount) -> String,
) -> Result<()> {
    let signer = ctx.signer()?;
    ctx.config().await?;
    let owner = signer.pubkey();
    let signature = ctx
        .rpc
        .send(what, &[instruction(&owner)], &signer, &[])
        .await?;
    let account: StakeAccount = ctx.rpc.decode(&pda::stake(&owner)).await?;
    ctx.report(
        json!({"signature": signature.to_string(), "stake": stake_json(&account)}),
        || text(&account),
    );
    Ok(())
}

async fn withdraw(ctx: &Ctx) -> Result<()> {
    let signer = ctx.signer()?;
    let config = ctx.config().await?;
    let owner = signer.pubkey();
    let Some(before) = ctx
        .rpc
        .try_decode::<StakeAccount>(&pda::stake(&owner))
        .await?
    else {
        bail!("{owner} has no stake account; nothing to withdraw");
    };
    let (destination, create) = associated_token_account(&owner, &owner, &config.media_mint);
    let signature = ctx
        .rpc
        .send(
            "withdraw",
            &[create, ix::withdraw(&owner, &destination)],
            &signer,
            &[],
        )
        .await?;
    let after: StakeAccount = ctx.rpc.decode(&pda::stake(&owner)).await?;
    let withdrawn = before.unstaking.saturating_sub(after.unstaking);
    ctx.report(
        json!({"signature": signature.to_string(), "withdrawn": withdrawn, "destination": destination.to_string()}),
        || format!("Withdrew {} MEDIA to {destination}.", media(withdrawn)),
    );
    Ok(())
}

pub fn stake_json(s: &StakeAccount) -> serde_json::Value {
    json!({
        "owner": s.owner.to_string(),
        "active": s.active,
        "warming": s.warming,
        "warm_at": s.warm_at,
        "unstaking": s.unstaking,
        "unlock_at": s.unlock_at,
        "provider_bond": s.provider_bond,
        "consumer_bond": s.consumer_bond,
    })
}

pub fn stake_text(s: &StakeAccount) -> String {
    format!(
        "Stake of {}: active {} MEDIA, warming {} MEDIA, unstaking {} MEDIA, bonded {} MEDIA",
        s.owner,
        media(s.active),
        media(s.warming),
        media(s.unstaking),
        media(s.provider_bond.saturating_add(s.consumer_bond))
    )
}
