//! The client checks (protocol.md, "Client"): the submission's client on a
//! terminal (or with pipes as its standard streams), against the reference
//! server and a raw TCP peer in it, or against a fake server the grader
//! controls.
//!
//! Every check but client/refused runs one of the client's rules from
//! [`harness::rules::client`], which the lab's own tests run too; the
//! checks here set up what a rule runs against.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use harness::net::closed_port;
use harness::process::expect_exit_status;
use harness::rules::client::{self as rules, ClientUnderTest, FILE_LINES, Rule, ServerSide};
use harness::{Context, FakeServer, Peer};

use crate::context::{CheckContext, Outcome};
use crate::launch::Server;
use crate::model::Failure;
use crate::pty::Terminal;

fn client_exe(s: &CheckContext) -> Result<PathBuf, Failure> {
    s.config()
        .client
        .clone()
        .ok_or_else(|| s.fail("no client to test"))
}

/// `client 127.0.0.1 PORT`, the submission's client towards `port`.
fn client_command(s: &CheckContext, port: u16) -> Result<Command, Failure> {
    let mut command = Command::new(client_exe(s)?);
    command.args(["127.0.0.1", &port.to_string()]);
    Ok(command)
}

fn client_on_terminal(s: &CheckContext, port: u16) -> Result<Terminal<'_>, Failure> {
    let args = ["127.0.0.1".to_owned(), port.to_string()];
    Terminal::start(s, &client_exe(s)?, &args, "the client", s.config().limits)
}

/// The reference server, a raw peer A in it, and the submission's client
/// on a terminal, whose tag A learned from its join notice.
struct Chat<'s> {
    _server: Server,
    client: Terminal<'s>,
    a: ServerSide<'s>,
}

fn chat(s: &CheckContext) -> Result<Chat<'_>, Failure> {
    let server = s.reference_server()?;
    let a = s.peer(server.port)?;
    let client = client_on_terminal(s, server.port)?;
    let a = ServerSide::join(a, &client)?;
    Ok(Chat {
        _server: server,
        client,
        a,
    })
}

/// Runs `rule` in a [`chat`]. A failure to set it up says the check was not
/// checked: the client never got as far as the behaviour the check is
/// about, and client/receive is the check to fix first.
fn in_chat(s: &CheckContext, rule: Rule) -> Outcome {
    let mut chat = chat(s).map_err(|failure| failure.not_checked("client/receive"))?;
    rule(s.harness(), &mut chat.client, &mut chat.a)
}

/// Runs `rule` against the submission's client on a terminal, connected
/// to a fake server: S is the server's side of its connection.
fn against_fake(
    s: &CheckContext,
    rule: fn(&Context, &mut dyn ClientUnderTest, Peer<'_>) -> Outcome,
) -> Outcome {
    let fake = FakeServer::start()?;
    let mut client = client_on_terminal(s, fake.port())?;
    let server = rules::accept(s.harness(), &fake, &client)?;
    rule(s.harness(), &mut client, server)
}

/// Runs `rule` against the submission's client with `input` as its
/// standard input (`described` in the steps) and pipes for the others,
/// joined to the reference server, with a raw peer A in it.
fn in_chat_on_pipes(s: &CheckContext, input: Stdio, described: &str, rule: Rule) -> Outcome {
    let server = s.reference_server()?;
    let a = s.peer(server.port)?;
    let command = client_command(s, server.port)?;
    s.step(format!("start the client with {described}"));
    let mut client = s.piped_with_input(command, "the client", input)?;
    let mut a = ServerSide::join(a, &client)?;
    rule(s.harness(), &mut client, &mut a)
}

pub fn receive(s: &CheckContext) -> Outcome {
    let mut chat = chat(s)?;
    rules::receive(s.harness(), &mut chat.client, &mut chat.a)
}

pub fn send(s: &CheckContext) -> Outcome {
    in_chat(s, rules::send)
}

pub fn paste(s: &CheckContext) -> Outcome {
    in_chat(s, rules::paste)
}

pub fn exit(s: &CheckContext) -> Outcome {
    in_chat(s, rules::exit)
}

pub fn eof(s: &CheckContext) -> Outcome {
    in_chat(s, rules::eof)
}

pub fn server_close(s: &CheckContext) -> Outcome {
    against_fake(s, rules::server_close)
}

pub fn raw_bytes(s: &CheckContext) -> Outcome {
    against_fake(s, rules::raw_bytes)
}

pub fn one_thread(s: &CheckContext) -> Outcome {
    in_chat(s, rules::one_thread)
}

pub fn idle_cpu(s: &CheckContext) -> Outcome {
    in_chat(s, rules::idle_cpu)
}

pub fn pipe(s: &CheckContext) -> Outcome {
    let described = "pipes as its standard streams";
    in_chat_on_pipes(s, Stdio::piped(), described, rules::burst)
}

pub fn file_input(s: &CheckContext) -> Outcome {
    let input = rules::input_file()
        .map_err(|err| s.fail(format!("could not make a file for standard input: {err}")))?;
    let described = format!("a regular file of {FILE_LINES} lines as its standard input");
    in_chat_on_pipes(s, Stdio::from(input), &described, rules::file_input)
}

/// The grader's own: the lab's test of it asks for more (the address and
/// the word "refused" in the message) than a client in any language owes.
pub fn refused(s: &CheckContext) -> Outcome {
    let closed = closed_port().map_err(|err| s.fail(format!("find a closed port: {err}")))?;
    let port = closed.port;
    s.step(format!(
        "start the client towards port {port}, where nothing listens"
    ));
    let mut client = s.piped(client_command(s, port)?, "the client")?;
    let status = client.wait_exit(s.until());
    expect_exit_status("the client", status, 1)?;
    let stderr = client.stderr.wait_end(s.until())?;
    if stderr.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure {
            summary: "the client said nothing on stderr about the failed connection".into(),
            expected: Some("a message on stderr".into()),
            seen: Some("nothing".into()),
            ..Failure::default()
        });
    }
    Ok(())
}
