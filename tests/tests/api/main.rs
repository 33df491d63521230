//! The HTTP API against a real server on port 0 over a real sled store, and the `lodestone`
//! binary as a child process for configuration, graceful shutdown and crash recovery.

mod admin;
mod config;
mod cors;
mod crash;
mod events;
mod leads;
mod ops;
