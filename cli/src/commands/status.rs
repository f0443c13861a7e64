//! `media status`: an overview of the network from its on-chain accounts.
use crate::commands::gov::param_name;
use crate::context::Ctx;
use crate::output::media;
use anyhow::Result;
use media_governance::state::{GovConfig, ParamField};
use media_sdk::{gov, pda};
use serde_json::{json, Map, Value};

#[derive(clap::Args)]
pub struct StatusArgs {}

impl StatusArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        run(ctx).await
    }
}

async fn run(ctx: &Ctx) -> Result<()> {
    let config = ctx.config().await?;
    let governance: Option<GovConfig> = ctx.rpc.try_decode(&gov::pda::gov_config()).await?;
    let p = &config.params;
    let params: Map<String, Value> = ParamField::ALL
        .into_iter()
        .map(|field| (param_name(field), json!(field.get(p))))
        .collect();
    let view = json!({
        "config": pda::config().to_string(),
        "authority": config.authority.to_string(),
        "governed": config.authority == gov::pda::authority(),
        "guardian": config.guardian.map(|g| g.to_string()),
        "media_mint": config.media_mint.to_string(),
        "payment_mint": config.payment_mint.to_string(),
        "epoch": config.epoch,
        "epoch_started_at": config.epoch_started_at,
        "paused_until": config.paused_until,
        "staked_total": config.staked_total,
        "provider_stake_current": config.provider_stake_current,
        "consumer_stake": config.consumer_stake,
        "treasury_accrued": config.treasury_accrued,
        "reward_reserved": config.reward_reserved,
        "params": params,
        "governance": governance.as_ref().map(|g| json!({
            "proposal_count": g.proposal_count,
            "voting_period_secs": g.params.voting_period_secs,
            "quorum_bps": g.params.quorum_bps,
            "approval_bps": g.params.approval_bps,
            "timelock_secs": g.params.timelock_secs,
            "execution_window_secs": g.params.execution_window_secs,
            "proposal_min_stake": g.params.proposal_min_stake,
        })),
    });
    ctx.report(view, || {
        let mut lines = vec![
            format!("Media Network at {}", ctx.rpc.url),
            format!(
                "  epoch            {} (started {})",
                config.epoch, config.epoch_started_at
            ),
            format!("  authority        {}", config.authority),
            format!("  staked           {} MEDIA", media(config.staked_total)),
            format!(
                "  provider stake   {} MEDIA",
                media(config.provider_stake_current)
            ),
            format!("  consumer stake   {} MEDIA", media(config.consumer_stake)),
            format!(
                "  treasury         {} payment units",
                config.treasury_accrued
            ),
            format!(
                "  price            {} payment units per GiB",
                p.price_per_gib
            ),
            format!("  epoch length     {} s", p.epoch_duration_secs),
        ];
        if let Some(g) = &governance {
            lines.push(format!(
                "  governance       {} proposal(s); votes last {} s, timelock {} s",
                g.proposal_count, g.params.voting_period_secs, g.params.timelock_secs
            ));
        }
        lines.join("\n")
    });
    Ok(())
}
