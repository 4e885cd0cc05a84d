//! Lab 2, the room, tested against the real `room`, `room-helper` and
//! `select-client` binaries.
//!
//! - [`lab1`]: lab 1's server rules (`harness::rules`), unchanged, against
//!   `room`: a client cannot tell the two servers apart.
//! - [`mechanisms`]: what lab 2 is about, seen from outside through `/proc`
//!   and `/dev/shm`: a helper per client with the socket's number on its
//!   command line, descriptor hygiene, reaping, idle timers, the ring of
//!   slots, SIGTERM.
//! - [`select_client`]: `select-client` waits in `select`, never in epoll,
//!   and behaves like lab 1's client.
//!
//! Every test starts its own room on port 0 and waits for what it expects
//! with a deadline; none sleeps to synchronise. To run them against another
//! implementation: `CHAT_ROOM_EXE=... CHAT_SELECT_CLIENT_EXE=... cargo test
//! --test room` (its `room-helper` must lie next to its `room`).

mod lab1;
mod mechanisms;
mod procs;
mod select_client;
