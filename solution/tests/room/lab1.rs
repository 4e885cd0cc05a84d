//! Lab 1's server rules, unchanged, against the room: the protocol is the
//! same, so every rule that does not look inside the server holds.
//!
//! Left out, because they look at how lab 1's server is built rather than
//! at what it does: `one_thread` (every client socket in the server's epoll
//! set: the room holds none, its helpers do), `slow_reader` and
//! `epollout_off` (they wait for EPOLLOUT in the server's interest list:
//! here the helpers write, and they use poll), and `emfile` (its
//! arithmetic counts one descriptor per client; the room holds two pipes
//! per client).

use harness::rules;

use crate::procs::{Room, run};

macro_rules! rules_against_the_room {
    ($($rule:ident),* $(,)?) => {
        $(
            #[test]
            fn $rule() {
                run(|c| {
                    let room = Room::start(c, &[])?;
                    rules::$rule(c, &room)
                });
            }
        )*
    };
}

rules_against_the_room![
    join,
    broadcast,
    tag,
    empty_and_cr,
    leave,
    split,
    merged,
    long_line,
    partial_leave,
    reset,
    fifty,
    burst,
    slow_consumer,
    idle_cpu,
    fd_leak,
];
