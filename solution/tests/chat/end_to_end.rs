//! The real server and real clients together, as a person would use them.

use harness::rules::UnderTest;
use harness::rules::client::ClientUnderTest;
use harness::show::show;
use harness::{Failure, Peer};

use crate::failure::{Failed, Test};
use crate::procs::{Client, Server};

#[test]
fn two_clients_chat_through_the_server_and_see_it_close() -> Result<(), Failed> {
    let t = Test::new("TODOs 4-16 (the client:: and server:: tests point closer)");
    let mut server = Server::start(&t)?;
    // A raw peer learns each client's tag from its join notice.
    let observer = t.peer(server.port())?;
    let mut alice = Client::start(&t, server.port())?;
    let alice_tag = join_tag(&observer)?;
    let mut bob = Client::start(&t, server.port())?;
    let bob_tag = join_tag(&observer)?;
    alice.expect_chat_line(format!("{bob_tag} (connected)"))?;

    alice.type_in(b"hi bob\n")?;
    bob.expect_chat_line(format!("{alice_tag} hi bob"))?;
    observer.expect_line(format!("{alice_tag} hi bob"))?;
    bob.type_in(b"hi alice\n")?;
    alice.expect_chat_line(format!("{bob_tag} hi alice"))?;
    observer.expect_line(format!("{bob_tag} hi alice"))?;

    bob.type_in(b"exit\n")?;
    bob.expect_exit(0)?;
    alice.expect_chat_line(format!("{bob_tag} (disconnected)"))?;
    observer.expect_line(format!("{bob_tag} (disconnected)"))?;

    server.signal(libc::SIGTERM);
    alice.expect_chat_line("[SERVER] Connection closed.")?;
    alice.expect_exit(0)?;
    server.expect_exit(0)?;
    Ok(())
}

/// Reads the next line, a join notice, and returns the tag in it.
fn join_tag(observer: &Peer<'_>) -> Result<String, Failure> {
    let line = observer.next_line()?;
    String::from_utf8_lossy(&line)
        .strip_suffix(" (connected)")
        .map(str::to_owned)
        .ok_or_else(|| Failure {
            summary: format!("{} expected a join notice", observer.name),
            expected: Some("\"[TAG] (connected)\"".into()),
            seen: Some(show(&line)),
            ..Failure::default()
        })
}
