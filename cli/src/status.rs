//! `media status`: an overview of the network from its on-chain accounts.
use crate::rpc::Rpc;
use anyhow::Result;
use media_network::state::Config;
use media_sdk::pda;
use serde_json::json;

pub async fn run(rpc: &Rpc, output_json: bool) -> Result<()> {
    rpc.check_reachable().await?;
    let config: Config = rpc.decode(&pda::config()).await?;
    let p = &config.params;
    let view = json!({
        "config": pda::config().to_string(),
        "authority": config.authority.to_string(),
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
        "params": {
            "min_provider_stake": p.min_provider_stake,
            "warmup_secs": p.warmup_secs,
            "unstake_cooldown_secs": p.unstake_cooldown_secs,
            "epoch_duration_secs": p.epoch_duration_secs,
            "quota_bytes_per_media": p.quota_bytes_per_media,
            "price_per_gib": p.price_per_gib,
            "provider_fee_bps": p.provider_fee_bps,
            "keeper_fee_bps": p.keeper_fee_bps,
            "min_treasury_bps": p.min_treasury_bps,
            "emission_per_epoch": p.emission_per_epoch,
            "max_reward_per_gib": p.max_reward_per_gib,
        },
    });
    if output_json {
        println!("{view}");
    } else {
        println!("Media Network at {}", rpc.url);
        println!(
            "  epoch            {} (started {})",
            config.epoch, config.epoch_started_at
        );
        println!("  authority        {}", config.authority);
        println!("  staked           {} MEDIA", media(config.staked_total));
        println!(
            "  provider stake   {} MEDIA",
            media(config.provider_stake_current)
        );
        println!("  consumer stake   {} MEDIA", media(config.consumer_stake));
        println!(
            "  treasury         {} payment units",
            config.treasury_accrued
        );
        println!(
            "  price            {} payment units per GiB",
            p.price_per_gib
        );
        println!("  epoch length     {} s", p.epoch_duration_secs);
    }
    Ok(())
}

/// MEDIA base units as a decimal string (6 decimals).
pub fn media(base_units: u64) -> String {
    let whole = base_units / 1_000_000;
    let frac = base_units % 1_000_000;
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{}", format!("{frac:06}").trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn media_amounts_print_with_decimals() {
        assert_eq!(super::media(25_000_000), "25");
        assert_eq!(super::media(500_000), "0.5");
        assert_eq!(super::media(1), "0.000001");
    }
}
