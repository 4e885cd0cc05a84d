//! What lab 2 is about, seen from outside: `/proc` shows the processes,
//! their descriptors, their command lines and their mappings; `/dev/shm`
//! shows the ring; the peers show the timing of idle disconnects and what
//! happens when the ring is full.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use harness::rules::UnderTest;
use harness::{Context, Failure, Outcome, Peer, PeerOptions, procfs};

use crate::procs::{Room, children, cmdline, eventually, run, shm_path, zombies};

/// How late an idle disconnect may arrive past its deadline: the room
/// wakes at the deadline; the rest is scheduling on a loaded machine.
const IDLE_MARGIN: Duration = Duration::from_millis(500);

/// The room's STUCK_AFTER: how long a helper may hold the slot a full ring
/// needs, once the room waits for it.
const STUCK_AFTER: Duration = Duration::from_secs(2);

/// The number of slots of the room's ring.
const SLOTS: usize = 256;

fn proc_error(err: std::io::Error) -> Failure {
    Failure::new(format!("could not read /proc: {err}"))
}

/// The port of a peer, from its tag `[127.0.0.1:PORT]`.
fn port_of(peer: &Peer<'_>) -> u16 {
    peer.tag
        .trim_end_matches(']')
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("a tag ends with :PORT]")
}

/// Every TCP socket of the machine by inode: (local port, remote port,
/// bytes in its send queue).
fn tcp_sockets() -> HashMap<u64, (u16, u16, u64)> {
    let mut sockets = HashMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = |field: &str| {
                u16::from_str_radix(field.rsplit(':').next().unwrap_or(""), 16).unwrap_or(0)
            };
            let (Some(local), Some(remote), Some(queues), Some(inode)) =
                (fields.get(1), fields.get(2), fields.get(4), fields.get(9))
            else {
                continue;
            };
            let tx_queue = u64::from_str_radix(queues.split(':').next().unwrap_or(""), 16);
            if let (Ok(inode), Ok(tx_queue)) = (inode.parse(), tx_queue) {
                sockets.insert(inode, (port(local), port(remote), tx_queue));
            }
        }
    }
    sockets
}

/// The inode of the socket that descriptor `fd` of `pid` is, if it is one.
fn socket_inode(pid: u32, fd: &str) -> Option<u64> {
    let target = fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    target
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The helper of the room `room` that serves the peer on port
/// `peer_port`: the child whose socket (by the number on its command line)
/// is connected to that port.
fn helper_of(room: u32, peer_port: u16) -> Option<u32> {
    let sockets = tcp_sockets();
    children(room).into_iter().find(|&helper| {
        let args = cmdline(helper);
        args.get(1)
            .and_then(|fd| socket_inode(helper, fd))
            .and_then(|inode| sockets.get(&inode))
            .is_some_and(|&(_, remote, _)| remote == peer_port)
    })
}

#[test]
fn each_client_has_a_helper_with_only_its_socket_and_pipes_by_number() {
    run(|c| {
        let room = Room::start(c, &[])?;
        let peers = c.set_up_peers(room.port(), 2)?;
        let pid = room.pid();
        c.step("look at the room and its children in /proc");
        let helpers = children(pid);
        // A, B and the set-up's silent `sync` peer.
        if helpers.len() != 3 {
            return Err(Failure {
                summary: "the room does not have one child per client".into(),
                expected: Some("3 children (A, B and the peer `sync`)".into()),
                seen: Some(format!("children {helpers:?}")),
                ..Failure::default()
            });
        }
        let sockets = tcp_sockets();
        let ring = shm_path(pid);
        for peer in peers.iter() {
            let Some(helper) = helper_of(pid, port_of(peer)) else {
                return Err(Failure::new(format!(
                    "no child of the room has {}'s connection as the descriptor its command line names",
                    peer.name
                ))
                .after(format!(
                    "children and their command lines: {:?}",
                    helpers
                        .iter()
                        .map(|&h| (h, cmdline(h)))
                        .collect::<Vec<_>>()
                )));
            };
            let args = cmdline(helper);
            let exe_ok = args
                .first()
                .is_some_and(|exe| exe.ends_with("/room-helper"));
            if !exe_ok || args.len() != 4 {
                return Err(Failure {
                    summary: format!("{}'s helper has the wrong command line", peer.name),
                    expected: Some("PATH/room-helper FD PIPE_IN PIPE_OUT".into()),
                    seen: Some(format!("{args:?}")),
                    ..Failure::default()
                });
            }
            let open = procfs::descriptors(helper).map_err(proc_error)?;
            let numbers: BTreeSet<String> = open.iter().map(|(fd, _)| fd.to_string()).collect();
            let expected: BTreeSet<String> = ["0", "1", "2"]
                .into_iter()
                .map(str::to_owned)
                .chain(args[1..].iter().cloned())
                .collect();
            let pipes_ok = args[2..].iter().all(|fd| {
                open.iter()
                    .any(|(n, target)| n.to_string() == *fd && target.starts_with("pipe:"))
            });
            if numbers != expected || !pipes_ok {
                return Err(Failure {
                    summary: format!(
                        "{}'s helper has other descriptors open than the standard streams, \
                         its socket and its two pipes",
                        peer.name
                    ),
                    expected: Some(format!(
                        "descriptors {expected:?}, PIPE_IN and PIPE_OUT pipes"
                    )),
                    seen: Some(format!("{open:?}")),
                    ..Failure::default()
                });
            }
            let maps = fs::read_to_string(format!("/proc/{helper}/maps")).map_err(proc_error)?;
            if !maps.contains(&ring) {
                return Err(Failure::new(format!(
                    "{}'s helper does not map the room's shared memory {ring}",
                    peer.name
                )));
            }
        }
        // The room keeps no client socket: only the listener.
        let room_sockets = procfs::tcp_socket_fds(pid).map_err(proc_error)?;
        if room_sockets.len() != 1 {
            return Err(Failure {
                summary: "the room keeps TCP sockets besides its listener".into(),
                expected: Some("one TCP socket, the listener".into()),
                seen: Some(format!(
                    "TCP sockets {room_sockets:?} (of {} in all)",
                    sockets.len()
                )),
                ..Failure::default()
            });
        }
        // Its epoll set: the listener, the self-pipe, a pipe per helper.
        let epolls = procfs::epoll_fds(pid).map_err(proc_error)?;
        let watched = procfs::watched_fds(pid).map_err(proc_error)?;
        let descriptors = procfs::descriptors(pid).map_err(proc_error)?;
        let watched_pipes = descriptors
            .iter()
            .filter(|(fd, target)| watched.contains(fd) && target.starts_with("pipe:"))
            .count();
        if epolls.len() != 1 || watched.len() != 2 + 3 || watched_pipes != 1 + 3 {
            return Err(Failure {
                summary:
                    "the room's epoll set is not the listener, the self-pipe and a pipe per helper"
                        .into(),
                expected: Some("one epoll instance watching 1 socket and 4 pipes".into()),
                seen: Some(format!(
                    "epoll instances {epolls:?}, watching {watched:?}; descriptors {descriptors:?}"
                )),
                ..Failure::default()
            });
        }
        Ok(())
    });
}

#[test]
fn no_helper_is_left_a_zombie_after_clients_leave() {
    run(|c| {
        let room = Room::start(c, &[])?;
        let pid = room.pid();
        let watcher = c.peer(room.port())?;
        c.step("5 peers connect, say hello and leave, one after the other");
        for _ in 0..5 {
            let mut visitor = c.peer(room.port())?;
            visitor.send_quietly(b"hello\n")?;
            watcher.expect_after_notices(&format!("{} hello", visitor.tag))?;
            let tag = visitor.tag.clone();
            visitor.close();
            watcher.expect_line(format!("{tag} (disconnected)"))?;
        }
        c.step("wait until the room has one child left (the watcher's helper) and no zombie");
        if !eventually(c.until(), || {
            children(pid).len() == 1 && zombies(pid).is_empty()
        }) {
            return Err(Failure {
                summary: "helpers of clients that left were not reaped".into(),
                expected: Some("one child, not a zombie".into()),
                seen: Some(format!(
                    "children {:?}, of which zombies {:?}",
                    children(pid),
                    zombies(pid)
                )),
                ..Failure::default()
            });
        }
        Ok(())
    });
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

#[test]
fn idle_users_are_disconnected_on_time_and_only_sending_resets_the_timer() {
    run(|c| {
        let room = Room::start(c, &["--idle", "1"])?;
        let mut a = c.peer(room.port())?;
        let b_connecting = Instant::now();
        let b = c.peer(room.port())?;
        a.expect_join(&b)?;
        let notice = "[SERVER] Disconnected: idle for 1 s.";
        let b_tag = b.tag.clone();
        c.step("A sends an empty line every 250 ms for 2 s; B sends nothing, and receives them");
        // The sleeps space A's lines out in time; nothing waits on them.
        let a_tag = a.tag.clone();
        let (a_last_line, b_notice) = thread::scope(|scope| {
            let sender = scope.spawn(|| -> Result<Instant, Failure> {
                let mut last = Instant::now();
                while b_connecting.elapsed() < Duration::from_secs(2) {
                    a.send_quietly(b"\n")?;
                    last = Instant::now();
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
                            seen: Some(harness::show(&line)),
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
        on_time(
            "B, which only received",
            b_notice? - b_connecting,
            Duration::from_secs(1),
        )?;
        b.expect_closed()?;
        // A, which kept sending, was not disconnected with B: its next line
        // is B's leave, then its own notice once it stopped.
        a.expect_line(format!("{b_tag} (disconnected)"))?;
        a.expect_line(notice)?;
        on_time(
            "A, once it stopped sending",
            a_last_line.elapsed(),
            Duration::from_secs(1),
        )?;
        a.expect_closed()
    });
}

#[test]
fn sigterm_ends_every_helper_and_removes_the_shared_memory() {
    run(|c| {
        let mut room = Room::start(c, &[])?;
        let pid = room.pid();
        let peers = c.set_up_peers(room.port(), 3)?;
        let helpers = children(pid);
        let ring = shm_path(pid);
        if !fs::exists(&ring).unwrap_or(false) {
            return Err(Failure::new(format!(
                "the room has no shared memory {ring}"
            )));
        }
        c.step("send SIGTERM to the room");
        room.signal(libc::SIGTERM);
        let status = room.wait_exit(c.until());
        harness::process::expect_exit_status("the room", status, 0)?;
        // The room waited for its helpers before it exited.
        let alive: Vec<u32> = helpers
            .iter()
            .copied()
            .filter(|&helper| fs::exists(format!("/proc/{helper}")).unwrap_or(false))
            .collect();
        if !alive.is_empty() {
            return Err(Failure {
                summary: "helpers outlived the room".into(),
                expected: Some(format!("none of the helpers {helpers:?} left")),
                seen: Some(format!("still there: {alive:?}")),
                ..Failure::default()
            });
        }
        if fs::exists(&ring).unwrap_or(true) {
            return Err(Failure::new(format!(
                "the room exited and left its shared memory {ring}"
            )));
        }
        for peer in peers.iter() {
            peer.expect_closed()?;
        }
        Ok(())
    });
}

/// A peer reading nothing, known to be in the chat: its hello reached
/// `reader`.
fn silent_peer<'c>(
    c: &'c Context,
    port: u16,
    name: &str,
    reader: &Peer<'c>,
) -> Result<Peer<'c>, Failure> {
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
    reader.expect_after_notices(&format!("{} hello", peer.tag))?;
    Ok(peer)
}

#[test]
fn a_slot_is_freed_once_copied_even_if_a_client_does_not_read() {
    run(|c| {
        let room = Room::start(c, &[])?;
        let mut peers = c.peers(room.port(), 2)?;
        let mut r = silent_peer(c, room.port(), "R", &peers[1])?;
        let line = [vec![b'x'; 1023], b"\n".to_vec()].concat();
        let expected = format!("{} {}", peers[0].tag, "x".repeat(1023));
        c.step(
            "R reads nothing while A sends lines of 1 KiB, B receiving each, until the kernel's \
             buffers towards R are full (its send queue in /proc/net/tcp stops growing)",
        );
        let (room_port, r_port) = (room.port(), port_of(&r));
        let queued = || {
            tcp_sockets()
                .values()
                .find(|&&(local, remote, _)| local == room_port && remote == r_port)
                .map_or(0, |&(_, _, queue)| queue)
        };
        let (mut sent, mut most, mut flat) = (0, 0, 0);
        while flat < 3 {
            if sent > 16 * 1024 {
                return Err(Failure::new(format!(
                    "after {sent} KiB, the send queue towards R still grew ({most} bytes)"
                )));
            }
            for _ in 0..64 {
                peers[0].send_quietly(&line)?;
                peers[1].expect_line(&expected)?;
                sent += 1;
            }
            let now = queued();
            if now > most {
                (most, flat) = (now, 0);
            } else {
                flat += 1;
            }
        }
        // Now whatever R's helper cannot write waits in its outbox. More
        // lines than the ring has slots, far less than 1 MiB: a helper that
        // kept its slots until its client read them would fill the ring,
        // and be disconnected as stuck, its leave reaching B before `end`.
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
            return Err(Failure::new(format!(
                "R got {got} of A's {total} lines before `end`"
            )));
        }
        Ok(())
    });
}

#[test]
fn when_the_ring_wraps_onto_a_stuck_helper_its_client_is_disconnected() {
    run(|c| {
        let room = Room::start(c, &[])?;
        let pid = room.pid();
        let mut peers = c.peers(room.port(), 2)?;
        let mut r = silent_peer(c, room.port(), "R", &peers[1])?;
        let Some(stuck) = helper_of(pid, port_of(&r)) else {
            return Err(Failure::new("no child of the room serves R"));
        };
        c.step(format!("stop R's helper (SIGSTOP to {stuck})"));
        harness::process::signal(stuck, libc::SIGSTOP);
        let lines = SLOTS + 44;
        c.step(format!(
            "A sends {lines} lines, more than the ring's {SLOTS} slots; B must get them all, and R's leave"
        ));
        let sending = Instant::now();
        for i in 0..lines {
            peers[0].send_quietly(format!("line {i}\n").as_bytes())?;
        }
        let leave = format!("{} (disconnected)", r.tag);
        let mut left_after = None;
        let mut i = 0;
        while i < lines || left_after.is_none() {
            let next = peers[1].next_line()?;
            if next == leave.as_bytes() {
                left_after = Some(sending.elapsed());
                continue;
            }
            let expected = format!("{} line {i}", peers[0].tag);
            if next != expected.as_bytes() {
                return Err(Failure {
                    summary: "B missed one of A's lines while the ring was full".into(),
                    expected: Some(expected),
                    seen: Some(harness::show(&next)),
                    ..Failure::default()
                });
            }
            i += 1;
        }
        let left_after = left_after.unwrap_or_default();
        if left_after < STUCK_AFTER {
            return Err(Failure::new(format!(
                "R was disconnected {left_after:?} after the ring filled, before its helper had been stuck for {STUCK_AFTER:?}"
            )));
        }
        c.step("R's connection closes, and its helper is reaped");
        r.start_reading()?;
        r.inbox().wait_end(c.until())?;
        if !eventually(c.until(), || !children(pid).contains(&stuck)) {
            return Err(Failure::new(format!(
                "the stuck helper {stuck} is still a child of the room"
            )));
        }
        Ok(())
    });
}

#[test]
fn out_of_descriptors_newcomers_wait_in_the_backlog_and_all_get_in() {
    run(|c| {
        let room = Room::start_with_fd_limit(c, 32)?;
        let observer = c.peer(room.port())?;
        let crowd_size = 30;
        c.step(format!(
            "{crowd_size} peers Q1 ... Q{crowd_size} connect and say hello, more than 32 \
             descriptors serve (the room holds two pipes per client)"
        ));
        let mut crowd = HashMap::new();
        for i in 1..=crowd_size {
            let mut peer = c.peer_named(
                room.port(),
                &format!("Q{i}"),
                PeerOptions {
                    reads: false,
                    quiet: true,
                    ..PeerOptions::default()
                },
            )?;
            peer.send_quietly(b"hello\n")?;
            crowd.insert(format!("{} hello", peer.tag), peer);
        }
        room.stderr
            .expect_bytes_somewhere(b"out of file descriptors", c.until())
            .map_err(|failure| failure.after("the room never ran out of descriptors"))?;
        c.step(format!(
            "measure for {:?}, while newcomers wait, how long the room runs",
            procfs::IDLE_WINDOW
        ));
        let busy =
            procfs::busy_ms_while_idle(room.pid(), procfs::IDLE_WINDOW).map_err(proc_error)?;
        if busy > procfs::IDLE_CPU_MS {
            return Err(Failure::new(format!(
                "out of descriptors, the room spun: busy {busy} ms of {:?}",
                procfs::IDLE_WINDOW
            )));
        }
        c.step("each Q leaves as soon as its hello reaches the observer; every Q must get in");
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
    });
}

#[test]
fn a_room_removes_the_rings_of_rooms_that_were_killed() {
    run(|c| {
        // A process id above pid_max belongs to no process, ever.
        let pid_max: u64 = fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(4_194_304);
        let stale = format!("/dev/shm/chat-room-{}", pid_max + 1);
        c.step(format!(
            "make {stale}, as a room killed by SIGKILL leaves its ring"
        ));
        fs::write(&stale, b"").map_err(|err| Failure::new(format!("write {stale}: {err}")))?;
        let _room = Room::start(c, &[])?;
        if fs::exists(&stale).unwrap_or(true) {
            let _ = fs::remove_file(&stale);
            return Err(Failure::new(format!(
                "the room started and left {stale}, whose process is gone"
            )));
        }
        Ok(())
    });
}

#[test]
fn bad_arguments_print_the_usage_and_exit_2() {
    for args in [
        &["--idle"][..],
        &["--idle", "0"],
        &["--idle", "x"],
        &["1", "2"],
    ] {
        assert_cmd::Command::new(crate::procs::room_exe())
            .args(args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(
                "usage: room [--idle SECS] [PORT]",
            ));
    }
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_room-helper"))
        .args(["1", "2"])
        .assert()
        .code(2);
    // Numbers of descriptors that are not open: said, status 1.
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_room-helper"))
        .args(["97", "98", "99"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("descriptor 97"));
}
