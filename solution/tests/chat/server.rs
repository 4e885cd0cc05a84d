//! The server, rule by rule (protocol.md, "Server"), against raw TCP peers.
//!
//! A rule of the protocol is tested by one scenario function of the
//! harness (`harness/src/rules.rs`), which the grader's check of that rule
//! runs too: a test here names the TODOs it exercises and runs the rule
//! against this crate's server. The rest test what the grader checks its
//! own way (the command line, signals) or does not check.

use std::net::{Ipv4Addr, TcpListener};
use std::process::Command;
use std::thread;

use assert_cmd::Command as Cmd;
use harness::procfs::IDLE_WINDOW;
use harness::rules::{self, UnderTest};
use harness::show::show;
use harness::{Context, Failure, Outcome};
use predicates::prelude::*;

use crate::failure::{DEADLINE, Failed, Test};
use crate::procs::{Server, server_exe};

/// A rule of the protocol, as the harness states it.
type Rule = fn(&Context, &dyn UnderTest) -> Outcome;

/// Starts the server and runs `rule` against it, in a test of `todos`.
fn against_server(todos: &'static str, rule: Rule) -> Result<(), Failed> {
    let t = Test::new(todos);
    let server = Server::start(&t)?;
    rule(&t, &server)?;
    Ok(())
}

// Rule 1: the readiness line, the port, SO_REUSEADDR, bind failures.

#[test]
fn port_0_prints_the_readiness_line_with_the_real_port() -> Result<(), Failed> {
    let t = Test::new(
        "TODO 9 (Server::new builds the epoll set before the readiness line) and TODO 10 (then wait in epoll_wait)",
    );
    // Starting it waits for the line and reads the port in it (never 0).
    let server = Server::start(&t)?;
    // The line is printed only once the server listens: connect at once,
    // without retrying.
    t.peer(server.port())?;
    Ok(())
}

#[test]
fn the_server_listens_on_the_port_it_is_given() -> Result<(), Failed> {
    // A port that was free a moment ago may be taken by another test's
    // connection before the server binds it: then the server says so and
    // exits 1, and we try another port.
    let mut attempts = 1;
    loop {
        let t = Test::new("TODO 9 (Server::new builds the epoll set before the readiness line)");
        let port = free_port();
        let mut command = Command::new(server_exe());
        command.arg(port.to_string());
        match Server::start_with(&t, command) {
            Ok(server) if server.port() == port => return Ok(()),
            Ok(server) => {
                return Err(Failure {
                    summary: "the server's readiness line names another port than its argument"
                        .into(),
                    expected: Some(format!("listening on 0.0.0.0:{port}")),
                    seen: Some(format!("listening on 0.0.0.0:{}", server.port())),
                    ..Failure::default()
                }
                .into());
            }
            Err(_) if attempts < 5 => attempts += 1,
            Err(failure) => return Err(failure.into()),
        }
    }
}

/// A port that was free a moment ago (another test may take it first).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local address").port()
}

#[test]
fn a_restarted_server_gets_its_port_back_at_once() -> Result<(), Failed> {
    let t = Test::new(
        "TODO 10 (on the signal descriptor's event, return Ok: dropping the server closes its sockets)",
    );
    // The server closes its side first (SIGTERM), so its end of each
    // connection lingers in TIME_WAIT: without SO_REUSEADDR, binding the
    // port again would fail with "Address already in use".
    let mut first = Server::start(&t)?;
    let port = first.port();
    let peers = t.peers(port, 2)?;
    first.signal(libc::SIGTERM);
    first.expect_exit(0)?;
    for peer in &peers {
        peer.expect_closed()?;
    }
    let mut command = Command::new(server_exe());
    command.arg(port.to_string());
    Server::start_with(&t, command)?;
    Ok(())
}

#[test]
fn bad_arguments_print_the_usage_and_exit_2() {
    for args in [&["http"][..], &["65536"], &["-1"], &["5000", "extra"]] {
        Cmd::new(server_exe())
            .args(args)
            .timeout(DEADLINE)
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
    Cmd::new(server_exe())
        .arg(port.to_string())
        .timeout(DEADLINE)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(format!("0.0.0.0:{port}")))
        .stderr(predicate::str::contains("in use"));
}

// Rules 3 to 5: tags, join, message.

#[test]
fn a_join_is_announced_to_the_others_only() -> Result<(), Failed> {
    against_server(
        "TODO 12 (admit: broadcast the notice, then insert the newcomer) and TODOs 14-15 (queue it for the others, write it)",
        rules::join,
    )
}

#[test]
fn a_line_goes_to_every_other_client_and_not_back_to_its_sender() -> Result<(), Failed> {
    against_server(
        "TODO 13 (read once, push_message each line, broadcast) and TODO 14 (every client but the sender)",
        rules::broadcast,
    )
}

#[test]
fn the_tag_is_the_peer_address_as_the_server_sees_it() -> Result<(), Failed> {
    against_server(
        "TODO 12 (the tag is protocol::tag(stream.peer_addr()?): the client's address, not the server's)",
        rules::tag,
    )
}

#[test]
fn empty_lines_are_forwarded_and_a_carriage_return_is_dropped() -> Result<(), Failed> {
    against_server(
        "TODO 13 (every line that client.inbox.push completes goes out, empty ones too)",
        rules::empty_and_cr,
    )
}

// Rule 6: leaving.

#[test]
fn a_client_that_closes_is_announced_to_the_others() -> Result<(), Failed> {
    against_server(
        "TODO 13 (a read of 0 bytes: remove_client) and TODO 16 (tell the others)",
        rules::leave,
    )
}

#[test]
fn a_partial_line_is_forwarded_before_the_leave_notice() -> Result<(), Failed> {
    against_server(
        "TODO 16 (inbox.finish, then the (disconnected) notice, in one broadcast) and TODO 13 (read once per event: its last bytes and its end may come in one)",
        rules::partial_leave,
    )
}

#[test]
fn peers_that_reset_are_dropped_and_the_others_keep_chatting() -> Result<(), Failed> {
    against_server(
        "TODO 13 (a read error: remove_client), TODO 15 (a write error other than WouldBlock or Interrupted: remove_client) and TODO 16 (tell the others)",
        rules::reset,
    )
}

// Rules 7 and 8: framing and order.

#[test]
fn a_line_split_across_sends_is_forwarded_once_and_whole() -> Result<(), Failed> {
    against_server(
        "TODO 13 (push what was read into the client's inbox, which keeps an unfinished line for the next read)",
        rules::split,
    )
}

#[test]
fn several_lines_in_one_send_arrive_as_lines_in_order() -> Result<(), Failed> {
    against_server(
        "TODO 13 (one read may complete several lines: the inbox calls you once for each)",
        rules::merged,
    )
}

#[test]
fn long_lines_arrive_in_pieces_of_4096_bytes() -> Result<(), Failed> {
    against_server(
        "TODO 13 (push every read into the client's inbox: it cuts long lines at 4096 bytes)",
        rules::long_line,
    )
}

#[test]
fn lines_from_two_senders_at_once_arrive_complete_and_in_order() -> Result<(), Failed> {
    let t = Test::new(
        "TODOs 13-15 (each line queued whole, in order; the outbox written from its front, drain(..written))",
    );
    let server = Server::start(&t)?;
    let mut peers = t.peers(server.port(), 3)?;
    const LINES: usize = 3000;
    let batch = |name: &str| -> String { (0..LINES).map(|i| format!("{name} {i:05}\n")).collect() };
    t.step(format!(
        "A sends {LINES} lines `first 00000` ... while B sends {LINES} lines `second 00000` ..., at once"
    ));
    let (a, rest) = peers.split_at_mut(1);
    let (b, c) = rest.split_at_mut(1);
    thread::scope(|scope| {
        let writer = scope.spawn(|| b[0].send_quietly(batch("second").as_bytes()));
        a[0].send_quietly(batch("first").as_bytes())?;
        writer.join().expect("the writer thread")
    })?;
    // However the server interleaves the two, each one's lines stay whole
    // and in order.
    let (first, second) = (
        format!("{} first ", a[0].tag),
        format!("{} second ", b[0].tag),
    );
    let (mut next_first, mut next_second) = (0, 0);
    while next_first < LINES || next_second < LINES {
        let line = String::from_utf8_lossy(&c[0].next_line()?).into_owned();
        if line.strip_prefix(&first) == Some(&format!("{next_first:05}")) {
            next_first += 1;
        } else if line.strip_prefix(&second) == Some(&format!("{next_second:05}")) {
            next_second += 1;
        } else {
            return Err(Failure {
                summary: "C received a line out of order, cut, or from nobody".into(),
                expected: Some(format!(
                    "A's line `first {next_first:05}` or B's line `second {next_second:05}`"
                )),
                seen: Some(show(line.as_bytes())),
                ..Failure::default()
            }
            .into());
        }
    }
    Ok(())
}

// Rule 9: never blocking on one client; outboxes; the slow consumer.

#[test]
fn a_reader_that_fell_behind_gets_every_byte_in_order() -> Result<(), Failed> {
    against_server(
        "TODO 15 (remove from the outbox exactly what the write took, drain(..written); the rest waits for EPOLLOUT)",
        rules::slow_reader,
    )
}

#[test]
fn epollout_is_watched_only_while_a_client_has_bytes_waiting() -> Result<(), Failed> {
    against_server(
        "TODO 15 (EPOLLOUT on while bytes are left, off once the outbox is empty) and TODO 3 (update)",
        rules::epollout_off,
    )
}

#[test]
fn a_client_that_does_not_read_is_dropped_and_the_others_keep_up() -> Result<(), Failed> {
    against_server(
        "TODO 14 (an outbox over OUTBOX_LIMIT goes on too_slow), TODO 15 (write only what the socket takes) and TODO 16",
        rules::slow_consumer,
    )
}

// Rule 10: many clients, running out of descriptors.

#[test]
fn fifty_clients_are_all_served() -> Result<(), Failed> {
    against_server(
        "TODOs 11-12 (accept every waiting newcomer) and TODO 14 (queue each line for all but its sender)",
        rules::fifty,
    )
}

#[test]
fn three_hundred_lines_ready_at_once_all_arrive() -> Result<(), Failed> {
    against_server(
        "TODO 10 (epoll_wait fills at most MAX_EVENTS entries: handle exactly events[..ready]; the rest come with the next call)",
        rules::burst,
    )
}

#[test]
fn out_of_descriptors_it_keeps_serving_does_not_spin_and_accepts_later() -> Result<(), Failed> {
    let t = Test::new(
        "TODO 11 (out of descriptors: return self.pause_accepting(); another error: log it and continue)",
    );
    let server = Server::start_with_fd_limit(&t, rules::EMFILE_LIMIT)?;
    rules::emfile(&t, &server)?;
    Ok(())
}

#[test]
fn no_descriptor_is_leaked_after_20_joins_and_leaves() -> Result<(), Failed> {
    against_server(
        "TODO 16 (take the socket out of the epoll set, then close it by dropping the stream)",
        rules::fd_leak,
    )
}

// Rule 2: one thread, one epoll set, no CPU while idle.

#[test]
fn one_thread_and_one_epoll_instance_that_watches_every_socket() -> Result<(), Failed> {
    against_server(
        "TODO 9 (one epoll set with the listener) and TODO 12 (add each client to it)",
        rules::one_thread,
    )
}

#[test]
fn an_idle_server_uses_no_cpu() -> Result<(), Failed> {
    against_server(
        "TODO 10 (epoll_wait with the timeout -1; retry it on EINTR) and TODO 13 (a read of 0 bytes: remove the client, or its socket wakes epoll_wait for ever)",
        rules::idle_cpu,
    )
}

// Rule 11: SIGINT and SIGTERM.

/// What TODOs 9 and 10 make work on their own, before the server can accept
/// anyone (TODO 11): it announces itself, waits in `epoll_wait` without
/// using the CPU, and a signal stops it with status 0.
#[test]
fn ready_and_stopped_by_a_signal_before_any_client() -> Result<(), Failed> {
    let t = Test::new(
        "TODO 9 (the signal descriptor in the epoll set) and TODO 10 (epoll_wait with the given timeout; the signal descriptor's event: return Ok)",
    );
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut server = Server::start(&t)?;
        if signal == libc::SIGTERM {
            t.step(format!(
                "measure for {IDLE_WINDOW:?}, while nothing happens, how long the server runs or waits to run"
            ));
            rules::idle_for_the_window(
                server.pid(),
                "a server with no client used CPU: does epoll_wait get the timeout -1?",
            )?;
        }
        if let Some(how) = server.exited() {
            return Err(Failure::new(format!(
                "the server exited on its own ({how}), before any signal"
            ))
            .into());
        }
        server.signal(signal);
        server.expect_exit(0)?;
    }
    Ok(())
}

#[test]
fn sigterm_and_sigint_close_every_socket_and_exit_0() -> Result<(), Failed> {
    let t = Test::new(
        "TODO 10 (on the signal descriptor's event, return Ok: dropping the server closes every socket)",
    );
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut server = Server::start(&t)?;
        let peers = t.peers(server.port(), 2)?;
        server.signal(signal);
        server.expect_exit(0)?;
        for peer in &peers {
            peer.expect_closed()?;
        }
    }
    Ok(())
}
