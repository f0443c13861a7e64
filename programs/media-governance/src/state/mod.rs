mod action;
pub(crate) mod gov_config;
mod proposal;

pub use action::*;
pub use gov_config::*;
pub use proposal::*;
