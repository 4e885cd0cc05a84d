//! The server, rule by rule (protocol.md, "Server"), against raw TCP peers.
//!
//! An absence ("the sender does not get its own line") is proven with a
//! barrier: something sent *later* arrives first.

use std::net::{Ipv4Addr, TcpListener};
use std::thread;

use assert_cmd::Command;
use predicates::prelude::*;

use crate::failure::suspect;
use crate::inbox::Inbox;
use crate::peer::{Options, Peer};
use crate::procfs;
use crate::procs::{Server, describe_status, server_exe};

/// `count` peers, each connected after the previous one was announced to the
/// first, so that every one of them is known to be in the chat.
#[track_caller]
fn peers(server: &Server, count: usize) -> Vec<Peer> {
    let mut peers: Vec<Peer> = vec![server.peer()];
    for _ in 1..count {
        let newcomer = server.peer();
        for peer in &peers {
            peer.expect_join(&newcomer);
        }
        peers.push(newcomer);
    }
    peers
}

/// `size` bytes of printable text that differ along the way, so a piece cut
/// in the wrong place or in the wrong order shows.
fn text(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
        .collect()
}

// Rule 1: the readiness line, the port, SO_REUSEADDR, bind failures.

#[test]
fn port_0_prints_the_readiness_line_with_the_real_port() {
    let _todo = suspect(
        "TODOs 9-12 (the epoll set, the loop, accept, admit) and 14-15 (queue and write the join notice)",
    );
    let server = Server::start();
    assert_ne!(server.port(), 0, "the line names the port the kernel chose");
    // The line is printed only once the server listens: connect at once.
    let peer = server.peer();
    let other = server.peer();
    peer.expect_join(&other);
}

#[test]
fn the_server_listens_on_the_port_it_is_given() {
    let _todo = suspect("TODO 9 (Server::new builds the epoll set before the readiness line)");
    // A port that was free a moment ago may be taken by another test's
    // connection before the server binds it: then the server says so and
    // exits 1, and we try another port.
    for _ in 0..5 {
        let port = crate::peer::free_port();
        let mut child = std::process::Command::new(server_exe())
            .arg(port.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the server");
        let stdout = Inbox::spawn("server stdout", child.stdout.take().expect("piped"));
        let stderr = Inbox::spawn("server stderr", child.stderr.take().expect("piped"));
        let line = stdout.try_next_line();
        let _ = child.kill();
        let _ = child.wait();
        match line {
            Some(line) => {
                assert_eq!(
                    String::from_utf8_lossy(&line),
                    format!("listening on 0.0.0.0:{port}")
                );
                return;
            }
            None => {
                let why = String::from_utf8_lossy(&stderr.rest_until_end()).into_owned();
                assert!(why.contains("in use"), "the server did not start: {why}");
            }
        }
    }
    panic!("five free ports in a row were taken before the server could bind them");
}

#[test]
fn a_restarted_server_gets_its_port_back_at_once() {
    let _todo = suspect(
        "TODO 10 (on the signal descriptor's event, return Ok: dropping the server closes its sockets)",
    );
    // The server closes its side first (SIGTERM), so its end of the
    // connection lingers in TIME_WAIT: without SO_REUSEADDR, binding the
    // port again would fail with "Address already in use".
    let mut first = Server::start();
    let port = first.port();
    let peer = first.peer();
    let other = first.peer();
    peer.expect_join(&other);
    first.signal(libc::SIGTERM);
    assert!(first.wait_exit().success());
    peer.inbox().expect_end();
    other.inbox().expect_end();

    let mut command = std::process::Command::new(server_exe());
    command.arg(port.to_string());
    let second = Server::start_with(&mut command);
    assert_eq!(second.port(), port);
}

#[test]
fn bad_arguments_print_the_usage_and_exit_2() {
    for args in [&["http"][..], &["65536"], &["-1"], &["5000", "extra"]] {
        Command::new(server_exe())
            .args(args)
            .timeout(crate::inbox::DEADLINE)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains("usage: server [PORT]"));
    }
}

#[test]
fn a_port_in_use_is_reported_on_stderr_with_status_1() {
    let taken = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind");
    let port = taken.local_addr().expect("address").port();
    Command::new(server_exe())
        .arg(port.to_string())
        .timeout(crate::inbox::DEADLINE)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(format!("0.0.0.0:{port}")))
        .stderr(predicate::str::contains("in use"));
}

// Rules 3 to 5: tags, join, message.

#[test]
fn a_join_is_announced_to_the_others_only() {
    let _todo = suspect(
        "TODO 12 (admit: broadcast the notice, then insert the newcomer) and TODOs 14-15 (queue it for the others, write it)",
    );
    let server = Server::start();
    let first = server.peer();
    let second = server.peer();
    first.expect_join(&second);
    let third = server.peer();
    first.expect_join(&third);
    // The second's first line is about the third: it heard nothing about
    // itself (and nothing about the first, who came before it).
    second.expect_join(&third);
    // Barrier: the third hears the first's line, and nothing before it.
    let mut first = first;
    first.send("barrier\n");
    third.expect_from(&first, "barrier");
}

#[test]
fn a_line_goes_to_every_other_client_and_not_back_to_its_sender() {
    let _todo = suspect(
        "TODO 13 (read once, push_message each line, broadcast) and TODO 14 (every client but the sender)",
    );
    let server = Server::start();
    let mut chat = peers(&server, 3);
    chat[0].send("hello, world\n");
    chat[1].expect_from(&chat[0], "hello, world");
    chat[2].expect_from(&chat[0], "hello, world");
    // Barrier: the sender's next line is the later reply, not its own line.
    chat[1].send("reply\n");
    chat[0].expect_from(&chat[1], "reply");
    chat[2].expect_from(&chat[1], "reply");
}

#[test]
fn the_tag_is_the_peer_address_as_the_server_sees_it() {
    let _todo = suspect(
        "TODO 12 (the tag is protocol::tag(stream.peer_addr()?): the client's address, not the server's)",
    );
    let server = Server::start();
    let listener = server.peer();
    let mut from_two = server.peer_with(Options {
        from: Ipv4Addr::new(127, 0, 0, 2),
        ..Options::default()
    });
    assert!(from_two.tag.starts_with("[127.0.0.2:"), "{}", from_two.tag);
    listener.expect_join(&from_two);
    from_two.send("from another address\n");
    listener.expect_from(&from_two, "from another address");
}

#[test]
fn empty_lines_are_forwarded_and_a_carriage_return_is_dropped() {
    let _todo =
        suspect("TODO 13 (every line that client.inbox.push completes goes out, empty ones too)");
    let server = Server::start();
    let mut chat = peers(&server, 2);
    chat[0].send("\nwindows\r\n\r\nmid\rline\n");
    chat[1].expect_from(&chat[0], "");
    chat[1].expect_from(&chat[0], "windows");
    chat[1].expect_from(&chat[0], "");
    chat[1].expect_from(&chat[0], "mid\rline");
}

// Rule 6: leaving.

#[test]
fn a_client_that_closes_is_announced_to_the_others() {
    let _todo = suspect("TODO 13 (a read of 0 bytes: remove_client) and TODO 16 (tell the others)");
    let server = Server::start();
    let mut chat = peers(&server, 3);
    let leaver = chat.remove(2);
    let tag = leaver.tag.clone();
    leaver.close();
    chat[0].expect_line(format!("{tag} (disconnected)"));
    chat[1].expect_line(format!("{tag} (disconnected)"));
}

#[test]
fn a_partial_line_is_forwarded_before_the_leave_notice() {
    let _todo = suspect("TODO 16 (inbox.finish, then the (disconnected) notice, in one broadcast)");
    let server = Server::start();
    let mut chat = peers(&server, 2);
    let mut leaver = chat.remove(1);
    leaver.send("one\nlast words\r");
    let tag = leaver.tag.clone();
    leaver.close();
    chat[0].expect_line(format!("{tag} one"));
    chat[0].expect_line(format!("{tag} last words"));
    chat[0].expect_line(format!("{tag} (disconnected)"));
}

#[test]
fn a_reset_peer_is_dropped_and_the_others_keep_chatting() {
    let _todo = suspect("TODO 13 (a read error: remove_client) and TODO 16 (tell the others)");
    let server = Server::start();
    let mut chat = peers(&server, 3);
    let resetter = chat.remove(2);
    let tag = resetter.tag.clone();
    resetter.reset();
    chat[0].expect_line(format!("{tag} (disconnected)"));
    chat[1].expect_line(format!("{tag} (disconnected)"));
    chat[0].send("still here\n");
    chat[1].expect_from(&chat[0], "still here");
}

#[test]
fn writing_to_a_peer_that_reset_does_not_kill_the_server() {
    let _todo =
        suspect("TODO 15 (a write error other than WouldBlock or Interrupted: remove_client)");
    let mut server = Server::start();
    let mut chat = peers(&server, 3);
    // The third never reads, so the server has bytes queued for it when it
    // resets: writing them fails (EPIPE or ECONNRESET), and must not raise
    // SIGPIPE. 3 MiB exceed what the kernel buffers for it.
    let stuck = chat.remove(2);
    let line = [text(1023), b"\n".to_vec()].concat();
    let (sender, reader) = chat.split_at_mut(1);
    send_paced(&mut sender[0], &reader[0], &line, 3 * 1024, None);
    let tag = stuck.tag.clone();
    stuck.reset();
    chat[1].expect_line(format!("{tag} (disconnected)"));
    chat[0].send("after the reset\n");
    chat[1].expect_from(&chat[0], "after the reset");
    assert!(server.is_running());
}

/// How far (in lines) a sender may get ahead of a reading peer in the bulk
/// tests: far below what the kernel buffers for that peer plus the 1 MiB
/// limit, so the reading peer never looks slow to the server, however loaded
/// the machine is.
const AHEAD: usize = 256;

/// `sender` sends `line` `count` times, never more than AHEAD lines ahead of
/// what `reader` has received; `reader` must get them all, in order, and
/// `also` (a leave notice, say) somewhere among them.
fn send_paced(sender: &mut Peer, reader: &Peer, line: &[u8], count: usize, also: Option<&[u8]>) {
    let expected = [
        format!("{} ", sender.tag).as_bytes(),
        &line[..line.len() - 1],
    ]
    .concat();
    let (mut sent, mut received, mut saw_also) = (0, 0, also.is_none());
    while received < count || !saw_also {
        while sent < count && sent < received + AHEAD {
            sender.send(line);
            sent += 1;
        }
        let next = reader
            .inbox()
            .next_line_expecting(&format!("line {received} of {count} from {}", sender.tag));
        if Some(&next[..]) == also {
            saw_also = true;
        } else {
            if next != expected {
                crate::failure::fail(format!(
                    "{} expected line {received} of {count} from {}, {}\n  but got {}",
                    reader.tag,
                    sender.tag,
                    crate::inbox::show(&expected),
                    crate::inbox::show(&next)
                ));
            }
            received += 1;
        }
    }
}

// Rules 7 and 8: framing and order.

#[test]
fn a_line_split_across_sends_is_forwarded_once_and_whole() {
    let _todo = suspect(
        "TODO 13 (push what was read into the client's inbox, which keeps an unfinished line for the next read)",
    );
    let server = Server::start();
    let mut chat = peers(&server, 3);
    // Between the parts, a line from another peer goes through the server:
    // by then it has read the first part (on loopback, a write is in the
    // receiver's buffer when it returns), and must hold it.
    chat[0].send("hel");
    chat[2].send("between 1\n");
    chat[1].expect_from(&chat[2], "between 1");
    chat[0].send("lo, wor");
    chat[2].send("between 2\n");
    chat[1].expect_from(&chat[2], "between 2");
    chat[0].send("ld\n");
    chat[1].expect_from(&chat[0], "hello, world");
}

#[test]
fn several_lines_in_one_send_arrive_as_lines_in_order() {
    let _todo =
        suspect("TODO 13 (one read may complete several lines: the inbox calls you once for each)");
    let server = Server::start();
    let mut chat = peers(&server, 2);
    chat[0].send("one\ntwo\nthree\nfo");
    chat[0].send("ur\n");
    for word in ["one", "two", "three", "four"] {
        chat[1].expect_from(&chat[0], word);
    }
}

#[test]
fn a_10000_byte_line_arrives_as_pieces_of_4096_4096_and_1808() {
    let _todo = suspect(
        "TODO 13 (push every read into the client's inbox: it cuts long lines at 4096 bytes)",
    );
    let server = Server::start();
    let mut chat = peers(&server, 2);
    let long = text(10_000);
    chat[0].send([&long[..], b"\n"].concat());
    let prefix = format!("{} ", chat[0].tag).into_bytes();
    for piece in [&long[..4096], &long[4096..8192], &long[8192..]] {
        chat[1].expect_line([&prefix[..], piece].concat());
    }
}

#[test]
fn a_line_of_4096_bytes_is_whole_and_one_of_4097_is_two_pieces() {
    let _todo = suspect(
        "TODO 13 (push every read into the client's inbox: it cuts long lines at 4096 bytes)",
    );
    let server = Server::start();
    let mut chat = peers(&server, 2);
    let prefix = format!("{} ", chat[0].tag).into_bytes();
    let exact = text(4096);
    chat[0].send([&exact[..], b"\n"].concat());
    chat[1].expect_line([&prefix[..], &exact[..]].concat());
    let over = text(4097);
    chat[0].send([&over[..], b"\n"].concat());
    chat[1].expect_line([&prefix[..], &over[..4096]].concat());
    chat[1].expect_line([&prefix[..], &over[4096..]].concat());
}

#[test]
fn lines_from_one_client_arrive_complete_and_in_order() {
    let _todo = suspect(
        "TODOs 13-15 (each line queued whole, in order; the outbox written from its front, drain(..written))",
    );
    let server = Server::start();
    let mut chat = peers(&server, 3);
    // Two senders at once: each one's lines stay in order and whole, even
    // when the server interleaves the two.
    let mut second = chat.remove(1);
    let writer = thread::spawn(move || {
        let batch: String = (0..3000).map(|i| format!("second {i:05}\n")).collect();
        second.send(batch.as_bytes());
        second
    });
    let batch: String = (0..3000).map(|i| format!("first {i:05}\n")).collect();
    chat[0].send(batch.as_bytes());
    let second = writer.join().expect("the writer thread");
    let (mut next_first, mut next_second) = (0, 0);
    while next_first < 3000 || next_second < 3000 {
        let line = chat[1].inbox().next_line_expecting(&format!(
            "the next line of either sender (had {next_first} of 3000 from the first, {next_second} of 3000 from the second)"
        ));
        let line = String::from_utf8(line).expect("UTF-8");
        if let Some(rest) = line.strip_prefix(&format!("{} first ", chat[0].tag)) {
            assert_eq!(
                rest,
                format!("{next_first:05}"),
                "the first sender's lines, in order"
            );
            next_first += 1;
        } else if let Some(rest) = line.strip_prefix(&format!("{} second ", second.tag)) {
            assert_eq!(
                rest,
                format!("{next_second:05}"),
                "the second sender's lines, in order"
            );
            next_second += 1;
        } else {
            panic!("a line that is neither sender's, or cut: {line:?}");
        }
    }
}

// Rule 9: never blocking on one client; outboxes; the slow consumer.

/// A peer that does not read, with a small receive buffer, so that what the
/// server sends it soon has to wait in the server's outbox.
fn non_reader(server: &Server) -> Peer {
    server.peer_with(Options {
        receive_buffer: Some(4096),
        reads: false,
        ..Options::default()
    })
}

#[test]
fn epollout_is_watched_only_while_a_client_has_bytes_waiting() {
    let _todo = suspect(
        "TODO 15 (EPOLLOUT on while bytes are left, off once the outbox is empty) and TODO 3 (update)",
    );
    let server = Server::start();
    let mut chat = peers(&server, 2);
    let mut stuck = non_reader(&server);
    chat[0].expect_join(&stuck);
    chat[1].expect_join(&stuck);
    let pid = server.pid();
    let watching_out = || {
        procfs::the_interest_list(pid)
            .iter()
            .any(|&(_, events)| events & libc::EPOLLOUT as u32 != 0)
    };
    assert!(!watching_out(), "no EPOLLOUT while every outbox is empty");

    // Send 16 KiB at a time until the kernel's buffers towards the stuck
    // peer are full (on loopback they take about 2.7 MB, as the server's send
    // buffer grows) and the server must keep bytes in its outbox. Each
    // round ends when the other reader has it all, so the server has read
    // it and tried to write it to the stuck peer too.
    let line = [text(1023), b"\n".to_vec()].concat();
    let mut lines_sent = 0;
    while !watching_out() {
        assert!(
            lines_sent < 16 * 1024,
            "no EPOLLOUT after {lines_sent} KiB queued for a peer that does not read"
        );
        for _ in 0..16 {
            chat[0].send(&line);
            chat[1]
                .inbox()
                .next_line_expecting("the 1 KiB line just sent by the other peer");
        }
        lines_sent += 16;
    }

    // Let the stuck peer read it all: the server writes the rest, and then
    // switches EPOLLOUT off.
    stuck.start_reading();
    for _ in 0..lines_sent {
        stuck.expect_line([format!("{} ", chat[0].tag).as_bytes(), &line[..1023]].concat());
    }
    // Barrier: the server reads this after its last write to the stuck peer.
    stuck.send("drained\n");
    chat[1].expect_from(&stuck, "drained");
    assert!(
        !watching_out(),
        "EPOLLOUT still watched after every outbox was written"
    );
}

#[test]
fn a_client_that_does_not_read_is_dropped_and_the_others_keep_up() {
    let _todo = suspect(
        "TODO 14 (an outbox over OUTBOX_LIMIT goes on too_slow), TODO 15 (write only what the socket takes) and TODO 16",
    );
    let server = Server::start();
    let mut chat = peers(&server, 2);
    let mut slow = non_reader(&server);
    chat[0].expect_join(&slow);
    chat[1].expect_join(&slow);

    // 8 MiB for everyone: far more than the 1 MiB limit plus what the
    // kernel holds for the slow peer. The reader gets every line, and
    // somewhere among them the notice that the slow peer was dropped.
    let line = [text(1023), b"\n".to_vec()].concat();
    let lines = 8 * 1024;
    let slow_left = format!("{} (disconnected)", slow.tag).into_bytes();
    let (sender, reader) = chat.split_at_mut(1);
    send_paced(&mut sender[0], &reader[0], &line, lines, Some(&slow_left));

    // The slow peer gets what the kernel still held for it, then the end.
    slow.start_reading();
    let rest = slow.inbox().rest_until_end();
    assert!(
        rest.len() < lines * 1024,
        "the slow peer was cut off, yet it received everything ({} bytes)",
        rest.len()
    );
    chat[0].send("after\n");
    chat[1].expect_from(&chat[0], "after");
    let peak = procfs::peak_rss_kib(server.pid());
    assert!(peak < 64 * 1024, "the server's memory grew to {peak} KiB");
}

// Rule 10: many clients, running out of descriptors.

#[test]
fn fifty_clients_are_all_served() {
    let _todo = suspect(
        "TODOs 11-12 (accept every waiting newcomer) and TODO 14 (queue each line for all but its sender)",
    );
    let server = Server::start();
    let mut chat = peers(&server, 50);
    for (i, peer) in chat.iter_mut().enumerate() {
        peer.send(format!("hello from {i}\n"));
    }
    for (i, peer) in chat.iter().enumerate() {
        let mut heard: Vec<String> = (0..49)
            .map(|heard| {
                let line = peer
                    .inbox()
                    .next_line_expecting(&format!("hello {} of 49", heard + 1));
                String::from_utf8(line).expect("UTF-8")
            })
            .collect();
        heard.sort();
        let mut expected: Vec<String> = chat
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(j, other)| format!("{} hello from {j}", other.tag))
            .collect();
        expected.sort();
        assert_eq!(heard, expected, "what peer {i} heard");
    }
}

#[test]
fn out_of_descriptors_it_keeps_serving_does_not_spin_and_accepts_later() {
    let _todo = suspect(
        "TODO 11 (out of descriptors: return self.pause_accepting(); another error: log it and continue)",
    );
    const LIMIT: usize = 16;
    let server = Server::start_with_fd_limit(LIMIT as u64);
    let pid = server.pid();
    let mut chat = peers(&server, 2);
    // The limit bounds descriptor *numbers*: count the numbers still free
    // below it (the server may have inherited a descriptor or two).
    let free_below_limit = || {
        let used = procfs::descriptors(pid)
            .iter()
            .filter(|&&(fd, _)| (fd as usize) < LIMIT)
            .count();
        LIMIT - used
    };
    let free = free_below_limit();
    assert!(
        free >= 2,
        "the server already uses {} of {LIMIT} descriptors",
        LIMIT - free
    );

    // More newcomers than free descriptors: the first `free` are accepted,
    // the others wait in the listen backlog.
    let mut newcomers: Vec<Peer> = (0..free + 4).map(|_| server.peer()).collect();
    let mut accepted = Vec::new();
    for _ in 0..free {
        let line = chat[0].inbox().next_line_expecting("a join notice");
        let line = String::from_utf8(line).expect("UTF-8");
        let tag = line.strip_suffix(" (connected)").expect("a join notice");
        accepted.push(
            newcomers
                .iter()
                .position(|p| p.tag == tag)
                .expect("a newcomer's tag"),
        );
    }
    assert_eq!(free_below_limit(), 0, "{:?}", procfs::descriptors(pid));

    // It still serves the clients it has.
    chat[1].send("still chatting\n");
    chat[0].expect_from(&chat[1], "still chatting");
    // It does not spin on the listener it cannot accept from.
    let used = procfs::cpu_ms_while_idle(pid);
    assert!(
        used <= 100,
        "the server used {used} ms of CPU in 500 ms while out of descriptors"
    );

    // One leaves: its descriptor is free again, and a waiting newcomer gets
    // in.
    let leaver = newcomers.remove(accepted[0]);
    let tag = leaver.tag.clone();
    leaver.close();
    chat[0].expect_line(format!("{tag} (disconnected)"));
    let line = chat[0]
        .inbox()
        .next_line_expecting("the join notice of a newcomer that waited");
    let line = String::from_utf8(line).expect("UTF-8");
    let joined = line
        .strip_suffix(" (connected)")
        .unwrap_or_else(|| panic!("expected a waiting newcomer to be accepted, got {line:?}"));
    assert!(
        newcomers.iter().any(|p| p.tag == joined),
        "{joined} is one of the waiting newcomers"
    );
}

#[test]
fn no_descriptor_is_leaked_after_20_joins_and_leaves() {
    let _todo = suspect(
        "TODO 16 (take the socket out of the epoll set, then close it by dropping the stream)",
    );
    let server = Server::start();
    let watcher = server.peer();
    let first_visitor = server.peer();
    watcher.expect_join(&first_visitor);
    let tag = first_visitor.tag.clone();
    first_visitor.close();
    watcher.expect_line(format!("{tag} (disconnected)"));
    let before = procfs::descriptors(server.pid());
    for _ in 0..20 {
        let visitor = server.peer();
        watcher.expect_join(&visitor);
        let tag = visitor.tag.clone();
        visitor.close();
        watcher.expect_line(format!("{tag} (disconnected)"));
    }
    let after = procfs::descriptors(server.pid());
    assert_eq!(
        before.len(),
        after.len(),
        "descriptors before {before:?}, after {after:?}"
    );
}

// Rule 2: one thread, one epoll set, no CPU while idle.

#[test]
fn one_thread_and_one_epoll_instance_that_watches_every_socket() {
    let _todo =
        suspect("TODO 9 (one epoll set with the listener) and TODO 12 (add each client to it)");
    let server = Server::start();
    let chat = peers(&server, 3);
    let pid = server.pid();
    assert_eq!(procfs::threads(pid), 1, "the server runs one thread");
    let watched: Vec<i32> = procfs::the_interest_list(pid)
        .iter()
        .map(|&(fd, _)| fd)
        .collect();
    let sockets = procfs::socket_fds(pid);
    assert_eq!(
        sockets.len(),
        4,
        "the listener and three clients: {:?}",
        procfs::descriptors(pid)
    );
    for socket in &sockets {
        assert!(
            watched.contains(socket),
            "socket fd {socket} is not in the epoll set {watched:?}"
        );
    }
    drop(chat);
}

#[test]
fn an_idle_server_uses_no_cpu() {
    let _todo = suspect(
        "TODO 10 (epoll_wait with the given timeout) and TODO 15 (EPOLLOUT off once the outbox is empty)",
    );
    let server = Server::start();
    let _chat = peers(&server, 3);
    let used = procfs::cpu_ms_while_idle(server.pid());
    assert!(
        used <= 100,
        "an idle server used {used} ms of CPU in 500 ms"
    );
}

// Rule 11: SIGINT and SIGTERM.

/// What TODOs 9 and 10 make work on their own, before the server can accept
/// anyone (TODO 11): it announces itself, waits in `epoll_wait` without
/// using the CPU, and a signal stops it with status 0.
#[test]
fn ready_and_stopped_by_a_signal_before_any_client() {
    let _todo = suspect(
        "TODO 9 (the signal descriptor in the epoll set) and TODO 10 (epoll_wait with the given timeout; the signal descriptor's event: return Ok)",
    );
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut server = Server::start();
        if signal == libc::SIGTERM {
            let used = procfs::cpu_ms_while_idle(server.pid());
            assert!(
                used <= 100,
                "a server with no client used {used} ms of CPU in 500 ms: does epoll_wait get the timeout -1?"
            );
        }
        if !server.is_running() {
            crate::failure::fail("the server exited on its own, before any signal".to_owned());
        }
        server.signal(signal);
        let status = server.wait_exit();
        if status.code() != Some(0) {
            crate::failure::fail(format!(
                "after signal {signal}, the server exited with {}, not with status 0",
                describe_status(status)
            ));
        }
    }
}

#[test]
fn sigterm_and_sigint_close_every_socket_and_exit_0() {
    let _todo = suspect(
        "TODO 10 (on the signal descriptor's event, return Ok: dropping the server closes every socket)",
    );
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut server = Server::start();
        let chat = peers(&server, 2);
        server.signal(signal);
        let status = server.wait_exit();
        assert_eq!(
            status.code(),
            Some(0),
            "after signal {signal}: {}",
            describe_status(status)
        );
        for peer in &chat {
            peer.inbox().expect_end();
        }
    }
}
