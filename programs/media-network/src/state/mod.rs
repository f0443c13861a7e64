mod buyback;
mod config;
mod consumer;
mod epoch;
mod keeper;
mod lane;
mod params;
mod provider;
mod stake;

pub use buyback::*;
pub use config::*;
pub use consumer::*;
pub use epoch::*;
pub use keeper::*;
pub use lane::*;
pub use params::*;
pub use provider::*;
pub use stake::*;
