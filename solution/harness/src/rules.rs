//! The protocol's rules (`protocol.md`, "Server"), one scenario function
//! each, run against a server that listens on a port: what the lab's own
//! tests and the grader's checks both call, so that a rule is tested one
//! way only.
//!
//! Each starts from peers it connects itself, and proves an absence ("the
//! sender does not get its own line back") with a barrier: something sent
//! *later* arrives first. None of them sleeps.
//!
//! The client's rules are in [`client`].

pub mod client;

use std::collections::HashSet;
use std::io;
use std::net::Ipv4Addr;

use crate::context::Context;
use crate::failure::{Failure, Outcome};
use crate::peer::{Peer, PeerOptions, Peers};
use crate::process;
use crate::procfs::{self, IDLE_CPU_MS, IDLE_WINDOW};
use crate::show::{show, show_against};

/// The server a rule runs against, as far as a rule needs more than its
/// port: some stop it so that what peers send arrives all at once, some
/// look at it in `/proc`.
/// The process must be a child of this one, not reaped yet.
pub trait UnderTest {
    /// The port it listens on, on 127.0.0.1.
    fn port(&self) -> u16;
    /// Its process id.
    fn pid(&self) -> u32;

    /// Stops it (SIGSTOP) until [`UnderTest::resume`], and returns once it
    /// is stopped.
    fn stop(&self) -> Outcome {
        process::stop(self.pid())
            .map_err(|err| Failure::new(format!("could not stop the server: {err}")))
    }

    /// Lets it go on (SIGCONT).
    fn resume(&self) {
        process::resume(self.pid());
    }

    /// How it ended, if it has.
    fn exited(&self) -> Option<String> {
        process::peek_exit(self.pid())
    }
}

impl Context {
    /// [`Context::set_up_peers`] for a rule that is not about the set-up
    /// itself: a failure there says the rule was not checked, and that
    /// broadcasting, which the set-up relies on, is to be fixed first.
    pub fn peers(&self, port: u16, count: usize) -> Result<Peers<'_>, Failure> {
        self.set_up_peers(port, count)
            .map_err(|failure| failure.not_checked("server/broadcast"))
    }
}

/// Wraps a `/proc` read error as a failure.
fn proc_error(err: io::Error) -> Failure {
    Failure::new(format!("could not inspect the server in /proc: {err}"))
}

/// `size` bytes of printable text that change along the way, so that a piece
/// cut in the wrong place shows.
fn text(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
        .collect()
}

pub fn join(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut a = c.peer(server.port())?;
    let b = c.peer(server.port())?;
    a.expect_join(&b)?;
    let c = c.peer(server.port())?;
    a.expect_join(&c)?;
    // B's first line is about C: it was told nothing about itself.
    b.expect_join(&c)?;
    // Barrier: C's first line is A's, sent after C joined: C was not told
    // about itself either.
    a.send("hello\n")?;
    c.expect_from(&a, "hello")
}

pub fn broadcast(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut peers = c.set_up_peers(server.port(), 3)?;
    peers[0].send("hello, world\n")?;
    peers[1].expect_from(&peers[0], "hello, world")?;
    peers[2].expect_from(&peers[0], "hello, world")?;
    // Barrier: the sender's next line is B's reply, sent after B got the
    // line: the server did not send the sender its own line.
    peers[1].send("reply\n")?;
    peers[0].expect_from(&peers[1], "reply")?;
    peers[2].expect_from(&peers[1], "reply")
}

pub fn tag(c: &Context, server: &dyn UnderTest) -> Outcome {
    let observer = c.peer(server.port())?;
    let mut from_two = c.peer_with(
        server.port(),
        PeerOptions {
            from: Ipv4Addr::new(127, 0, 0, 2),
            ..PeerOptions::default()
        },
    )?;
    from_two.send("from another address\n")?;
    observer.expect_after_notices(&format!("{} from another address", from_two.tag))
}

pub fn empty_and_cr(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut peers = c.peers(server.port(), 2)?;
    peers[0].send("\nwindows\r\n\r\nmid\rline\n")?;
    for text in ["", "windows", "", "mid\rline"] {
        peers[1].expect_from(&peers[0], text)?;
    }
    Ok(())
}

pub fn leave(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut peers = c.peers(server.port(), 3)?;
    let leaver = peers.remove(2);
    let tag = leaver.tag.clone();
    leaver.close();
    peers[0].expect_line(format!("{tag} (disconnected)"))?;
    peers[1].expect_line(format!("{tag} (disconnected)"))
}

pub fn split(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut peers = c.peers(server.port(), 3)?;
    // Between the parts, a line from C goes through the server: by then it
    // has read the first part (on loopback, a write is in the receiver's
    // buffer when it returns) and must hold it.
    peers[0].send("hel")?;
    peers[2].send("between 1\n")?;
    peers[1].expect_from(&peers[2], "between 1")?;
    peers[0].send("lo, wor")?;
    peers[2].send("between 2\n")?;
    peers[1].expect_from(&peers[2], "between 2")?;
    peers[0].send("ld\n")?;
    peers[1].expect_from(&peers[0], "hello, world")
}

pub fn merged(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut peers = c.peers(server.port(), 2)?;
    peers[0].send("one\ntwo\nthree\nfo")?;
    peers[0].send("ur\n")?;
    for word in ["one", "two", "three", "four"] {
        peers[1].expect_from(&peers[0], word)?;
    }
    Ok(())
}

pub fn long_line(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut peers = c.peers(server.port(), 2)?;
    let prefix = format!("{} ", peers[0].tag).into_bytes();
    let long = text(10_000);
    c.step("A sends a line of 10000 bytes");
    peers[0].send_quietly(&[&long[..], b"\n"].concat())?;
    for piece in [&long[..4096], &long[4096..8192], &long[8192..]] {
        peers[1].expect_line([&prefix[..], piece].concat())?;
    }
    let exact = text(4096);
    c.step("A sends a line of exactly 4096 bytes");
    peers[0].send_quietly(&[&exact[..], b"\n"].concat())?;
    peers[1].expect_line([&prefix[..], &exact[..]].concat())?;
    let over = text(4097);
    c.step("A sends a line of 4097 bytes");
    peers[0].send_quietly(&[&over[..], b"\n"].concat())?;
    peers[1].expect_line([&prefix[..], &over[..4096]].concat())?;
    peers[1].expect_line([&prefix[..], &over[4096..]].concat())
}

pub fn partial_leave(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut peers = c.peers(server.port(), 2)?;
    let mut leaver = peers.remove(1);
    // While the server is stopped, B's last bytes and its end arrive
    // together: one readiness for both. Level-triggered, the server is told
    // again after its read; edge-triggered with one read per event, never.
    c.step("stop the server (SIGSTOP)");
    server.stop()?;
    leaver.send("one\nlast words\r")?;
    let tag = leaver.tag.clone();
    leaver.close();
    c.step("let the server go on (SIGCONT)");
    server.resume();
    peers[0].expect_line(format!("{tag} one"))?;
    peers[0].expect_line(format!("{tag} last words"))?;
    peers[0].expect_line(format!("{tag} (disconnected)"))
}

pub fn reset(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut peers = c.peers(server.port(), 4)?;
    // D never reads: the server has bytes queued for it when it resets, so
    // writing them fails (EPIPE or ECONNRESET), which must not raise SIGPIPE.
    // 3 MiB exceed what the kernel buffers for D, and stay below the 1 MiB
    // limit beyond that (if the kernel buffers less, D is dropped as slow
    // before its reset, which the check accepts).
    c.step("D reads nothing while A sends 3 MiB, keeping at most 256 KiB ahead of B");
    let mut paced = Paced::default();
    let stuck_tag = peers[3].tag.clone();
    let (sender, reader) = peers.split_at_mut(1);
    send_paced(
        &mut sender[0],
        &reader[0],
        3 * 1024,
        &stuck_tag,
        false,
        &mut paced,
    )?;
    let stuck_gone = paced.saw_leave;
    let stuck = peers.remove(3);
    let stuck_tag = stuck.tag.clone();
    stuck.reset();
    if !stuck_gone {
        peers[1].expect_line(format!("{stuck_tag} (disconnected)"))?;
    }
    // C resets too, with nothing queued. (B, which sent nothing, reads the
    // notices: what a sender itself receives is other checks' business.)
    let resetter = peers.remove(2);
    let tag = resetter.tag.clone();
    resetter.reset();
    peers[1].expect_line(format!("{tag} (disconnected)"))?;
    peers[0].send("still here\n")?;
    peers[1].expect_from(&peers[0], "still here")?;
    match server.exited() {
        Some(status) => Err(Failure::new(format!(
            "the server exited ({status}) after a peer reset"
        ))),
        None => Ok(()),
    }
}

pub fn fifty(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut peers = c.peers(server.port(), 50)?;
    c.step("each peer sends one line, `hello from NAME`");
    for peer in peers.iter_mut() {
        let line = format!("hello from {}\n", peer.name);
        peer.send_quietly(line.as_bytes())?;
    }
    for peer in &peers {
        let mut heard = Vec::with_capacity(49);
        for _ in 0..49 {
            heard.push(String::from_utf8_lossy(&peer.next_line()?).into_owned());
        }
        let expected: Vec<String> = peers
            .iter()
            .filter(|other| other.name != peer.name)
            .map(|other| format!("{} hello from {}", other.tag, other.name))
            .collect();
        let missing: Vec<&String> = expected.iter().filter(|l| !heard.contains(l)).collect();
        let unexpected: Vec<&String> = heard.iter().filter(|l| !expected.contains(l)).collect();
        if !missing.is_empty() || !unexpected.is_empty() {
            return Err(Failure {
                summary: format!(
                    "{} did not get exactly one line from each other peer",
                    peer.name
                ),
                expected: Some(format!(
                    "49 lines, one from each other peer; missing: {missing:?}"
                )),
                seen: Some(format!(
                    "{} lines, of which not expected: {unexpected:?}",
                    heard.len()
                )),
                ..Failure::default()
            });
        }
    }
    Ok(())
}

/// More clients with a line ready at once than any reasonable event array
/// holds (the reference's holds 256): `epoll_wait` fills the array, and the
/// rest are reported by the next call.
const BURST: usize = 300;

pub fn burst(c: &Context, server: &dyn UnderTest) -> Outcome {
    let observer = c.peer(server.port())?;
    c.step(format!(
        "{BURST} more peers Q1 ... Q{BURST} connect, reading nothing; A waits for Q{BURST}'s \"hello\""
    ));
    let mut crowd = connect_crowd(c, server.port(), BURST)?;
    // Barrier: connections are accepted in the order they came, so once
    // the last one's line went through, every one of them is in the chat.
    let last = crowd.last_mut().expect("BURST > 0");
    last.send_quietly(b"hello\n")?;
    observer.expect_after_notices(&format!("{} hello", last.tag))?;
    c.step("stop the server (SIGSTOP): what the peers send now waits, all of it ready at once");
    server.stop()?;
    c.step(format!(
        "each of Q1 ... Q{BURST} sends one line, `burst from NAME`"
    ));
    for peer in &mut crowd {
        let line = format!("burst from {}\n", peer.name);
        peer.send_quietly(line.as_bytes())?;
    }
    c.step("let the server go on (SIGCONT)");
    server.resume();
    let mut expected: Vec<String> = crowd
        .iter()
        .map(|peer| format!("{} burst from {}", peer.tag, peer.name))
        .collect();
    for received in 0..BURST {
        let line = observer.next_line().map_err(|failure| {
            failure.after(format!(
                "after {received} of the {BURST} lines that were ready at once"
            ))
        })?;
        let line = String::from_utf8_lossy(&line).into_owned();
        match expected.iter().position(|l| *l == line) {
            Some(at) => {
                expected.swap_remove(at);
            }
            None => {
                return Err(Failure {
                    summary: format!(
                        "A received a line it should not have, after {received} of the {BURST} lines"
                    ),
                    expected: Some(format!(
                        "one line `burst from NAME` from each of Q1 ... Q{BURST}"
                    )),
                    seen: Some(show(line.as_bytes())),
                    ..Failure::default()
                });
            }
        }
    }
    Ok(())
}

/// How far (in lines of 1 KiB) a sender may get ahead of a reading peer in
/// the bulk checks. Far below what the kernel buffers for that peer plus the
/// 1 MiB limit, so the reading peer never looks slow to the server, however
/// loaded the machine is.
const AHEAD: usize = 256;

/// How far `send_paced` got.
#[derive(Debug, Default)]
struct Paced {
    sent: usize,
    received: usize,
    saw_leave: bool,
}

/// `sender` sends `count` lines of 1 KiB, never more than AHEAD lines ahead
/// of what `reader` has received; `reader` must get every one of them,
/// whole and in order, and may see the leave notice of the peer tagged
/// `leaver` among them (`need_leave`: must see it). `paced` says how far it
/// got, also when it fails.
fn send_paced(
    sender: &mut Peer<'_>,
    reader: &Peer<'_>,
    count: usize,
    leaver: &str,
    need_leave: bool,
    paced: &mut Paced,
) -> Outcome {
    let line = [text(1023), b"\n".to_vec()].concat();
    let expected = [format!("{} ", sender.tag).as_bytes(), &line[..1023]].concat();
    let leave = format!("{leaver} (disconnected)").into_bytes();
    while paced.received < count || (need_leave && !paced.saw_leave) {
        while paced.sent < count && paced.sent < paced.received + AHEAD {
            sender.send_quietly(&line)?;
            paced.sent += 1;
        }
        let next = reader.next_line()?;
        if next == leave {
            paced.saw_leave = true;
        } else if next == expected {
            paced.received += 1;
        } else {
            return Err(Failure {
                summary: format!("{} received a wrong line", reader.name),
                expected: Some(format!("{}'s line {}", sender.name, show(&expected))),
                seen: Some(show_against(&expected, &next)),
                ..Failure::default()
            });
        }
    }
    Ok(())
}

/// A peer called `name` that reads nothing, with a small receive buffer so
/// that the kernel's buffers towards it fill up soon, known to be in the
/// chat: its hello reached each of `peers`.
pub(crate) fn non_reader<'c, 'p>(
    c: &'c Context,
    port: u16,
    name: &str,
    peers: impl IntoIterator<Item = &'p Peer<'c>>,
) -> Result<Peer<'c>, Failure>
where
    'c: 'p,
{
    let mut peer = c.peer_named(
        port,
        name,
        PeerOptions {
            receive_buffer: Some(4096),
            reads: false,
            ..PeerOptions::default()
        },
    )?;
    peer.send("hello\n")?;
    for other in peers {
        other.expect_after_notices(&format!("{} hello", peer.tag))?;
    }
    Ok(peer)
}

/// The most a reader that reads nothing is sent while the grader waits for
/// the server to ask for EPOLLOUT on its socket: more than the kernel
/// buffers towards it (about 3 MB on loopback) plus a margin.
const BEHIND_LINES: usize = 6 * 1024;

/// Lines sent once the reader has fallen behind: they wait in the server's
/// queue for it, behind a partial write.
const QUEUED_LINES: usize = 64;

/// A server whose reader R has fallen behind: the kernel buffers towards R
/// are full, the server asked for EPOLLOUT on a socket, and it holds
/// `lines` of A's 1 KiB lines that R has not read yet.
struct FallenBehind<'c> {
    peers: Peers<'c>,
    reader: Peer<'c>,
    lines: usize,
    /// The line A sends, as R and B should receive it.
    expected: Vec<u8>,
}

/// Sets up [`FallenBehind`]: A sends lines of 1 KiB, paced against B, while
/// R reads nothing, until the epoll interest list of the server shows
/// EPOLLOUT (a write to R was partial); then QUEUED_LINES more.
fn fall_behind<'c>(c: &'c Context, server: &dyn UnderTest) -> Result<FallenBehind<'c>, Failure> {
    let pid = server.pid();
    let epfds = procfs::epoll_fds(pid).map_err(proc_error)?;
    if epfds.is_empty() {
        return Err(Failure::new(
            "the server has no epoll instance, whose interest list shows when a reader \
                 has fallen behind",
        )
        .not_checked("server/one-thread"));
    }
    let mut peers = c.peers(server.port(), 2)?;
    let reader = non_reader(c, server.port(), "R", &peers)?;
    c.step(
        "R reads nothing while A sends lines of 1 KiB, at most 256 KiB ahead of B, \
         until the server watches a socket for EPOLLOUT (/proc/PID/fdinfo)",
    );
    let line = [text(1023), b"\n".to_vec()].concat();
    let expected = [format!("{} ", peers[0].tag).as_bytes(), &line[..1023]].concat();
    let leave = format!("{} (disconnected)", reader.tag).into_bytes();
    let (mut sent, mut received) = (0, 0);
    let mut extra = None;
    while extra.is_none_or(|extra| received < extra) {
        // Looked at every few lines: reading /proc costs more than a line.
        if extra.is_none()
            && received % 8 == 0
            && !procfs::watched_for_output_by(pid, &epfds)
                .map_err(proc_error)?
                .is_empty()
        {
            extra = Some(sent + QUEUED_LINES);
            c.step(format!(
                "after {sent} lines the server watches for EPOLLOUT; A sends {QUEUED_LINES} more, which B receives"
            ));
        }
        if extra.is_none() && sent >= BEHIND_LINES {
            return Err(Failure {
                summary: format!(
                    "R read nothing and A sent {sent} KiB, yet the server never watched a socket for EPOLLOUT"
                ),
                expected: Some("EPOLLOUT in R's entry of the epoll interest list, once a write to R was partial".into()),
                seen: Some("no descriptor watched for EPOLLOUT".into()),
                ..Failure::default()
            });
        }
        let goal = extra.unwrap_or(BEHIND_LINES);
        while sent < goal && sent < received + AHEAD {
            peers[0].send_quietly(&line)?;
            sent += 1;
        }
        let next = peers[1].next_line()?;
        if next == leave {
            return Err(Failure::new(format!(
                "R was disconnected after A sent {sent} KiB, though at most \
                 {} KiB could be queued for it beyond what the kernel buffers",
                sent.saturating_sub(received)
            )));
        } else if next != expected {
            return Err(Failure {
                summary: "B received a wrong line".into(),
                expected: Some(format!("A's line {}", show(&expected))),
                seen: Some(show_against(&expected, &next)),
                ..Failure::default()
            });
        }
        received += 1;
    }
    Ok(FallenBehind {
        peers,
        reader,
        lines: sent,
        expected,
    })
}

pub fn slow_reader(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut behind = fall_behind(c, server)?;
    c.step(format!(
        "R reads: it must get all {} of A's lines, whole and in order",
        behind.lines
    ));
    behind.reader.start_reading()?;
    // Lines about R itself before A's (its own join notice or hello sent
    // back to it) are server/join's and server/broadcast's business.
    let own = format!("{} ", behind.reader.tag).into_bytes();
    let mut number = 0;
    while number < behind.lines {
        let line = behind.reader.next_line()?;
        if number == 0 && line.starts_with(&own) {
            continue;
        }
        number += 1;
        if line != behind.expected {
            return Err(Failure {
                summary: format!(
                    "R, which fell behind and then read, got a wrong line as line {number} of {}: \
                     bytes the server held for it were lost or reordered",
                    behind.lines
                ),
                expected: Some(format!("A's line {}", show(&behind.expected))),
                seen: Some(show_against(&behind.expected, &line)),
                ..Failure::default()
            });
        }
    }
    Ok(())
}

pub fn epollout_off(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut behind = fall_behind(c, server)?;
    let peers = &mut behind.peers;
    c.step("R reads until A's line `caught up`, sent now, reaches it");
    behind.reader.start_reading()?;
    peers[0].send("caught up\n")?;
    peers[1].expect_from(&peers[0], "caught up")?;
    behind
        .reader
        .expect_eventually(&format!("{} caught up", peers[0].tag))?;
    // Barrier: the server reads this line in a round that starts after the
    // write that emptied R's queue, and after whatever that write changed.
    peers[0].send("quiet\n")?;
    peers[1].expect_from(&peers[0], "quiet")?;
    let pid = server.pid();
    let watched = procfs::watched_for_output(pid).map_err(proc_error)?;
    if !watched.is_empty() {
        return Err(Failure {
            summary:
                "once R had caught up, the server still watched for EPOLLOUT, with nothing to write"
                    .into(),
            expected: Some(
                "no descriptor watched for EPOLLOUT in /proc/PID/fdinfo of the epoll instance"
                    .into(),
            ),
            seen: Some(format!("EPOLLOUT watched on descriptors {watched:?}")),
            ..Failure::default()
        });
    }
    c.step(format!(
        "measure for {IDLE_WINDOW:?}, while nothing happens, how long the server runs or waits to run"
    ));
    idle_for_the_window(
        pid,
        "once a reader that fell behind had caught up, the server used CPU",
    )
}

pub fn slow_consumer(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut peers = c.peers(server.port(), 2)?;
    let slow = non_reader(c, server.port(), "C", &peers)?;
    // 8 MiB: far more than the 1 MiB limit plus what the kernel buffers for
    // C (about 3 MB on loopback). A server that blocks on C stops passing
    // A's lines to B; one that keeps everything for C never drops it.
    const LINES: usize = 8 * 1024;
    c.step(
        "C reads nothing while A sends 8 MiB in lines of 1 KiB, keeping at most 256 KiB ahead of B",
    );
    let mut paced = Paced::default();
    let (sender, reader) = peers.split_at_mut(1);
    let outcome = send_paced(
        &mut sender[0],
        &reader[0],
        LINES,
        &slow.tag,
        true,
        &mut paced,
    );
    outcome.map_err(|mut failure| {
        failure.summary = format!(
            "while C did not read and A sent {} KiB, B got {} of A's lines{}: {} \
             (a server must neither block on C nor keep more than 1 MiB for it)",
            paced.sent,
            paced.received,
            if paced.saw_leave {
                " and C's leave"
            } else {
                " and no leave notice for C"
            },
            failure.summary
        );
        failure
    })?;
    peers[0].send("after\n")?;
    peers[1].expect_from(&peers[0], "after")
}

pub fn one_thread(c: &Context, server: &dyn UnderTest) -> Outcome {
    let _peers = c.peers(server.port(), 3)?;
    let pid = server.pid();
    let threads = procfs::threads(pid).map_err(proc_error)?;
    if threads != 1 {
        return Err(Failure {
            summary: "the server runs more than one thread".into(),
            expected: Some("1 thread (Threads: in /proc/PID/status)".into()),
            seen: Some(format!("{threads} threads")),
            ..Failure::default()
        });
    }
    let descriptors = procfs::descriptors(pid).map_err(proc_error)?;
    let epolls = procfs::epoll_fds(pid).map_err(proc_error)?;
    if epolls.is_empty() {
        return Err(Failure {
            summary: "the server has no epoll instance".into(),
            expected: Some("a descriptor anon_inode:[eventpoll] in /proc/PID/fd".into()),
            seen: Some(format!("{descriptors:?}")),
            ..Failure::default()
        });
    }
    let watched = procfs::watched_fds(pid).map_err(proc_error)?;
    let sockets = procfs::tcp_socket_fds(pid).map_err(proc_error)?;
    let unwatched: Vec<i32> = sockets
        .iter()
        .copied()
        .filter(|fd| !watched.contains(fd))
        .collect();
    if sockets.len() < 4 || !unwatched.is_empty() {
        return Err(Failure {
            summary: "not every TCP socket of the server is in its epoll set".into(),
            expected: Some("the listener and the 3 clients' sockets, all watched".into()),
            seen: Some(format!(
                "TCP sockets {sockets:?}, watched {watched:?}, unwatched {unwatched:?}"
            )),
            ..Failure::default()
        });
    }
    Ok(())
}

pub fn idle_cpu(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut peers = c.peers(server.port(), 3)?;
    peers.remove(2).close();
    // Barrier: the server has read C's end (it came first) by the time it
    // passes on B's next line. (Whether it says C left is server/leave's
    // business.)
    peers[1].send("after\n")?;
    peers[0].expect_after_notices(&format!("{} after", peers[1].tag))?;
    c.step(format!(
        "measure for {IDLE_WINDOW:?}, while nothing happens, how long the server runs or waits to run"
    ));
    idle_for_the_window(
        server.pid(),
        "the idle server used CPU: it polls or spins instead of sleeping in epoll_wait",
    )?;
    // The server sleeps in epoll_wait now. On Linux, a process stopped and
    // continued there gets EINTR from it (signal(7)), which it must retry.
    c.step("stop the server (SIGSTOP), then let it go on (SIGCONT)");
    server.stop()?;
    server.resume();
    peers[1].send("still here\n")?;
    peers[0]
        .expect_after_notices(&format!("{} still here", peers[1].tag))
        .map_err(|failure| {
            failure.after("after a stop and a continue, which make epoll_wait fail with EINTR")
        })
}

/// Measures how busy `pid` is for IDLE_WINDOW, and fails with `summary`
/// past IDLE_CPU_MS.
pub fn idle_for_the_window(pid: u32, summary: &str) -> Outcome {
    let used = procfs::busy_ms_while_idle(pid, IDLE_WINDOW).map_err(proc_error)?;
    if used > IDLE_CPU_MS {
        return Err(Failure {
            summary: summary.into(),
            expected: Some(format!("busy at most {IDLE_CPU_MS} ms of {IDLE_WINDOW:?}")),
            seen: Some(format!("busy {used} ms (running, or waiting for a CPU)")),
            ..Failure::default()
        });
    }
    Ok(())
}

/// The server's descriptor limit in server/emfile: room for the standard
/// streams, the listener, an epoll instance, a few more of its own, and a
/// few dozen clients.
pub const EMFILE_LIMIT: u64 = 48;

/// More clients than fit under EMFILE_LIMIT.
const EMFILE_CROWD: usize = 60;

/// Run against a server started with at most [`EMFILE_LIMIT`] open
/// descriptors.
pub fn emfile(c: &Context, server: &dyn UnderTest) -> Outcome {
    let mut peers = c.peers(server.port(), 2)?;
    c.step(format!(
        "{EMFILE_CROWD} more peers Q1 ... Q{EMFILE_CROWD} connect and say \"hello\", more than \
         {EMFILE_LIMIT} descriptors leave room for"
    ));
    let mut crowd = connect_crowd(c, server.port(), EMFILE_CROWD)?;
    for peer in &mut crowd {
        peer.send_quietly(b"hello\n")?;
    }
    let admitted = all_admitted(c, server, &peers[1], &crowd, (EMFILE_LIMIT, 2))?;
    // Barrier: the server goes on serving the clients it has.
    peers[0].send("still serving?\n")?;
    peers[1]
        .expect_eventually(&format!("{} still serving?", peers[0].tag))
        .map_err(|failure| {
            failure.after("out of descriptors, the server stopped serving its clients")
        })?;
    c.step(format!(
        "measure for {IDLE_WINDOW:?}, while connections wait that accept cannot take, how long the server runs or waits to run"
    ));
    idle_for_the_window(
        server.pid(),
        "out of descriptors, with connections waiting, the server spun: accept fails with EMFILE \
         and the listener stays readable",
    )?;
    let leaving = admitted.min(30);
    c.step(format!(
        "Q1 ... Q{leaving} leave; the server must then accept the others, Q{EMFILE_CROWD} last"
    ));
    let last = crowd.pop().expect("EMFILE_CROWD > 0");
    drop(crowd.drain(..leaving));
    peers[1]
        .expect_eventually(&format!("{} hello", last.tag))
        .map_err(|failure| failure.after("once clients left and descriptors were free, the server did not accept the waiting peer"))
}

/// Connects `count` peers Q1 ... QN that read nothing and whose steps are
/// not listed one by one (the check's step says what they do).
pub(crate) fn connect_crowd<'c>(
    c: &'c Context,
    port: u16,
    count: usize,
) -> Result<Vec<Peer<'c>>, Failure> {
    (1..=count)
        .map(|i| {
            c.peer_named(
                port,
                &format!("Q{i}"),
                PeerOptions {
                    reads: false,
                    quiet: true,
                    ..PeerOptions::default()
                },
            )
        })
        .collect()
}

/// Waits until the server has taken in every peer of `crowd` it can: its
/// descriptors are within `slack` of its `limit` (a server that needs two
/// at a time, for a pipe, stops with one free), and `watcher` has the hello
/// of the last peer it accepted, so that what the server does for a
/// newcomer is done before its CPU is measured. Returns how many it
/// accepted: Q1 to QN, since a listener hands out connections in the order
/// they came. `watcher` reads on past the hellos it waited for.
pub fn all_admitted(
    c: &Context,
    server: &dyn UnderTest,
    watcher: &Peer<'_>,
    crowd: &[Peer<'_>],
    (limit, slack): (u64, u64),
) -> Result<usize, Failure> {
    c.step(format!(
        "wait until the server's descriptors come within {slack} of its limit of {limit}"
    ));
    let full =
        || procfs::descriptors(server.pid()).is_ok_and(|open| open.len() as u64 + slack >= limit);
    if !procfs::eventually(c.until(), full) {
        let open = procfs::descriptors(server.pid()).map_err(proc_error)?;
        return Err(Failure {
            summary: format!(
                "the server never came near its descriptor limit with {} peers waiting",
                crowd.len()
            ),
            expected: Some(format!("{limit} open descriptors, or up to {slack} fewer")),
            seen: Some(format!("{} open: {open:?}", open.len())),
            ..Failure::default()
        });
    }
    c.step(format!(
        "{} waits for the hello of the last Q the server accepted, until it accepts no more",
        watcher.name
    ));
    // A server may still accept one more while B waits (one descriptor was
    // left, or one freed): look again, until nothing changed meanwhile.
    // The hellos may come in any order (the room's helpers are processes
    // of their own; a server reads the peers of one round in its order),
    // so every line heard is kept, not only the one waited for.
    let mut admitted = 0;
    let mut heard = HashSet::new();
    loop {
        let accepted = procfs::accepted_on(server.port()).map_err(proc_error)?;
        let now = crowd
            .iter()
            .rposition(|peer| accepted.contains(&peer.port()))
            .map_or(0, |last| last + 1);
        if now == admitted {
            return Ok(admitted);
        }
        admitted = now;
        for peer in &crowd[..now] {
            let hello = format!("{} hello", peer.tag);
            while !heard.contains(hello.as_bytes()) {
                let line = watcher.next_line().map_err(|mut failure| {
                    failure.expected = Some(format!(
                        "the hello of every Q the server accepted, {hello:?} among them"
                    ));
                    failure
                })?;
                heard.insert(line);
            }
        }
    }
}

pub fn fd_leak(c: &Context, server: &dyn UnderTest) -> Outcome {
    let watcher = c.peer(server.port())?;
    // One visit first, so that whatever the first client allocates for good
    // is counted in "before".
    visit(c, &watcher, server.port())?;
    let before = procfs::descriptors(server.pid()).map_err(proc_error)?;
    c.step("20 more peers connect and leave, one after the other");
    for _ in 0..20 {
        visit(c, &watcher, server.port())?;
    }
    let after = procfs::descriptors(server.pid()).map_err(proc_error)?;
    if after.len() > before.len() {
        return Err(Failure {
            summary: "the server keeps descriptors of clients that left".into(),
            expected: Some(format!("{} open descriptors, as before", before.len())),
            seen: Some(format!("{}: {after:?}", after.len())),
            ..Failure::default()
        });
    }
    Ok(())
}

/// A peer connects, says hello and leaves; `watcher` sees its line and its
/// leave, so the server is done with it.
fn visit(c: &Context, watcher: &Peer<'_>, port: u16) -> Outcome {
    let mut visitor = c.peer(port)?;
    visitor.send_quietly(b"hello\n")?;
    watcher.expect_after_notices(&format!("{} hello", visitor.tag))?;
    let tag = visitor.tag.clone();
    visitor.close();
    watcher.expect_line(format!("{tag} (disconnected)"))
}
