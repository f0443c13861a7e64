pub mod accept_authority;
pub mod authority_only;
pub mod cancel_unstake;
pub mod deactivate_provider;
pub mod initialize;
pub mod propose_authority;
pub mod register_provider;
pub mod request_unstake;
pub mod set_guardian;
pub mod set_paused;
pub mod stake;
pub mod update_params;
pub mod update_provider;
pub mod withdraw;

// Each module's `handler` is called by path from lib.rs; the globs export the Accounts structs
// and argument types that `#[program]` expects at the crate root.
#[allow(ambiguous_glob_reexports)]
pub use accept_authority::*;
#[allow(ambiguous_glob_reexports)]
pub use authority_only::*;
#[allow(ambiguous_glob_reexports)]
pub use cancel_unstake::*;
#[allow(ambiguous_glob_reexports)]
pub use deactivate_provider::*;
#[allow(ambiguous_glob_reexports)]
pub use initialize::*;
#[allow(ambiguous_glob_reexports)]
pub use register_provider::*;
#[allow(ambiguous_glob_reexports)]
pub use request_unstake::*;
#[allow(ambiguous_glob_reexports)]
pub use set_paused::*;
#[allow(ambiguous_glob_reexports)]
pub use stake::*;
#[allow(ambiguous_glob_reexports)]
pub use update_provider::*;
#[allow(ambiguous_glob_reexports)]
pub use withdraw::*;
