//! The keeper against an in-process localnet over JSON-RPC: ingest, settlement, several
//! keepers, an RPC outage, SIGKILLs.
mod cranks;
mod fixtures;
mod ingest;
mod settlement;
