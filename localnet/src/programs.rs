//! Registering the Media Network programs with solana-program-test, natively (their Rust
//! entry points as builtins) unless `SBF_OUT_DIR`/`BPF_OUT_DIR` points at SBF builds.
use anchor_lang::prelude::{AccountInfo, Pubkey};
use anchor_lang::solana_program::entrypoint::ProgramResult;
use solana_program_test::{processor, ProgramTest};

/// Anchor 1.x ties the three entry arguments to one lifetime, while program-test hands them
/// with independent ones. Earlier versions leaked a copy of each per instruction, so every
/// simulation and preflight grew the process for good (review M10); now the references are
/// only re-labelled for the duration of the call.
macro_rules! native_entry {
    ($name:ident, $program:ident) => {
        fn $name<'a, 'b, 'c, 'd>(
            program_id: &'a Pubkey,
            accounts: &'b [AccountInfo<'c>],
            data: &'d [u8],
        ) -> ProgramResult {
            // SAFETY: all three outlive this call, and the entry point keeps no reference to
            // them past its return (Anchor's dispatch borrows them for the instruction only; a
            // program cannot store an AccountInfo anywhere that outlives the instruction).
            // Only the lifetime parameters change; layout and contents are untouched.
            let (program_id, accounts, data) = unsafe {
                (
                    std::mem::transmute::<&'a Pubkey, &'c Pubkey>(program_id),
                    std::mem::transmute::<&'b [AccountInfo<'c>], &'c [AccountInfo<'c>]>(accounts),
                    std::mem::transmute::<&'d [u8], &'c [u8]>(data),
                )
            };
            let _inside = InsideNativeProgram::enter();
            $program::entry(program_id, accounts, data)
        }
    };
}

thread_local! {
    /// How deep this thread is in natively run program entries (CPIs nest them).
    static NATIVE_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Marks this thread as running a native program's instruction until dropped.
struct InsideNativeProgram;

impl InsideNativeProgram {
    fn enter() -> Self {
        NATIVE_DEPTH.with(|depth| depth.set(depth.get().saturating_add(1)));
        InsideNativeProgram
    }
}

impl Drop for InsideNativeProgram {
    fn drop(&mut self) {
        NATIVE_DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// Where `msg!` goes off-chain (`solana_msg::set_off_chain_logger`). Inside a native
/// program's instruction it joins that instruction's logs through program-test's syscall
/// stub; anywhere else (a `msg!` in client code on another thread) the stub has no
/// instruction to log into (it would read a stale invoke context), so the line goes to stdout
/// as solana-msg prints it by default.
pub fn program_log(message: &str) {
    if inside_native_program() {
        solana_sysvar::program_stubs::sol_log(message);
    } else {
        println!("{message}");
    }
}

/// Where Anchor's `emit!` goes off-chain (`solana_msg::set_off_chain_data_logger`): inside a
/// native program's instruction, into its logs as `Program data: …` (what anchor-client's
/// `on` and web3.js's event listeners parse); anywhere else nowhere, as Anchor drops it
/// off-chain.
pub fn program_data(fields: &[&[u8]]) {
    if inside_native_program() {
        solana_sysvar::program_stubs::sol_log_data(fields);
    }
}

fn inside_native_program() -> bool {
    NATIVE_DEPTH.with(std::cell::Cell::get) > 0
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

/// The ProgramData address of an upgradeable program.
pub fn program_data_address(program_id: &Pubkey) -> Pubkey {
    use anchor_lang::solana_program::bpf_loader_upgradeable;
    Pubkey::find_program_address(&[program_id.as_ref()], &bpf_loader_upgradeable::ID).0
}

/// A ProgramData account as the upgradeable loader writes it (bincode: variant 3, slot,
/// Option<Pubkey>), without program bytes: natively loaded programs have none, but
/// `initialize` reads the upgrade authority from it.
pub fn program_data_account(upgrade_authority: Option<Pubkey>) -> solana_account::Account {
    use anchor_lang::solana_program::bpf_loader_upgradeable;
    let mut data = vec![3, 0, 0, 0];
    data.extend_from_slice(&0u64.to_le_bytes());
    match upgrade_authority {
        Some(key) => {
            data.push(1);
            data.extend_from_slice(key.as_ref());
        }
        None => data.push(0),
    }
    solana_account::Account {
        lamports: 1_000_000_000,
        data,
        owner: bpf_loader_upgradeable::ID,
        executable: false,
        rent_epoch: 0,
    }
}

/// Records `upgrade_authority` as the upgrade authority of both programs, as an upgradeable
/// deployment would.
pub fn set_upgrade_authority(program_test: &mut ProgramTest, upgrade_authority: Option<Pubkey>) {
    for program_id in [media_network::ID, media_governance::ID] {
        program_test.add_account(
            program_data_address(&program_id),
            program_data_account(upgrade_authority),
        );
    }
}
