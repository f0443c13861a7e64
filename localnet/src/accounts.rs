//! Accounts as agave's RPC shows them: encodings (`UiAccount`, with the mint's decimals for
//! `jsonParsed` SPL token accounts) and `getProgramAccounts` / `programSubscribe` filters.
//! Shared by the JSON-RPC methods and PubSub notifications so both answer alike.
use anchor_lang::prelude::Pubkey;
use solana_account::Account;
use solana_account_decoder::parse_account_data::{
    AccountAdditionalDataV3, SplTokenAdditionalDataV2,
};
use solana_account_decoder::parse_token::{
    get_token_account_mint, is_known_spl_token_id, token_amount_to_ui_amount_v3, UiTokenAmount,
};
use solana_account_decoder::{encode_ui_account, UiAccount, UiAccountEncoding, MAX_BASE58_BYTES};
use solana_rpc_client_types::filter::RpcFilterType;
use std::collections::{BTreeSet, HashMap};

/// Filters one `getProgramAccounts` or `programSubscribe` may hold, as agave's
/// `MAX_GET_PROGRAM_ACCOUNT_FILTERS`.
pub const MAX_FILTERS: usize = 4;

/// Where an SPL mint keeps its decimals, and where a token account keeps its owner, its
/// delegate (a `COption<Pubkey>`: a 4-byte tag, then the key), its amount and its state.
const MINT_DECIMALS_OFFSET: usize = 44;
pub const MINT_SUPPLY_OFFSET: usize = 36;
const TOKEN_OWNER_OFFSET: usize = 32;
const TOKEN_AMOUNT_OFFSET: usize = 64;
const TOKEN_DELEGATE_OFFSET: usize = 72;
const TOKEN_ACCOUNT_LEN: usize = 165;
const TOKEN_ACCOUNT_STATE_OFFSET: usize = 108;

/// Why a list of filters is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("Too many filters provided; max {MAX_FILTERS}")]
    TooMany,
    #[error("invalid filter")]
    Invalid,
}

/// Checks filters once and decodes their memcmp bytes, so matching each account is cheap.
pub fn prepare_filters(mut filters: Vec<RpcFilterType>) -> Result<Vec<RpcFilterType>, FilterError> {
    if filters.len() > MAX_FILTERS {
        return Err(FilterError::TooMany);
    }
    for filter in &mut filters {
        let decoded = filter.verify().is_ok()
            && match filter {
                RpcFilterType::Memcmp(memcmp) => memcmp.convert_to_raw_bytes().is_ok(),
                _ => true,
            };
        if !decoded {
            return Err(FilterError::Invalid);
        }
    }
    Ok(filters)
}

/// Whether `account` passes every one of `filters` (prepared by `prepare_filters`).
pub fn passes(filters: &[RpcFilterType], account: &Account) -> bool {
    filters.iter().all(|filter| match filter {
        RpcFilterType::DataSize(size) => account.data.len() as u64 == *size,
        RpcFilterType::Memcmp(memcmp) => memcmp.bytes_match(&account.data),
        RpcFilterType::TokenAccountState => {
            account.data.len() == TOKEN_ACCOUNT_LEN && account.data[TOKEN_ACCOUNT_STATE_OFFSET] != 0
        }
    })
}

/// The mint whose decimals a `jsonParsed` encoding of `account` needs, if any.
pub fn mint_for_parsing(account: &Account, encoding: UiAccountEncoding) -> Option<Pubkey> {
    (encoding == UiAccountEncoding::JsonParsed && is_known_spl_token_id(&account.owner))
        .then(|| get_token_account_mint(&account.data))
        .flatten()
}

/// A mint's decimals, if `mint` is one.
pub fn mint_decimals(mint: &Account) -> Option<u8> {
    mint.data.get(MINT_DECIMALS_OFFSET).copied()
}

/// A request for base58 of more than `MAX_BASE58_BYTES` (quadratic to encode).
#[derive(Debug, thiserror::Error)]
#[error("Encoded binary (base 58) data should be less than {MAX_BASE58_BYTES} bytes, please use Base64 encoding.")]
pub struct TooLargeForBase58;

/// `account` in `encoding`, as agave encodes it; `decimals` are its mint's (see
/// `mint_for_parsing`).
pub fn encode(
    address: &Pubkey,
    account: &Account,
    encoding: UiAccountEncoding,
    decimals: Option<u8>,
) -> Result<UiAccount, TooLargeForBase58> {
    let base58 = matches!(
        encoding,
        UiAccountEncoding::Binary | UiAccountEncoding::Base58
    );
    if base58 && account.data.len() > MAX_BASE58_BYTES {
        return Err(TooLargeForBase58);
    }
    let additional = decimals.map(|decimals| AccountAdditionalDataV3 {
        spl_token_additional_data: Some(SplTokenAdditionalDataV2 {
            decimals,
            ..SplTokenAdditionalDataV2::default()
        }),
    });
    Ok(encode_ui_account(
        address, account, encoding, additional, None,
    ))
}

/// `amount` base units of a mint with `decimals`, as agave shows token amounts.
pub fn ui_amount(amount: u64, decimals: u8) -> UiTokenAmount {
    token_amount_to_ui_amount_v3(
        amount,
        &SplTokenAdditionalDataV2 {
            decimals,
            ..SplTokenAdditionalDataV2::default()
        },
    )
}

/// A token account's owner (the wallet that holds it).
pub fn token_owner(account: &Account) -> Option<Pubkey> {
    account
        .data
        .get(TOKEN_OWNER_OFFSET..TOKEN_OWNER_OFFSET + 32)
        .and_then(|bytes| Pubkey::try_from(bytes).ok())
}

/// A token account's delegate, if it has one (a `COption<Pubkey>`: tag 1, then the key).
pub fn token_delegate(account: &Account) -> Option<Pubkey> {
    if account
        .data
        .get(TOKEN_DELEGATE_OFFSET..TOKEN_DELEGATE_OFFSET + 4)
        != Some(&[1, 0, 0, 0])
    {
        return None;
    }
    account
        .data
        .get(TOKEN_DELEGATE_OFFSET + 4..TOKEN_DELEGATE_OFFSET + 36)
        .and_then(|bytes| Pubkey::try_from(bytes).ok())
}

/// A token account's amount and mint.
pub fn token_balance(account: &Account) -> Option<(Pubkey, u64)> {
    if !is_known_spl_token_id(&account.owner) {
        return None;
    }
    let mint = get_token_account_mint(&account.data)?;
    let amount = account
        .data
        .get(TOKEN_AMOUNT_OFFSET..TOKEN_AMOUNT_OFFSET + 8)?
        .try_into()
        .ok()
        .map(u64::from_le_bytes)?;
    Some((mint, amount))
}

/// Which program owns each account the ledger has seen, so `getProgramAccounts` and the
/// token-account queries read only the accounts of the program asked about. It holds only
/// accounts that exist (a closed account leaves it), so it is no larger than the bank.
#[derive(Default)]
pub struct OwnerIndex {
    owner_of: HashMap<Pubkey, Pubkey>,
    by_owner: HashMap<Pubkey, BTreeSet<Pubkey>>,
}

impl OwnerIndex {
    /// `address` is now `account` (`None`: it does not exist).
    pub fn update(&mut self, address: &Pubkey, account: Option<&Account>) {
        let owner = account.filter(|a| a.lamports > 0).map(|a| a.owner);
        let previous = self.owner_of.get(address).copied();
        if previous == owner {
            return;
        }
        if let Some(previous) = previous {
            if let Some(owned) = self.by_owner.get_mut(&previous) {
                owned.remove(address);
                if owned.is_empty() {
                    self.by_owner.remove(&previous);
                }
            }
            self.owner_of.remove(address);
        }
        if let Some(owner) = owner {
            self.owner_of.insert(*address, owner);
            self.by_owner.entry(owner).or_default().insert(*address);
        }
    }

    pub fn all(&self) -> Vec<Pubkey> {
        self.owner_of.keys().copied().collect()
    }

    pub fn owned_by(&self, owner: &Pubkey) -> Vec<Pubkey> {
        self.by_owner
            .get(owner)
            .map(|owned| owned.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use solana_rpc_client_types::filter::{Memcmp, MemcmpEncodedBytes};

    #[test]
    fn filters_are_checked_once_and_match_by_bytes() {
        let too_many = vec![RpcFilterType::DataSize(1); MAX_FILTERS + 1];
        assert_eq!(prepare_filters(too_many), Err(FilterError::TooMany));
        let bad = vec![RpcFilterType::Memcmp(Memcmp::new(
            0,
            MemcmpEncodedBytes::Base58("0OIl".into()),
        ))];
        assert_eq!(prepare_filters(bad), Err(FilterError::Invalid));
        let filters = prepare_filters(vec![
            RpcFilterType::DataSize(4),
            RpcFilterType::Memcmp(Memcmp::new_base58_encoded(1, &[2, 3])),
        ])
        .unwrap();
        let account = |data: Vec<u8>| Account {
            data,
            ..Account::default()
        };
        assert!(passes(&filters, &account(vec![1, 2, 3, 4])));
        assert!(!passes(&filters, &account(vec![1, 2, 4, 4])));
        assert!(!passes(&filters, &account(vec![1, 2, 3])));
        // An offset past the data (or near u64::MAX) matches nothing rather than panicking.
        let far = prepare_filters(vec![RpcFilterType::Memcmp(Memcmp::new_base58_encoded(
            usize::MAX,
            &[1],
        ))])
        .unwrap();
        assert!(!passes(&far, &account(vec![1; 8])));
    }

    #[test]
    fn the_owner_index_follows_owner_changes_and_closed_accounts() {
        let mut index = OwnerIndex::default();
        let (address, first, second) = (
            Pubkey::new_unique(),
            Pubkey::new_unique(),
            Pubkey::new_unique(),
        );
        let owned = |owner| Account {
            lamports: 1,
            owner,
            ..Account::default()
        };
        index.update(&address, Some(&owned(first)));
        assert_eq!(index.owned_by(&first), vec![address]);
        index.update(&address, Some(&owned(second)));
        assert!(index.owned_by(&first).is_empty());
        assert_eq!(index.owned_by(&second), vec![address]);
        // Drained of lamports, or gone: no longer anyone's.
        index.update(&address, Some(&Account::default()));
        assert!(index.owned_by(&second).is_empty());
        index.update(&address, Some(&owned(first)));
        index.update(&address, None);
        assert!(index.owned_by(&first).is_empty());
    }
}
