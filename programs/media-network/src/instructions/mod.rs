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
#[allow(ambiguous_glob_reexports)]
pub use update_provider::*;
#[allow(ambiguous_glob_reexports)]
pub use withdraw::*;
#[allow(ambiguous_glob_reexports)]
pub use withdraw_fees::*;
