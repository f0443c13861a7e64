pub mod accept_network_authority;
pub mod cancel_proposal;
pub mod cast_vote;
pub mod create_proposal;
pub mod execute_proposal;
pub mod finalize_proposal;
pub mod initialize_governance;

// Each module's `handler` is called by path from lib.rs; the globs export the Accounts structs
// that `#[program]` expects at the crate root.
#[allow(ambiguous_glob_reexports)]
pub use accept_network_authority::*;
#[allow(ambiguous_glob_reexports)]
pub use cancel_proposal::*;
#[allow(ambiguous_glob_reexports)]
pub use cast_vote::*;
#[allow(ambiguous_glob_reexports)]
pub use create_proposal::*;
#[allow(ambiguous_glob_reexports)]
pub use execute_proposal::*;
#[allow(ambiguous_glob_reexports)]
pub use finalize_proposal::*;
#[allow(ambiguous_glob_reexports)]
pub use initialize_governance::*;
