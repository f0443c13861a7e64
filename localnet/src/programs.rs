//! Registering the Media Network programs with solana-program-test, natively (their Rust
//! entry points as builtins) unless `SBF_OUT_DIR`/`BPF_OUT_DIR` points at SBF builds.
use anchor_lang::prelude::{AccountInfo, Pubkey};
use anchor_lang::solana_program::entrypoint::ProgramResult;
use solana_program_test::{processor, ProgramTest};

/// Anchor 1.x ties the three entry arguments to one lifetime, while program-test hands them
/// with independent ones; the copies are leaked, which a test or localnet process can afford.
macro_rules! native_entry {
    ($name:ident, $program:ident) => {
        fn $name<'a, 'b, 'c, 'd>(
            program_id: &'a Pubkey,
            accounts: &'b [AccountInfo<'c>],
            data: &'d [u8],
        ) -> ProgramResult {
            let program_id: &'c Pubkey = Box::leak(Box::new(*program_id));
            let accounts: &'c [AccountInfo<'c>] = Box::leak(accounts.to_vec().into_boxed_slice());
            let data: &'c [u8] = Box::leak(data.to_vec().into_boxed_slice());
            $program::entry(program_id, accounts, data)
        }
    };
}

native_entry!(media_network_entry, media_network);
native_entry!(media_governance_entry, media_governance);

/// A ProgramTest with both Media Network programs.
pub fn program_test() -> ProgramTest {
    let mut program_test = ProgramTest::new(
        "media_network",
        media_network::ID,
        processor!(media_network_entry),
    );
    program_test.add_program(
        "media_governance",
        media_governance::ID,
        processor!(media_governance_entry),
    );
    program_test
}
