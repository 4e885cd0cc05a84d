//! The chat protocol's test vocabulary, shared by the lab's own tests and
//! by its grader, so that a protocol rule is tested by one function.
//!
//! - [`rules`]: one scenario function per rule of the protocol, run against
//!   a server listening on a port, and [`rules::client`]: one per rule of
//!   the client, run against a client on a terminal or on pipes: what both
//!   the tests and the grader's checks call.
//! - [`Context`]: what one test runs in (deadlines, steps, transcripts);
//!   [`Peer`] and [`FakeServer`]: raw TCP peers that log their steps in it;
//!   [`Inbox`]: bytes that arrive, waited for with a deadline, never by
//!   sleeping.
//! - [`Failure`]: what every step returns when it goes wrong: what was
//!   expected, what was seen, the steps and the transcripts.
//! - [`room`]: lab 2's room as `/proc` shows it (helpers, pipes, shared
//!   memory, zombies) and its mechanisms as scenario functions.
//! - [`procfs`]: what `/proc` shows of a process under test; [`process`]:
//!   its readiness line, its input, its exit status; [`net`]: socket
//!   options the standard library lacks.
//!
//! The lab's crate depends on `libc` only, and so does this one: the
//! students' copy builds offline.

pub mod context;
pub mod failure;
pub mod inbox;
pub mod net;
pub mod peer;
pub mod process;
pub mod procfs;
pub mod room;
pub mod rules;
pub mod show;

pub use context::Context;
pub use failure::{Failure, Outcome};
pub use inbox::{Inbox, Look};
pub use peer::{FakeServer, Peer, PeerOptions, Peers};
pub use show::show;
