//! Lab 2, the room: what `/proc` and `/dev/shm` show of a room and its
//! helpers, and the room's mechanisms as scenario functions, run against a
//! room listening on a port, the way [`crate::rules`] runs lab 1's rules.
//!
//! Nothing here assumes the reference's names or layout beyond what the
//! lab states: a helper is a child of the room with its client's socket
//! open under a number its command line carries; the ring is whatever
//! object under `/dev/shm` the room maps. So any implementation that does
//! what lab 2 asks, in any language, passes.
//!
//! As in [`crate::rules`], absences are proven with barriers and what
//! `/proc` shows (which sends no event) is looked at again every few
//! milliseconds until a deadline ([`procfs::eventually`]); nothing sleeps to
//! synchronise. The idle rule's sender sleeps to *space out* its lines in
//! time, which is what it tests.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io;
use std::thread;
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::failure::{Failure, Outcome};
use crate::peer::{Peer, PeerOptions, Peers};
use crate::procfs;
use crate::rules::UnderTest;
use crate::show::show;

/// How late an idle disconnect may arrive past its deadline: the room
/// wakes at the deadline; the rest is scheduling on a loaded machine.
pub const IDLE_MARGIN: Duration = Duration::from_millis(500);

/// The `--idle` the idle rule starts the room with, in seconds.
pub const IDLE_SECS: u64 = 1;

/// How long a helper may hold the slot a full ring needs before the room
/// disconnects its client (lab text, "the ring").
pub const STUCK_AFTER: Duration = Duration::from_secs(2);

/// The number of slots of the ring (lab text, "the ring").
pub const SLOTS: usize = 256;

/// The descriptor limit the room runs with in [`out_of_descriptors`].
pub const EMFILE_LIMIT: u64 = 32;

fn proc_error(err: io::Error) -> Failure {
    Failure::new(format!("could not read /proc: {err}"))
}

// ---------------------------------------------------------------------------
// What /proc shows.

/// The state letter and parent of `pid` (`/proc/PID/stat`), if it exists.
fn state_and_parent(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: count from its end.
    let mut fields = stat.get(stat.rfind(')')? + 2..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// The children of `pid` with their state letters, zombies included,
/// sorted.
pub fn children_with_state(pid: u32) -> Vec<(u32, char)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<(u32, char)> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|candidate| {
            let (state, parent) = state_and_parent(candidate)?;
            (parent == pid).then_some((candidate, state))
        })
        .collect();
    found.sort_unstable();
    found
}

/// The processes whose parent is `pid`, zombies included.
pub fn children(pid: u32) -> Vec<u32> {
    children_with_state(pid)
        .into_iter()
        .map(|(child, _)| child)
        .collect()
}

/// The children of `pid` that are zombies: ended, not reaped.
pub fn zombies(pid: u32) -> Vec<u32> {
    children_with_state(pid)
        .into_iter()
        .filter(|&(_, state)| state == 'Z')
        .map(|(child, _)| child)
        .collect()
}

/// The command line of `pid`, argument by argument.
pub fn cmdline(pid: u32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| {
            bytes
                .split(|&b| b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The arguments of `pid` (after its program) that are numbers: the
/// descriptor numbers a helper is given.
pub fn numeric_args(pid: u32) -> Vec<i32> {
    cmdline(pid)
        .iter()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect()
}

/// Every TCP socket of the machine, by inode (what `/proc/PID/fd` names).
fn sockets_by_inode() -> HashMap<u64, procfs::TcpSocket> {
    procfs::tcp_sockets()
        .unwrap_or_default()
        .into_iter()
        .map(|socket| (socket.inode, socket))
        .collect()
}

/// The inode behind `target`, a descriptor's link such as `socket:[1234]`
/// or `pipe:[5678]`, if it is of that `kind`.
fn inode_of(target: &str, kind: &str) -> Option<u64> {
    target
        .strip_prefix(kind)?
        .strip_prefix(":[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The child of `room` that serves the peer on `peer_port`: the child one
/// of whose numeric arguments is a descriptor it holds that is a socket
/// connected to that port. With it, that number.
pub fn helper_of(room: u32, peer_port: u16) -> Option<(u32, i32)> {
    let sockets = sockets_by_inode();
    children(room).into_iter().find_map(|helper| {
        let open: HashMap<i32, String> = procfs::descriptors(helper).ok()?.into_iter().collect();
        numeric_args(helper).into_iter().find_map(|fd| {
            let inode = inode_of(open.get(&fd)?, "socket")?;
            (sockets.get(&inode)?.remote_port == peer_port).then_some((helper, fd))
        })
    })
}

/// The child of `room` that holds the socket connected to the peer on
/// `peer_port`, under any number: how a check that is not about the
/// helper's command line (room/helpers is) finds the helper to stop.
pub fn helper_serving(room: u32, peer_port: u16) -> Option<u32> {
    let sockets = sockets_by_inode();
    children(room).into_iter().find(|&helper| {
        procfs::descriptors(helper).is_ok_and(|open| {
            open.iter().any(|(_, target)| {
                inode_of(target, "socket")
                    .and_then(|inode| sockets.get(&inode))
                    .is_some_and(|socket| socket.remote_port == peer_port)
            })
        })
    })
}

/// The objects under `/dev/shm` that `pid` maps, sorted.
pub fn shm_objects(pid: u32) -> io::Result<Vec<String>> {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps"))?;
    let mut found: Vec<String> = maps
        .lines()
        .filter_map(|line| {
            let path = line.split_whitespace().nth(5)?;
            path.starts_with("/dev/shm/").then(|| path.to_owned())
        })
        .collect();
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

/// The system call `pid` is blocked in (the first field of
/// `/proc/PID/syscall`), if it is blocked in one.
pub fn blocked_in(pid: u32) -> Option<i64> {
    let text = fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The numbers of `select` and `pselect6` on this machine.
pub fn select_calls() -> Vec<i64> {
    #[cfg(target_arch = "x86_64")]
    return vec![libc::SYS_select, libc::SYS_pselect6];
    #[cfg(not(target_arch = "x86_64"))]
    return vec![libc::SYS_pselect6];
}

/// Each child of `room` with its command line, for messages.
fn children_described(room: u32) -> String {
    let described: Vec<String> = children_with_state(room)
        .into_iter()
        .map(|(child, state)| format!("{child} ({state}) {:?}", cmdline(child)))
        .collect();
    if described.is_empty() {
        "no children".to_owned()
    } else {
        described.join("; ")
    }
}

/// Three clients (A, B and the set-up's silent `sync`), known to be in the
/// room, and the helpers of A and B, found in `/proc`.
fn room_with_helpers<'c>(
    c: &'c Context,
    room: &dyn UnderTest,
) -> Result<(Peers<'c>, Vec<(u32, i32)>), Failure> {
    let peers = c.peers(room.port(), 2)?;
    let pid = room.pid();
    c.step("find each client's helper: the child of the room holding its socket under a number its command line carries");
    let mut helpers = Vec::new();
    for peer in peers.iter() {
        let port = peer.port();
        let mut found = None;
        // A helper appears once forked and exec'd: look until the deadline.
        procfs::eventually(c.until(), || {
            found = helper_of(pid, port);
            found.is_some()
        });
        let Some(helper) = found else {
            return Err(Failure {
                summary: format!(
                    "no child of the room holds {}'s connection under a descriptor number its command line carries",
                    peer.name
                ),
                expected: Some(format!(
                    "a child `room-helper FD PIPE_IN PIPE_OUT` whose descriptor FD is the socket connected to {}'s port {port}",
                    peer.name
                )),
                seen: Some(children_described(pid)),
                ..Failure::default()
            });
        };
        helpers.push(helper);
    }
    Ok((peers, helpers))
}

/// Three clients (A, B and the set-up's silent `sync`), known to be in the
/// room, and the room's children once there are three: its helpers, found
/// without reading their command lines (room/helpers checks those).
fn room_with_clients<'c>(
    c: &'c Context,
    room: &dyn UnderTest,
) -> Result<(Peers<'c>, Vec<u32>), Failure> {
    let peers = c.peers(room.port(), 2)?;
    let pid = room.pid();
    c.step("wait until the room has a child per client (3)");
    if !procfs::eventually(c.until(), || children(pid).len() == 3) {
        return Err(Failure {
            summary: "the room does not have one child per client".into(),
            expected: Some("3 children, one per client (A, B and the peer `sync`)".into()),
            seen: Some(children_described(pid)),
            ..Failure::default()
        }
        .not_checked("room/helpers"));
    }
    Ok((peers, children(pid)))
}

// ---------------------------------------------------------------------------
// The mechanisms.

/// One helper per client: as many children as clients, each holding its
/// client's socket under the number its command line carries.
pub fn helpers(c: &Context, room: &dyn UnderTest) -> Outcome {
    let (peers, helpers) = room_with_helpers(c, room)?;
    let pid = room.pid();
    let distinct: BTreeSet<u32> = helpers.iter().map(|&(helper, _)| helper).collect();
    let all = children(pid);
    // A, B and `sync`: three clients, three children, A's and B's distinct,
    // and each child holding a TCP socket under a number it was given.
    let sockets = sockets_by_inode();
    let serving = |child: u32| {
        let open: HashMap<i32, String> = procfs::descriptors(child)
            .map(|fds| fds.into_iter().collect())
            .unwrap_or_default();
        numeric_args(child).into_iter().any(|fd| {
            open.get(&fd)
                .and_then(|target| inode_of(target, "socket"))
                .is_some_and(|inode| sockets.contains_key(&inode))
        })
    };
    if distinct.len() != peers.len()
        || all.len() != peers.len() + 1
        || !all.iter().all(|&child| serving(child))
    {
        return Err(Failure {
            summary: "the room does not have one child per client".into(),
            expected: Some("3 children, one per client (A, B and the peer `sync`)".into()),
            seen: Some(children_described(pid)),
            ..Failure::default()
        });
    }
    Ok(())
}

/// Only the descriptors needed: a helper holds its standard streams and the
/// descriptors its command line names, nothing else; the room holds no
/// client socket and, besides the listener, its epoll instance and the
/// self-pipe, one end of each of two pipes per helper.
pub fn descriptors(c: &Context, room: &dyn UnderTest) -> Outcome {
    let (_peers, helpers) = room_with_clients(c, room)?;
    c.step("list the descriptors of each helper and of the room (/proc/PID/fd)");
    for &helper in &helpers {
        let open = procfs::descriptors(helper).map_err(proc_error)?;
        let numbers: BTreeSet<i32> = open.iter().map(|&(fd, _)| fd).collect();
        let expected: BTreeSet<i32> = [0, 1, 2].into_iter().chain(numeric_args(helper)).collect();
        if numbers != expected {
            return Err(Failure {
                summary: format!(
                    "helper {helper} holds other descriptors than its standard streams and those its command line names"
                ),
                expected: Some(format!(
                    "descriptors {expected:?} (command line {:?})",
                    cmdline(helper)
                )),
                seen: Some(format!("{open:?}")),
                ..Failure::default()
            });
        }
    }
    let pid = room.pid();
    let open = procfs::descriptors(pid).map_err(proc_error)?;
    let sockets = procfs::tcp_socket_fds(pid).map_err(proc_error)?;
    // Listener, epoll, the self-pipe's two ends, two pipe ends per helper,
    // and one more (the shared-memory object, kept open, say).
    let most = 1 + 1 + 2 + 2 * helpers.len() + 1;
    let beyond_std: Vec<&(i32, String)> = open.iter().filter(|(fd, _)| *fd > 2).collect();
    if sockets.len() != 1 || beyond_std.len() > most {
        return Err(Failure {
            summary: "the room holds descriptors it does not need (a client's socket, or the helpers' ends of their pipes)".into(),
            expected: Some(format!(
                "one TCP socket (the listener) and at most {most} descriptors from 3 up with {} helpers: \
                 the listener, the epoll instance, the self-pipe, the room's end of two pipes per helper, \
                 and one more",
                helpers.len()
            )),
            seen: Some(format!("TCP sockets {sockets:?}; descriptors {open:?}")),
            ..Failure::default()
        });
    }
    Ok(())
}

/// The room's epoll set holds a pipe for signals: a pipe whose both ends the
/// room holds (the handler writes one, the loop reads the other), watched by
/// its epoll instance, beside the listener and a pipe per helper.
pub fn self_pipe(c: &Context, room: &dyn UnderTest) -> Outcome {
    let (_peers, helpers) = room_with_clients(c, room)?;
    let pid = room.pid();
    c.step("look at the room's descriptors and its epoll set (/proc/PID/fd, fdinfo)");
    let open = procfs::descriptors(pid).map_err(proc_error)?;
    let epolls = procfs::epoll_fds(pid).map_err(proc_error)?;
    let watched = procfs::watched_fds(pid).map_err(proc_error)?;
    let mut ends: HashMap<u64, Vec<i32>> = HashMap::new();
    for (fd, target) in &open {
        if let Some(inode) = inode_of(target, "pipe") {
            ends.entry(inode).or_default().push(*fd);
        }
    }
    let self_pipe = ends
        .values()
        .any(|fds| fds.len() == 2 && fds.iter().any(|fd| watched.contains(fd)));
    let watched_pipes = ends
        .values()
        .filter(|fds| fds.iter().any(|fd| watched.contains(fd)))
        .count();
    let listener_watched = procfs::tcp_socket_fds(pid)
        .map_err(proc_error)?
        .iter()
        .any(|fd| watched.contains(fd));
    if epolls.is_empty() || !self_pipe || !listener_watched || watched_pipes < 1 + helpers.len() {
        return Err(Failure {
            summary: "the room's epoll set does not hold a pipe for signals (a pipe whose both ends the room holds) beside the listener and a pipe per helper".into(),
            expected: Some(format!(
                "an epoll instance watching the listener, the read end of the self-pipe (its write end open too, for the handler) and a pipe from each of the {} helpers",
                helpers.len()
            )),
            seen: Some(format!(
                "epoll instances {epolls:?} watching {watched:?}; descriptors {open:?}"
            )),
            ..Failure::default()
        });
    }
    Ok(())
}

/// The helpers map the room's shared-memory object: the room maps an
/// object under `/dev/shm`, and so does every helper.
pub fn shared_memory(c: &Context, room: &dyn UnderTest) -> Outcome {
    let (_peers, helpers) = room_with_clients(c, room)?;
    let pid = room.pid();
    c.step("look at the mappings of the room and its helpers (/proc/PID/maps)");
    let ring = shm_objects(pid).map_err(proc_error)?;
    if ring.is_empty() {
        return Err(Failure {
            summary: "the room maps no shared-memory object".into(),
            expected: Some("a mapping of an object under /dev/shm (shm_open, then mmap)".into()),
            seen: Some("no /dev/shm object in /proc/PID/maps".into()),
            ..Failure::default()
        });
    }
    for &helper in &helpers {
        let mapped = shm_objects(helper).map_err(proc_error)?;
        if !mapped.iter().any(|object| ring.contains(object)) {
            return Err(Failure {
                summary: format!("helper {helper} does not map the room's shared memory"),
                expected: Some(format!("a mapping of {}", ring.join(" or "))),
                seen: Some(if mapped.is_empty() {
                    "no /dev/shm object in its /proc/PID/maps".to_owned()
                } else {
                    format!("it maps {mapped:?}")
                }),
                ..Failure::default()
            });
        }
    }
    Ok(())
}

/// No zombies: after clients leave, their helpers are reaped.
pub fn reaping(c: &Context, room: &dyn UnderTest) -> Outcome {
    let pid = room.pid();
    let watcher = c.peer(room.port())?;
    c.step("5 peers connect, say hello and leave, one after the other");
    for _ in 0..5 {
        let mut visitor = c.peer(room.port())?;
        visitor.send_quietly(b"hello\n")?;
        watcher.expect_after_notices(&format!("{} hello", visitor.tag))?;
        let tag = visitor.tag.clone();
        visitor.close();
        watcher
            .expect_line(format!("{tag} (disconnected)"))
            .map_err(|failure| failure.not_checked("room/leave"))?;
    }
    c.step("wait until the room has one child left (the watcher's helper) and no zombie");
    if !procfs::eventually(c.until(), || {
        children(pid).len() == 1 && zombies(pid).is_empty()
    }) {
        return Err(Failure {
            summary: "helpers of clients that left were not reaped".into(),
            expected: Some("one child (the watcher's helper), not a zombie".into()),
            seen: Some(children_described(pid)),
            ..Failure::default()
        });
    }
    Ok(())
}

/// Fails unless `elapsed` is at least `at_least` and at most IDLE_MARGIN
/// more.
fn on_time(what: &str, elapsed: Duration, at_least: Duration) -> Outcome {
    if elapsed < at_least || elapsed > at_least + IDLE_MARGIN {
        return Err(Failure {
            summary: format!("{what} was not disconnected on time"),
            expected: Some(format!(
                "the idle notice {at_least:?} to {:?} after its last line",
                at_least + IDLE_MARGIN
            )),
            seen: Some(format!("after {elapsed:?}")),
            ..Failure::default()
        });
    }
    Ok(())
}

/// The idle rule, against a room started with `--idle` [`IDLE_SECS`]: a
/// user that only receives is disconnected on time, one that sends is not,
/// until it stops; and one that is behind when it goes idle still gets
/// every line, then its notice.
pub fn idle(c: &Context, room: &dyn UnderTest) -> Outcome {
    let idle = Duration::from_secs(IDLE_SECS);
    let mut a = c.peer(room.port())?;
    let b_connecting = Instant::now();
    let b = c.peer(room.port())?;
    a.expect_join(&b)?;
    let notice = format!("[SERVER] Disconnected: idle for {IDLE_SECS} s.");
    let b_tag = b.tag.clone();
    c.step(format!(
        "A sends an empty line every 250 ms for {:?}; B sends nothing, and receives them",
        2 * idle
    ));
    // The sleeps space A's lines out in time; nothing waits on them.
    let a_tag = a.tag.clone();
    let (a_last_line, b_notice) = thread::scope(|scope| {
        let sender = scope.spawn(|| -> Result<Instant, Failure> {
            let mut last = Instant::now();
            while b_connecting.elapsed() < 2 * idle {
                // Taken before sending: the room cannot have the line
                // earlier. (After, a thread descheduled once the write
                // returned made a room on time look a few ms early.)
                last = Instant::now();
                a.send_quietly(b"\n")?;
                thread::sleep(Duration::from_millis(250));
            }
            Ok(last)
        });
        // B receives A's empty lines, then its notice.
        let b_notice = loop {
            match b.next_line() {
                Ok(line) if line == format!("{a_tag} ").as_bytes() => continue,
                Ok(line) if line == notice.as_bytes() => break Ok(Instant::now()),
                Ok(line) => {
                    break Err(Failure {
                        summary: "B, idle, received an unexpected line".into(),
                        expected: Some(format!("A's empty lines, then {notice:?}")),
                        seen: Some(show(&line)),
                        ..Failure::default()
                    });
                }
                Err(failure) => break Err(failure),
            }
        };
        let last = sender
            .join()
            .unwrap_or_else(|_| Err(Failure::new("the sending thread panicked")));
        (last, b_notice)
    });
    let a_last_line = a_last_line?;
    on_time("B, which only received", b_notice? - b_connecting, idle)?;
    b.expect_closed()?;
    // A, which kept sending, was not disconnected with B: its next line is
    // B's leave, then its own notice once it stopped.
    a.expect_line(format!("{b_tag} (disconnected)"))?;
    a.expect_line(&notice)?;
    on_time("A, once it stopped sending", a_last_line.elapsed(), idle)?;
    a.expect_closed()?;
    behind_when_idle(c, room, &notice)
}

/// How many lines of 1 KiB a round of [`fill_kernel_towards`] sends.
const FILL_ROUND: usize = 64;

/// Runs `round` (which sends [`FILL_ROUND`] lines of 1 KiB that reach
/// `reader`, and waits until another peer got them) until the kernel's
/// send queue of the room's socket towards `reader` (by name and port),
/// which reads nothing,
/// has stopped growing for three rounds: from then on, what `reader`'s
/// helper cannot write waits in its outbox. Returns the lines sent and the
/// largest queue seen.
fn fill_kernel_towards(
    room_port: u16,
    (reader, reader_port): (&str, u16),
    mut round: impl FnMut() -> Outcome,
) -> Result<(usize, u64), Failure> {
    let queued = || {
        procfs::tcp_sockets()
            .unwrap_or_default()
            .into_iter()
            .find(|s| s.local_port == room_port && s.remote_port == reader_port)
            .map_or(0, |s| s.send_queue)
    };
    let (mut sent, mut most, mut flat) = (0, 0, 0);
    while flat < 3 {
        if sent > 16 * 1024 {
            return Err(Failure::new(format!(
                "after {sent} KiB, the send queue towards {reader} still grew ({most} bytes)"
            )));
        }
        round()?;
        sent += FILL_ROUND;
        let now = queued();
        if now > most {
            (most, flat) = (now, 0);
        } else {
            flat += 1;
        }
    }
    Ok((sent, most))
}

/// A line of 1 KiB, with its `\n`.
fn kib_line() -> Vec<u8> {
    [vec![b'x'; 1023], b"\n".to_vec()].concat()
}

/// A user whose helper has more for it than the kernel takes when it goes
/// idle still gets all of it, then the notice, if it reads within a
/// moment: the helper goes on writing for a while (`CLOSE_GRACE`) before
/// it closes. Against a room with `--idle` [`IDLE_SECS`], so X and the
/// pacing peer P send an empty line each round to stay in.
fn behind_when_idle(c: &Context, room: &dyn UnderTest, notice: &str) -> Outcome {
    let port = room.port();
    let mut s = c.peer_named(port, "S", PeerOptions::default())?;
    let mut p = c.peer_named(port, "P", PeerOptions::default())?;
    // X reads nothing until the end, but with the default receive buffer
    // (not non_reader's 4 KiB): once it reads, the megabytes the kernel
    // holds for it come through a wide window, well within the helper's
    // grace even on a busy machine.
    let mut x = c.peer_named(
        port,
        "X",
        PeerOptions {
            reads: false,
            ..PeerOptions::default()
        },
    )?;
    x.send("hello\n")?;
    p.expect_after_notices(&format!("{} hello", x.tag))?;
    let s_line = format!("{} {}", s.tag, "x".repeat(1023));
    let x_empty = format!("{} ", x.tag);
    // P waits for S's `count` lines, skipping X's empty lines and leaves.
    let paced = |p: &Peer<'_>, count: usize| -> Outcome {
        let mut got = 0;
        while got < count {
            let next = p.next_line()?;
            if next == s_line.as_bytes() {
                got += 1;
            } else if next != x_empty.as_bytes() && !next.ends_with(b"] (disconnected)") {
                return Err(Failure {
                    summary: "P received an unexpected line".into(),
                    expected: Some(format!("S's lines of 1 KiB, X's empty lines: {s_line:?}")),
                    seen: Some(show(&next)),
                    ..Failure::default()
                });
            }
        }
        Ok(())
    };
    c.step(
        "X reads nothing while S sends lines of 1 KiB, 64 a round, P receiving each, until the \
         kernel's buffers towards X are full; X and P send an empty line each round, to stay in",
    );
    let line = kib_line();
    let (sent, _) = fill_kernel_towards(port, ("X", x.port()), || {
        x.send_quietly(b"\n")?;
        p.send_quietly(b"\n")?;
        for _ in 0..FILL_ROUND {
            s.send_quietly(&line)?;
        }
        paced(&p, FILL_ROUND)
    })?;
    // Fewer than the ring has slots: a room whose helpers hold a slot
    // until its line is written (room/slow-reader's defect) must not stall
    // on X here too.
    let more = SLOTS / 2;
    c.step(format!(
        "X and P send their last empty lines; S sends {more} more lines, which wait in X's helper; X goes idle first, then P"
    ));
    x.send_quietly(b"\n")?;
    p.send_quietly(b"\n")?;
    for _ in 0..more {
        s.send_quietly(&line)?;
    }
    paced(&p, more)?;
    loop {
        let next = p.next_line()?;
        if next == notice.as_bytes() {
            break;
        }
        if !next.ends_with(b"] (disconnected)") {
            return Err(Failure {
                summary: "P, idle, received an unexpected line".into(),
                expected: Some(format!("leave notices perhaps, then {notice:?}")),
                seen: Some(show(&next)),
                ..Failure::default()
            });
        }
    }
    let total = sent + more;
    c.step(format!(
        "X reads: it must get S's {total} lines, then its notice, then the end"
    ));
    x.start_reading()?;
    let mut got = 0;
    loop {
        let next = x.next_line().map_err(|failure| Failure {
            summary: format!(
                "{} after {got} of S's {total} lines (X's helper, told X was idle with lines still to write, must go on writing for a while before it closes)",
                failure.summary
            ),
            ..failure
        })?;
        if next == notice.as_bytes() {
            break;
        }
        if next == s_line.as_bytes() {
            got += 1;
        } else if next != format!("{} ", p.tag).as_bytes() && !next.ends_with(b"] (disconnected)") {
            return Err(Failure {
                summary: "X, behind when it went idle, received an unexpected line".into(),
                expected: Some(format!(
                    "S's lines of 1 KiB, P's empty lines, then {notice:?}"
                )),
                seen: Some(show(&next)),
                ..Failure::default()
            });
        }
    }
    if got != total {
        return Err(Failure {
            summary: "X, behind when it went idle, did not get every line before its notice".into(),
            expected: Some(format!("{total} lines of S")),
            seen: Some(format!("{got}")),
            ..Failure::default()
        });
    }
    x.expect_closed()
}

/// What a room had before it was told to end: its helpers and the
/// shared-memory objects it mapped.
#[derive(Debug, Clone)]
pub struct BeforeEnd {
    pub helpers: Vec<u32>,
    pub shm: Vec<String>,
}

/// What [`after_end`] compares with: the room's helpers and shared memory
/// now.
pub fn before_end(room: &dyn UnderTest) -> Result<BeforeEnd, Failure> {
    Ok(BeforeEnd {
        helpers: children(room.pid()),
        shm: shm_objects(room.pid()).map_err(proc_error)?,
    })
}

/// Once the room has exited: none of its helpers runs, and none of the
/// shared-memory objects it mapped is left in `/dev/shm`.
pub fn after_end(before: &BeforeEnd) -> Outcome {
    let alive: Vec<u32> = before
        .helpers
        .iter()
        .copied()
        .filter(|&helper| !procfs::has_exited(helper))
        .collect();
    if !alive.is_empty() {
        return Err(Failure {
            summary: "helpers outlived the room".into(),
            expected: Some(format!(
                "none of the helpers {:?} running once the room exited",
                before.helpers
            )),
            seen: Some(format!("still running: {alive:?}")),
            ..Failure::default()
        });
    }
    let left: Vec<&String> = before
        .shm
        .iter()
        .filter(|object| fs::exists(object).unwrap_or(true))
        .collect();
    // A room that maps none has none to remove: room/shared-memory is the
    // check that it maps one.
    if !left.is_empty() {
        return Err(Failure {
            summary: "the room exited and left its shared memory in /dev/shm".into(),
            expected: Some(format!("{:?} removed (shm_unlink)", before.shm)),
            seen: Some(format!("still there: {left:?}")),
            ..Failure::default()
        });
    }
    Ok(())
}

/// A slow reader does not hold the ring: a client that reads nothing while
/// more lines than the ring has slots go by gets every one of them, in
/// order, once it reads, and nobody is disconnected meanwhile.
pub fn slow_reader(c: &Context, room: &dyn UnderTest) -> Outcome {
    let mut peers = c.peers(room.port(), 2)?;
    let mut r = crate::rules::non_reader(c, room.port(), "R", [&peers[1]])?;
    let line = kib_line();
    let expected = format!("{} {}", peers[0].tag, "x".repeat(1023));
    c.step(
        "R reads nothing while A sends lines of 1 KiB, B receiving each, until the kernel's \
         buffers towards R are full (its send queue in /proc/net/tcp stops growing)",
    );
    let (sent, most) = fill_kernel_towards(room.port(), ("R", r.port()), || {
        for _ in 0..FILL_ROUND {
            peers[0].send_quietly(&line)?;
            peers[1].expect_line(&expected)?;
        }
        Ok(())
    })?;
    // Now whatever R's helper cannot write waits in its outbox. More lines
    // than the ring has slots, far less than 1 MiB: a helper that kept its
    // slots until its client read them would fill the ring, and be
    // disconnected as stuck, its leave reaching B before `end`.
    let more = 2 * SLOTS;
    c.step(format!(
        "after {sent} lines the queue towards R stays at {most} bytes; A sends {more} more, then `end`"
    ));
    for _ in 0..more {
        peers[0].send_quietly(&line)?;
    }
    peers[0].send("end\n")?;
    for _ in 0..more {
        peers[1].expect_line(&expected)?;
    }
    peers[1].expect_from(&peers[0], "end")?;
    c.step("R reads: it gets every line of A, then `end`");
    r.start_reading()?;
    let total = sent + more;
    let mut got = 0;
    loop {
        let next = r.next_line()?;
        if next == expected.as_bytes() {
            got += 1;
        } else if next == format!("{} end", peers[0].tag).as_bytes() {
            break;
        }
    }
    if got != total {
        return Err(Failure {
            summary: "R, which fell behind, did not get every line".into(),
            expected: Some(format!("{total} lines of A before `end`")),
            seen: Some(format!("{got}")),
            ..Failure::default()
        });
    }
    Ok(())
}

/// A full ring does not stall the room: with a helper stopped, fewer lines
/// than the ring has slots go through at once (the ring goes round); more
/// lines all reach the others, and the stopped helper's client is
/// disconnected once it has held a needed slot for [`STUCK_AFTER`], not
/// before. A newcomer that joins while lines wait for a slot (on the
/// descriptors of a client that left meanwhile) gets none of them.
pub fn full_ring(c: &Context, room: &dyn UnderTest) -> Outcome {
    let pid = room.pid();
    let mut peers = c.peers(room.port(), 3)?;
    let mut r = crate::rules::non_reader(c, room.port(), "R", [&peers[1]])?;
    let Some(stuck) = helper_serving(pid, r.port()) else {
        return Err(Failure {
            summary: "no child of the room holds R's socket".into(),
            seen: Some(children_described(pid)),
            ..Failure::default()
        }
        .not_checked("room/helpers"));
    };
    c.step(format!(
        "stop R's helper (SIGSTOP to {stuck}) and wait until /proc says it is stopped"
    ));
    crate::process::signal(stuck, libc::SIGSTOP);
    // A signal is handled once its target runs: on a busy machine the
    // helper may still show R (running) for a while.
    let state = || {
        state_and_parent(stuck)
            .filter(|&(_, parent)| parent == pid)
            .map(|(state, _)| state)
    };
    if !procfs::eventually(c.until(), || state() == Some('T')) {
        return Err(Failure {
            summary: format!("R's helper {stuck} did not stop on SIGSTOP"),
            seen: Some(children_described(pid)),
            ..Failure::default()
        });
    }
    let few = SLOTS / 2;
    c.step(format!(
        "A sends {few} lines, fewer than the ring's {SLOTS} slots; B must get them all while R's helper stays stopped, not ended"
    ));
    for i in 0..few {
        peers[0].send_quietly(format!("early {i}\n").as_bytes())?;
    }
    for i in 0..few {
        peers[1].expect_from(&peers[0], &format!("early {i}"))?;
    }
    // A room that waited on R with free slots left has ended R's helper by
    // now: it evicts the stuck helper before it sends the line that waited,
    // and SIGKILL takes a stopped process out of T at once.
    let state = state();
    if state != Some('T') {
        return Err(Failure {
            summary: "the room waited for R's stopped helper while the ring still had free slots"
                .into(),
            expected: Some(format!(
                "{few} lines go through a ring of {SLOTS} slots without waiting, R's helper {stuck} still stopped"
            )),
            seen: Some(match state {
                Some(state) => format!("R's helper in state {state}"),
                None => "R's helper gone".into(),
            }),
            ..Failure::default()
        });
    }
    let lines = SLOTS + 44;
    let fit = SLOTS - few;
    c.step(format!(
        "A sends {lines} lines, more than the ring's {SLOTS} slots; B gets the {fit} that fit before the ring is full"
    ));
    let sending = Instant::now();
    for i in 0..lines {
        peers[0].send_quietly(format!("line {i}\n").as_bytes())?;
    }
    for i in 0..fit {
        peers[1].expect_from(&peers[0], &format!("line {i}"))?;
    }
    let z = newcomer_while_full(c, room, &peers[2])?;
    c.step("B must get all of A's lines, C's leave, Z's join and R's leave");
    let r_leave = format!("{} (disconnected)", r.tag);
    let c_leave = format!("{} (disconnected)", peers[2].tag);
    let z_join = format!("{} (connected)", z.tag);
    let (mut left_after, mut said_before_z, mut c_left) = (None, None, false);
    let mut i = fit;
    while i < lines || left_after.is_none() || said_before_z.is_none() {
        let next = peers[1].next_line()?;
        if next == r_leave.as_bytes() && left_after.is_none() {
            left_after = Some(sending.elapsed());
            continue;
        }
        if next == c_leave.as_bytes() && !c_left {
            c_left = true;
            continue;
        }
        if next == z_join.as_bytes() && said_before_z.is_none() {
            // Every line the room sent before Z's join was said before Z
            // joined: none of them is for Z.
            said_before_z = Some(i);
            continue;
        }
        let expected = format!("{} line {i}", peers[0].tag);
        if next != expected.as_bytes() {
            return Err(Failure {
                summary: "B missed one of A's lines while the ring was full".into(),
                expected: Some(expected),
                seen: Some(show(&next)),
                ..Failure::default()
            });
        }
        i += 1;
    }
    let said_before_z = said_before_z.unwrap_or_default();
    c.step(format!(
        "A sends `end`: Z must get none of A's lines 0 to {} (B got them before Z's join) before it",
        said_before_z.saturating_sub(1)
    ));
    peers[0].send("end\n")?;
    let end = format!("{} end", peers[0].tag);
    loop {
        let next = z.next_line()?;
        if next == end.as_bytes() {
            break;
        }
        let old = String::from_utf8_lossy(&next)
            .strip_prefix(&format!("{} line ", peers[0].tag))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n < said_before_z);
        if let Some(n) = old {
            return Err(Failure {
                summary: "Z received a line said before it joined (meant for C, which had left?)"
                    .into(),
                expected: Some(format!(
                    "none of A's lines 0 to {}: a message waiting for a slot goes only to the users present when it was said, and a descriptor number may have been given to a newcomer since",
                    said_before_z - 1
                )),
                seen: Some(format!("line {n}: {}", show(&next))),
                ..Failure::default()
            });
        }
    }
    let left_after = left_after.unwrap_or_default();
    if left_after < STUCK_AFTER {
        return Err(Failure {
            summary: "R was disconnected before its helper had been stuck long enough".into(),
            expected: Some(format!(
                "R's leave at least {STUCK_AFTER:?} after the ring filled"
            )),
            seen: Some(format!("after {left_after:?}")),
            ..Failure::default()
        });
    }
    c.step("R's connection closes, and its stopped helper ends");
    crate::process::signal(stuck, libc::SIGCONT);
    r.start_reading()?;
    r.inbox().wait_end(c.until())?;
    // Ended is enough here, reaped or not: a zombie is room/reap's.
    let ended = || !children(pid).contains(&stuck) || zombies(pid).contains(&stuck);
    if !procfs::eventually(c.until(), ended) {
        return Err(Failure {
            summary: format!("the stuck helper {stuck} is still running"),
            seen: Some(children_described(pid)),
            ..Failure::default()
        });
    }
    Ok(())
}

/// While the ring is full (messages wait, some of them for `leaver`):
/// ends `leaver`'s helper with SIGKILL, waits until the room has closed its
/// pipes, then connects Z, which may be given the same descriptor numbers.
fn newcomer_while_full<'c>(
    c: &'c Context,
    room: &dyn UnderTest,
    leaver: &Peer<'_>,
) -> Result<Peer<'c>, Failure> {
    let (pid, name) = (room.pid(), &leaver.name);
    let Some(helper) = helper_serving(pid, leaver.port()) else {
        return Err(Failure {
            summary: format!("no child of the room holds {name}'s socket"),
            seen: Some(children_described(pid)),
            ..Failure::default()
        }
        .not_checked("room/helpers"));
    };
    // Its own pipes: not those every helper shares (a self-pipe leaked to
    // all of them is room/descriptors' business).
    let shared: HashSet<u64> = children(pid)
        .into_iter()
        .filter(|&other| other != helper)
        .flat_map(pipes_of)
        .collect();
    let pipes: HashSet<u64> = pipes_of(helper).difference(&shared).copied().collect();
    c.step(format!(
        "while the ring is full, end {name}'s helper (SIGKILL to {helper}) and wait until the room has closed its ends of its pipes"
    ));
    crate::process::signal(helper, libc::SIGKILL);
    let closed = || pipes_of(pid).is_disjoint(&pipes);
    if !procfs::eventually(c.until(), closed) {
        return Err(Failure {
            summary: format!(
                "the room did not close the pipes of {name}'s helper, which had ended, while the ring was full"
            ),
            expected: Some(
                "a helper's pipe that reaches its end is closed at once, ring full or not".into(),
            ),
            seen: Some(format!(
                "the room still holds pipes {:?}",
                pipes_of(pid).intersection(&pipes).collect::<Vec<_>>()
            )),
            ..Failure::default()
        });
    }
    c.peer_named(room.port(), "Z", PeerOptions::default())
}

/// The inodes of the pipes `pid` holds.
fn pipes_of(pid: u32) -> HashSet<u64> {
    procfs::descriptors(pid)
        .unwrap_or_default()
        .iter()
        .filter_map(|(_, target)| inode_of(target, "pipe"))
        .collect()
}

/// Out of descriptors (the room started with at most [`EMFILE_LIMIT`]),
/// newcomers wait in the backlog without the room spinning, and all get
/// in as others leave.
pub fn out_of_descriptors(c: &Context, room: &dyn UnderTest) -> Outcome {
    let observer = c.peer(room.port())?;
    // Reads the hellos up to the last newcomer let in, before the room's
    // CPU is measured; the observer's are left for the end.
    let barrier = c.peer_named(room.port(), "W", PeerOptions::default())?;
    let crowd_size = 30;
    c.step(format!(
        "{crowd_size} peers Q1 ... Q{crowd_size} connect and say hello, more than {EMFILE_LIMIT} \
         descriptors serve (the room holds two pipes per client)"
    ));
    let mut crowd = crate::rules::connect_crowd(c, room.port(), crowd_size)?;
    for peer in &mut crowd {
        peer.send_quietly(b"hello\n")?;
    }
    // A pipe takes two descriptors: a room may stop with one free.
    crate::rules::all_admitted(c, room, &barrier, &crowd, (EMFILE_LIMIT, 4))?;
    c.step(format!(
        "measure for {:?}, while newcomers wait, how long the room runs",
        procfs::IDLE_WINDOW
    ));
    crate::rules::idle_for_the_window(
        room.pid(),
        "out of descriptors, the room spins: the waiting connection keeps the listener readable",
    )?;
    c.step("each Q leaves as soon as its hello reaches the observer; every Q must get in");
    let mut crowd: HashMap<String, Peer<'_>> = crowd
        .into_iter()
        .map(|peer| (format!("{} hello", peer.tag), peer))
        .collect();
    let mut greeted = 0;
    while greeted < crowd_size {
        let line = observer.next_line().map_err(|failure| {
            failure.after(format!("after {greeted} of the {crowd_size} hellos"))
        })?;
        let line = String::from_utf8_lossy(&line).into_owned();
        if let Some(peer) = crowd.remove(&line) {
            greeted += 1;
            peer.close();
        }
    }
    Ok(())
}

/// `pid` (a client connected and idle) waits in `select` or `pselect6`,
/// and has no epoll instance.
pub fn waits_in_select(c: &Context, pid: u32) -> Outcome {
    c.step("the client waits: look at it in /proc (syscall, fd)");
    let calls = select_calls();
    let mut last = None;
    let waits = procfs::eventually(c.until(), || {
        last = blocked_in(pid);
        last.is_some_and(|n| calls.contains(&n)) || procfs::has_exited(pid)
    });
    if procfs::has_exited(pid) {
        return Err(Failure::new(
            "the client exited instead of waiting (see its output below)",
        ));
    }
    if !waits {
        return Err(Failure {
            summary: "the idle client does not wait in select".into(),
            expected: Some(format!(
                "/proc/PID/syscall starting with one of {calls:?} (select, pselect6)"
            )),
            seen: Some(match last {
                Some(n) => format!("blocked in system call {n}"),
                None => "not blocked in a system call".to_owned(),
            }),
            ..Failure::default()
        });
    }
    let epolls = procfs::epoll_fds(pid).map_err(proc_error)?;
    if !epolls.is_empty() {
        return Err(Failure {
            summary: "the client has an epoll instance: it must wait with select alone".into(),
            expected: Some("no anon_inode:[eventpoll] descriptor".into()),
            seen: Some(format!("epoll instances at descriptors {epolls:?}")),
            ..Failure::default()
        });
    }
    Ok(())
}
