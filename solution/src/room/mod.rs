// LAB 2: the room (lab-docs/room.md)
//! Lab 2, the room: the chat of lab 1, served by a process per client.
//!
//! `room [--idle SECS] [PORT]` speaks the same protocol as lab 1's server
//! (`lab-docs/protocol.md`, plus its section "Lab 2: the room"), so a client
//! cannot tell them apart; inside, the work is split across processes:
//!
//! ```text
//!             epoll: listener, self-pipe, one pipe per helper
//!                  +--------------------------+
//!   clients ---->  |  room (parent.rs)         |  shared memory:
//!                  |  accept, fork+exec,       |  /dev/shm/chat-room-PID
//!                  |  slots, signals, timers   |  a ring of SLOTS messages
//!                  +--------------------------+      ^ write     ^ read
//!                    | orders  ^ reports              |           |
//!                    v (pipe)  | (pipe)               |           |
//!                  +--------------------------+       |           |
//!   client A <-->  |  room-helper (helper.rs)  | -------------------+
//!                  |  poll: socket + pipe      |   (one per client)
//!                  +--------------------------+
//! ```
//!
//! - [`parent`]: the room. One thread, one epoll set. For each client it
//!   starts a helper ([`spawn`]: two pipes, `fork`, `execv` with the
//!   descriptor numbers as arguments). It writes each message once into a
//!   slot of a ring in shared memory ([`shm`]) and sends the slot's number
//!   to the other helpers; a slot is free again once every one of them has
//!   acked it.
//! - [`helper`]: `room-helper FD PIPE_IN PIPE_OUT`, one per client: frames
//!   its client's lines for the room, copies the room's messages into its
//!   own outbox and writes them to its client, with `poll`.
//! - [`records`]: what goes through the pipes.
//! - [`signals`]: SIGCHLD, SIGTERM and SIGINT reach the epoll loop through a
//!   self-pipe: the handler writes a byte, the loop does the work.
//!
//! Idle users (`--idle SECS`) are disconnected on time with timers that the
//! room keeps itself: each user's deadline in an ordered set (a `BTreeSet`
//! of (deadline, user)), and `epoll_wait`'s timeout set to the nearest one,
//! so the loop wakes exactly when something is due, and never otherwise.
//! SIGALRM is not used: the alternative, an `alarm`/`setitimer` armed for
//! the nearest deadline and caught through the self-pipe, needs the same
//! sorted deadlines plus re-arming the timer whenever the nearest one
//! changes, and interrupts the program once more.
//!
//! What the room does not do that lab 1's server does: it has no flow
//! control towards slow *readers*. Lab 1 stops reading senders while
//! readers are far behind; here each helper queues for its own client, up
//! to the same 1 MiB, and the room stops the senders only while its ring is
//! full, that is while helpers are slow to *copy* (see [`parent`]).

pub mod helper;
pub mod parent;
pub mod records;
pub mod shm;
pub mod signals;
pub mod spawn;
