pub mod accept_authority;
pub mod accrue_rewards;
pub mod advance_epoch;
pub mod authority_only;
pub mod bid_buyback;
pub mod burn_fees;
pub mod buyback_crank;
pub mod cancel_unstake;
pub mod claim_fees;
pub mod claim_rewards;
pub mod close_buyback;
pub mod close_lane;
pub mod consumer_owner;
pub mod deactivate_consumer;
pub mod deactivate_provider;
pub mod deposit_fees;
pub mod expire_rewards;
pub mod initialize;
pub mod lock_stake;
pub mod open_lane;
pub mod payout;
pub mod propose_authority;
pub mod register_consumer;
pub mod register_provider;
pub mod request_fee_withdrawal;
pub mod request_unstake;
pub mod rotate_node_key;
pub mod set_guardian;
pub mod set_paused;
pub mod set_receipt_signer;
pub mod settle_receipt;
pub mod stake;
pub mod start_buyback;
pub mod update_consumer;
pub mod update_params;
pub mod update_provider;
pub mod withdraw;
pub mod withdraw_fees;

// Each module's `handler` is called by path from lib.rs; the globs export the Accounts structs
// and argument types that `#[program]` expects at the crate root.
#[allow(ambiguous_glob_reexports)]
pub use accept_authority::*;
#[allow(ambiguous_glob_reexports)]
pub use accrue_rewards::*;
#[allow(ambiguous_glob_reexports)]
pub use advance_epoch::*;
#[allow(ambiguous_glob_reexports)]
pub use authority_only::*;
#[allow(ambiguous_glob_reexports)]
pub use bid_buyback::*;
#[allow(ambiguous_glob_reexports)]
pub use burn_fees::*;
#[allow(ambiguous_glob_reexports)]
pub use buyback_crank::*;
#[allow(ambiguous_glob_reexports)]
pub use cancel_unstake::*;
#[allow(ambiguous_glob_reexports)]
pub use claim_fees::*;
#[allow(ambiguous_glob_reexports)]
pub use claim_rewards::*;
#[allow(ambiguous_glob_reexports)]
pub use close_lane::*;
#[allow(ambiguous_glob_reexports)]
pub use consumer_owner::*;
#[allow(ambiguous_glob_reexports)]
pub use deactivate_consumer::*;
#[allow(ambiguous_glob_reexports)]
pub use deactivate_provider::*;
#[allow(ambiguous_glob_reexports)]
pub use deposit_fees::*;
#[allow(ambiguous_glob_reexports)]
pub use expire_rewards::*;
#[allow(ambiguous_glob_reexports)]
pub use initialize::*;
#[allow(ambiguous_glob_reexports)]
pub use lock_stake::*;
#[allow(ambiguous_glob_reexports)]
pub use open_lane::*;
#[allow(ambiguous_glob_reexports)]
pub use register_consumer::*;
#[allow(ambiguous_glob_reexports)]
pub use register_provider::*;
#[allow(ambiguous_glob_reexports)]
pub use request_unstake::*;
#[allow(ambiguous_glob_reexports)]
pub use rotate_node_key::*;
#[allow(ambiguous_glob_reexports)]
pub use set_paused::*;
#[allow(ambiguous_glob_reexports)]
pub use settle_receipt::*;
#[allow(ambiguous_glob_reexports)]
pub use stake::*;
pub use update_consumer::*;
#[allow(ambiguous_glob_reexports)]
pub use update_provider::*;
#[allow(ambiguous_glob_reexports)]
pub use withdraw::*;
#[allow(ambiguous_glob_reexports)]
pub use withdraw_fees::*;

#[cfg(test)]
mod tests {
    /// Every handler whose accounts take Config mutably ends by checking `Config::invariant`
    /// (on each of its successful returns), so a new instruction cannot forget it.
    #[test]
    fn every_handler_that_changes_config_checks_its_invariant() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/instructions");
        let shared_accounts = ["AuthorityOnly", "BuybackCrank"];
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            let Some(start) = source.find("pub fn handler(") else {
                continue;
            };
            let handler = &source[start..];
            let handler = &handler[..handler.find("\n}\n").unwrap()];
            let takes_mut_config = source.split("#[account(").skip(1).any(|attr| {
                let (attr, rest) = attr.split_once(")]").unwrap_or((attr, ""));
                attr.contains("mut") && rest.trim_start().starts_with("pub config:")
            }) || shared_accounts
                .iter()
                .any(|s| handler.contains(&format!("Context<{s}>")));
            if !takes_mut_config {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                handler.trim_end().ends_with(".invariant()") || name == "initialize.rs",
                "{name}: the handler changes Config but does not end with its invariant check"
            );
            assert!(
                !handler.contains("return Ok("),
                "{name}: a successful early return skips Config::invariant"
            );
            checked += 1;
        }
        assert!(
            checked >= 19,
            "only {checked} handlers found: the scan is broken"
        );
    }
}
