//! The history methods: `getTransaction` and `getBlock` in every encoding agave offers
//! (json, base58, base64, jsonParsed), built by agave's own `solana-transaction-status`
//! encoders from what the ledger recorded, so their shapes are a validator's by construction.
use super::{config_param, to_json, u64_param, RpcError, RpcResult};
use crate::chain::{stand_in_slot_hash, Chain};
use serde_json::Value;
use solana_rpc_client_types::config::{
    RpcBlockConfig, RpcEncodingConfigWrapper, RpcTransactionConfig,
};
use solana_transaction::Signature;
use solana_transaction_status::{
    BlockEncodingOptions, ConfirmedBlock, ConfirmedTransactionWithStatusMeta, EncodeError,
    TransactionDetails, TransactionWithStatusMeta, UiTransactionEncoding, VersionedConfirmedBlock,
    VersionedTransactionWithStatusMeta,
};
use std::str::FromStr;

/// agave's custom RPC errors.
const BLOCK_CLEANED_UP: i64 = -32001;
const BLOCK_NOT_AVAILABLE: i64 = -32004;
const UNSUPPORTED_TRANSACTION_VERSION: i64 = -32015;

pub(super) fn block_not_available(slot: u64) -> RpcError {
    RpcError {
        code: BLOCK_NOT_AVAILABLE,
        message: format!("Block not available for slot {slot}"),
        data: None,
    }
}

fn unsupported_version(error: EncodeError) -> RpcError {
    let EncodeError::UnsupportedTransactionVersion(version) = error;
    RpcError {
        code: UNSUPPORTED_TRANSACTION_VERSION,
        message: format!(
            "Transaction version ({version}) is not supported by the requesting client. Please try the request again with the following configuration parameter: \"maxSupportedTransactionVersion\": {version}"
        ),
        data: None,
    }
}

/// A config that may also be given, as older clients do, as just an encoding.
fn encoding_config<T>(params: &Value, index: usize) -> Result<T, RpcError>
where
    T: solana_rpc_client_types::config::EncodingConfig
        + Default
        + Copy
        + serde::de::DeserializeOwned,
{
    let wrapper: Option<RpcEncodingConfigWrapper<T>> = config_param(params, index)?;
    Ok(wrapper.map(|w| w.convert_to_current()).unwrap_or_default())
}

pub(super) fn get_transaction(chain: &Chain, params: &Value) -> RpcResult {
    let signature = super::str_param(params, 0)?;
    let signature = Signature::from_str(signature)
        .map_err(|_| RpcError::params("Invalid param: invalid signature"))?;
    let config: RpcTransactionConfig = encoding_config(params, 1)?;
    let Some(recorded) = chain.status(&signature) else {
        return Ok(Value::Null);
    };
    let confirmed = ConfirmedTransactionWithStatusMeta {
        slot: recorded.slot,
        tx_with_meta: TransactionWithStatusMeta::Complete(VersionedTransactionWithStatusMeta {
            transaction: recorded.transaction.clone(),
            meta: recorded.meta.clone(),
        }),
        block_time: chain.block_time(recorded.slot),
    };
    let encoded = confirmed
        .encode(
            config.encoding.unwrap_or(UiTransactionEncoding::Json),
            config.max_supported_transaction_version,
        )
        .map_err(unsupported_version)?;
    to_json(encoded)
}

pub(super) async fn get_block(chain: &mut Chain, params: &Value) -> RpcResult {
    let slot = u64_param(params, 0)?;
    let config: RpcBlockConfig = encoding_config(params, 1)?;
    let current = chain.slot().await;
    if slot > current {
        return Err(block_not_available(slot));
    }
    let first = chain.first_slot();
    if slot < first {
        return Err(RpcError {
            code: BLOCK_CLEANED_UP,
            message: format!(
                "Block {slot} cleaned up, does not exist on node. First available block: {first}"
            ),
            data: None,
        });
    }
    let block = VersionedConfirmedBlock {
        previous_blockhash: stand_in_slot_hash(slot.saturating_sub(1)).to_string(),
        blockhash: stand_in_slot_hash(slot).to_string(),
        parent_slot: slot.saturating_sub(1),
        transactions: chain
            .block_transactions(slot)
            .into_iter()
            .map(|recorded| VersionedTransactionWithStatusMeta {
                transaction: recorded.transaction.clone(),
                meta: recorded.meta.clone(),
            })
            .collect(),
        rewards: Vec::new(),
        num_partitions: None,
        block_time: chain.block_time(slot),
        block_height: Some(chain.block_height_at(slot)),
    };
    let encoded = ConfirmedBlock::from(block)
        .encode_with_options(
            config.encoding.unwrap_or(UiTransactionEncoding::Json),
            BlockEncodingOptions {
                transaction_details: config
                    .transaction_details
                    .unwrap_or(TransactionDetails::Full),
                show_rewards: config.rewards.unwrap_or(true),
                max_supported_transaction_version: config.max_supported_transaction_version,
            },
        )
        .map_err(unsupported_version)?;
    to_json(encoded)
}
