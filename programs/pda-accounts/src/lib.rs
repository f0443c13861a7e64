//! Creating, loading and storing program-derived accounts without Anchor's `init`, shared by
//! the workspace's programs. Every helper is keyed on the account type's Anchor [`Owner`]: the
//! program an account type belongs to decides who owns the account created and which owner a
//! loaded account must have, so no call names a program id.
//!
//! Anchor 1.2's `init` switches to the system program's `CreateAccountAllowPrefund` when the
//! address already holds lamports. Runtimes without that instruction (Agave 3.1 among them)
//! reject it, so anyone could block the creation of any predictable PDA (a user's stake
//! account, even Config) by sending it one lamport. These helpers top up, allocate and assign
//! instead, which every runtime supports, and let handlers validate their input before anything
//! is created.
use anchor_lang::prelude::*;
use anchor_lang::system_program::{self, Allocate, Assign, CreateAccount, Transfer};
use anchor_lang::Discriminator;
use std::ops::{Deref, DerefMut};

/// Errors of these helpers, numbered apart from every program's own (which start at 6000), so a
/// client reads the same code the same way whichever program returned it.
#[error_code(offset = 9000)]
pub enum PdaError {
    #[msg("An account already exists at that address")]
    AccountAlreadyExists,
}

/// What a program-derived account type needs: Anchor's (de)serialization, its discriminator
/// and the program that owns it.
pub trait ProgramAccount: AccountSerialize + AccountDeserialize + Discriminator + Owner {}
impl<T: AccountSerialize + AccountDeserialize + Discriminator + Owner> ProgramAccount for T {}

/// Creates `target` (a PDA of the running program, signed for by `seeds`) with `space` bytes,
/// owned by `owner`, rent-exempt and paid by `payer`. For accounts of other programs' types
/// (token vaults); program accounts use [`create`].
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
        PdaError::AccountAlreadyExists
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

/// Creates `target`, a PDA of `T`'s program, holding `value`.
pub fn create<'info, T: ProgramAccount>(
    payer: &AccountInfo<'info>,
    target: &AccountInfo<'info>,
    system: &AccountInfo<'info>,
    space: usize,
    seeds: &[&[u8]],
    value: &T,
) -> Result<()> {
    create_pda(payer, target, system, space, &T::owner(), seeds)?;
    store(target, value)
}

/// An account loaded (or just created) by [`load_or_create`]: changes to it reach the chain
/// only through [`Loaded::store`]. Discarding the result unused is a compile-time warning;
/// a named binding changed and never stored is not caught by the compiler, which is why
/// every account type's changes go through methods on it and each handler ends by storing.
#[must_use = "an account changed but not stored loses the change: call .store() (or .into_inner() to only read it)"]
pub struct Loaded<'a, 'info, T: ProgramAccount> {
    info: &'a AccountInfo<'info>,
    value: T,
}

impl<T: ProgramAccount> Loaded<'_, '_, T> {
    /// Writes the account back.
    pub fn store(self) -> Result<()> {
        store(self.info, &self.value)
    }

    /// The value, for a caller that only reads it.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T: ProgramAccount> Deref for Loaded<'_, '_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: ProgramAccount> DerefMut for Loaded<'_, '_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// Loads `target`, a PDA of `T`'s program, first creating it from `make()` if it does not
/// exist yet.
pub fn load_or_create<'a, 'info, T: ProgramAccount>(
    payer: &AccountInfo<'info>,
    target: &'a AccountInfo<'info>,
    system: &AccountInfo<'info>,
    space: usize,
    seeds: &[&[u8]],
    make: impl FnOnce() -> T,
) -> Result<Loaded<'a, 'info, T>> {
    let value = if target.data_is_empty() {
        let value = make();
        create(payer, target, system, space, seeds, &value)?;
        value
    } else {
        load(target)?
    };
    Ok(Loaded {
        info: target,
        value,
    })
}

/// Reads an account of `T`'s program, checking owner and discriminator.
pub fn load<T: AccountDeserialize + Owner>(info: &AccountInfo) -> Result<T> {
    let program = T::owner();
    if *info.owner != program {
        return Err(
            error!(ErrorCode::AccountOwnedByWrongProgram).with_pubkeys((*info.owner, program))
        );
    }
    let data = info.try_borrow_data()?;
    T::try_deserialize(&mut &data[..])
}

/// Writes an account (discriminator and data).
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
