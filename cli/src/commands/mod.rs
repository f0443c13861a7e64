//! One module per command or command family: each holds its `clap` arguments and a `run`
//! that takes the shared `Ctx` and prints its own report.
pub mod airdrop;
pub mod claim;
pub mod consumer;
pub mod demo;
pub mod epoch;
pub mod gateway;
pub mod gov;
pub mod ingest;
pub mod keygen;
pub mod lane;
pub mod localnet;
pub mod provider;
pub mod relay;
pub mod stake;
pub mod status;
pub mod viewer;
