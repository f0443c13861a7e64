//! Bounded fuzzing of instruction data through each program's own dispatcher: for every
//! instruction in the committed IDL, its discriminator followed by arbitrary bytes (and
//! arbitrary bytes alone) must come back as an error, never a panic. No accounts are passed,
//! so nothing can succeed; what is exercised is everything the program does with the data
//! before it looks at an account: matching the discriminator and decoding the arguments.
use anchor_lang::error::ErrorCode;
use anchor_lang::prelude::{AccountInfo, ProgramError, Pubkey};
use anchor_lang::solana_program::entrypoint::ProgramResult;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// A program's entry point and its IDL.
pub struct Program {
    pub name: &'static str,
    pub id: Pubkey,
    pub idl: &'static str,
    pub entry: for<'a> fn(&'a Pubkey, &'a [AccountInfo<'a>], &'a [u8]) -> ProgramResult,
}

pub fn media_network() -> Program {
    Program {
        name: "media-network",
        id: media_network::ID,
        idl: include_str!("../../idl/media_network.json"),
        entry: media_network::entry,
    }
}

pub fn media_governance() -> Program {
    Program {
        name: "media-governance",
        id: media_governance::ID,
        idl: include_str!("../../idl/media_governance.json"),
        entry: media_governance::entry,
    }
}

/// Every instruction's name and 8-byte discriminator, as the IDL lists them.
pub fn instructions(idl: &str) -> Vec<(String, Vec<u8>)> {
    let idl: serde_json::Value = serde_json::from_str(idl).expect("the committed IDL parses");
    idl["instructions"]
        .as_array()
        .expect("an IDL lists instructions")
        .iter()
        .map(|i| {
            let name = i["name"].as_str().unwrap_or_default().to_string();
            let discriminator = i["discriminator"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .filter_map(|b| b.as_u64())
                        .map(|b| b as u8)
                        .collect()
                })
                .unwrap_or_default();
            (name, discriminator)
        })
        .collect()
}

/// Runs `cases` random inputs through `program`'s dispatcher; panics (failing the test) on
/// the first input that panics the program or that it accepts.
pub fn instruction_data_is_refused_without_panics(program: &Program, cases: u32) {
    let known = instructions(program.idl);
    assert!(
        !known.is_empty(),
        "{}: the IDL lists no instructions",
        program.name
    );
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0..=known.len(), vec(any::<u8>(), 0..512));
    let seen = std::sync::Mutex::new(std::collections::BTreeSet::new());
    runner
        .run(&strategy, |(which, tail)| {
            let (name, mut data) = match known.get(which) {
                Some((name, discriminator)) => (name.as_str(), discriminator.clone()),
                None => ("(no discriminator)", Vec::new()),
            };
            data.extend_from_slice(&tail);
            let outcome = std::panic::catch_unwind(|| (program.entry)(&program.id, &[], &data));
            prop_assert!(
                outcome.is_ok(),
                "{}::{name} panicked on {data:?}",
                program.name
            );
            let refused = outcome.unwrap_or(Ok(()));
            prop_assert!(
                refused.is_err(),
                "{}::{name} accepted {data:?} without accounts",
                program.name
            );
            if let Err(ProgramError::Custom(code)) = refused {
                seen.lock().unwrap_or_else(|e| e.into_inner()).insert(code);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    // The inputs reached each stage: unknown discriminators, arguments that did not decode,
    // and arguments that decoded and then found no accounts.
    let seen = seen.into_inner().unwrap_or_else(|e| e.into_inner());
    for (code, stage) in [
        (ErrorCode::InstructionFallbackNotFound, "discriminator"),
        (ErrorCode::InstructionDidNotDeserialize, "argument decoding"),
        (ErrorCode::AccountNotEnoughKeys, "account checks"),
    ] {
        assert!(
            seen.contains(&(code as u32)),
            "{}: no input reached the {stage} stage (codes seen: {seen:?})",
            program.name
        );
    }
}
