//! Off-chain code shared by the CLI, keeper, relay and tests: PDA derivation, instruction
//! builders and account decoding for the Media Network programs, and (feature `client`) a
//! JSON-RPC view of a cluster.
#[cfg(feature = "client")]
pub mod api;
pub mod client;
pub mod clock;
pub mod decode;
pub mod discovery;
pub mod gov;
pub mod ix;
pub mod pda;
pub mod receipt;
pub mod session;
pub mod settlement;

pub use media_governance;
pub use media_network;
pub use media_network::ID as MEDIA_NETWORK_ID;
