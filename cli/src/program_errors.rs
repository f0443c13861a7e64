//! Names a failed instruction's custom error from the programs' IDLs, so a user reads
//! `InsufficientStake: …` instead of `custom program error: 0x1771`.
use anchor_lang::prelude::Pubkey;
use serde::Deserialize;
use solana_transaction::{InstructionError, TransactionError};
use std::sync::OnceLock;

#[derive(Deserialize)]
struct Idl {
    errors: Vec<IdlError>,
}

#[derive(Deserialize)]
struct IdlError {
    code: u32,
    name: String,
    msg: String,
}

fn errors_of(program: &Pubkey) -> Option<&'static [IdlError]> {
    static NETWORK: OnceLock<Vec<IdlError>> = OnceLock::new();
    static GOVERNANCE: OnceLock<Vec<IdlError>> = OnceLock::new();
    let parse = |text: &str| {
        serde_json::from_str::<Idl>(text)
            .map(|idl| idl.errors)
            .unwrap_or_default()
    };
    if *program == media_network::ID {
        Some(NETWORK.get_or_init(|| parse(include_str!("../../idl/media_network.json"))))
    } else if *program == media_governance::ID {
        Some(GOVERNANCE.get_or_init(|| parse(include_str!("../../idl/media_governance.json"))))
    } else {
        None
    }
}

/// `Name (code): message` for a custom error of one of the Media Network programs;
/// `programs[i]` is the program of the transaction's instruction `i`.
pub fn describe(err: &TransactionError, programs: &[Pubkey]) -> Option<String> {
    let TransactionError::InstructionError(index, InstructionError::Custom(code)) = err else {
        return None;
    };
    let program = programs.get(usize::from(*index))?;
    let errors = errors_of(program)?;
    if let Some(found) = errors.iter().find(|e| e.code == *code) {
        return Some(format!("{} ({}): {}", found.name, found.code, found.msg));
    }
    // The account helpers both programs share number their errors from 9000.
    let shared = [media_pda::PdaError::AccountAlreadyExists];
    let found = shared.into_iter().find(|e| u32::from(*e) == *code)?;
    Some(format!("{found:?} ({code}): {found}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use media_network::errors::MediaError;

    #[test]
    fn custom_codes_are_named_per_program() {
        let code = u32::from(MediaError::InsufficientActiveStake);
        let err = TransactionError::InstructionError(1, InstructionError::Custom(code));
        let named = describe(&err, &[Pubkey::default(), media_network::ID]).unwrap();
        assert!(named.starts_with("InsufficientActiveStake ("), "{named}");
        assert_eq!(describe(&err, &[media_network::ID]), None);
        assert_eq!(
            describe(&err, &[Pubkey::default(), Pubkey::default()]),
            None
        );
        // Both programs number from 6000: the instruction's program decides the name.
        let first = TransactionError::InstructionError(0, InstructionError::Custom(6000));
        let network = describe(&first, &[media_network::ID]).unwrap();
        let governance = describe(&first, &[media_governance::ID]).unwrap();
        assert!(network.contains("initialize the protocol"), "{network}");
        assert!(governance.contains("governance program"), "{governance}");
        // The shared account helpers' errors read the same from either program.
        let exists = u32::from(media_pda::PdaError::AccountAlreadyExists);
        let err = TransactionError::InstructionError(0, InstructionError::Custom(exists));
        for program in [media_network::ID, media_governance::ID] {
            let named = describe(&err, &[program]).unwrap();
            assert!(
                named.starts_with("AccountAlreadyExists (9000): "),
                "{named}"
            );
        }
    }
}
