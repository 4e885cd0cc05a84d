//! The client, rule by rule (protocol.md, "Client"), against a fake server:
//! a plain listening socket whose connection the test drives by hand.

use assert_cmd::Command;
use predicates::prelude::*;

use crate::failure::suspect;
use crate::inbox::DEADLINE;
use crate::peer::{FakeServer, closed_port};
use crate::procfs;
use crate::procs::{Client, client_exe, file_with};

#[test]
fn bad_arguments_print_the_usage_and_exit_2() {
    for args in [
        &["127.0.0.1", "port"][..],
        &["127.0.0.1", "70000"],
        &["a", "1", "extra"],
    ] {
        Command::new(client_exe())
            .args(args)
            .timeout(DEADLINE)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains("usage: client [HOST [PORT]]"));
    }
}

#[test]
fn a_refused_connection_is_reported_on_stderr_with_status_1() {
    let _todo =
        suspect("TODO 4 (return the connect error wrapped by with_context, naming HOST:PORT)");
    let closed = closed_port();
    let port = closed.port;
    Command::new(client_exe())
        .args(["127.0.0.1", &port.to_string()])
        .write_stdin("never sent\n")
        .timeout(DEADLINE)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(format!("127.0.0.1:{port}")))
        .stderr(predicate::str::contains("refused"));
}

#[test]
fn what_arrives_is_printed_while_nothing_is_typed() {
    let _todo = suspect(
        "TODOs 5-7 (standard input and the socket in one epoll set, epoll_wait, relay_from_server on the socket's event)",
    );
    let server = FakeServer::start();
    let client = Client::start(server.port());
    let mut connection = server.accept();
    // Standard input stays open and silent: a client blocked reading it
    // would print nothing.
    connection.send("[127.0.0.1:1234] are you there?\n");
    client.stdout.expect_line("[127.0.0.1:1234] are you there?");
    connection.send("[127.0.0.1:1234] (disconnected)\n");
    client.stdout.expect_line("[127.0.0.1:1234] (disconnected)");
}

#[test]
fn bytes_from_the_server_are_printed_unchanged() {
    let _todo = suspect("TODO 7 (on the socket's event, self.relay_from_server())");
    let server = FakeServer::start();
    let client = Client::start(server.port());
    let mut connection = server.accept();
    let bytes: &[u8] = b"no newline yet \xff\xfe binary \r\x00 and \xc3\xa9";
    connection.send(bytes);
    client.stdout.expect_bytes(bytes);
    connection.send(b"...end\n");
    client.stdout.expect_bytes(b"...end\n");
}

#[test]
fn each_typed_line_is_sent_with_its_newline() {
    let _todo =
        suspect("TODO 8 (read fd 0 with sys::read_fd, append to pending, send_complete_lines)");
    let server = FakeServer::start();
    let mut client = Client::start(server.port());
    let connection = server.accept();
    client.type_in("hello\n");
    connection.expect_line("hello");
    client.type_in("\n");
    connection.expect_line("");
    client.type_in("two words\r\n");
    connection.expect_line("two words\r");
    client.type_in("split ");
    client.type_in("line\n");
    connection.expect_line("split line");
}

#[test]
fn exit_is_not_sent_and_ends_the_client_with_status_0() {
    let _todo = suspect("TODO 8 (return what send_complete_lines returns: it stops at `exit`)");
    for exit in ["exit\n", "exit\r\n"] {
        let server = FakeServer::start();
        let mut client = Client::start(server.port());
        let connection = server.accept();
        // Everything in one write: the lines before `exit` go out, the ones
        // after it do not.
        client.type_in(format!("before\n{exit}after\n"));
        connection.expect_line("before");
        connection.inbox().expect_end();
        client.expect_success();
    }
}

#[test]
fn a_line_that_only_contains_exit_is_the_command() {
    let _todo = suspect("TODO 8 (append everything read to pending, then send_complete_lines)");
    let server = FakeServer::start();
    let mut client = Client::start(server.port());
    let connection = server.accept();
    client.type_in("exit now\nexits\n exit\n");
    connection.expect_line("exit now");
    connection.expect_line("exits");
    connection.expect_line(" exit");
}

#[test]
fn end_of_input_sends_the_unfinished_line_and_exits_0() {
    let _todo = suspect("TODO 8 (0 bytes from standard input: return self.finish_input())");
    let server = FakeServer::start();
    let mut client = Client::start(server.port());
    let connection = server.accept();
    client.type_in("first\nunfinished");
    connection.expect_line("first");
    client.close_stdin();
    connection.expect_line("unfinished");
    connection.inbox().expect_end();
    client.expect_success();
}

#[test]
fn when_the_server_closes_the_client_says_so_and_exits_0() {
    let _todo = suspect("TODO 7 (when relay_from_server returns Next::Stop, return Ok)");
    let server = FakeServer::start();
    let mut client = Client::start(server.port());
    let mut connection = server.accept();
    connection.send("[127.0.0.1:1] bye\n");
    client.stdout.expect_line("[127.0.0.1:1] bye");
    connection.close();
    client.stdout.expect_line("[SERVER] Connection closed.");
    client.stdout.expect_end();
    client.expect_success();
}

#[test]
fn the_closing_notice_starts_on_a_line_of_its_own() {
    let _todo = suspect("TODO 7 (when relay_from_server returns Next::Stop, return Ok)");
    let server = FakeServer::start();
    let mut client = Client::start(server.port());
    let mut connection = server.accept();
    connection.send("cut off mid-li");
    client.stdout.expect_bytes(b"cut off mid-li");
    connection.reset();
    client
        .stdout
        .expect_bytes(b"\n[SERVER] Connection closed.\n");
    client.expect_success();
}

#[test]
fn a_burst_of_500_lines_from_a_pipe_arrives_complete_and_in_order() {
    let _todo = suspect(
        "TODO 8 (read with sys::read_fd, never a buffered reader; one read may hold many lines)",
    );
    let server = FakeServer::start();
    let mut client = Client::start(server.port());
    let mut connection = server.accept();
    // Traffic the other way at the same time.
    connection.send("[127.0.0.1:2] (connected)\n");
    let burst: String = (0..500)
        .map(|i| format!("line {i:03} of the burst\n"))
        .collect();
    client.type_in(&burst);
    for i in 0..500 {
        connection.expect_line(format!("line {i:03} of the burst"));
    }
    client.stdout.expect_line("[127.0.0.1:2] (connected)");
    client.close_stdin();
    connection.inbox().expect_end();
    client.expect_success();
}

#[test]
fn a_regular_file_as_standard_input_is_sent_whole() {
    let _todo =
        suspect("TODO 5 (EPERM, ErrorKind::PermissionDenied: stdin_watched = false) and TODO 8");
    let server = FakeServer::start();
    let lines: String = (0..200).map(|i| format!("from a file {i}\n")).collect();
    let mut client = Client::start_with_stdin(server.port(), file_with(lines.as_bytes()));
    let connection = server.accept();
    for i in 0..200 {
        connection.expect_line(format!("from a file {i}"));
    }
    connection.inbox().expect_end();
    client.expect_success();
}

#[test]
fn one_thread_and_one_epoll_instance_watching_stdin_and_the_socket() {
    let _todo = suspect("TODOs 4-5 (one epoll instance, watching the socket and descriptor 0)");
    let server = FakeServer::start();
    let client = Client::start(server.port());
    let mut connection = server.accept();
    // Barrier: once this is printed, the client is in its event loop.
    connection.send("ready?\n");
    client.stdout.expect_line("ready?");
    let pid = client.pid();
    assert_eq!(procfs::threads(pid), 1, "the client runs one thread");
    let watched: Vec<i32> = procfs::the_interest_list(pid)
        .iter()
        .map(|&(fd, _)| fd)
        .collect();
    let sockets = procfs::socket_fds(pid);
    assert_eq!(sockets.len(), 1, "{:?}", procfs::descriptors(pid));
    assert!(
        watched.contains(&0),
        "standard input is watched: {watched:?}"
    );
    assert!(
        watched.contains(&sockets[0]),
        "the socket is watched: {watched:?}"
    );
}

#[test]
fn an_idle_client_uses_no_cpu() {
    let _todo =
        suspect("TODO 6 (epoll_wait with the given timeout: -1 sleeps until something happens)");
    let server = FakeServer::start();
    let client = Client::start(server.port());
    let mut connection = server.accept();
    connection.send("ready?\n");
    client.stdout.expect_line("ready?");
    let used = procfs::cpu_ms_while_idle(client.pid());
    assert!(
        used <= 100,
        "an idle client used {used} ms of CPU in 500 ms"
    );
}
