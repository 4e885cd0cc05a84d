//! The client, rule by rule (protocol.md, "Client"), against a fake server:
//! a plain listening socket whose side of the connection, `S`, the test
//! drives by hand.

use std::process::Stdio;

use assert_cmd::Command as Cmd;
use assert_cmd::assert::AssertError;
use harness::net::closed_port;
use harness::procfs::{self, IDLE_WINDOW};
use harness::{Failure, FakeServer, Peer, rules};
use predicates::prelude::*;

use crate::failure::{self, DEADLINE, Failed, Test};
use crate::procs::{Client, client_exe, file_with, proc_error};

/// Starts the client, with a pipe as its standard input, towards a fake
/// server, and returns it with the server's side of its connection.
fn connected(t: &Test) -> Result<(Client<'_>, Peer<'_>), Failure> {
    connected_with(t, Stdio::piped())
}

/// [`connected`], with `stdin` as the client's standard input.
fn connected_with(t: &Test, stdin: impl Into<Stdio>) -> Result<(Client<'_>, Peer<'_>), Failure> {
    let fake = FakeServer::start()?;
    let client = Client::start_with_stdin(t, fake.port(), stdin)?;
    // A client that exited will not connect any more: no use waiting.
    let server = fake.accept(t, "S", &failure::a_process_exited)?;
    Ok((client, server))
}

#[test]
fn bad_arguments_print_the_usage_and_exit_2() {
    for args in [
        &["127.0.0.1", "port"][..],
        &["127.0.0.1", "70000"],
        &["a", "1", "extra"],
    ] {
        Cmd::new(client_exe())
            .args(args)
            .timeout(DEADLINE)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains("usage: client [HOST [PORT]]"));
    }
}

#[test]
fn a_refused_connection_is_reported_on_stderr_with_status_1() -> Result<(), Failed> {
    let _t =
        Test::new("TODO 4 (return the connect error wrapped by with_context, naming HOST:PORT)");
    let closed = closed_port().expect("a port on which nothing listens");
    let port = closed.port;
    let failed =
        |err: AssertError| Failure::new(format!("the client towards a closed port: {err}"));
    let run = Cmd::new(client_exe())
        .args(["127.0.0.1", &port.to_string()])
        .write_stdin("never sent\n")
        .timeout(DEADLINE)
        .assert();
    let run = run.try_code(1).map_err(failed)?;
    let run = run.try_stdout(predicate::str::is_empty()).map_err(failed)?;
    let run = run
        .try_stderr(predicate::str::contains(format!("127.0.0.1:{port}")))
        .map_err(failed)?;
    run.try_stderr(predicate::str::contains("refused"))
        .map_err(failed)?;
    Ok(())
}

#[test]
fn what_arrives_is_printed_while_nothing_is_typed() -> Result<(), Failed> {
    let t = Test::new(
        "TODOs 5-7 (standard input and the socket in one epoll set, epoll_wait, relay_from_server on the socket's event)",
    );
    let (client, mut server) = connected(&t)?;
    // Standard input stays open and silent: a client blocked reading it
    // would print nothing.
    server.send("[127.0.0.1:1234] are you there?\n")?;
    client.expect_chat_line("[127.0.0.1:1234] are you there?")?;
    server.send("[127.0.0.1:1234] (disconnected)\n")?;
    client.expect_chat_line("[127.0.0.1:1234] (disconnected)")?;
    Ok(())
}

#[test]
fn bytes_from_the_server_are_printed_unchanged() -> Result<(), Failed> {
    let t = Test::new("TODO 7 (on the socket's event, self.relay_from_server())");
    let (client, mut server) = connected(&t)?;
    // No newline: a client that waits for one before printing fails here.
    let bytes: &[u8] = b"no newline yet \xff\xfe binary \r\x00 and \xc3\xa9";
    server.send(bytes)?;
    client.expect_printed(bytes)?;
    server.send("...end\n")?;
    client.expect_printed(b"...end\n")?;
    Ok(())
}

#[test]
fn each_typed_line_is_sent_with_its_newline() -> Result<(), Failed> {
    let t =
        Test::new("TODO 8 (read fd 0 with sys::read_fd, append to pending, send_complete_lines)");
    let (mut client, server) = connected(&t)?;
    client.type_in("hello\n")?;
    server.expect_line("hello")?;
    client.type_in("\n")?;
    server.expect_line("")?;
    client.type_in("two words\r\n")?;
    server.expect_line("two words\r")?;
    client.type_in("split ")?;
    client.type_in("line\n")?;
    server.expect_line("split line")?;
    Ok(())
}

#[test]
fn exit_is_not_sent_and_ends_the_client_with_status_0() -> Result<(), Failed> {
    let t = Test::new("TODO 8 (return what send_complete_lines returns: it stops at `exit`)");
    for exit in ["exit\n", "exit\r\n"] {
        let (mut client, server) = connected(&t)?;
        // Everything in one write: the lines before `exit` go out, the ones
        // after it do not.
        client.type_in(format!("before\n{exit}after\n"))?;
        server.expect_line("before")?;
        server.expect_closed()?;
        client.expect_exit(0)?;
    }
    Ok(())
}

#[test]
fn a_line_that_only_contains_exit_is_the_command() -> Result<(), Failed> {
    let t = Test::new("TODO 8 (append everything read to pending, then send_complete_lines)");
    let (mut client, server) = connected(&t)?;
    client.type_in("exit now\nexits\n exit\n")?;
    server.expect_line("exit now")?;
    server.expect_line("exits")?;
    server.expect_line(" exit")?;
    Ok(())
}

#[test]
fn end_of_input_sends_the_unfinished_line_and_exits_0() -> Result<(), Failed> {
    let t = Test::new("TODO 8 (0 bytes from standard input: return self.finish_input())");
    let (mut client, server) = connected(&t)?;
    client.type_in("first\nunfinished")?;
    server.expect_line("first")?;
    client.close_stdin();
    server.expect_line("unfinished")?;
    server.expect_closed()?;
    client.expect_exit(0)?;
    Ok(())
}

#[test]
fn when_the_server_closes_the_client_says_so_and_exits_0() -> Result<(), Failed> {
    let t = Test::new("TODO 7 (when relay_from_server returns Next::Stop, return Ok)");
    let (mut client, mut server) = connected(&t)?;
    server.send("[127.0.0.1:1] bye\n")?;
    client.expect_chat_line("[127.0.0.1:1] bye")?;
    server.close();
    client.expect_chat_line("[SERVER] Connection closed.")?;
    client.expect_stdout_end()?;
    client.expect_exit(0)?;
    Ok(())
}

#[test]
fn the_closing_notice_starts_on_a_line_of_its_own() -> Result<(), Failed> {
    let t = Test::new("TODO 7 (when relay_from_server returns Next::Stop, return Ok)");
    let (mut client, mut server) = connected(&t)?;
    server.send("cut off mid-li")?;
    client.expect_printed(b"cut off mid-li")?;
    server.reset();
    client.expect_printed(b"\n[SERVER] Connection closed.\n")?;
    client.expect_exit(0)?;
    Ok(())
}

#[test]
fn a_burst_of_500_lines_from_a_pipe_arrives_complete_and_in_order() -> Result<(), Failed> {
    let t = Test::new(
        "TODO 8 (read with sys::read_fd, never a buffered reader; one read may hold many lines)",
    );
    let (mut client, mut server) = connected(&t)?;
    // Traffic the other way at the same time.
    server.send("[127.0.0.1:2] (connected)\n")?;
    let burst: String = (0..500)
        .map(|i| format!("line {i:03} of the burst\n"))
        .collect();
    t.step("write 500 lines to the client's stdin at once");
    client.type_quietly(burst.as_bytes())?;
    for i in 0..500 {
        server.expect_line(format!("line {i:03} of the burst"))?;
    }
    client.expect_chat_line("[127.0.0.1:2] (connected)")?;
    client.close_stdin();
    server.expect_closed()?;
    client.expect_exit(0)?;
    Ok(())
}

#[test]
fn a_regular_file_as_standard_input_is_sent_whole() -> Result<(), Failed> {
    let t =
        Test::new("TODO 5 (EPERM, ErrorKind::PermissionDenied: stdin_watched = false) and TODO 8");
    let lines: String = (0..200).map(|i| format!("from a file {i}\n")).collect();
    t.step("the client's stdin is a regular file of 200 lines");
    let (mut client, server) = connected_with(&t, file_with(lines.as_bytes()))?;
    for i in 0..200 {
        server.expect_line(format!("from a file {i}"))?;
    }
    server.expect_closed()?;
    client.expect_exit(0)?;
    Ok(())
}

#[test]
fn one_thread_and_one_epoll_instance_watching_stdin_and_the_socket() -> Result<(), Failed> {
    let t = Test::new("TODOs 4-5 (one epoll instance, watching the socket and descriptor 0)");
    let (client, mut server) = connected(&t)?;
    // Barrier: once this is printed, the client is in its event loop.
    server.send("[127.0.0.1:1] ready?\n")?;
    client.expect_chat_line("[127.0.0.1:1] ready?")?;
    let pid = client.pid();
    let threads = procfs::threads(pid).map_err(proc_error)?;
    if threads != 1 {
        return Err(Failure {
            summary: "the client runs more than one thread".into(),
            expected: Some("1 thread (Threads: in /proc/PID/status)".into()),
            seen: Some(format!("{threads} threads")),
            ..Failure::default()
        }
        .into());
    }
    let epolls = procfs::epoll_fds(pid).map_err(proc_error)?;
    let watched = procfs::watched_fds(pid).map_err(proc_error)?;
    let sockets = procfs::tcp_socket_fds(pid).map_err(proc_error)?;
    if epolls.len() != 1
        || sockets.len() != 1
        || !watched.contains(&0)
        || !watched.contains(&sockets[0])
    {
        return Err(Failure {
            summary: "the client's epoll set does not watch both standard input and the socket"
                .into(),
            expected: Some("one epoll instance, watching fd 0 and the one TCP socket".into()),
            seen: Some(format!(
                "epoll instances {epolls:?}, watched {watched:?}, TCP sockets {sockets:?}"
            )),
            ..Failure::default()
        }
        .into());
    }
    Ok(())
}

#[test]
fn an_idle_client_uses_no_cpu() -> Result<(), Failed> {
    let t =
        Test::new("TODO 6 (epoll_wait with the given timeout: -1 sleeps until something happens)");
    let (client, mut server) = connected(&t)?;
    server.send("[127.0.0.1:1] ready?\n")?;
    client.expect_chat_line("[127.0.0.1:1] ready?")?;
    t.step(format!(
        "measure for {IDLE_WINDOW:?}, while nothing happens, how long the client runs or waits to run"
    ));
    rules::idle_for_the_window(
        client.pid(),
        "the idle client used CPU: it polls or spins instead of sleeping in epoll_wait",
    )?;
    Ok(())
}
