//! The chat protocol, tested against the real `server` and `client`
//! binaries. Every test starts its own processes on port 0 and loopback,
//! and waits for what it expects with a deadline: none of them sleeps to
//! synchronise.
//!
//! The vocabulary comes from the harness crate (`harness/`), which the
//! grader uses too: raw TCP peers, inboxes waited on with deadlines, `/proc`
//! readers, and one scenario function per rule of the protocol
//! (`harness/src/rules.rs`). A test returns `Result<(), Failed>`: when it
//! fails, it prints what was expected and seen, the steps taken, what each
//! peer received, how each process is doing with the end of its stderr,
//! and the TODO most likely at fault.
//!
//! Run one side with `cargo test --test chat server::` (or `client::`). To
//! test another implementation of the protocol, name its executables:
//! `CHAT_SERVER_EXE=./my_server CHAT_CLIENT_EXE=./my_client cargo test --test chat`.

mod client;
mod end_to_end;
mod failure;
mod procs;
mod server;
mod terminal;
