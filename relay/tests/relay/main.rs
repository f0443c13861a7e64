//! The relay over real sockets: a real origin HTTP server on 127.0.0.1, the relay in front of
//! it, viewers (the client library or raw HTTP) in front of that.
mod crash;
mod discovery;
mod edge;
mod fixtures;
mod hls;
mod hls_failover;
mod hostile;
mod metering;
mod network;
mod open_network;
mod paid;
mod peers;
mod proxy;
