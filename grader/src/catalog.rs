//! The check table: every check the grader runs, as data. `grader --list`,
//! every report and the lab text read this table; adding a check is adding
//! an entry here and writing its function.

use crate::checks::{client, room, server};
use crate::context::{CheckContext, Outcome};
use crate::model::Part;

/// One check.
#[derive(Debug)]
pub struct Check {
    /// `part/name`, stable: reports, CI templates and the lab text use it.
    pub name: &'static str,
    pub part: Part,
    pub points: u32,
    /// What is tested, in one line.
    pub description: &'static str,
    /// Where to look when it fails (student-facing).
    pub hint: &'static str,
    pub run: Run,
}

/// How a check runs.
#[derive(Debug, Clone, Copy)]
pub enum Run {
    /// The grader's copy of these tests of `tests/w_epoll.rs`, built against
    /// the submission's crate; the check passes when all of them pass.
    WrapperTests(&'static [&'static str]),
    /// A function that drives the submission's server or client.
    Live(fn(&CheckContext) -> Outcome),
}

/// A lab of the kit: which table of checks `grader --lab` grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lab {
    /// Lab 1, the chat: the wrapper, the client, the server ([`CHECKS`]).
    #[default]
    Chat,
    /// Lab 2, the room: `room` and `select-client` ([`ROOM_CHECKS`]).
    Room,
}

impl Lab {
    /// Its checks, in the order they are reported.
    pub fn checks(self) -> &'static [Check] {
        match self {
            Lab::Chat => CHECKS,
            Lab::Room => ROOM_CHECKS,
        }
    }

    /// Its parts, in the order of the lab.
    pub fn parts(self) -> &'static [Part] {
        match self {
            Lab::Chat => &[Part::Wrapper, Part::Client, Part::Server],
            Lab::Room => &[Part::Room, Part::SelectClient],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Lab::Chat => "chat",
            Lab::Room => "room",
        }
    }

    /// The lab whose table holds the check called `name`.
    pub fn of_check(name: &str) -> Option<Lab> {
        [Lab::Chat, Lab::Room]
            .into_iter()
            .find(|lab| lab.checks().iter().any(|check| check.name == name))
    }
}

/// Lab 1's checks, in the order they are reported.
pub static CHECKS: &[Check] = &[
    // The wrapper: TODOs 1 to 3.
    Check {
        name: "wrapper/add",
        part: Part::Wrapper,
        points: 2,
        description: "w_epoll_add_fd_in returns 0 and the descriptor is then reported readable, for input only",
        hint: "TODO 1: fill an epoll_event with EPOLLIN and the fd as its data (u64), and return what epoll_ctl(EPOLL_CTL_ADD) returns.",
        run: Run::WrapperTests(&[
            "add_returns_0_and_the_fd_is_reported_when_readable",
            "add_watches_for_input_only",
        ]),
    },
    Check {
        name: "wrapper/add-twice",
        part: Part::Wrapper,
        points: 1,
        description: "adding the same descriptor twice returns -1 with errno EEXIST",
        hint: "TODO 1: return epoll_ctl's result unchanged; do not hide its -1.",
        run: Run::WrapperTests(&["adding_the_same_fd_twice_fails_with_eexist"]),
    },
    Check {
        name: "wrapper/del",
        part: Part::Wrapper,
        points: 2,
        description: "after w_epoll_del_fd the descriptor is no longer reported",
        hint: "TODO 2: call epoll_ctl with EPOLL_CTL_DEL (a null event pointer is fine).",
        run: Run::WrapperTests(&["after_delete_the_fd_is_no_longer_reported"]),
    },
    Check {
        name: "wrapper/del-missing",
        part: Part::Wrapper,
        points: 1,
        description: "deleting a descriptor that is not registered returns -1 with errno ENOENT",
        hint: "TODO 2: return epoll_ctl's result unchanged.",
        run: Run::WrapperTests(&["deleting_an_fd_that_is_not_registered_fails_with_enoent"]),
    },
    Check {
        name: "wrapper/errors",
        part: Part::Wrapper,
        points: 1,
        description: "a bad epoll descriptor gives -1 with EBADF, one that is not an epoll instance EINVAL",
        hint: "TODOs 1 to 3: pass epfd through to epoll_ctl as given, and return its result.",
        run: Run::WrapperTests(&[
            "a_bad_epoll_fd_fails_with_ebadf",
            "a_descriptor_that_is_not_an_epoll_instance_fails_with_einval",
        ]),
    },
    Check {
        name: "wrapper/update",
        part: Part::Wrapper,
        points: 2,
        description: "update_fd_inout makes EPOLLOUT reported; update_fd_in stops it and keeps EPOLLIN",
        hint: "TODO 3: EPOLL_CTL_MOD with the events given, and the fd as the event's data.",
        run: Run::WrapperTests(&[
            "update_inout_reports_room_to_write_and_update_in_stops_it",
            "update_in_still_reports_input",
        ]),
    },
    Check {
        name: "wrapper/update-missing",
        part: Part::Wrapper,
        points: 1,
        description: "updating a descriptor that is not registered returns -1 with errno ENOENT",
        hint: "TODO 3: return epoll_ctl's result unchanged.",
        run: Run::WrapperTests(&["updating_an_fd_that_is_not_registered_fails_with_enoent"]),
    },
    // The client: TODOs 4 to 8.
    Check {
        name: "client/receive",
        part: Part::Client,
        points: 3,
        description: "lines from the server are printed while nothing is typed",
        hint: "TODOs 4 to 7: watch the socket and standard input in one epoll set, and wait in epoll_wait, not in a read of stdin; retry epoll_wait when it fails with EINTR (ErrorKind::Interrupted).",
        run: Run::Live(client::receive),
    },
    Check {
        name: "client/send",
        part: Part::Client,
        points: 3,
        description: "a typed line reaches the other clients with this client's tag",
        hint: "TODO 8: when standard input is ready, read it and send each complete line with its `\\n`.",
        run: Run::Live(client::send),
    },
    Check {
        name: "client/paste",
        part: Part::Client,
        points: 2,
        description: "200 lines pasted into the terminal at once all arrive, in order",
        hint: "TODO 8: handle every line a read returns, and keep an unfinished one for later.",
        run: Run::Live(client::paste),
    },
    Check {
        name: "client/exit",
        part: Part::Client,
        points: 3,
        description: "`exit` is not sent; the client closes the connection and exits with status 0",
        hint: "TODO 8: append what you read to `self.pending` and return `self.send_complete_lines()`: it sends each complete line and stops at a line `exit` (a `\\r` before its `\\n` allowed) without sending it.",
        run: Run::Live(client::exit),
    },
    Check {
        name: "client/eof",
        part: Part::Client,
        points: 2,
        description: "Ctrl-D (end of input) closes the connection and exits with status 0",
        hint: "TODO 8: a read of 0 bytes on standard input is the end of input.",
        run: Run::Live(client::eof),
    },
    Check {
        name: "client/server-close",
        part: Part::Client,
        points: 3,
        description: "when the server closes, the client prints `[SERVER] Connection closed.` and exits with status 0",
        hint: "TODO 7: a read of 0 bytes on the socket means the server closed it.",
        run: Run::Live(client::server_close),
    },
    Check {
        name: "client/raw-bytes",
        part: Part::Client,
        points: 2,
        description: "bytes from the server are printed unchanged, without waiting for a newline",
        hint: "TODO 7: call relay_from_server when the socket is ready; it writes exactly the bytes it read to stdout, and flushes.",
        run: Run::Live(client::raw_bytes),
    },
    Check {
        name: "client/one-thread",
        part: Part::Client,
        points: 2,
        description: "one thread, with an epoll instance that watches standard input and the socket",
        hint: "TODOs 4 and 5: one epoll instance with fd 0 and the socket; no threads.",
        run: Run::Live(client::one_thread),
    },
    Check {
        name: "client/idle-cpu",
        part: Part::Client,
        points: 2,
        description: "an idle client uses no CPU",
        hint: "TODO 6: epoll_wait with timeout -1 while standard input is watched.",
        run: Run::Live(client::idle_cpu),
    },
    Check {
        name: "client/refused",
        part: Part::Client,
        points: 2,
        description: "connecting to a closed port prints the reason on stderr and exits with status 1",
        hint: "TODO 4: return the connect error, wrapped by with_context, from Session::connect; main prints it and exits with status 1.",
        run: Run::Live(client::refused),
    },
    Check {
        name: "client/pipe",
        part: Part::Client,
        points: 4,
        description: "with a pipe as standard input, a burst of 500 lines arrives whole and in order",
        hint: "TODO 8: read fd 0 with the raw read (sys::read_fd), never through a buffered reader: epoll cannot see lines waiting in a buffer.",
        run: Run::Live(client::pipe),
    },
    Check {
        name: "client/file-input",
        part: Part::Client,
        points: 2,
        description: "with a regular file as standard input, its lines are sent and the client exits with status 0",
        hint: "TODO 5: epoll refuses a regular file with EPERM (ErrorKind::PermissionDenied): carry on with `stdin_watched = false`, and the loop reads it as always ready.",
        run: Run::Live(client::file_input),
    },
    // The server: TODOs 9 to 16.
    Check {
        name: "server/ready",
        part: Part::Server,
        points: 2,
        description: "`server 0` prints `listening on 0.0.0.0:PORT` with the port it got, and a client can connect at once",
        hint: "TODOs 9 and 10: once the epoll instance watches the listener, run() prints the readiness line (after listen(), with the real port, flushed); the server must then wait in epoll_wait, not exit.",
        run: Run::Live(server::ready),
    },
    Check {
        name: "server/join",
        part: Part::Server,
        points: 2,
        description: "a newcomer is announced as `[TAG] (connected)` to the others, not to itself",
        hint: "TODO 12: broadcast `[TAG] (connected)` before inserting the new client into the table. If the server exited once its first client was in (see its stderr), TODO 11: accept's WouldBlock means nobody else is waiting: return Ok, do not pass the error on.",
        run: Run::Live(server::join),
    },
    Check {
        name: "server/broadcast",
        part: Part::Server,
        points: 4,
        description: "a line reaches every other client as `[IP:PORT] TEXT`, and not its sender",
        hint: "TODOs 13 and 14: clear `self.messages`, format each complete line into it with the sender's tag, and queue it for every client except the sender: whatever is left in `self.messages` is sent again.",
        run: Run::Live(server::broadcast),
    },
    Check {
        name: "server/tag",
        part: Part::Server,
        points: 2,
        description: "the tag is the peer's real address, also for a peer connecting from 127.0.0.2",
        hint: "TODO 12: name a client by its peer address (getpeername, `peer_addr()`), not by the server's own address.",
        run: Run::Live(server::tag),
    },
    Check {
        name: "server/empty-and-cr",
        part: Part::Server,
        points: 2,
        description: "empty lines are forwarded, and a `\\r` before the `\\n` is dropped",
        hint: "TODO 13: pass on every line the inbox (`LineBuffer`) gives you, even an empty one; it already drops the `\\r` before the `\\n`.",
        run: Run::Live(server::empty_and_cr),
    },
    Check {
        name: "server/leave",
        part: Part::Server,
        points: 3,
        description: "a client that closes is announced as `[TAG] (disconnected)` to the others",
        hint: "TODOs 13 and 16: a read of 0 bytes means the client left; remove it, then broadcast `(disconnected)`.",
        run: Run::Live(server::leave),
    },
    Check {
        name: "server/split",
        part: Part::Server,
        points: 3,
        description: "a line sent in several pieces is forwarded once, whole",
        hint: "TODO 13: TCP is a byte stream. Keep each client's unfinished line in its input buffer and forward only complete lines.",
        run: Run::Live(server::split),
    },
    Check {
        name: "server/merged",
        part: Part::Server,
        points: 2,
        description: "several lines arriving in one read are forwarded as separate lines, in order",
        hint: "TODO 13: one read may hold many lines; forward each of them.",
        run: Run::Live(server::merged),
    },
    Check {
        name: "server/long-line",
        part: Part::Server,
        points: 2,
        description: "a 10000-byte line arrives in pieces of 4096, 4096 and 1808 bytes; 4096 bytes arrive whole",
        hint: "TODO 13: push every byte you read into the client's inbox (`client.inbox.push`): it holds at most 4096 bytes of an unfinished line and hands them over as a line of their own.",
        run: Run::Live(server::long_line),
    },
    Check {
        name: "server/partial-leave",
        part: Part::Server,
        points: 2,
        description: "an unfinished line is forwarded before the `(disconnected)` notice",
        hint: "TODO 16: before announcing the leave, forward what is left in the client's input buffer (`inbox.finish`). TODO 13: a client's last bytes and its end can come in one event: read once per event level-triggered (no EPOLLET), so that epoll reports the socket again and the read of 0 bytes comes; with EPOLLET you would have to read until WouldBlock.",
        run: Run::Live(server::partial_leave),
    },
    Check {
        name: "server/reset",
        part: Part::Server,
        points: 3,
        description: "a peer that resets its connection is dropped, and the server keeps serving the others",
        hint: "TODOs 13 and 15: a read or write error (ECONNRESET, EPIPE) on one client means that client is gone: remove it, never exit or panic.",
        run: Run::Live(server::reset),
    },
    Check {
        name: "server/fifty",
        part: Part::Server,
        points: 2,
        description: "50 clients at once: each one's line reaches the 49 others",
        hint: "TODOs 12 and 14: every client socket is in the one epoll set, and each line goes to every other client exactly once.",
        run: Run::Live(server::fifty),
    },
    Check {
        name: "server/burst",
        part: Part::Server,
        points: 3,
        description: "300 clients' lines ready at once, more than the event array holds, all arrive",
        hint: "TODO 10: epoll_wait fills at most MAX_EVENTS entries and returns how many: handle exactly events[..ready], never one more (what did not fit is reported by the next call).",
        run: Run::Live(server::burst),
    },
    Check {
        name: "server/emfile",
        part: Part::Server,
        points: 3,
        description: "out of descriptors, the server keeps serving without spinning, and accepts the waiting client once one leaves",
        hint: "TODO 11: when accept fails with EMFILE (`is_out_of_descriptors`), return `self.pause_accepting()`: the waiting connection keeps the listener readable, so epoll_wait would return at once, for ever. Any other accept error concerns that connection only: log it and go on.",
        run: Run::Live(server::emfile),
    },
    Check {
        name: "server/slow-consumer",
        part: Part::Server,
        points: 4,
        description: "a client that stops reading does not stall the others, and is dropped past 1 MiB queued",
        hint: "TODOs 12, 14 and 15: never block on a write. Client sockets are non-blocking (TODO 12); queue bytes per client, write what the socket takes, watch EPOLLOUT only while bytes wait, and drop a client whose queue passes 1 MiB (TODO 14).",
        run: Run::Live(server::slow_consumer),
    },
    Check {
        name: "server/slow-reader",
        part: Part::Server,
        points: 4,
        description: "a reader that falls behind (its socket full) and then reads gets every byte, in order",
        hint: "TODO 15: remove from the outbox exactly the bytes the write took (`drain(..written)`); the rest stays queued, in order, for the next EPOLLOUT.",
        run: Run::Live(server::slow_reader),
    },
    Check {
        name: "server/epollout-off",
        part: Part::Server,
        points: 3,
        description: "once a reader that fell behind has caught up, EPOLLOUT is off and the server sleeps",
        hint: "TODO 15: once the outbox is empty, switch the socket back to EPOLLIN only (`w_epoll_update_fd_in`): a socket with room is always writable, so EPOLLOUT would wake epoll_wait at once, for ever.",
        run: Run::Live(server::epollout_off),
    },
    Check {
        name: "server/one-thread",
        part: Part::Server,
        points: 3,
        description: "one thread, with an epoll instance that watches the listener and every client",
        hint: "TODOs 9 and 12: one epoll instance holds the listener and every client socket; no threads and no fork.",
        run: Run::Live(server::one_thread),
    },
    Check {
        name: "server/idle-cpu",
        part: Part::Server,
        points: 3,
        description: "an idle server with clients connected, one of which left, uses no CPU, and goes on after a stop and a continue",
        hint: "TODO 10: wait in epoll_wait with timeout -1, never poll in a loop, and retry it when it fails with EINTR (ErrorKind::Interrupted). TODO 13: a read of 0 bytes means the client left: remove it, or its socket stays readable and wakes epoll_wait at once, for ever.",
        run: Run::Live(server::idle_cpu),
    },
    Check {
        name: "server/fd-leak",
        part: Part::Server,
        points: 3,
        description: "after 20 clients join and leave, the server holds no more descriptors than before",
        hint: "TODO 16: remove the socket from epoll, then close it (drop the stream).",
        run: Run::Live(server::fd_leak),
    },
    Check {
        name: "server/sigterm",
        part: Part::Server,
        points: 3,
        description: "SIGTERM makes the server close every connection and exit with status 0",
        hint: "TODOs 9 and 10: watch the signal descriptor in the epoll set (TODO 9), and return Ok from the event loop when it is ready (TODO 10); dropping the server closes every connection.",
        run: Run::Live(server::sigterm),
    },
    Check {
        name: "server/e2e",
        part: Part::Server,
        points: 2,
        description: "three reference clients on terminals chat through the server",
        hint: "TODOs 9 to 16: the whole server together: join, broadcast, leave. Try it by hand with `grader reference-client`.",
        run: Run::Live(server::end_to_end),
    },
];

/// The check called `name`, if there is one, in either lab's table.
pub fn find(name: &str) -> Option<&'static Check> {
    CHECKS
        .iter()
        .chain(ROOM_CHECKS)
        .find(|check| check.name == name)
}

/// A check of lab 2 that runs a lab-1 behaviour against the room.
const fn room_rule(
    name: &'static str,
    points: u32,
    description: &'static str,
    hint: &'static str,
    run: fn(&CheckContext) -> Outcome,
) -> Check {
    Check {
        name,
        part: Part::Room,
        points,
        description,
        hint,
        run: Run::Live(run),
    }
}

/// A check of lab 2 that runs a lab-1 client behaviour against
/// `select-client`.
const fn select_rule(
    name: &'static str,
    points: u32,
    description: &'static str,
    hint: &'static str,
    run: fn(&CheckContext) -> Outcome,
) -> Check {
    Check {
        name,
        part: Part::SelectClient,
        points,
        description,
        hint,
        run: Run::Live(run),
    }
}

/// Lab 2's checks (`grader --lab room`), in the order they are reported:
/// the room (lab 1's server rules, then its mechanisms), then
/// select-client (lab 1's client rules, then how it waits). TODOs 17 to 33.
/// Lab 1's `client/refused` has no counterpart: select-client's connect is
/// given code, before any TODO, so the check would prove nothing a student
/// wrote (the skeleton passes it).
pub static ROOM_CHECKS: &[Check] = &[
    // Lab 1's server rules against the room: a client cannot tell them apart.
    room_rule(
        "room/ready",
        2,
        "`room 0` prints `listening on 0.0.0.0:PORT` with the port it got, and a client can connect at once",
        "TODOs 17 to 19: the ring, the signal handler and its installation come before the room listens; a stub that stops there stops the room before its readiness line (see its stderr).",
        room::ready,
    ),
    room_rule(
        "room/join",
        2,
        "a newcomer is announced as `[TAG] (connected)` to the others, not to itself",
        "TODOs 20, 21 and 25: the room forks a helper for each newcomer (TODO 20 in the child, TODO 21 in the room) and sends the notice through the ring to every other helper (TODO 25).",
        room::join,
    ),
    room_rule(
        "room/broadcast",
        3,
        "a line reaches every other client as `[IP:PORT] TEXT`, and not its sender",
        "TODOs 23 to 25: the helper reports each line up its pipe (TODO 23); the room puts the message in a slot and sends the slot's number to every other helper (TODO 25), which copies it out to its client (TODO 24).",
        room::broadcast,
    ),
    room_rule(
        "room/tag",
        1,
        "the tag is the peer's real address, also for a peer connecting from 127.0.0.2",
        "TODO 25: the message carries the sender's tag, made from the peer address accept gave the room.",
        room::tag,
    ),
    room_rule(
        "room/empty-and-cr",
        1,
        "empty lines are forwarded, and a `\\r` before the `\\n` is dropped",
        "TODO 23: push every byte read into the helper's inbox (`LineBuffer`) and report every line it gives, even an empty one.",
        room::empty_and_cr,
    ),
    room_rule(
        "room/leave",
        2,
        "a client that closes is announced as `[TAG] (disconnected)` to the others",
        "TODO 23: a read of 0 bytes means the client left: `self.client_gone()`; the helper exits, and the room announces the leave when its pipe closes.",
        room::leave,
    ),
    room_rule(
        "room/split",
        2,
        "a line sent in several pieces is forwarded once, whole",
        "TODO 23: TCP is a byte stream: push what you read into the inbox and report only the lines it completes.",
        room::split,
    ),
    room_rule(
        "room/merged",
        1,
        "several lines arriving in one read are forwarded as separate lines, in order",
        "TODO 23: one read may hold many lines: report each line the inbox calls you back with.",
        room::merged,
    ),
    room_rule(
        "room/long-line",
        2,
        "a 10000-byte line arrives in pieces of 4096, 4096 and 1808 bytes; 4096 bytes arrive whole",
        "TODO 23: push every byte into the inbox: it hands over 4096 bytes of an unfinished line as a line of their own.",
        room::long_line,
    ),
    room_rule(
        "room/partial-leave",
        2,
        "an unfinished line is forwarded before the `(disconnected)` notice",
        "TODO 23: on a read of 0 bytes, `self.client_gone()` reports what is left in the inbox before the helper exits.",
        room::partial_leave,
    ),
    room_rule(
        "room/reset",
        2,
        "a peer that resets its connection is dropped, and the room keeps serving the others",
        "TODOs 23 and 28: a read error other than WouldBlock or Interrupted means the client is gone (the helper exits); the room reaps it and goes on.",
        room::reset,
    ),
    room_rule(
        "room/fifty",
        2,
        "50 clients at once: each one's line reaches the 49 others",
        "TODOs 20, 21 and 25: a helper per client, the room's ends of its pipes in the epoll set, and each message to every other helper exactly once.",
        room::fifty,
    ),
    room_rule(
        "room/burst",
        2,
        "300 clients' lines ready at once all arrive",
        "TODOs 22 and 25: each helper waits on its socket and its pipe (TODO 22); the room sends each message to every other helper (TODO 25), and handles every event epoll_wait returns.",
        room::burst,
    ),
    room_rule(
        "room/slow-consumer",
        3,
        "a client that stops reading does not stall the others, and is dropped past 1 MiB queued",
        "TODOs 22 and 24: the helper copies each slot into its outbox at once (TODO 24) and waits for POLLOUT only while its outbox holds bytes (TODO 22); never block on the client.",
        room::slow_consumer,
    ),
    room_rule(
        "room/idle-cpu",
        2,
        "an idle room with clients connected, one of which left, uses no CPU, and goes on after a stop and a continue",
        "TODO 30: wait in epoll_wait with timeout -1 when no deadline is set, and retry it on EINTR; TODO 28: reap ended helpers, so their pipes close.",
        room::idle_cpu,
    ),
    room_rule(
        "room/fd-leak",
        2,
        "after 20 clients join and leave, the room holds no more descriptors than before",
        "TODO 21: the room closes the helper's ends of the pipes and its copy of the socket; when a helper ends, its pipes are removed from epoll and closed.",
        room::fd_leak,
    ),
    room_rule(
        "room/e2e",
        1,
        "three reference clients on terminals chat through the room",
        "TODOs 17 to 31: the whole room together: join, broadcast, leave. Try it by hand with `grader reference-client`.",
        room::end_to_end,
    ),
    // The mechanisms of lab 2, seen through /proc and /dev/shm.
    Check {
        name: "room/helpers",
        part: Part::Room,
        points: 5,
        description: "one helper process per client, whose command line carries the number of the descriptor that is that client's socket",
        hint: "TODO 20: in the child, clear close-on-exec on the socket and the two pipe ends, and exec room-helper with their numbers (`fd.to_string()`) as its arguments: after exec, the number is all the helper has.",
        run: Run::Live(room::helpers),
    },
    Check {
        name: "room/descriptors",
        part: Part::Room,
        points: 5,
        description: "a helper holds only its standard streams, its socket and its two pipes; the room holds no client socket and only its own pipe ends",
        hint: "TODOs 20 and 21: in the child, make every descriptor from 3 up close-on-exec but the three kept (TODO 20); in the room, drop the socket and the helper's pipe ends (TODO 21).",
        run: Run::Live(room::descriptors),
    },
    Check {
        name: "room/reap",
        part: Part::Room,
        points: 5,
        description: "after clients leave, their helpers are reaped: no zombie is left",
        hint: "TODO 28: on SIGCHLD, reap with `waitpid(-1, &mut status, WNOHANG)` in a loop until it returns 0 or fails: one SIGCHLD may stand for several ended children.",
        run: Run::Live(room::reaping),
    },
    Check {
        name: "room/self-pipe",
        part: Part::Room,
        points: 5,
        description: "the room's epoll set holds a pipe for signals (both ends held by the room) beside the listener and a pipe per helper",
        hint: "TODOs 18 and 19: the handler only writes the signal's number to the self-pipe (TODO 18), installed with sigaction for each signal (TODO 19); the loop reads the pipe's other end, which is in its epoll set.",
        run: Run::Live(room::self_pipe),
    },
    Check {
        name: "room/shared-memory",
        part: Part::Room,
        points: 4,
        description: "the room maps a shared-memory object (/dev/shm), and so does every helper",
        hint: "TODO 17: `shm_open` with O_CREAT | O_EXCL | O_RDWR, `ftruncate` to the ring's size, then `mmap` it shared; the helpers open the same name and map it.",
        run: Run::Live(room::shared_memory),
    },
    Check {
        name: "room/idle",
        part: Part::Room,
        points: 5,
        description: "with --idle 1, a user that only receives is disconnected 1 s after it connected (not early, at most 0.5 s late); sending a line resets the timer; a user behind when it goes idle still gets every line, then the notice",
        hint: "TODOs 24 and 29 to 31: a line sets the user's deadline anew, the old one taken out of the sorted set (TODO 29); epoll_wait sleeps until the nearest deadline, rounded up to the millisecond (TODO 30); every deadline not after now is due (TODO 31); told its user is idle, a helper goes on writing what it has for CLOSE_GRACE before it closes (TODO 24).",
        run: Run::Live(room::idle),
    },
    Check {
        name: "room/sigterm",
        part: Part::Room,
        points: 5,
        description: "SIGTERM makes the room end its helpers, remove its shared memory and exit with status 0",
        hint: "TODOs 18 and 19: SIGTERM must reach the loop through the self-pipe like the other signals; the room then ends its helpers, waits for them, and drops the ring (which calls shm_unlink).",
        run: Run::Live(room::sigterm),
    },
    Check {
        name: "room/slow-reader",
        part: Part::Room,
        points: 4,
        description: "a client that falls behind while more lines than the ring has slots go by gets every line, in order, and nobody is dropped",
        hint: "TODOs 24 and 26: the helper copies a slot into its outbox and acks it at once (TODO 24); the room frees the slot when every holder has acked it (TODO 26). A slot must not wait for a slow client to read.",
        run: Run::Live(room::slow_reader),
    },
    Check {
        name: "room/full-ring",
        part: Part::Room,
        points: 4,
        description: "with a helper stopped, fewer lines than the ring has slots reach the others at once; more lines all reach them too, but not a newcomer that joined while they waited; the stopped helper's client is dropped after 2 s, not before",
        hint: "TODOs 25 and 27: the next slot goes round the ring (`% SLOTS`), so fewer lines than SLOTS never wait for a stopped helper, and a waiting message skips a recipient that is another client by now (`client.id != id`: a newcomer may have the descriptor of one that left); when the next slot is still held, note since when the ring is full, stop the helpers reading until STUCK_AFTER has passed, then evict the holders of that slot.",
        run: Run::Live(room::full_ring),
    },
    Check {
        name: "room/emfile",
        part: Part::Room,
        points: 4,
        description: "out of descriptors, newcomers wait without the room spinning, and all get in as others leave",
        hint: "TODOs 21, 28 and 30: out of descriptors the room stops watching the listener (`pause_accepting`); a leaving client's descriptors come back only once the room closed its pipe ends (TODO 21) and reaped its helper (TODO 28), and epoll_wait must sleep until the next try (TODO 30), not return at once.",
        run: Run::Live(room::emfile),
    },
    // select-client: lab 1's client rules, then how it waits.
    select_rule(
        "select-client/receive",
        2,
        "lines from the server are printed while nothing is typed",
        "TODOs 32 and 33: put standard input and the socket in the set, wait in select, and when the socket is in the set it left, relay what the server sent; retry select when it fails with EINTR.",
        client::receive,
    ),
    select_rule(
        "select-client/send",
        2,
        "a typed line reaches the other clients with this client's tag",
        "TODO 33: when standard input is in the set select left, `self.send_input()`.",
        client::send,
    ),
    select_rule(
        "select-client/paste",
        2,
        "200 lines pasted into the terminal at once all arrive, in order",
        "TODO 33: call `send_input` each time standard input is ready: it sends every complete line and keeps an unfinished one.",
        client::paste,
    ),
    select_rule(
        "select-client/exit",
        2,
        "`exit` is not sent; the client closes the connection and exits with status 0",
        "TODO 33: return Ok(()) when `send_input` says `Next::Stop`.",
        client::exit,
    ),
    select_rule(
        "select-client/eof",
        2,
        "Ctrl-D (end of input) closes the connection and exits with status 0",
        "TODO 33: `send_input` says `Next::Stop` at the end of input: return then.",
        client::eof,
    ),
    select_rule(
        "select-client/server-close",
        2,
        "when the server closes, the client prints `[SERVER] Connection closed.` and exits with status 0",
        "TODO 33: return Ok(()) when `relay_from_server` says `Next::Stop`.",
        client::server_close,
    ),
    select_rule(
        "select-client/raw-bytes",
        1,
        "bytes from the server are printed unchanged, without waiting for a newline",
        "TODO 33: relay from the server whenever the socket is in the set, without waiting for more.",
        client::raw_bytes,
    ),
    select_rule(
        "select-client/idle-cpu",
        2,
        "an idle client uses no CPU",
        "TODO 32: select with a null timeout (wait for ever), never a zero one.",
        client::idle_cpu,
    ),
    select_rule(
        "select-client/pipe",
        2,
        "with a pipe as standard input, a burst of 500 lines arrives whole and in order",
        "TODO 32: rebuild the set before every select (select overwrote it); a set left with the socket only stops reading standard input.",
        client::pipe,
    ),
    select_rule(
        "select-client/file-input",
        1,
        "with a regular file as standard input, its lines are sent and the client exits with status 0",
        "TODO 33: a regular file is always ready for select; read it until its end, then stop.",
        client::file_input,
    ),
    Check {
        name: "select-client/select",
        part: Part::SelectClient,
        points: 4,
        description: "an idle client waits in select (or pselect6), in one thread, with no epoll instance",
        hint: "TODO 32: build an fd_set with FD_ZERO and FD_SET (standard input and the socket) and wait in `libc::select`; no epoll in this client.",
        run: Run::Live(room::select),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_start_with_their_part() {
        let mut names: Vec<&str> = CHECKS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CHECKS.len(), "duplicate check names");
        for check in CHECKS {
            assert!(
                check.name.starts_with(&format!("{}/", check.part)),
                "{} is not in part {}",
                check.name,
                check.part
            );
            assert!(check.points > 0, "{} is worth nothing", check.name);
        }
    }

    #[test]
    fn the_parts_are_worth_10_60_and_30_points() {
        let points = |part| -> u32 {
            CHECKS
                .iter()
                .filter(|c| c.part == part)
                .map(|c| c.points)
                .sum()
        };
        assert_eq!(points(Part::Wrapper), 10);
        assert_eq!(points(Part::Server), 60);
        assert_eq!(points(Part::Client), 30);
    }

    #[test]
    fn lab_2s_names_are_unique_start_with_their_part_and_make_100_points() {
        let mut names: Vec<&str> = ROOM_CHECKS.iter().map(|c| c.name).collect();
        names.extend(CHECKS.iter().map(|c| c.name));
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            CHECKS.len() + ROOM_CHECKS.len(),
            "duplicate names"
        );
        for check in ROOM_CHECKS {
            assert!(Lab::Room.parts().contains(&check.part), "{}", check.name);
            assert!(
                check.name.starts_with(&format!("{}/", check.part)),
                "{} is not in part {}",
                check.name,
                check.part
            );
            assert!(check.points > 0, "{} is worth nothing", check.name);
            assert!(matches!(check.run, Run::Live(_)), "{}", check.name);
            // Every hint names the TODOs to look at, all of them lab 2's.
            let (head, _) = check
                .hint
                .split_once(':')
                .expect("a hint starts with its TODOs");
            assert!(head.starts_with("TODO"), "{}: {head}", check.name);
            for number in head
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<u32>().ok())
            {
                assert!((17..=33).contains(&number), "{}: TODO {number}", check.name);
            }
        }
        let points = |part| -> u32 {
            ROOM_CHECKS
                .iter()
                .filter(|c| c.part == part)
                .map(|c| c.points)
                .sum()
        };
        assert_eq!(points(Part::Room), 78);
        assert_eq!(points(Part::SelectClient), 22);
        for check in CHECKS {
            assert!(Lab::Chat.parts().contains(&check.part), "{}", check.name);
            assert_eq!(Lab::of_check(check.name), Some(Lab::Chat));
        }
        assert_eq!(Lab::of_check("room/idle"), Some(Lab::Room));
        assert!(find("select-client/select").is_some());
    }

    #[test]
    fn every_wrapper_test_of_the_solution_belongs_to_one_check() {
        let source = include_str!("../../solution/tests/w_epoll.rs");
        let tests: Vec<&str> = source
            .split("#[test]\nfn ")
            .skip(1)
            .filter_map(|rest| rest.split('(').next())
            .collect();
        let mut claimed: Vec<&str> = CHECKS
            .iter()
            .filter_map(|c| match c.run {
                Run::WrapperTests(names) => Some(names),
                Run::Live(_) => None,
            })
            .flatten()
            .copied()
            .collect();
        claimed.sort_unstable();
        let mut tests = tests;
        tests.sort_unstable();
        assert_eq!(claimed, tests);
    }
}
