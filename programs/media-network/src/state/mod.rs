mod config;
mod params;
mod provider;
mod stake;

pub use config::*;
pub use params::*;
pub use provider::*;
pub use stake::*;
