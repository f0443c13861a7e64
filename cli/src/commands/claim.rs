//! `media claim`: a provider's MEDIA rewards and fees, and a keeper's fees and bounties.
use crate::context::Ctx;
use crate::output::{amount, media};
use crate::rpc::associated_token_account;
use crate::rpc::Submit;
use anyhow::Result;
use media_network::constants::EMPTY_SLOT;
use media_network::state::{Epoch, Keeper, Provider};
use media_sdk::{ix, pda};
use serde_json::json;
use solana_signer::Signer;

#[derive(clap::Args)]
pub struct ClaimArgs {}

impl ClaimArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        run(ctx).await
    }
}

async fn run(ctx: &Ctx) -> Result<()> {
    let signer = ctx.signer()?;
    let config = ctx.config().await?;
    let decimals = ctx.decimals(&config.payment_mint).await?;
    let owner = signer.pubkey();
    let mut signatures = Vec::new();
    let (mut rewards, mut provider_fees, mut keeper_fees) = (0, 0, 0);

    if let Some(provider) = ctx
        .rpc
        .try_decode::<Provider>(&pda::provider(&owner))
        .await?
    {
        // Rewards of finalized epochs still sit in the provider's slots until accrued.
        let mut accruals = Vec::new();
        for slot in provider
            .reward_slots
            .iter()
            .filter(|s| s.epoch != EMPTY_SLOT)
        {
            let epoch = ctx.rpc.try_decode::<Epoch>(&pda::epoch(slot.epoch)).await?;
            if epoch.is_some_and(|e| e.finalized) {
                accruals.push(ix::accrue_rewards(&owner, slot.epoch));
            }
        }
        if !accruals.is_empty() {
            signatures.push(
                ctx.rpc
                    .send("accrue rewards", &accruals, &signer, &[])
                    .await?,
            );
        }
        let provider: Provider = ctx.rpc.decode(&pda::provider(&owner)).await?;
        let mut claims = Vec::new();
        if provider.rewards_claimable > 0 {
            let (media_account, create) =
                associated_token_account(&owner, &owner, &config.media_mint);
            claims.extend([create, ix::claim_rewards(&owner, &media_account)]);
            rewards = provider.rewards_claimable;
        }
        if provider.fees_claimable > 0 {
            let (payment_account, create) =
                associated_token_account(&owner, &owner, &config.payment_mint);
            claims.extend([create, ix::claim_provider_fees(&owner, &payment_account)]);
            provider_fees = provider.fees_claimable;
        }
        if !claims.is_empty() {
            signatures.push(ctx.rpc.send("claim", &claims, &signer, &[]).await?);
        }
    }
    if let Some(keeper) = ctx.rpc.try_decode::<Keeper>(&pda::keeper(&owner)).await? {
        if keeper.fees_claimable > 0 {
            let (payment_account, create) =
                associated_token_account(&owner, &owner, &config.payment_mint);
            let claim = ix::claim_keeper_fees(&owner, &payment_account);
            signatures.push(
                ctx.rpc
                    .send("claim keeper fees", &[create, claim], &signer, &[])
                    .await?,
            );
            keeper_fees = keeper.fees_claimable;
        }
    }
    let signatures: Vec<String> = signatures.iter().map(ToString::to_string).collect();
    ctx.report(
        json!({"signatures": signatures, "rewards": rewards, "provider_fees": provider_fees, "keeper_fees": keeper_fees}),
        || {
            if rewards == 0 && provider_fees == 0 && keeper_fees == 0 {
                format!("Nothing to claim for {owner}.")
            } else {
                format!(
                    "Claimed {} MEDIA of rewards, {} of provider fees and {} of keeper fees.",
                    media(rewards),
                    amount(provider_fees, decimals),
                    amount(keeper_fees, decimals)
                )
            }
        },
    );
    Ok(())
}
