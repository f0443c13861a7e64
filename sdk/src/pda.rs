//! Program-derived addresses, from the seeds the program itself exports.
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::bpf_loader_upgradeable;
use media_network::constants::*;

fn find(seeds: &[&[u8]]) -> Pubkey {
    Pubkey::find_program_address(seeds, &media_network::ID).0
}

pub fn config() -> Pubkey {
    find(&[CONFIG_SEED])
}

pub fn stake_vault() -> Pubkey {
    find(&[STAKE_VAULT_SEED])
}

pub fn reward_vault() -> Pubkey {
    find(&[REWARD_VAULT_SEED])
}

pub fn payment_vault() -> Pubkey {
    find(&[PAYMENT_VAULT_SEED])
}

pub fn stake(owner: &Pubkey) -> Pubkey {
    find(&[STAKE_SEED, owner.as_ref()])
}

pub fn provider(owner: &Pubkey) -> Pubkey {
    find(&[PROVIDER_SEED, owner.as_ref()])
}

/// The media-network program's ProgramData account (holds its upgrade authority).
pub fn program_data() -> Pubkey {
    Pubkey::find_program_address(&[media_network::ID.as_ref()], &bpf_loader_upgradeable::ID).0
}

pub fn consumer(owner: &Pubkey) -> Pubkey {
    find(&[CONSUMER_SEED, owner.as_ref()])
}

/// The registry entry binding `node_key` to its provider.
pub fn node_key(node_key: &Pubkey) -> Pubkey {
    find(&[NODE_KEY_SEED, node_key.as_ref()])
}

/// The lane of a node key serving a consumer (by the consumer's owner address).
pub fn lane(node_key: &Pubkey, consumer_owner: &Pubkey) -> Pubkey {
    find(&[LANE_SEED, node_key.as_ref(), consumer_owner.as_ref()])
}

pub fn epoch(epoch: u64) -> Pubkey {
    find(&[EPOCH_SEED, &epoch.to_le_bytes()])
}

pub fn keeper(authority: &Pubkey) -> Pubkey {
    find(&[KEEPER_SEED, authority.as_ref()])
}

pub fn buyback() -> Pubkey {
    find(&[BUYBACK_SEED])
}
