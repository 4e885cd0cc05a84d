//! The client, rule by rule (protocol.md, "Client"), with pipes as its
//! standard streams, against a fake server: a plain listening socket whose
//! side of the connection, `S`, the test drives by hand.
//!
//! A rule of the client is tested by one scenario function of the harness
//! (`harness/src/rules/client.rs`), which the grader's check of that rule
//! runs too (on a terminal, through its reference server): a test here
//! names the TODOs it exercises and runs the rule against this crate's
//! client. The rest test what the grader checks its own way (the command
//! line, a refused connection) or does not check.

use std::process::Stdio;

use assert_cmd::Command as Cmd;
use assert_cmd::assert::AssertError;
use harness::net::closed_port;
use harness::rules::client::{self as rules, ClientUnderTest, FILE_LINES, Rule, ServerSide};
use harness::{Context, Failure, FakeServer, Outcome, Peer};
use predicates::prelude::*;

use crate::failure::{DEADLINE, Failed, Test};
use crate::procs::{Client, client_exe};

/// Starts the client, with a pipe as its standard input, towards a fake
/// server, and returns it with the server's side of its connection.
fn connected(t: &Test) -> Result<(Client<'_>, Peer<'_>), Failure> {
    connected_with(t, Stdio::piped())
}

/// [`connected`], with `stdin` as the client's standard input.
fn connected_with(t: &Test, stdin: impl Into<Stdio>) -> Result<(Client<'_>, Peer<'_>), Failure> {
    let fake = FakeServer::start()?;
    let client = Client::start_with_stdin(t, fake.port(), stdin)?;
    let server = rules::accept(t, &fake, &client)?;
    Ok((client, server))
}

/// Runs `rule` against the client and a fake server, in a test of `todos`.
fn against_fake(todos: &'static str, rule: Rule) -> Result<(), Failed> {
    let t = Test::new(todos);
    let (mut client, server) = connected(&t)?;
    rule(&t, &mut client, &mut ServerSide::Fake(server))?;
    Ok(())
}

/// [`against_fake`], for a rule that drives the fake server's side itself.
fn against_fake_server(
    todos: &'static str,
    rule: fn(&Context, &mut dyn ClientUnderTest, Peer<'_>) -> Outcome,
) -> Result<(), Failed> {
    let t = Test::new(todos);
    let (mut client, server) = connected(&t)?;
    rule(&t, &mut client, server)?;
    Ok(())
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
    against_fake(
        "TODOs 5-7 (standard input and the socket in one epoll set, epoll_wait retried on EINTR, \
         relay_from_server on the socket's event)",
        rules::receive,
    )
}

#[test]
fn bytes_from_the_server_are_printed_unchanged() -> Result<(), Failed> {
    against_fake_server(
        "TODO 7 (on the socket's event, self.relay_from_server())",
        rules::raw_bytes,
    )
}

#[test]
fn each_typed_line_is_sent_with_its_newline() -> Result<(), Failed> {
    let t =
        Test::new("TODO 8 (read fd 0 with sys::read_fd, append to pending, send_complete_lines)");
    let (mut client, server) = connected(&t)?;
    let mut server = ServerSide::Fake(server);
    rules::send(&t, &mut client, &mut server)?;
    // The `\r` of a line is the server's to drop: the client sends it.
    client.type_in(b"two words\r\n")?;
    server.expect_sent(&client, "two words\r")?;
    Ok(())
}

#[test]
fn exit_is_not_sent_and_ends_the_client_with_status_0() -> Result<(), Failed> {
    let todos = "TODO 8 (return what send_complete_lines returns: it stops at `exit`)";
    against_fake(todos, rules::exit)?;
    against_fake(todos, rules::exit_cr)
}

#[test]
fn a_line_that_only_contains_exit_is_the_command() -> Result<(), Failed> {
    let t = Test::new("TODO 8 (append everything read to pending, then send_complete_lines)");
    let (mut client, server) = connected(&t)?;
    client.type_in(b"exit now\nexits\n exit\n")?;
    server.expect_line("exit now")?;
    server.expect_line("exits")?;
    server.expect_line(" exit")?;
    Ok(())
}

#[test]
fn end_of_input_sends_the_unfinished_line_and_exits_0() -> Result<(), Failed> {
    against_fake(
        "TODO 8 (0 bytes from standard input: return self.finish_input())",
        rules::eof_after_unfinished_line,
    )
}

#[test]
fn when_the_server_closes_the_client_says_so_and_exits_0() -> Result<(), Failed> {
    let t = Test::new("TODO 7 (when relay_from_server returns Next::Stop, return Ok)");
    let (mut client, server) = connected(&t)?;
    rules::server_close(&t, &mut client, server)?;
    // This crate's client prints nothing after the notice (the protocol
    // would allow notes that do not begin with `[`).
    client.expect_stdout_end()?;
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
    against_fake(
        "TODO 8 (read with sys::read_fd, never a buffered reader; one read may hold many lines)",
        rules::burst,
    )
}

#[test]
fn a_regular_file_as_standard_input_is_sent_whole() -> Result<(), Failed> {
    let t =
        Test::new("TODO 5 (EPERM, ErrorKind::PermissionDenied: stdin_watched = false) and TODO 8");
    let file = rules::input_file()
        .map_err(|err| Failure::new(format!("could not make a file for standard input: {err}")))?;
    t.step(format!(
        "the client's stdin is a regular file of {FILE_LINES} lines"
    ));
    let (mut client, server) = connected_with(&t, file)?;
    rules::file_input(&t, &mut client, &mut ServerSide::Fake(server))?;
    Ok(())
}

#[test]
fn one_thread_and_one_epoll_instance_watching_stdin_and_the_socket() -> Result<(), Failed> {
    against_fake(
        "TODOs 4-5 (one epoll instance, watching the socket and descriptor 0)",
        rules::one_thread,
    )
}

#[test]
fn an_idle_client_uses_no_cpu() -> Result<(), Failed> {
    against_fake(
        "TODO 6 (epoll_wait with the given timeout: -1 sleeps until something happens)",
        rules::idle_cpu,
    )
}
