//! The relay over real sockets: a real origin HTTP server on 127.0.0.1, the relay in front of
//! it, viewers (the client library or raw HTTP) in front of that.
mod crash;
mod fixtures;
mod hls;
mod hostile;
mod metering;
mod network;
mod open_network;
mod paid;
mod peers;
mod proxy;
