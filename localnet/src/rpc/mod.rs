//! JSON-RPC 2.0 over HTTP, with the methods and response shapes the stock Solana clients use
//! (`solana-rpc-client`, `anchor-client`, `@solana/web3.js`).
use crate::accounts;
use crate::chain::{Chain, Failure};
use crate::history::{Page, MAX_SIGNATURES_PER_CALL};
use anchor_lang::prelude::Pubkey;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Value};
use solana_account::Account;
use solana_account_decoder::UiAccountEncoding;
use solana_epoch_info::EpochInfo;
use solana_rpc_client_types::config::{
    RpcProgramAccountsConfig, RpcSignaturesForAddressConfig, RpcSupplyConfig,
};
use solana_rpc_client_types::response::RpcSupply;
use solana_transaction_status::UiTransactionReturnData;

mod cluster;
mod ledger;
mod tokens;
use solana_rpc_client_types::response::{
    RpcConfirmedTransactionStatusWithSignature, RpcContactInfo, RpcIdentity, RpcPrioritizationFee,
    RpcVoteAccountStatus,
};
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::{Hash, Signature, TransactionError};
use solana_transaction_status_client_types::TransactionConfirmationStatus;
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::{Mutex, Semaphore};

pub type SharedChain = Arc<Mutex<Chain>>;

/// The version reported by getVersion: the Agave release whose bank runs underneath.
pub const SOLANA_CORE_VERSION: &str = "3.1.12";

/// JSON-RPC error codes used by Solana validators.
const INVALID_PARAMS: i64 = -32602;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_REQUEST: i64 = -32600;
const INTERNAL_ERROR: i64 = -32603;
const SEND_TRANSACTION_PREFLIGHT_FAILURE: i64 = -32002;

#[derive(Debug)]
pub struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
}

impl RpcError {
    fn params(message: impl Into<String>) -> Self {
        RpcError {
            code: INVALID_PARAMS,
            message: message.into(),
            data: None,
        }
    }
}

type RpcResult = Result<Value, RpcError>;

/// Bytes of large answers handed out and not yet taken by the connection, across all
/// connections: a large answer past it is replaced by `-32005` (node busy) rather than held.
/// One answer is at most about 150 MiB (a batch stops at `MAX_ANSWER_DATA_BYTES` of data, and
/// its last account may add a base64 10 MiB), so one always fits. Answers under
/// `SMALL_ANSWER_BYTES` are not counted, so slow readers of large answers can never turn
/// ordinary calls (`getHealth`, `getSlot`, `sendTransaction`) away.
pub const MAX_PENDING_ANSWER_BYTES: usize = 256 << 20;
pub const SMALL_ANSWER_BYTES: usize = 1 << 20;
/// The piece of an answer handed to the connection at a time (the rest waits here, counted).
const ANSWER_CHUNK_BYTES: usize = 64 << 10;
const NODE_UNHEALTHY: i64 = -32005;

#[derive(Clone)]
struct Rpc {
    chain: SharedChain,
    /// One permit per KiB of large answers pending.
    pending: Arc<Semaphore>,
    budget_kib: u32,
}

pub fn router(chain: SharedChain) -> Router {
    router_with_budget(chain, MAX_PENDING_ANSWER_BYTES)
}

/// `router` with `pending_bytes` in place of `MAX_PENDING_ANSWER_BYTES`.
pub fn router_with_budget(chain: SharedChain, pending_bytes: usize) -> Router {
    let budget_kib = u32::try_from(pending_bytes / 1024)
        .unwrap_or(u32::MAX)
        .max(1);
    let rpc = Rpc {
        chain,
        pending: Arc::new(Semaphore::new(budget_kib as usize)),
        budget_kib,
    };
    Router::new().route("/", post(handle)).with_state(rpc)
}

async fn handle(State(rpc): State<Rpc>, Json(body): Json<Value>) -> Response {
    // Kept for a busy answer: clients match answers to their calls by id.
    let ids: Option<Vec<Value>> = match &body {
        Value::Array(calls) => Some(
            calls
                .iter()
                .map(|c| c.get("id").cloned().unwrap_or(Value::Null))
                .collect(),
        ),
        _ => None,
    };
    let id = body.get("id").cloned().unwrap_or(Value::Null);
    let reply = reply(&rpc.chain, body).await;
    let bytes = serde_json::to_vec(&reply).unwrap_or_default();
    let permit = if bytes.len() < SMALL_ANSWER_BYTES {
        None
    } else {
        // Never more than the whole budget, so no answer is refused for good.
        let kib = u32::try_from(bytes.len().div_ceil(1024))
            .unwrap_or(u32::MAX)
            .min(rpc.budget_kib);
        match rpc.pending.clone().try_acquire_many_owned(kib) {
            Ok(permit) => Some(permit),
            Err(_) => {
                let budget = u64::from(rpc.budget_kib) * 1024;
                tracing::warn!(
                    bytes = bytes.len(),
                    budget,
                    "large answers pending past the budget; refusing one"
                );
                let busy = |id: Value| {
                    json!({
                        "jsonrpc": "2.0",
                        "id": id,
                        "error": {"code": NODE_UNHEALTHY, "message": format!("Node is busy: more than {budget} bytes of large answers wait for their clients")},
                    })
                };
                return match ids {
                    Some(ids) => Json(Value::Array(ids.into_iter().map(busy).collect())),
                    None => Json(busy(id)),
                }
                .into_response();
            }
        }
    };
    // Sent a chunk at a time, the permit held until the last one is taken (or the
    // connection is dropped, which drops this stream).
    let chunks = futures::stream::unfold(
        (Bytes::from(bytes), permit),
        |(mut rest, permit)| async move {
            if rest.is_empty() {
                drop(permit);
                return None;
            }
            let chunk = rest.split_to(rest.len().min(ANSWER_CHUNK_BYTES));
            Some((Ok::<_, std::convert::Infallible>(chunk), (rest, permit)))
        },
    );
    (
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// Signatures one `getSignatureStatuses` may ask about, as agave's
/// `MAX_GET_SIGNATURE_STATUSES_QUERY_ITEMS`.
pub const MAX_SIGNATURE_STATUSES: usize = 256;
/// Calls in one batch request at most (review M10).
pub const MAX_BATCH: usize = 100;
/// Addresses per `getMultipleAccounts` at most, as validators allow.
pub const MAX_MULTIPLE_ACCOUNTS: usize = 100;
/// Bytes of account data one request may answer with (base64 makes a third more): a batch
/// of `getMultipleAccounts` of the 133 KB Token program account would otherwise build
/// gigabytes of JSON.
pub const MAX_ANSWER_DATA_BYTES: usize = 64 << 20;
/// The largest account `getMinimumBalanceForRentExemption` prices (Solana's limit).
pub const MAX_ACCOUNT_BYTES: u64 = 10 << 20;

/// The answer to one call or a batch.
async fn reply(chain: &SharedChain, body: Value) -> Value {
    match body {
        Value::Array(calls) if calls.is_empty() => json!({
            "jsonrpc": "2.0",
            "id": Value::Null,
            "error": {"code": INVALID_REQUEST, "message": "Invalid request"},
        }),
        Value::Array(calls) if calls.len() > MAX_BATCH => json!({
            "jsonrpc": "2.0",
            "id": Value::Null,
            "error": {"code": INVALID_REQUEST, "message": format!("at most {MAX_BATCH} calls per batch")},
        }),
        Value::Array(calls) => {
            let mut replies = Vec::with_capacity(calls.len());
            let mut answered = 0usize;
            for call in calls {
                let reply = if answered > MAX_ANSWER_DATA_BYTES {
                    too_large(call.get("id").cloned().unwrap_or(Value::Null))
                } else {
                    answer(chain, call).await
                };
                answered = answered.saturating_add(approximate_size(&reply));
                replies.push(reply);
            }
            Value::Array(replies)
        }
        call => answer(chain, call).await,
    }
}

fn too_large(id: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": INVALID_REQUEST, "message": format!("the batch's answers pass {MAX_ANSWER_DATA_BYTES} bytes of account data")},
    })
}

/// Roughly the memory an answer holds: its strings, and a `Value`'s size for everything
/// else (so a `getBlocks` of 500,000 slots counts 16 MB, not 4).
fn approximate_size(value: &Value) -> usize {
    const VALUE_BYTES: usize = 32;
    match value {
        Value::String(s) => s.len() + VALUE_BYTES,
        Value::Array(items) => items.iter().map(approximate_size).sum::<usize>() + VALUE_BYTES,
        Value::Object(fields) => {
            fields
                .iter()
                .map(|(key, value)| key.len() + approximate_size(value))
                .sum::<usize>()
                + VALUE_BYTES
        }
        _ => VALUE_BYTES,
    }
}

async fn answer(chain: &SharedChain, call: Value) -> Value {
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    let result = match call.get("method").and_then(Value::as_str) {
        Some(method) => {
            let params = call.get("params").cloned().unwrap_or(Value::Array(vec![]));
            let mut chain = chain.lock().await;
            dispatch(&mut chain, method, &params).await
        }
        None => Err(RpcError {
            code: INVALID_REQUEST,
            message: "missing method".into(),
            data: None,
        }),
    };
    match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(e) => {
            let mut error = json!({"code": e.code, "message": e.message});
            if let Some(data) = e.data {
                error["data"] = data;
            }
            json!({"jsonrpc": "2.0", "id": id, "error": error})
        }
    }
}

async fn dispatch(chain: &mut Chain, method: &str, params: &Value) -> RpcResult {
    match method {
        "getHealth" => Ok(json!("ok")),
        "getVersion" => Ok(json!({"solana-core": SOLANA_CORE_VERSION, "feature-set": 0})),
        "getSlot" => Ok(json!(chain.slot().await)),
        "getBlockHeight" => Ok(json!(chain.block_height())),
        "getTransactionCount" => Ok(json!(chain.transaction_count())),
        "getEpochInfo" => {
            let slot = chain.slot().await;
            let schedule = epoch_schedule(chain).await?;
            let (epoch, slot_index) = schedule.get_epoch_and_slot_index(slot);
            to_json(EpochInfo {
                epoch,
                slot_index,
                slots_in_epoch: schedule.get_slots_in_epoch(epoch),
                absolute_slot: slot,
                block_height: chain.block_height(),
                transaction_count: Some(chain.transaction_count()),
            })
        }
        "getLatestBlockhash" => {
            let (blockhash, last_valid_block_height) = chain.latest_blockhash().await;
            with_context(
                chain,
                json!({
                    "blockhash": blockhash.to_string(),
                    "lastValidBlockHeight": last_valid_block_height,
                }),
            )
            .await
        }
        "isBlockhashValid" => {
            let hash = Hash::from_str(str_param(params, 0)?)
                .map_err(|_| RpcError::params("invalid blockhash"))?;
            let valid = chain.is_blockhash_valid(&hash);
            with_context(chain, json!(valid)).await
        }
        "getFeeForMessage" => {
            let bytes = BASE64
                .decode(str_param(params, 0)?)
                .map_err(|_| RpcError::params("message is not base64"))?;
            let message: solana_message::VersionedMessage = bincode::deserialize(&bytes)
                .map_err(|_| RpcError::params("failed to deserialize message"))?;
            let fee = chain.fee(&message).await;
            with_context(chain, json!(fee)).await
        }
        "getMinimumBalanceForRentExemption" => {
            let size = params
                .get(0)
                .and_then(Value::as_u64)
                .filter(|size| *size <= MAX_ACCOUNT_BYTES)
                .ok_or_else(|| {
                    RpcError::params(format!(
                        "expected a data length of at most {MAX_ACCOUNT_BYTES}"
                    ))
                })?;
            Ok(json!(chain.rent().await.minimum_balance(size as usize)))
        }
        "getBalance" => {
            let key = pubkey_param(params, 0)?;
            let lamports = chain.account(&key).await.map(|a| a.lamports).unwrap_or(0);
            with_context(chain, json!(lamports)).await
        }
        "getAccountInfo" => {
            let key = pubkey_param(params, 0)?;
            let encoding = account_encoding(params, 1)?;
            let answer = match chain.account(&key).await {
                Some(account) => ui_account(chain, &key, &account, encoding).await?,
                None => Value::Null,
            };
            with_context(chain, answer).await
        }
        "getMultipleAccounts" => {
            let keys = params
                .get(0)
                .and_then(Value::as_array)
                .ok_or_else(|| RpcError::params("expected a list of addresses"))?;
            if keys.len() > MAX_MULTIPLE_ACCOUNTS {
                return Err(RpcError::params(format!(
                    "at most {MAX_MULTIPLE_ACCOUNTS} addresses per call"
                )));
            }
            let encoding = account_encoding(params, 1)?;
            let mut accounts = Vec::with_capacity(keys.len());
            let mut data = 0usize;
            for key in keys {
                let key = parse_pubkey(key.as_str().unwrap_or_default())?;
                let account = chain.account(&key).await;
                data = data.saturating_add(account.as_ref().map_or(0, |a| a.data.len()));
                if data > MAX_ANSWER_DATA_BYTES {
                    return Err(RpcError::params(format!(
                        "the accounts hold more than {MAX_ANSWER_DATA_BYTES} bytes"
                    )));
                }
                accounts.push(match account {
                    Some(account) => ui_account(chain, &key, &account, encoding).await?,
                    None => Value::Null,
                });
            }
            with_context(chain, Value::Array(accounts)).await
        }
        "getProgramAccounts" => program_accounts(chain, params).await,
        "getTokenAccountBalance" => tokens::account_balance(chain, params).await,
        "getTokenSupply" => tokens::supply(chain, params).await,
        "getTokenLargestAccounts" => tokens::largest_accounts(chain, params).await,
        "requestAirdrop" => {
            let key = pubkey_param(params, 0)?;
            let lamports = params
                .get(1)
                .and_then(Value::as_u64)
                .ok_or_else(|| RpcError::params("expected lamports"))?;
            let signature = chain
                .airdrop(&key, lamports)
                .await
                .map_err(preflight_error)?;
            Ok(json!(signature.to_string()))
        }
        // Not a Solana method: the localnet's stand-in for a token faucet (test MEDIA and
        // test payment tokens), params `[owner, mint, amount]`.
        "requestTokenAirdrop" => {
            let owner = pubkey_param(params, 0)?;
            let mint = pubkey_param(params, 1)?;
            let amount = params
                .get(2)
                .and_then(Value::as_u64)
                .ok_or_else(|| RpcError::params("expected an amount in base units"))?;
            let signature = chain
                .token_airdrop(&owner, &mint, amount)
                .await
                .map_err(preflight_error)?;
            Ok(json!(signature.to_string()))
        }
        "sendTransaction" => {
            let tx = decode_transaction(params)?;
            verify_signatures(&tx)?;
            let skip_preflight = params
                .get(1)
                .and_then(|c| c.get("skipPreflight"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let signature = chain
                .send(tx, !skip_preflight)
                .await
                .map_err(preflight_error)?;
            Ok(json!(signature.to_string()))
        }
        "simulateTransaction" => {
            let tx = decode_transaction(params)?;
            // As agave: only when asked (`sigVerify`), since wallets simulate before signing.
            if params
                .get(1)
                .and_then(|c| c.get("sigVerify"))
                .and_then(Value::as_bool)
                == Some(true)
            {
                verify_signatures(&tx)?;
            }
            let sim = chain.simulate(tx).await;
            with_context(
                chain,
                json!({
                    "err": sim.err.map(|e| serde_json::to_value(e).unwrap_or(Value::Null)),
                    "logs": sim.logs,
                    "accounts": null,
                    "unitsConsumed": sim.units_consumed,
                    "returnData": sim.return_data.map(UiTransactionReturnData::from),
                }),
            )
            .await
        }
        "getSignatureStatuses" => {
            let signatures = params
                .get(0)
                .and_then(Value::as_array)
                .ok_or_else(|| RpcError::params("expected a list of signatures"))?;
            if signatures.len() > MAX_SIGNATURE_STATUSES {
                return Err(RpcError::params(format!(
                    "Too many inputs provided; max {MAX_SIGNATURE_STATUSES}"
                )));
            }
            let signatures = signatures
                .iter()
                .map(|s| {
                    Signature::from_str(s.as_str().unwrap_or_default())
                        .map_err(|_| RpcError::params("Invalid param: invalid signature"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let statuses: Vec<Value> = signatures
                .iter()
                .map(|signature| {
                    let recorded = chain.status(signature)?;
                    let err = recorded.err();
                    // `confirmations: null` means rooted: what clients read as finalized.
                    Some(json!({
                        "slot": recorded.slot,
                        "confirmations": null,
                        "status": status_json(&err),
                        "err": err.as_ref().map(|e| serde_json::to_value(e).unwrap_or(Value::Null)),
                        "confirmationStatus": "finalized",
                    }))
                })
                .map(|s| s.unwrap_or(Value::Null))
                .collect();
            with_context(chain, Value::Array(statuses)).await
        }
        "getTransaction" => ledger::get_transaction(chain, params),
        "getBlock" => ledger::get_block(chain, params).await,
        "getGenesisHash" => Ok(json!(chain.genesis_hash().to_string())),
        "getIdentity" => to_json(RpcIdentity {
            identity: chain.identity().to_string(),
        }),
        "getClusterNodes" => to_json(vec![RpcContactInfo {
            pubkey: chain.identity().to_string(),
            gossip: None,
            tvu: None,
            tpu: None,
            tpu_quic: None,
            tpu_forwards: None,
            tpu_forwards_quic: None,
            tpu_vote: None,
            serve_repair: None,
            rpc: None,
            pubsub: None,
            version: Some(SOLANA_CORE_VERSION.to_string()),
            feature_set: None,
            shred_version: None,
        }]),
        // No vote accounts: the single node's slots are rooted without votes.
        "getVoteAccounts" => to_json(RpcVoteAccountStatus {
            current: Vec::new(),
            delinquent: Vec::new(),
        }),
        // Priority fees are neither charged nor tracked.
        "getRecentPrioritizationFees" => to_json(Vec::<RpcPrioritizationFee>::new()),
        "getEpochSchedule" => to_json(epoch_schedule(chain).await?),
        "getInflationGovernor" => to_json(chain.inflation()),
        "getInflationRate" => {
            let slot = chain.slot().await;
            let epoch = epoch_schedule(chain).await?.get_epoch(slot);
            to_json(chain.inflation_rate(epoch))
        }
        "getSupply" => {
            let config: RpcSupplyConfig = config_param(params, 0)?;
            let total = chain.genesis_supply();
            let supply = RpcSupply {
                total,
                circulating: total,
                non_circulating: 0,
                non_circulating_accounts: Vec::new(),
            };
            let _ = config.exclude_non_circulating_accounts_list;
            let value = to_json(supply)?;
            with_context(chain, value).await
        }
        "getLeaderSchedule" => cluster::leader_schedule(chain, params).await,
        "getSlotLeader" => Ok(json!(chain.identity().to_string())),
        "getSlotLeaders" => cluster::slot_leaders(chain, params),
        "getBlockProduction" => cluster::block_production(chain, params).await,
        "getBlockCommitment" => cluster::block_commitment(params),
        "getLargestAccounts" => cluster::largest_accounts(chain, params).await,
        "getInflationReward" => cluster::inflation_reward(params),
        // Shreds are neither made nor sent: the newest slot is the highest of each.
        "getMaxRetransmitSlot" | "getMaxShredInsertSlot" => Ok(json!(chain.slot().await)),
        "getStakeMinimumDelegation" => {
            let minimum = chain
                .stake_minimum_delegation()
                .await
                .ok_or_else(|| RpcError {
                    code: INTERNAL_ERROR,
                    message: "the stake program did not answer GetMinimumDelegation".into(),
                    data: None,
                })?;
            with_context(chain, json!(minimum)).await
        }
        "minimumLedgerSlot" | "getFirstAvailableBlock" => Ok(json!(chain.first_slot())),
        "getHighestSnapshotSlot" => Err(RpcError {
            code: NO_SNAPSHOT,
            message: "No snapshot".into(),
            data: None,
        }),
        "getBlockTime" => {
            let slot = u64_param(params, 0)?;
            chain
                .block_time(slot)
                .map(|time| json!(time))
                .ok_or_else(|| ledger::block_not_available(slot))
        }
        "getBlocks" => {
            let start = u64_param(params, 0)?;
            let end = match params.get(1) {
                Some(Value::Number(end)) => end
                    .as_u64()
                    .ok_or_else(|| RpcError::params("invalid end slot"))?,
                _ => chain.slot().await,
            };
            if end.saturating_sub(start) > MAX_BLOCKS_RANGE {
                return Err(RpcError::params(format!(
                    "Slot range too large; max {MAX_BLOCKS_RANGE}"
                )));
            }
            let current = chain.slot().await;
            let from = start.max(chain.first_slot());
            Ok(json!((from..=end.min(current)).collect::<Vec<u64>>()))
        }
        "getBlocksWithLimit" => {
            let start = u64_param(params, 0)?;
            let limit = u64_param(params, 1)?;
            if limit > MAX_BLOCKS_RANGE {
                return Err(RpcError::params(format!(
                    "Limit too large; max {MAX_BLOCKS_RANGE}"
                )));
            }
            let current = chain.slot().await;
            let from = start.max(chain.first_slot());
            let blocks: Vec<u64> = (from..=current).take(limit as usize).collect();
            Ok(json!(blocks))
        }
        "getSignaturesForAddress" => signatures_for_address(chain, params),
        "getTokenAccountsByOwner" => tokens::token_accounts(chain, params, false).await,
        "getTokenAccountsByDelegate" => tokens::token_accounts(chain, params, true).await,
        other => Err(RpcError {
            code: METHOD_NOT_FOUND,
            message: format!("Method not found: {other}"),
            data: None,
        }),
    }
}

/// Slots one `getBlocks` may span, as a validator's `MAX_GET_CONFIRMED_BLOCKS_RANGE`.
pub const MAX_BLOCKS_RANGE: u64 = 500_000;

/// agave's custom RPC error for a node without snapshots.
const NO_SNAPSHOT: i64 = -32008;

async fn epoch_schedule(
    chain: &mut Chain,
) -> Result<solana_epoch_schedule::EpochSchedule, RpcError> {
    chain.epoch_schedule().await.ok_or_else(|| RpcError {
        code: INTERNAL_ERROR,
        message: "the bank has no EpochSchedule".into(),
        data: None,
    })
}

/// One of agave's response types as the answer.
pub(crate) fn to_json(value: impl serde::Serialize) -> RpcResult {
    serde_json::to_value(value).map_err(|e| RpcError {
        code: INTERNAL_ERROR,
        message: format!("could not encode the answer: {e}"),
        data: None,
    })
}

pub(crate) fn u64_param(params: &Value, index: usize) -> Result<u64, RpcError> {
    params
        .get(index)
        .and_then(Value::as_u64)
        .ok_or_else(|| RpcError::params(format!("parameter {index} must be a slot or count")))
}

/// An optional config object (of an RPC call or a subscription): absent or null is the
/// default, anything else must parse.
pub(crate) fn optional_config<T: serde::de::DeserializeOwned + Default>(
    config: Option<&Value>,
) -> Result<T, serde_json::Error> {
    match config {
        None | Some(Value::Null) => Ok(T::default()),
        Some(config) => T::deserialize(config),
    }
}

pub(crate) fn config_param<T: serde::de::DeserializeOwned + Default>(
    params: &Value,
    index: usize,
) -> Result<T, RpcError> {
    optional_config(params.get(index)).map_err(|e| RpcError::params(format!("invalid config: {e}")))
}

fn signatures_for_address(chain: &Chain, params: &Value) -> RpcResult {
    let address = pubkey_param(params, 0)?;
    let config: RpcSignaturesForAddressConfig = config_param(params, 1)?;
    let limit = config.limit.unwrap_or(MAX_SIGNATURES_PER_CALL);
    if !(1..=MAX_SIGNATURES_PER_CALL).contains(&limit) {
        return Err(RpcError::params(format!(
            "Invalid limit; max {MAX_SIGNATURES_PER_CALL}"
        )));
    }
    let signature = |s: Option<String>| -> Result<Option<Signature>, RpcError> {
        s.map(|s| Signature::from_str(&s).map_err(|_| RpcError::params("Invalid signature")))
            .transpose()
    };
    let page = Page {
        before: signature(config.before)?,
        until: signature(config.until)?,
        limit,
    };
    let statuses: Vec<RpcConfirmedTransactionStatusWithSignature> = chain
        .signatures_for(&address, page)
        .into_iter()
        .map(
            |(signature, recorded)| RpcConfirmedTransactionStatusWithSignature {
                signature: signature.to_string(),
                slot: recorded.slot,
                err: recorded.err().map(Into::into),
                memo: None,
                block_time: chain.block_time(recorded.slot),
                confirmation_status: Some(TransactionConfirmationStatus::Finalized),
            },
        )
        .collect();
    to_json(statuses)
}

fn status_json(err: &Option<TransactionError>) -> Value {
    match err {
        None => json!({"Ok": null}),
        Some(e) => json!({"Err": serde_json::to_value(e).unwrap_or(Value::Null)}),
    }
}

async fn with_context(chain: &mut Chain, value: Value) -> RpcResult {
    let slot = chain.slot().await;
    Ok(json!({"context": {"slot": slot, "apiVersion": SOLANA_CORE_VERSION}, "value": value}))
}

pub(crate) fn str_param(params: &Value, index: usize) -> Result<&str, RpcError> {
    params
        .get(index)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::params(format!("missing parameter {index}")))
}

pub(crate) fn parse_pubkey(s: &str) -> Result<Pubkey, RpcError> {
    Pubkey::from_str(s)
        .map_err(|_| RpcError::params(format!("Invalid param: {s} is not a valid address")))
}

pub(crate) fn pubkey_param(params: &Value, index: usize) -> Result<Pubkey, RpcError> {
    parse_pubkey(str_param(params, index)?)
}

/// The account encoding a call's config (param `index`) names; base64 when it names none
/// (agave's default is the legacy base58 string, which current clients never ask for).
pub(crate) fn account_encoding(
    params: &Value,
    index: usize,
) -> Result<UiAccountEncoding, RpcError> {
    match params.get(index).and_then(|config| config.get("encoding")) {
        None | Some(Value::Null) => Ok(UiAccountEncoding::Base64),
        Some(encoding) => serde_json::from_value(encoding.clone())
            .map_err(|_| RpcError::params(format!("unsupported encoding {encoding}"))),
    }
}

/// An account as agave encodes it (`UiAccount`); `jsonParsed` SPL token accounts get their
/// mint's decimals, as on a validator. Base58 is refused past 128 bytes, as agave does (it
/// is quadratic to encode).
pub(crate) async fn ui_account(
    chain: &mut Chain,
    address: &Pubkey,
    account: &Account,
    encoding: UiAccountEncoding,
) -> RpcResult {
    let decimals = match accounts::mint_for_parsing(account, encoding) {
        Some(mint) => chain.mint_decimals(&mint).await,
        None => None,
    };
    let ui = accounts::encode(address, account, encoding, decimals)
        .map_err(|e| RpcError::params(e.to_string()))?;
    to_json(ui)
}

/// The largest transaction a validator takes (`PACKET_DATA_SIZE`), and the longest base58
/// and base64 texts of one, as agave checks them before decoding (base58 is quadratic).
pub const MAX_TRANSACTION_BYTES: usize = 1232;
const MAX_BASE58_TRANSACTION: usize = 1683;
const MAX_BASE64_TRANSACTION: usize = 1644;
const SIGNATURE_VERIFICATION_FAILURE: i64 = -32003;

/// `params[0]`, a transaction in the encoding `params[1]` names, bounded and sanitized as
/// agave's `decode_and_deserialize` and `sanitize_transaction` do.
fn decode_transaction(params: &Value) -> Result<VersionedTransaction, RpcError> {
    let encoded = str_param(params, 0)?;
    let encoding = params
        .get(1)
        .and_then(|c| c.get("encoding"))
        .and_then(Value::as_str)
        .unwrap_or("base58");
    let too_large = |encoding: &str, max: usize| {
        RpcError::params(format!(
            "{encoding} encoded solana_transaction::Transaction too large: {} bytes (max: encoded/raw {max}/{MAX_TRANSACTION_BYTES})",
            encoded.len()
        ))
    };
    let bytes = match encoding {
        "base64" if encoded.len() > MAX_BASE64_TRANSACTION => {
            return Err(too_large("base64", MAX_BASE64_TRANSACTION))
        }
        "base58" if encoded.len() > MAX_BASE58_TRANSACTION => {
            return Err(too_large("base58", MAX_BASE58_TRANSACTION))
        }
        "base64" => BASE64
            .decode(encoded)
            .map_err(|_| RpcError::params("transaction is not base64"))?,
        "base58" => bs58::decode(encoded)
            .into_vec()
            .map_err(|_| RpcError::params("transaction is not base58"))?,
        other => return Err(RpcError::params(format!("unsupported encoding {other}"))),
    };
    if bytes.len() > MAX_TRANSACTION_BYTES {
        return Err(RpcError::params(format!(
            "decoded solana_transaction::Transaction too large: {} bytes (max: {MAX_TRANSACTION_BYTES} bytes)",
            bytes.len()
        )));
    }
    let tx: VersionedTransaction = bincode::deserialize(&bytes)
        .map_err(|_| RpcError::params("failed to deserialize solana_transaction::Transaction"))?;
    tx.sanitize()
        .map_err(|e| RpcError::params(format!("invalid transaction: {e}")))?;
    Ok(tx)
}

/// Every signature must be its signer's over the message: the bank under program-test
/// checks none (its `process_transaction_with_metadata` only sanitizes), so without this a
/// transaction "signed" by anyone, the faucet included, would execute.
fn verify_signatures(tx: &VersionedTransaction) -> Result<(), RpcError> {
    if tx.verify_with_results().iter().all(|valid| *valid) {
        Ok(())
    } else {
        Err(RpcError {
            code: SIGNATURE_VERIFICATION_FAILURE,
            message: "Transaction signature verification failure".into(),
            data: None,
        })
    }
}

fn preflight_error(failure: Failure) -> RpcError {
    RpcError {
        code: SEND_TRANSACTION_PREFLIGHT_FAILURE,
        message: format!("Transaction simulation failed: {}", failure.err),
        data: Some(json!({
            "err": serde_json::to_value(&failure.err).unwrap_or(Value::Null),
            "logs": failure.logs,
            "accounts": null,
            "unitsConsumed": failure.units_consumed,
            "returnData": null,
        })),
    }
}

async fn program_accounts(chain: &mut Chain, params: &Value) -> RpcResult {
    let program = pubkey_param(params, 0)?;
    let config: RpcProgramAccountsConfig = config_param(params, 1)?;
    let filters = accounts::prepare_filters(config.filters.unwrap_or_default())
        .map_err(|e| RpcError::params(e.to_string()))?;
    let encoding = config
        .account_config
        .encoding
        .unwrap_or(UiAccountEncoding::Base64);
    let mut matches = KeyedAccounts::default();
    for key in chain.program_account_addresses(&program) {
        let Some(account) = chain.account_owned_by(&key, &program).await else {
            continue;
        };
        if accounts::passes(&filters, &account) {
            matches.push(chain, &key, &account, encoding).await?;
        }
    }
    if config.with_context == Some(true) {
        with_context(chain, matches.into_json()).await
    } else {
        Ok(matches.into_json())
    }
}

/// The `{pubkey, account}` list of an answer, refused once its accounts hold more than
/// `MAX_ANSWER_DATA_BYTES`.
#[derive(Default)]
struct KeyedAccounts {
    matches: Vec<Value>,
    data: usize,
}

impl KeyedAccounts {
    async fn push(
        &mut self,
        chain: &mut Chain,
        key: &Pubkey,
        account: &Account,
        encoding: UiAccountEncoding,
    ) -> Result<(), RpcError> {
        self.data = self.data.saturating_add(account.data.len());
        if self.data > MAX_ANSWER_DATA_BYTES {
            return Err(RpcError::params(format!(
                "the accounts hold more than {MAX_ANSWER_DATA_BYTES} bytes"
            )));
        }
        let account = ui_account(chain, key, account, encoding).await?;
        self.matches
            .push(json!({"pubkey": key.to_string(), "account": account}));
        Ok(())
    }

    fn into_json(self) -> Value {
        Value::Array(self.matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn post(call: &Value) -> axum::http::Request<Body> {
        axum::http::Request::post("/")
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(call.to_string()))
            .unwrap()
    }

    /// A large answer the connection has not taken yet counts against the budget of pending
    /// answers: past it another large answer is refused with `-32005` under the caller's id,
    /// small ones are still answered, and once the first is taken (or dropped) the budget is
    /// free again.
    #[tokio::test]
    async fn m10_large_answers_waiting_for_slow_clients_are_bounded_in_bytes() {
        use http_body_util::BodyExt;
        let chain = Arc::new(Mutex::new(
            Chain::start(crate::programs::program_test()).await,
        ));
        // The Token program's account (its ELF) eight times: about 1.4 MB, a large answer.
        let many = json!({"jsonrpc": "2.0", "id": 7, "method": "getMultipleAccounts",
            "params": [vec![anchor_spl::token::ID.to_string(); 8], {"encoding": "base64"}]});
        let router = router_with_budget(chain, 2 << 20);
        let mut waiting = router
            .clone()
            .oneshot(post(&many))
            .await
            .unwrap()
            .into_body();
        // The connection took the first piece only.
        let first = waiting.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first.len(), ANSWER_CHUNK_BYTES);
        let busy = router.clone().oneshot(post(&many)).await.unwrap();
        let busy: Value = serde_json::from_slice(
            &axum::body::to_bytes(busy.into_body(), 1 << 20)
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(busy["error"]["code"], NODE_UNHEALTHY, "{busy}");
        assert_eq!(busy["id"], 7);
        let health = json!({"jsonrpc": "2.0", "id": 1, "method": "getHealth"});
        let health = router.clone().oneshot(post(&health)).await.unwrap();
        let health: Value = serde_json::from_slice(
            &axum::body::to_bytes(health.into_body(), 1 << 20)
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(health["result"], "ok");
        // Dropped unread (the client went away): the budget is free again.
        drop(waiting);
        let answered = router.oneshot(post(&many)).await.unwrap();
        let answered = axum::body::to_bytes(answered.into_body(), 8 << 20)
            .await
            .unwrap();
        assert!(
            answered.len() > SMALL_ANSWER_BYTES,
            "{} bytes",
            answered.len()
        );
        let answered: Value = serde_json::from_slice(&answered).unwrap();
        assert_eq!(
            answered["result"]["value"].as_array().map(Vec::len),
            Some(8)
        );
    }
}
