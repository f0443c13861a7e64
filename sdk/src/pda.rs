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
