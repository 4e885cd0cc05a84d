//! The chat protocol, tested against the real `server` and `client`
//! binaries. Every test starts its own processes on port 0 and loopback,
//! and waits for what it expects with a deadline: none of them sleeps to
//! synchronise.
//!
//! Run one side with `cargo test --test chat server::` (or `client::`). To
//! test another implementation of the protocol, name its executables:
//! `CHAT_SERVER_EXE=./my_server CHAT_CLIENT_EXE=./my_client cargo test --test chat`.

mod client;
mod end_to_end;
mod failure;
mod inbox;
mod peer;
mod procfs;
mod procs;
mod server;
mod terminal;
