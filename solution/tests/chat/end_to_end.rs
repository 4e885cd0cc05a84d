//! The real server and real clients together, as a person would use them.

use crate::failure::suspect;
use crate::procs::{Client, Server};

#[test]
fn two_clients_chat_through_the_server_and_see_it_close() {
    let _todo = suspect("TODOs 4-16 (the client:: and server:: tests point closer)");
    let mut server = Server::start();
    // A raw peer learns each client's tag from its join notice.
    let observer = server.peer();
    let mut alice = Client::start(server.port());
    let alice_tag = join_tag(&observer);
    let mut bob = Client::start(server.port());
    let bob_tag = join_tag(&observer);
    alice.stdout.expect_line(format!("{bob_tag} (connected)"));

    alice.type_in("hi bob\n");
    bob.stdout.expect_line(format!("{alice_tag} hi bob"));
    observer.expect_line(format!("{alice_tag} hi bob"));
    bob.type_in("hi alice\n");
    alice.stdout.expect_line(format!("{bob_tag} hi alice"));
    observer.expect_line(format!("{bob_tag} hi alice"));

    bob.type_in("exit\n");
    bob.expect_success();
    alice
        .stdout
        .expect_line(format!("{bob_tag} (disconnected)"));
    observer.expect_line(format!("{bob_tag} (disconnected)"));

    server.signal(libc::SIGTERM);
    alice.stdout.expect_line("[SERVER] Connection closed.");
    alice.expect_success();
    assert!(server.wait_exit().success());
}

/// Reads the next line, a join notice, and returns the tag in it.
#[track_caller]
fn join_tag(observer: &crate::peer::Peer) -> String {
    let line = observer.inbox().next_line_expecting("a join notice");
    let line = String::from_utf8(line).expect("UTF-8");
    line.strip_suffix(" (connected)")
        .unwrap_or_else(|| panic!("expected a join notice, got {line:?}"))
        .to_owned()
}
