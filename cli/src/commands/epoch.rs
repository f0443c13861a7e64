//! `media epoch show|advance|finalize`: the epoch clock and its permissionless cranks.
use crate::context::Ctx;
use crate::output::media;
use crate::rpc::Submit;
use anyhow::{anyhow, bail, Result};
use media_network::state::{Config, Epoch, Provider};
use media_sdk::{ix, pda};
use serde_json::json;
use solana_signer::Signer;

/// `media epoch …`: inspect epochs and turn the epoch cranks (anyone may).
#[derive(clap::Subcommand)]
pub enum EpochCommand {
    /// Show an epoch [default: the current one].
    Show { number: Option<u64> },
    /// Start the next epoch when it is due; finalizes the epoch whose settlement closes.
    Advance,
    /// Accrue every provider's rewards of a finalized epoch [default: the latest].
    Finalize { number: Option<u64> },
}

impl EpochCommand {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            EpochCommand::Show { number } => show(ctx, number).await,
            EpochCommand::Advance => advance(ctx).await,
            EpochCommand::Finalize { number } => finalize(ctx, number).await,
        }
    }
}

async fn show(ctx: &Ctx, number: Option<u64>) -> Result<()> {
    let config = ctx.config().await?;
    let number = number.unwrap_or(config.epoch);
    if number > config.epoch {
        bail!(
            "epoch {number} has not started; the network is in epoch {}",
            config.epoch
        );
    }
    let account = ctx.rpc.try_decode::<Epoch>(&pda::epoch(number)).await?;
    // While an epoch can still settle, its running totals live in Config.
    let live = config.epoch_totals.iter().find(|t| t.epoch == number);
    let (reward_bytes, fees, provider_stake, price) = match (live, &account) {
        (Some(t), _) => (t.reward_bytes, t.fees, t.provider_stake, t.price_per_gib),
        (None, Some(e)) => (e.reward_bytes, e.fees, e.provider_stake, e.price_per_gib),
        (None, None) => {
            bail!("epoch {number} has no account (it was never started on this cluster)")
        }
    };
    let finalized = account.as_ref().is_some_and(|e| e.finalized);
    let due_at = config
        .epoch_started_at
        .saturating_add(config.params.epoch_duration_secs);
    let view = json!({
        "epoch": number,
        "current_epoch": config.epoch,
        "next_epoch_due_at": due_at,
        "started_at": account.as_ref().map(|e| e.started_at),
        "price_per_gib": price,
        "provider_stake": provider_stake,
        "reward_bytes": reward_bytes,
        "fees": fees,
        "finalized": finalized,
        "emission": account.as_ref().map(|e| e.emission),
        "rewards_paid": account.as_ref().map(|e| e.paid),
        "expired": account.as_ref().is_some_and(|e| e.expired),
    });
    ctx.report(view, || {
        let state = if finalized {
            "finalized"
        } else if number == config.epoch {
            "current"
        } else {
            "settling"
        };
        let mut text = format!(
            "Epoch {number} ({state}; the network is in epoch {}, next due at unix time {due_at})\n  provider stake  {} MEDIA\n  price           {price} per GiB\n  reward bytes    {reward_bytes}\n  fees            {fees}",
            config.epoch,
            media(provider_stake),
        );
        if let Some(e) = account.as_ref().filter(|e| e.finalized) {
            text.push_str(&format!(
                "\n  emission        {} MEDIA ({} MEDIA accrued to providers)",
                media(e.emission),
                media(e.paid)
            ));
        }
        text
    });
    Ok(())
}

/// Starts the next epoch (finalizing the one whose settlement window closes); pays the
/// cranker's bounty into its keeper account.
async fn advance(ctx: &Ctx) -> Result<()> {
    let signer = ctx.signer()?;
    let config = ctx.config().await?;
    let signature = ctx
        .rpc
        .send(
            "epoch advance",
            &[ix::advance_epoch(&signer.pubkey(), config.epoch)],
            &signer,
            &[],
        )
        .await?;
    let after: Config = ctx.rpc.decode(&pda::config()).await?;
    let finalized = config.epoch.checked_sub(1);
    ctx.report(
        json!({"signature": signature.to_string(), "epoch": after.epoch, "finalized_epoch": finalized}),
        || match finalized {
            Some(f) => format!("Epoch {} started; epoch {f} finalized.", after.epoch),
            None => format!("Epoch {} started.", after.epoch),
        },
    );
    Ok(())
}

/// Accrues every provider's rewards for a finalized epoch (by default the latest one), so
/// providers can claim and the slots are free for settlement.
async fn finalize(ctx: &Ctx, number: Option<u64>) -> Result<()> {
    let signer = ctx.signer()?;
    let config = ctx.config().await?;
    let number = match number {
        Some(n) => n,
        None => config.epoch.checked_sub(2).ok_or_else(|| {
            anyhow!(
                "no epoch is finalized yet (the network is in epoch {})",
                config.epoch
            )
        })?,
    };
    let epoch: Epoch = ctx
        .rpc
        .try_decode(&pda::epoch(number))
        .await?
        .ok_or_else(|| anyhow!("epoch {number} has no account"))?;
    if !epoch.finalized {
        bail!(
            "epoch {number} is not finalized yet: it finalizes when epoch {} starts (`media epoch advance`)",
            number + 2
        );
    }
    let providers = ctx.rpc.all::<Provider>(&media_network::ID).await?;
    let pending: Vec<_> = providers
        .iter()
        .filter(|(_, p)| p.reward_slots.iter().any(|s| s.epoch == number))
        .map(|(_, p)| ix::accrue_rewards(&p.owner, number))
        .collect();
    let mut signatures = Vec::new();
    // A handful of accruals per transaction stays well inside the size limit.
    for batch in pending.chunks(8) {
        signatures.push(
            ctx.rpc
                .send("epoch finalize", batch, &signer, &[])
                .await?
                .to_string(),
        );
    }
    let after: Epoch = ctx.rpc.decode(&pda::epoch(number)).await?;
    ctx.report(
        json!({"signatures": signatures, "epoch": number, "providers_accrued": pending.len(), "rewards_accrued": after.paid, "emission": after.emission}),
        || {
            format!(
                "Epoch {number}: accrued rewards of {} provider(s); {} of {} MEDIA emitted so far.",
                pending.len(),
                media(after.paid),
                media(after.emission)
            )
        },
    );
    Ok(())
}
