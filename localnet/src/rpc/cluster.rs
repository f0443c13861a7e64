//! The cluster methods of a single-node cluster: its one leader leads and produces every
//! slot, roots it at once, and holds no stake or votes. Shapes are agave's types.
use super::{config_param, epoch_schedule, to_json, u64_param, with_context, RpcError, RpcResult};
use crate::chain::Chain;
use serde_json::{json, Value};
use solana_rpc_client_types::config::{RpcLargestAccountsConfig, RpcLeaderScheduleConfig};
use solana_rpc_client_types::response::{
    RpcAccountBalance, RpcBlockCommitment, RpcBlockProduction, RpcBlockProductionRange,
};
use std::collections::HashMap;

/// `getSlotLeaders` answers at most this many slots, as agave.
pub const MAX_SLOT_LEADERS: u64 = 5_000;
/// `getLargestAccounts` answers this many, as agave.
pub const LARGEST_ACCOUNTS: usize = 20;

/// `getLeaderSchedule`: the node leads every slot of the epoch (of `params[0]`'s slot, or
/// the current one); null past the next epoch, as agave.
pub(super) async fn leader_schedule(chain: &mut Chain, params: &Value) -> RpcResult {
    let current = chain.slot().await;
    let (slot, config) = match params.get(0) {
        Some(Value::Number(slot)) => (
            slot.as_u64()
                .ok_or_else(|| RpcError::params("invalid slot"))?,
            config_param::<RpcLeaderScheduleConfig>(params, 1)?,
        ),
        None | Some(Value::Null) => (current, config_param(params, 1)?),
        Some(_) => (current, config_param(params, 0)?),
    };
    let schedule = epoch_schedule(chain).await?;
    let epoch = schedule.get_epoch(slot);
    if epoch > schedule.get_epoch(current).saturating_add(1) {
        return Ok(Value::Null);
    }
    let identity = chain.identity().to_string();
    if config
        .identity
        .as_ref()
        .is_some_and(|wanted| *wanted != identity)
    {
        return Ok(json!({}));
    }
    let slots = usize::try_from(schedule.get_slots_in_epoch(epoch))
        .map_err(|_| RpcError::params("epoch too long"))?;
    to_json(HashMap::from([(
        identity,
        (0..slots).collect::<Vec<usize>>(),
    )]))
}

/// `getSlotLeaders [start, limit]`.
pub(super) fn slot_leaders(chain: &Chain, params: &Value) -> RpcResult {
    let limit = u64_param(params, 1)?;
    if limit > MAX_SLOT_LEADERS {
        return Err(RpcError::params(format!(
            "Invalid limit; max {MAX_SLOT_LEADERS}"
        )));
    }
    let identity = chain.identity().to_string();
    to_json(vec![identity; limit as usize])
}

/// `getBlockProduction`: every slot of the range (the current epoch's so far by default)
/// was led and produced by the node.
pub(super) async fn block_production(chain: &mut Chain, params: &Value) -> RpcResult {
    let current = chain.slot().await;
    let range = params.get(0).and_then(|config| config.get("range"));
    let first_slot = match range.and_then(|range| range.get("firstSlot")) {
        Some(first) => first
            .as_u64()
            .ok_or_else(|| RpcError::params("invalid firstSlot"))?,
        None => {
            let schedule = epoch_schedule(chain).await?;
            schedule.get_first_slot_in_epoch(schedule.get_epoch(current))
        }
    };
    let last_slot = match range.and_then(|range| range.get("lastSlot")) {
        Some(last) => last
            .as_u64()
            .ok_or_else(|| RpcError::params("invalid lastSlot"))?,
        None => current,
    };
    if last_slot < first_slot {
        return Err(RpcError::params(format!(
            "lastSlot, {last_slot}, cannot be less than firstSlot, {first_slot}"
        )));
    }
    let (from, to) = (first_slot.max(chain.first_slot()), last_slot.min(current));
    let produced = if from > to {
        0
    } else {
        usize::try_from(to - from + 1).unwrap_or(usize::MAX)
    };
    let production = RpcBlockProduction {
        by_identity: HashMap::from([(chain.identity().to_string(), (produced, produced))]),
        range: RpcBlockProductionRange {
            first_slot,
            last_slot,
        },
    };
    let value = to_json(production)?;
    with_context(chain, value).await
}

/// `getBlockCommitment`: no stake votes on a single node; each slot is rooted at once.
pub(super) fn block_commitment(params: &Value) -> RpcResult {
    u64_param(params, 0)?;
    to_json(RpcBlockCommitment::<[u64; 32]> {
        commitment: None,
        total_stake: 0,
    })
}

/// `getLargestAccounts`: the 20 richest accounts among those transactions have named (the
/// owner index), all circulating.
pub(super) async fn largest_accounts(chain: &mut Chain, params: &Value) -> RpcResult {
    use solana_rpc_client_types::config::RpcLargestAccountsFilter;
    let config: RpcLargestAccountsConfig = config_param(params, 0)?;
    let mut balances: Vec<(u64, String)> = Vec::new();
    if config.filter != Some(RpcLargestAccountsFilter::NonCirculating) {
        // Balances only: no account's data is read.
        for address in chain.indexed_accounts() {
            let lamports = chain.lamports(&address).await;
            if lamports > 0 {
                balances.push((lamports, address.to_string()));
            }
        }
    }
    balances.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let largest: Vec<RpcAccountBalance> = balances
        .into_iter()
        .take(LARGEST_ACCOUNTS)
        .map(|(lamports, address)| RpcAccountBalance { address, lamports })
        .collect();
    let value = to_json(largest)?;
    with_context(chain, value).await
}

/// `getInflationReward`: no staking rewards are paid here, so none for any address.
pub(super) fn inflation_reward(params: &Value) -> RpcResult {
    let addresses = params
        .get(0)
        .and_then(Value::as_array)
        .ok_or_else(|| RpcError::params("expected a list of addresses"))?;
    if addresses.len() > super::MAX_MULTIPLE_ACCOUNTS {
        return Err(RpcError::params(format!(
            "at most {} addresses per call",
            super::MAX_MULTIPLE_ACCOUNTS
        )));
    }
    for address in addresses {
        super::parse_pubkey(address.as_str().unwrap_or_default())?;
    }
    Ok(Value::Array(vec![Value::Null; addresses.len()]))
}
