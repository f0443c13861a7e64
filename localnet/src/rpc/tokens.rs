//! The SPL Token methods: balances, supply, largest accounts, and token accounts by owner
//! or delegate, answered from the owner index (accounts transactions have named).
use super::{parse_pubkey, pubkey_param, with_context, RpcError, RpcResult};
use crate::accounts;
use crate::chain::Chain;
use anchor_lang::prelude::Pubkey;
use serde_json::Value;
use solana_account::Account;
use solana_account_decoder::parse_token::{get_token_account_mint, is_known_spl_token_id};
use solana_rpc_client_types::config::RpcTokenAccountsFilter;
use solana_rpc_client_types::response::RpcTokenAccountBalance;

/// `getTokenLargestAccounts` answers at most this many, as agave.
pub const MAX_LARGEST_ACCOUNTS: usize = 20;

/// `getTokenAccountBalance`.
pub(super) async fn account_balance(chain: &mut Chain, params: &Value) -> RpcResult {
    let key = pubkey_param(params, 0)?;
    let account = chain
        .account(&key)
        .await
        .ok_or_else(|| RpcError::params("Invalid param: could not find account"))?;
    let (amount, decimals) = token_amount(chain, &account).await?;
    let value = super::to_json(accounts::ui_amount(amount, decimals))?;
    with_context(chain, value).await
}

/// A mint's supply and decimals.
async fn mint(chain: &mut Chain, mint: &Pubkey) -> Result<(Account, u64, u8), RpcError> {
    let not_mint = || RpcError::params("Invalid param: not a Token mint");
    let account = chain.account(mint).await.ok_or_else(not_mint)?;
    if !is_known_spl_token_id(&account.owner) {
        return Err(not_mint());
    }
    let supply = account
        .data
        .get(accounts::MINT_SUPPLY_OFFSET..accounts::MINT_SUPPLY_OFFSET + 8)
        .and_then(|bytes| bytes.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or_else(not_mint)?;
    let decimals = accounts::mint_decimals(&account).ok_or_else(not_mint)?;
    Ok((account, supply, decimals))
}

/// `getTokenSupply`.
pub(super) async fn supply(chain: &mut Chain, params: &Value) -> RpcResult {
    let (_, supply, decimals) = mint(chain, &pubkey_param(params, 0)?).await?;
    let value = super::to_json(accounts::ui_amount(supply, decimals))?;
    with_context(chain, value).await
}

/// `getTokenLargestAccounts`: the mint's 20 largest token accounts, largest first.
pub(super) async fn largest_accounts(chain: &mut Chain, params: &Value) -> RpcResult {
    let mint_address = pubkey_param(params, 0)?;
    let (mint_account, _, decimals) = mint(chain, &mint_address).await?;
    let mut balances: Vec<(u64, Pubkey)> = Vec::new();
    for address in chain.program_account_addresses(&mint_account.owner) {
        let Some(account) = chain.account_owned_by(&address, &mint_account.owner).await else {
            continue;
        };
        if let Some((mint, amount)) = accounts::token_balance(&account) {
            if mint == mint_address {
                balances.push((amount, address));
            }
        }
    }
    balances.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let largest: Vec<RpcTokenAccountBalance> = balances
        .into_iter()
        .take(MAX_LARGEST_ACCOUNTS)
        .map(|(amount, address)| RpcTokenAccountBalance {
            address: address.to_string(),
            amount: accounts::ui_amount(amount, decimals),
        })
        .collect();
    let value = super::to_json(largest)?;
    with_context(chain, value).await
}

/// `getTokenAccountsByOwner` / `…ByDelegate`: the token accounts (among those transactions
/// named) of `params[0]`, filtered by `{mint}` or `{programId}` as agave requires.
pub(super) async fn token_accounts(
    chain: &mut Chain,
    params: &Value,
    by_delegate: bool,
) -> RpcResult {
    let holder = pubkey_param(params, 0)?;
    let filter: RpcTokenAccountsFilter = params
        .get(1)
        .cloned()
        .and_then(|filter| serde_json::from_value(filter).ok())
        .ok_or_else(|| RpcError::params("expected {\"mint\": …} or {\"programId\": …}"))?;
    let (program, mint) = match filter {
        RpcTokenAccountsFilter::ProgramId(program) => (parse_pubkey(&program)?, None),
        RpcTokenAccountsFilter::Mint(mint) => {
            let mint = parse_pubkey(&mint)?;
            let owner = chain
                .account(&mint)
                .await
                .map(|account| account.owner)
                .ok_or_else(|| RpcError::params("Invalid param: could not find mint"))?;
            (owner, Some(mint))
        }
    };
    if !is_known_spl_token_id(&program) {
        return Err(RpcError::params(
            "Invalid param: unrecognized Token program id",
        ));
    }
    let encoding = super::account_encoding(params, 2)?;
    let mut matches = super::KeyedAccounts::default();
    for key in chain.program_account_addresses(&program) {
        let Some(account) = chain.account_owned_by(&key, &program).await else {
            continue;
        };
        let Some(account_mint) = get_token_account_mint(&account.data) else {
            continue;
        };
        let holds = if by_delegate {
            accounts::token_delegate(&account) == Some(holder)
        } else {
            accounts::token_owner(&account) == Some(holder)
        };
        if !holds || mint.is_some_and(|mint| mint != account_mint) {
            continue;
        }
        matches.push(chain, &key, &account, encoding).await?;
    }
    with_context(chain, matches.into_json()).await
}

/// Amount and decimals of an SPL token account (the mint is read for the decimals).
async fn token_amount(chain: &mut Chain, account: &Account) -> Result<(u64, u8), RpcError> {
    let not_token = || RpcError::params("Invalid param: not a Token account");
    let (mint, amount) = accounts::token_balance(account).ok_or_else(not_token)?;
    let mint_account = chain.account(&mint).await.ok_or_else(not_token)?;
    let decimals = accounts::mint_decimals(&mint_account).ok_or_else(not_token)?;
    Ok((amount, decimals))
}
