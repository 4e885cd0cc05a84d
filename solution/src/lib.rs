//! The epoll chat lab: a group chat whose server and client each wait on
//! many descriptors at once with epoll.
//!
//! - [`w_epoll`]: the wrappers around `epoll_ctl` (add, remove, switch
//!   EPOLLOUT), each returning what `epoll_ctl` returned.
//! - [`client`]: watches standard input and the socket.
//! - [`server`]: watches the listening socket and every client.
//! - [`sys`], [`framing`], [`protocol`], [`cli`]: the helpers they share:
//!   turning `-1` into errors, cutting a byte stream into lines, the
//!   protocol's constants and message format, the command lines.
//!
//! The binaries `server` and `client` only parse their arguments and call
//! [`server::run`] and [`client::run`].
//!
//! Lab 2, the room, reuses the helpers and adds:
//!
//! - [`room`]: `room`, a server with a helper process per client
//!   (`room-helper`), pipes, shared memory, signals and idle timers;
//! - [`select_client`]: `select-client`, the client written with `select()`.

pub mod cli;
pub mod client;
pub mod framing;
pub mod protocol;
pub mod room;
pub mod select_client;
pub mod server;
pub mod sys;
pub mod w_epoll;
