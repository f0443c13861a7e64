//! JSON-RPC 2.0 over HTTP, with the methods and response shapes the stock Solana clients use
//! (`solana-rpc-client`, `anchor-client`, `@solana/web3.js`).
use crate::chain::{Chain, Failure, LAMPORTS_PER_SIGNATURE};
use anchor_lang::prelude::Pubkey;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Value};
use solana_account::Account;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::{Hash, Signature, TransactionError};
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::Mutex;

pub type SharedChain = Arc<Mutex<Chain>>;

/// The version reported by getVersion: the Agave release whose bank runs underneath.
pub const SOLANA_CORE_VERSION: &str = "3.1.12";

/// JSON-RPC error codes used by Solana validators.
const INVALID_PARAMS: i64 = -32602;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_REQUEST: i64 = -32600;
const SEND_TRANSACTION_PREFLIGHT_FAILURE: i64 = -32002;

#[derive(Debug)]
pub struct RpcError {
    code: i64,
    message: String,
    data: Option<Value>,
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

pub fn router(chain: SharedChain) -> Router {
    Router::new().route("/", post(handle)).with_state(chain)
}

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

async fn handle(State(chain): State<SharedChain>, Json(body): Json<Value>) -> Json<Value> {
    match body {
        Value::Array(calls) if calls.len() > MAX_BATCH => Json(json!({
            "jsonrpc": "2.0",
            "id": Value::Null,
            "error": {"code": INVALID_REQUEST, "message": format!("at most {MAX_BATCH} calls per batch")},
        })),
        Value::Array(calls) => {
            let mut replies = Vec::with_capacity(calls.len());
            let mut answered = 0usize;
            for call in calls {
                let reply = if answered > MAX_ANSWER_DATA_BYTES {
                    too_large(call.get("id").cloned().unwrap_or(Value::Null))
                } else {
                    answer(&chain, call).await
                };
                answered = answered.saturating_add(approximate_size(&reply));
                replies.push(reply);
            }
            Json(Value::Array(replies))
        }
        call => Json(answer(&chain, call).await),
    }
}

fn too_large(id: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": INVALID_REQUEST, "message": format!("the batch's answers pass {MAX_ANSWER_DATA_BYTES} bytes of account data")},
    })
}

/// The bytes of account data an answer carries (its base64 strings), cheaply.
fn approximate_size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(approximate_size).sum(),
        Value::Object(fields) => fields.values().map(approximate_size).sum(),
        _ => 8,
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
        "getBlockHeight" => Ok(json!(chain.block_height().await)),
        "getTransactionCount" => Ok(json!(chain.transaction_count())),
        "getEpochInfo" => {
            let slot = chain.slot().await;
            Ok(json!({
                "absoluteSlot": slot,
                "blockHeight": chain.block_height().await,
                "epoch": 0,
                "slotIndex": slot,
                "slotsInEpoch": 432_000,
                "transactionCount": chain.transaction_count(),
            }))
        }
        "getLatestBlockhash" => {
            let blockhash = chain.latest_blockhash().await;
            let height = chain.block_height().await;
            with_context(
                chain,
                json!({
                    "blockhash": blockhash.to_string(),
                    "lastValidBlockHeight": height + 150,
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
            // The first byte of a (legacy or v0) message header counts required signatures.
            let signatures = match bytes.first() {
                Some(&prefix) if prefix & 0x80 != 0 => bytes.get(1).copied().unwrap_or(0),
                Some(&count) => count,
                None => return Err(RpcError::params("empty message")),
            };
            with_context(chain, json!(u64::from(signatures) * LAMPORTS_PER_SIGNATURE)).await
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
            let account = chain.account(&key).await;
            with_context(
                chain,
                account.map(|a| encode_account(&a)).unwrap_or(Value::Null),
            )
            .await
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
                accounts.push(account.map(|a| encode_account(&a)).unwrap_or(Value::Null));
            }
            with_context(chain, Value::Array(accounts)).await
        }
        "getProgramAccounts" => program_accounts(chain, params).await,
        "getTokenAccountBalance" => {
            let key = pubkey_param(params, 0)?;
            let account = chain
                .account(&key)
                .await
                .ok_or_else(|| RpcError::params("could not find account"))?;
            let (amount, decimals) = token_amount(chain, &account).await?;
            let ui = amount as f64 / 10f64.powi(i32::from(decimals));
            with_context(
                chain,
                json!({
                    "amount": amount.to_string(),
                    "decimals": decimals,
                    "uiAmount": ui,
                    "uiAmountString": ui.to_string(),
                }),
            )
            .await
        }
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
            let sim = chain.simulate(tx).await;
            with_context(
                chain,
                json!({
                    "err": sim.err.map(|e| serde_json::to_value(e).unwrap_or(Value::Null)),
                    "logs": sim.logs,
                    "accounts": null,
                    "unitsConsumed": sim.units_consumed,
                    "returnData": null,
                }),
            )
            .await
        }
        "getSignatureStatuses" => {
            let signatures = params
                .get(0)
                .and_then(Value::as_array)
                .ok_or_else(|| RpcError::params("expected a list of signatures"))?;
            let statuses: Vec<Value> = signatures
                .iter()
                .map(|s| {
                    let signature = Signature::from_str(s.as_str().unwrap_or_default()).ok()?;
                    let recorded = chain.status(&signature)?;
                    // `confirmations: null` means rooted: what clients read as finalized.
                    Some(json!({
                        "slot": recorded.slot,
                        "confirmations": null,
                        "status": status_json(&recorded.err),
                        "err": recorded.err.as_ref().map(|e| serde_json::to_value(e).unwrap_or(Value::Null)),
                        "confirmationStatus": "finalized",
                    }))
                })
                .map(|s| s.unwrap_or(Value::Null))
                .collect();
            with_context(chain, Value::Array(statuses)).await
        }
        "getTransaction" => {
            let signature = Signature::from_str(str_param(params, 0)?)
                .map_err(|_| RpcError::params("invalid signature"))?;
            Ok(match chain.status(&signature) {
                None => Value::Null,
                Some(recorded) => json!({
                    "slot": recorded.slot,
                    "blockTime": null,
                    "meta": {
                        "err": recorded.err.as_ref().map(|e| serde_json::to_value(e).unwrap_or(Value::Null)),
                        "status": status_json(&recorded.err),
                        "fee": LAMPORTS_PER_SIGNATURE,
                        "logMessages": recorded.logs,
                    },
                    "transaction": null,
                }),
            })
        }
        other => Err(RpcError {
            code: METHOD_NOT_FOUND,
            message: format!("Method not found: {other}"),
            data: None,
        }),
    }
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

fn str_param(params: &Value, index: usize) -> Result<&str, RpcError> {
    params
        .get(index)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::params(format!("missing parameter {index}")))
}

fn parse_pubkey(s: &str) -> Result<Pubkey, RpcError> {
    Pubkey::from_str(s)
        .map_err(|_| RpcError::params(format!("Invalid param: {s} is not a valid address")))
}

fn pubkey_param(params: &Value, index: usize) -> Result<Pubkey, RpcError> {
    parse_pubkey(str_param(params, index)?)
}

/// Accounts are always answered as base64 (clients asking for base64+zstd accept it).
fn encode_account(account: &Account) -> Value {
    json!({
        "lamports": account.lamports,
        "owner": account.owner.to_string(),
        "data": [BASE64.encode(&account.data), "base64"],
        "executable": account.executable,
        "rentEpoch": account.rent_epoch,
        "space": account.data.len(),
    })
}

fn decode_transaction(params: &Value) -> Result<VersionedTransaction, RpcError> {
    let encoded = str_param(params, 0)?;
    let encoding = params
        .get(1)
        .and_then(|c| c.get("encoding"))
        .and_then(Value::as_str)
        .unwrap_or("base58");
    let bytes = match encoding {
        "base64" => BASE64
            .decode(encoded)
            .map_err(|_| RpcError::params("transaction is not base64"))?,
        "base58" => bs58::decode(encoded)
            .into_vec()
            .map_err(|_| RpcError::params("transaction is not base58"))?,
        other => return Err(RpcError::params(format!("unsupported encoding {other}"))),
    };
    bincode::deserialize(&bytes).map_err(|_| RpcError::params("failed to deserialize transaction"))
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
    let config = params.get(1).cloned().unwrap_or(Value::Null);
    let filters = config
        .get("filters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut matches = Vec::new();
    for (key, account) in chain.program_accounts(&program).await {
        if filters.iter().all(|f| filter_matches(f, &account.data)) {
            matches.push(json!({"pubkey": key.to_string(), "account": encode_account(&account)}));
        }
    }
    if config.get("withContext").and_then(Value::as_bool) == Some(true) {
        with_context(chain, Value::Array(matches)).await
    } else {
        Ok(Value::Array(matches))
    }
}

/// `{dataSize: n}` or `{memcmp: {offset, bytes, encoding?}}` (bytes base58 unless encoding
/// says base64).
fn filter_matches(filter: &Value, data: &[u8]) -> bool {
    if let Some(size) = filter.get("dataSize").and_then(Value::as_u64) {
        return data.len() as u64 == size;
    }
    if let Some(memcmp) = filter.get("memcmp") {
        let offset = memcmp.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
        let encoded = memcmp
            .get("bytes")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let bytes = match memcmp.get("encoding").and_then(Value::as_str) {
            Some("base64") => BASE64.decode(encoded).ok(),
            _ => bs58::decode(encoded).into_vec().ok(),
        };
        // An offset near u64::MAX must not overflow (review L2).
        return bytes.is_some_and(|b| {
            offset
                .checked_add(b.len())
                .and_then(|end| data.get(offset..end))
                == Some(&b[..])
        });
    }
    false
}

/// Amount and decimals of an SPL token account (the mint is read for the decimals).
async fn token_amount(chain: &mut Chain, account: &Account) -> Result<(u64, u8), RpcError> {
    let not_token = || RpcError::params("Invalid param: not a Token account");
    if account.data.len() < 72 {
        return Err(not_token());
    }
    let mint = Pubkey::try_from(&account.data[0..32]).map_err(|_| not_token())?;
    let amount = u64::from_le_bytes(account.data[64..72].try_into().map_err(|_| not_token())?);
    let mint_account = chain.account(&mint).await.ok_or_else(not_token)?;
    let decimals = *mint_account.data.get(44).ok_or_else(not_token)?;
    Ok((amount, decimals))
}
