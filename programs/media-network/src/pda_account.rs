//! Creating, loading and storing program-derived accounts without Anchor's `init`.
//!
//! Anchor 1.2's `init` switches to the system program's `CreateAccountAllowPrefund` when the
//! address already holds lamports. Runtimes without that instruction (Agave 3.1 among them)
//! reject it, so anyone could block the creation of any predictable PDA (a user's stake
//! account, even Config) by sending it one lamport. These helpers top up, allocate and assign
//! instead, which every runtime supports, and let handlers validate their input before anything
//! is created.
use crate::errors::MediaError;
use anchor_lang::prelude::*;
use anchor_lang::system_program::{self, Allocate, Assign, CreateAccount, Transfer};
use anchor_lang::Discriminator;

/// Creates `target` (a PDA of this program signed for by `seeds`) with `space` bytes, owned by
/// `owner`, rent-exempt and paid by `payer`.
pub fn create_pda<'info>(
    payer: &AccountInfo<'info>,
    target: &AccountInfo<'info>,
    system: &AccountInfo<'info>,
    space: usize,
    owner: &Pubkey,
    seeds: &[&[u8]],
) -> Result<()> {
    require!(
        target.data_is_empty() && *target.owner == system_program::ID,
        MediaError::AccountAlreadyExists
    );
    let rent = Rent::get()?.minimum_balance(space).max(1);
    let signer: &[&[&[u8]]] = &[seeds];
    let current = target.lamports();
    if current == 0 {
        let accounts = CreateAccount {
            from: payer.clone(),
            to: target.clone(),
        };
        return system_program::create_account(
            CpiContext::new_with_signer(system.key(), accounts, signer),
            rent,
            space as u64,
            owner,
        );
    }
    if rent > current {
        let accounts = Transfer {
            from: payer.clone(),
            to: target.clone(),
        };
        system_program::transfer(CpiContext::new(system.key(), accounts), rent - current)?;
    }
    let accounts = Allocate {
        account_to_allocate: target.clone(),
    };
    system_program::allocate(
        CpiContext::new_with_signer(system.key(), accounts, signer),
        space as u64,
    )?;
    let accounts = Assign {
        account_to_assign: target.clone(),
    };
    system_program::assign(
        CpiContext::new_with_signer(system.key(), accounts, signer),
        owner,
    )
}

/// Creates a PDA of this program holding `value`.
pub fn create_program_account<'info, T: AccountSerialize + Discriminator>(
    payer: &AccountInfo<'info>,
    target: &AccountInfo<'info>,
    system: &AccountInfo<'info>,
    space: usize,
    seeds: &[&[u8]],
    value: &T,
) -> Result<()> {
    create_account_of(&crate::ID, payer, target, system, space, seeds, value)
}

/// Creates a PDA of `program_id` (the program running) holding `value`; lets other programs
/// of the workspace share these helpers.
pub fn create_account_of<'info, T: AccountSerialize + Discriminator>(
    program_id: &Pubkey,
    payer: &AccountInfo<'info>,
    target: &AccountInfo<'info>,
    system: &AccountInfo<'info>,
    space: usize,
    seeds: &[&[u8]],
    value: &T,
) -> Result<()> {
    create_pda(payer, target, system, space, program_id, seeds)?;
    store(target, value)
}

/// Loads a PDA of this program, first creating it from `make()` if it does not exist yet.
pub fn load_or_create<'info, T: AccountSerialize + AccountDeserialize + Discriminator>(
    payer: &AccountInfo<'info>,
    target: &AccountInfo<'info>,
    system: &AccountInfo<'info>,
    space: usize,
    seeds: &[&[u8]],
    make: impl FnOnce() -> T,
) -> Result<T> {
    load_or_create_of(&crate::ID, payer, target, system, space, seeds, make)
}

/// `load_or_create` for an account of `program_id` (the program running).
pub fn load_or_create_of<'info, T: AccountSerialize + AccountDeserialize + Discriminator>(
    program_id: &Pubkey,
    payer: &AccountInfo<'info>,
    target: &AccountInfo<'info>,
    system: &AccountInfo<'info>,
    space: usize,
    seeds: &[&[u8]],
    make: impl FnOnce() -> T,
) -> Result<T> {
    if target.data_is_empty() {
        let value = make();
        create_account_of(program_id, payer, target, system, space, seeds, &value)?;
        return Ok(value);
    }
    load_of(program_id, target)
}

/// Reads an account of this program, checking owner and discriminator.
pub fn load<T: AccountDeserialize>(info: &AccountInfo) -> Result<T> {
    load_of(&crate::ID, info)
}

/// Reads an account owned by `program_id`, checking owner and discriminator.
pub fn load_of<T: AccountDeserialize>(program_id: &Pubkey, info: &AccountInfo) -> Result<T> {
    if info.owner != program_id {
        return Err(
            error!(ErrorCode::AccountOwnedByWrongProgram).with_pubkeys((*info.owner, *program_id))
        );
    }
    let data = info.try_borrow_data()?;
    T::try_deserialize(&mut &data[..])
}

/// Writes an account of this program (discriminator and data).
pub fn store<T: AccountSerialize>(info: &AccountInfo, value: &T) -> Result<()> {
    let mut data = info.try_borrow_mut_data()?;
    let mut cursor: &mut [u8] = &mut data[..];
    value.try_serialize(&mut cursor)
}

/// The upgrade authority recorded in `program_id`'s ProgramData, or `None` when `program_data`
/// is not that account (wrong address, owner or contents).
pub fn upgrade_authority(
    program_id: &Pubkey,
    program_data: &AccountInfo,
) -> Option<Option<Pubkey>> {
    use anchor_lang::solana_program::bpf_loader_upgradeable;
    let (expected, _) =
        Pubkey::find_program_address(&[program_id.as_ref()], &bpf_loader_upgradeable::ID);
    if program_data.key() != expected || *program_data.owner != bpf_loader_upgradeable::ID {
        return None;
    }
    let data = program_data.try_borrow_data().ok()?;
    let state = ProgramData::try_deserialize(&mut &data[..]).ok()?;
    Some(state.upgrade_authority_address)
}
