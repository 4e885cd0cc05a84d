//! The client's rules (`protocol.md`, "Client"), one scenario function
//! each: what the lab's own tests and the grader's client checks both call,
//! so that a rule is tested one way only.
//!
//! A rule runs against a client that the caller started, on a terminal or
//! with pipes as its standard streams ([`ClientUnderTest`]), and against
//! what that client is connected to ([`ServerSide`]): a [`FakeServer`]'s
//! side of its connection, which the rule drives by hand (the lab's tests),
//! or a raw peer in a real chat server that the client joined (the grader,
//! with its reference server). [`server_close`] and [`raw_bytes`] need the
//! fake server: only it can close the connection or send what no server
//! would.
//!
//! None of them sleeps: each waits for what it expects, with a deadline, and
//! a wait for the client's lines gives up soon once the client has exited.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::os::fd::FromRawFd;
use std::process::ExitStatus;
use std::time::Instant;

use crate::context::Context;
use crate::failure::{Failure, Outcome};
use crate::inbox::Inbox;
use crate::peer::{FakeServer, Peer};
use crate::procfs::{self, IDLE_WINDOW};
use crate::show::show;
use crate::{process, rules};

/// The client a rule runs against, started by the caller towards the
/// [`ServerSide`] the rule is given. The process must be a child of this
/// one, not reaped yet.
pub trait ClientUnderTest {
    /// Its process id.
    fn pid(&self) -> u32;

    /// Where its input goes, as steps name it: "the client's terminal",
    /// "the client's stdin".
    fn input(&self) -> String;

    /// Types `bytes` (on a terminal; writes them to its standard input
    /// otherwise) and records the step.
    fn type_in(&mut self, bytes: &[u8]) -> Outcome;

    /// Types `bytes` without recording a step, for a rule that describes a
    /// paste in a step of its own.
    fn type_quietly(&mut self, bytes: &[u8]) -> Outcome;

    /// Ends its input, as a person or a pipe does, and records the step: on
    /// a terminal Ctrl-D (twice after an unfinished line: the first hands
    /// that line over without a newline), else closing its standard input.
    fn end_input(&mut self) -> Outcome;

    /// What it prints: its screen, or its standard output.
    fn output(&self) -> &Inbox;

    /// Waits until it exits, at most until `until`; `None` if it still
    /// runs then.
    fn wait_exit(&mut self, until: Instant) -> Option<ExitStatus>;

    /// Stops it (SIGSTOP) until [`ClientUnderTest::resume`], and returns
    /// once it is stopped.
    fn stop(&self) -> Outcome {
        process::stop(self.pid())
            .map_err(|err| Failure::new(format!("could not stop the client: {err}")))
    }

    /// Lets it go on (SIGCONT).
    fn resume(&self) {
        process::resume(self.pid());
    }

    /// Why waiting for it to send something is in vain, if it is: it has
    /// exited. An abort condition for waits.
    fn exited(&self) -> Option<String> {
        let pid = self.pid();
        procfs::has_exited(pid).then(|| match process::peek_exit(pid) {
            Some(how) => format!("the client has exited ({how}; see its output below)"),
            None => "the client has exited (see its output below)".to_owned(),
        })
    }
}

/// How a fake server tags what it sends the client: a peer that is not
/// there.
pub const FAKE_TAG: &str = "[127.0.0.1:1]";

/// What the client under test is connected to, as a rule sees it.
#[derive(Debug)]
pub enum ServerSide<'c> {
    /// A fake server's side of the client's connection (see [`accept`]): it
    /// sees exactly the bytes the client sends, and sends it lines as a
    /// server would, tagged [`FAKE_TAG`].
    Fake(Peer<'c>),
    /// A raw peer in a real chat server that the client joined (see
    /// [`ServerSide::join`]): it sees the client's lines tagged `client`,
    /// and what it sends reaches the client tagged with its own tag.
    Chat {
        peer: Peer<'c>,
        /// The client's tag, from its join notice.
        client: String,
    },
}

/// Waits until the client connects to `fake`, giving up early once it has
/// exited; returns the server's side of its connection, `S`.
pub fn accept<'c>(
    c: &'c Context,
    fake: &FakeServer,
    client: &dyn ClientUnderTest,
) -> Result<Peer<'c>, Failure> {
    fake.accept(c, "S", &|| client.exited())
}

impl<'c> ServerSide<'c> {
    /// `peer`, connected to a real chat server, reads the next line, which
    /// must say that the client connected: its tag is the client's from
    /// now on.
    pub fn join(peer: Peer<'c>, client: &dyn ClientUnderTest) -> Result<ServerSide<'c>, Failure> {
        let line = peer
            .next_line_unless(&|| client.exited())
            .map_err(|failure| failure.after("the client did not join the chat"))?;
        let tag = String::from_utf8_lossy(&line)
            .strip_suffix(" (connected)")
            .map(str::to_owned)
            .ok_or_else(|| Failure {
                summary: format!("{} expected the client's join notice", peer.name),
                expected: Some("\"[TAG] (connected)\"".into()),
                seen: Some(show(&line)),
                ..Failure::default()
            })?;
        Ok(ServerSide::Chat { peer, client: tag })
    }

    /// Someone in the chat says `text` to the client; returns the line the
    /// client should print.
    pub fn say(&mut self, text: &str) -> Result<String, Failure> {
        match self {
            ServerSide::Fake(server) => {
                let line = format!("{FAKE_TAG} {text}");
                server.send(format!("{line}\n"))?;
                Ok(line)
            }
            ServerSide::Chat { peer, .. } => {
                peer.send(format!("{text}\n"))?;
                Ok(format!("{} {text}", peer.tag))
            }
        }
    }

    /// Waits for the client's next line and checks it is `line`, giving up
    /// soon once the client has exited.
    pub fn expect_sent(&self, client: &dyn ClientUnderTest, line: &str) -> Outcome {
        self.expect_line(line, &|| client.exited())
    }

    /// Like [`ServerSide::expect_sent`], for a line the client sends as it
    /// leaves: it may well have exited already.
    pub fn expect_sent_on_leaving(&self, line: &str) -> Outcome {
        self.expect_line(line, &|| None)
    }

    fn expect_line(&self, line: &str, abort: &dyn Fn() -> Option<String>) -> Outcome {
        match self {
            ServerSide::Fake(server) => server.expect_line_unless(line, abort),
            ServerSide::Chat { peer, client } => {
                peer.expect_line_unless(format!("{client} {line}"), abort)
            }
        }
    }

    /// Waits for the client to leave, with nothing else sent first: the
    /// connection closes, or the chat says it disconnected.
    pub fn expect_left(&self) -> Outcome {
        match self {
            ServerSide::Fake(server) => server.expect_closed(),
            ServerSide::Chat { peer, client } => {
                peer.expect_line(format!("{client} (disconnected)"))
            }
        }
    }
}

/// A client rule that runs against either kind of [`ServerSide`].
pub type Rule = fn(&Context, &mut dyn ClientUnderTest, &mut ServerSide<'_>) -> Outcome;

/// Waits for the next chat line the client prints (banners and a prompt
/// skipped) and checks it is `line`.
fn expect_printed(c: &Context, client: &dyn ClientUnderTest, line: &str) -> Outcome {
    client.output().expect_chat_line(line.as_bytes(), c.until())
}

/// Waits for the client to exit and checks it exited with status `code`.
fn expect_exit(c: &Context, client: &mut dyn ClientUnderTest, code: i32) -> Outcome {
    let status = client.wait_exit(c.until());
    process::expect_exit_status("the client", status, code)
}

/// The set-up of a rule about the client's loop: someone says a line, and
/// the client prints it, so it is in its event loop. A failure here says
/// the rule was not checked, and that client/receive is to be fixed first.
fn in_its_loop(c: &Context, client: &dyn ClientUnderTest, server: &mut ServerSide<'_>) -> Outcome {
    server
        .say("ready?")
        .and_then(|line| expect_printed(c, client, &line))
        .map_err(|failure| failure.not_checked("client/receive"))
}

/// Rule 4: what arrives is printed while nothing is typed, also after a stop
/// and a continue.
pub fn receive(
    c: &Context,
    client: &mut dyn ClientUnderTest,
    server: &mut ServerSide<'_>,
) -> Outcome {
    // Nothing is typed: a client blocked reading its input prints nothing.
    let line = server.say("are you there?")?;
    expect_printed(c, client, &line)?;
    // On Linux, a process stopped and continued while in epoll_wait gets
    // EINTR from it (signal(7)), which a client must retry.
    c.step("stop the client (SIGSTOP), then let it go on (SIGCONT)");
    client.stop()?;
    client.resume();
    let line = server.say("still there?")?;
    expect_printed(c, client, &line).map_err(|failure| {
        failure.after("after a stop and a continue, which make epoll_wait fail with EINTR")
    })
}

/// Rule 3: each typed line is sent with its newline, an empty one too, and a
/// line typed in pieces as one line.
pub fn send(_: &Context, client: &mut dyn ClientUnderTest, server: &mut ServerSide<'_>) -> Outcome {
    client.type_in(b"hello from the client\n")?;
    server.expect_sent(client, "hello from the client")?;
    client.type_in(b"\n")?;
    server.expect_sent(client, "")?;
    client.type_in(b"split ")?;
    client.type_in(b"line\n")?;
    server.expect_sent(client, "split line")?;
    client.type_in(b"and again\n")?;
    server.expect_sent(client, "and again")
}

/// `count` lines typed at once, in one write, `{word} {i:03}` each: every one
/// must be sent, in order.
fn lines_at_once(
    c: &Context,
    client: &mut dyn ClientUnderTest,
    server: &ServerSide<'_>,
    count: usize,
    word: &str,
) -> Outcome {
    let lines: String = (0..count).map(|i| format!("{word} {i:03}\n")).collect();
    c.step(format!(
        "type {count} lines into {} at once, in one write",
        client.input()
    ));
    client.type_quietly(lines.as_bytes())?;
    for i in 0..count {
        server.expect_sent(client, &format!("{word} {i:03}"))?;
    }
    Ok(())
}

/// Rule 3: 200 lines pasted at once all go out, in order.
pub fn paste(
    c: &Context,
    client: &mut dyn ClientUnderTest,
    server: &mut ServerSide<'_>,
) -> Outcome {
    lines_at_once(c, client, server, 200, "pasted line")
}

/// Rule 3, with a pipe as standard input, where one read may hold a whole
/// burst: 500 lines written at once all go out, in order, while lines
/// arrive from the server; then the end of input ends the client.
pub fn burst(
    c: &Context,
    client: &mut dyn ClientUnderTest,
    server: &mut ServerSide<'_>,
) -> Outcome {
    // Traffic the other way at the same time.
    let meanwhile = server.say("while you type")?;
    // Stdin stays open until every line went out: a client that reads
    // through a buffer sends what waits in it only at the end of input.
    lines_at_once(c, client, server, 500, "burst line")?;
    expect_printed(c, client, &meanwhile)?;
    let reply = server.say("got them")?;
    expect_printed(c, client, &reply)?;
    client.end_input()?;
    server.expect_left()?;
    expect_exit(c, client, 0)
}

/// Rule 3: `exit` is not sent, nor anything after it; the client leaves and
/// exits 0.
pub fn exit(c: &Context, client: &mut dyn ClientUnderTest, server: &mut ServerSide<'_>) -> Outcome {
    typed_exit(c, client, server, "exit\n")
}

/// [`exit`], the line typed with a `\r` before its `\n` (on a pipe: a
/// terminal turns the `\r` into a `\n` of its own).
pub fn exit_cr(
    c: &Context,
    client: &mut dyn ClientUnderTest,
    server: &mut ServerSide<'_>,
) -> Outcome {
    typed_exit(c, client, server, "exit\r\n")
}

fn typed_exit(
    c: &Context,
    client: &mut dyn ClientUnderTest,
    server: &ServerSide<'_>,
    exit: &str,
) -> Outcome {
    // All in one go, so the lines after `exit` are waiting when it comes.
    client.type_in(format!("before\n{exit}after\n").as_bytes())?;
    server.expect_sent_on_leaving("before")?;
    // The client leaves next: `exit` (and `after`) were not sent.
    server.expect_left()?;
    expect_exit(c, client, 0)
}

/// Rule 3: the end of input (Ctrl-D) ends the client, with status 0.
pub fn eof(c: &Context, client: &mut dyn ClientUnderTest, server: &mut ServerSide<'_>) -> Outcome {
    client.type_in(b"last line\n")?;
    server.expect_sent(client, "last line")?;
    client.end_input()?;
    server.expect_left()?;
    expect_exit(c, client, 0)
}

/// Rule 3: at the end of input, an unfinished line is sent with a `\n`
/// added, then the client leaves with status 0.
pub fn eof_after_unfinished_line(
    c: &Context,
    client: &mut dyn ClientUnderTest,
    server: &mut ServerSide<'_>,
) -> Outcome {
    client.type_in(b"first\nunfinished")?;
    server.expect_sent(client, "first")?;
    client.end_input()?;
    server.expect_sent_on_leaving("unfinished")?;
    server.expect_left()?;
    expect_exit(c, client, 0)
}

/// Rule 5: when the server closes the connection, the client says so on a
/// line of its own and exits 0. `server`: a fake server's side.
pub fn server_close(
    c: &Context,
    client: &mut dyn ClientUnderTest,
    mut server: Peer<'_>,
) -> Outcome {
    let line = format!("{FAKE_TAG} goodbye");
    server.send(format!("{line}\n"))?;
    expect_printed(c, client, &line)?;
    server.close();
    expect_printed(c, client, "[SERVER] Connection closed.")?;
    expect_exit(c, client, 0)
}

/// Rule 4: every byte from the server is printed at once and unchanged:
/// without waiting for a newline, and whatever the bytes. `server`: a fake
/// server's side.
pub fn raw_bytes(c: &Context, client: &mut dyn ClientUnderTest, mut server: Peer<'_>) -> Outcome {
    // No newline: a client that waits for one before printing fails here.
    server.send("no newline yet")?;
    client
        .output()
        .expect_bytes_somewhere(b"no newline yet", c.until())?;
    let odd: &[u8] =
        b" caf\xc3\xa9, a tab\there, a CR\r, a NUL\0, a DEL\x7f, not UTF-8 \xff\xfe, end\n";
    server.send(odd)?;
    client.output().expect_bytes_somewhere(odd, c.until())
}

/// How many lines [`input_file`] holds.
pub const FILE_LINES: usize = 200;

/// A regular file (in memory) of [`FILE_LINES`] lines, positioned at its
/// start, for the client's standard input in [`file_input`]: epoll refuses
/// such a file with EPERM, as it would a file on disk.
pub fn input_file() -> io::Result<File> {
    // SAFETY: the name is a NUL-terminated string that lives across the
    // call; memfd_create takes nothing else by pointer.
    let fd = unsafe { libc::memfd_create(c"chat-test-stdin".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let mut file = unsafe { File::from_raw_fd(fd) };
    let lines: String = (0..FILE_LINES).map(|i| file_line(i) + "\n").collect();
    file.write_all(lines.as_bytes())?;
    file.rewind()?;
    Ok(file)
}

fn file_line(i: usize) -> String {
    format!("from a file, line {i:03}")
}

/// Rule 2, with [`input_file`] as the client's standard input: every line
/// of it is sent, then the client leaves with status 0.
pub fn file_input(
    c: &Context,
    client: &mut dyn ClientUnderTest,
    server: &mut ServerSide<'_>,
) -> Outcome {
    for i in 0..FILE_LINES {
        // The client may well be done already.
        server.expect_sent_on_leaving(&file_line(i))?;
    }
    server.expect_left()?;
    expect_exit(c, client, 0)
}

/// Wraps a `/proc` read error as a failure.
fn proc_error(err: io::Error) -> Failure {
    Failure::new(format!("could not inspect the client in /proc: {err}"))
}

/// Rule 2: one thread, and one epoll instance that watches standard input
/// and the socket.
pub fn one_thread(
    c: &Context,
    client: &mut dyn ClientUnderTest,
    server: &mut ServerSide<'_>,
) -> Outcome {
    in_its_loop(c, client, server)?;
    let pid = client.pid();
    let threads = procfs::threads(pid).map_err(proc_error)?;
    if threads != 1 {
        return Err(Failure {
            summary: "the client runs more than one thread".into(),
            expected: Some("1 thread (Threads: in /proc/PID/status)".into()),
            seen: Some(format!("{threads} threads")),
            ..Failure::default()
        });
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
        });
    }
    Ok(())
}

/// Rule 2: an idle client sleeps in epoll_wait: it uses no CPU.
pub fn idle_cpu(
    c: &Context,
    client: &mut dyn ClientUnderTest,
    server: &mut ServerSide<'_>,
) -> Outcome {
    in_its_loop(c, client, server)?;
    c.step(format!(
        "measure for {IDLE_WINDOW:?}, while nothing happens, how long the client runs or waits to run"
    ));
    rules::idle_for_the_window(
        client.pid(),
        "the idle client used CPU: it polls or spins instead of sleeping in epoll_wait",
    )
}
