//! The client checks (protocol.md, "Client"): the submission's client on a
//! terminal (or with a pipe as standard input), against the reference server
//! and raw TCP peers, or against a fake server the grader controls.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::os::fd::FromRawFd;
use std::process::{Command, Stdio};

use crate::model::Failure;
use crate::pty::Terminal;
use harness::net::closed_port;
use harness::process::expect_exit_status;
use harness::procfs;
use harness::procfs::{IDLE_CPU_MS, IDLE_WINDOW};
use harness::{FakeServer, Peer};

use crate::context::{CheckContext, Outcome};
use crate::launch::Server;
use harness::show::show;

/// The reference server, a raw peer A in it, and the submission's client on
/// a terminal, whose tag A learned from its join notice.
struct Chat<'s> {
    _server: Server,
    a: Peer<'s>,
    client: Terminal<'s>,
    tag: String,
}

fn chat(s: &CheckContext) -> Result<Chat<'_>, Failure> {
    let server = s.reference_server()?;
    let a = s.peer(server.port)?;
    let client = client_on_terminal(s, server.port)?;
    let tag = joined_tag(&a, &running(client.pid()))?;
    Ok(Chat {
        _server: server,
        a,
        client,
        tag,
    })
}

/// A failure of a check's set-up: the client never got as far as the
/// behaviour the check is about, so the check says it was not checked, and
/// which check to fix first.
fn not_checked(failure: Failure) -> Failure {
    failure.not_checked("client/receive")
}

/// [`chat`], then a line from A that the client prints: from then on, the
/// client is in its event loop.
fn chat_in_loop(s: &CheckContext) -> Result<Chat<'_>, Failure> {
    let set_up = || -> Result<Chat<'_>, Failure> {
        let mut chat = chat(s)?;
        chat.a.send("ready?\n")?;
        chat.client
            .expect_chat_line(&format!("{} ready?", chat.a.tag))?;
        Ok(chat)
    };
    set_up().map_err(not_checked)
}

fn client_exe(s: &CheckContext) -> Result<std::path::PathBuf, Failure> {
    s.config()
        .client
        .clone()
        .ok_or_else(|| s.fail("no client to test"))
}

fn client_on_terminal(s: &CheckContext, port: u16) -> Result<Terminal<'_>, Failure> {
    let args = ["127.0.0.1".to_owned(), port.to_string()];
    Terminal::start(s, &client_exe(s)?, &args, "the client", s.config().limits)
}

/// An abort condition for waits that only a running client can satisfy:
/// once it has exited, waiting longer is pointless.
fn running(pid: u32) -> impl Fn() -> Option<String> {
    move || {
        procfs::has_exited(pid).then(|| "the client has exited (see its output below)".to_owned())
    }
}

impl Chat<'_> {
    /// A waits for `[CLIENT] text`, while the client runs.
    fn a_expects(&self, text: &str) -> Outcome {
        self.a
            .expect_line_unless(format!("{} {text}", self.tag), &running(self.client.pid()))
    }
}

/// Reads A's next line, which must say that someone connected, and returns
/// that someone's tag.
fn joined_tag(a: &Peer<'_>, abort: &dyn Fn() -> Option<String>) -> Result<String, Failure> {
    let line = a.next_line_unless(abort).map_err(|mut failure| {
        failure.summary = format!("the client did not join the chat ({})", failure.summary);
        failure
    })?;
    String::from_utf8_lossy(&line)
        .strip_suffix(" (connected)")
        .map(str::to_owned)
        .ok_or_else(|| Failure {
            summary: "A expected the client's join notice".into(),
            expected: Some("\"[TAG] (connected)\"".into()),
            seen: Some(show(&line)),
            ..Failure::default()
        })
}

fn proc_error(err: std::io::Error) -> Failure {
    Failure::new(format!("could not inspect the client in /proc: {err}"))
}

pub fn receive(s: &CheckContext) -> Outcome {
    let mut chat = chat(s)?;
    // Nothing is typed: a client blocked reading its terminal prints nothing.
    chat.a.send("are you there?\n")?;
    chat.client
        .expect_chat_line(&format!("{} are you there?", chat.a.tag))?;
    // On Linux, a process stopped and continued while in epoll_wait gets
    // EINTR from it (signal(7)), which a client must retry.
    s.step("stop the client (SIGSTOP), then let it go on (SIGCONT)");
    chat.client
        .process()
        .stop()
        .map_err(|err| s.fail(format!("could not stop the client: {err}")))?;
    chat.client.process().resume();
    chat.a.send("still there?\n")?;
    chat.client
        .expect_chat_line(&format!("{} still there?", chat.a.tag))
        .map_err(|failure| {
            failure.after("after a stop and a continue, which make epoll_wait fail with EINTR")
        })
}

pub fn send(s: &CheckContext) -> Outcome {
    let mut chat = chat(s).map_err(not_checked)?;
    chat.client.type_line("hello from the client")?;
    chat.a_expects("hello from the client")?;
    chat.client.type_line("and again")?;
    chat.a_expects("and again")
}

pub fn paste(s: &CheckContext) -> Outcome {
    let mut chat = chat(s).map_err(not_checked)?;
    let paste: String = (0..200).map(|i| format!("pasted line {i:03}\n")).collect();
    s.step("paste 200 lines into the client's terminal at once");
    chat.client.type_quietly(paste.as_bytes())?;
    for i in 0..200 {
        chat.a_expects(&format!("pasted line {i:03}"))?;
    }
    Ok(())
}

pub fn exit(s: &CheckContext) -> Outcome {
    let mut chat = chat(s).map_err(not_checked)?;
    // All in one go, so the lines after `exit` are waiting when it comes.
    s.step("type \"before\\nexit\\nafter\\n\" into the client's terminal at once");
    chat.client.type_quietly(b"before\nexit\nafter\n")?;
    // The client exits right after sending it: no early abort here.
    chat.a.expect_line(format!("{} before", chat.tag))?;
    // The leave notice comes next: `exit` (and `after`) were not sent.
    chat.a.expect_line(format!("{} (disconnected)", chat.tag))?;
    chat.client.expect_exit(0)
}

pub fn eof(s: &CheckContext) -> Outcome {
    let mut chat = chat(s).map_err(not_checked)?;
    chat.client.type_line("last line")?;
    chat.a_expects("last line")?;
    chat.client.ctrl_d()?;
    chat.a.expect_line(format!("{} (disconnected)", chat.tag))?;
    chat.client.expect_exit(0)
}

pub fn server_close(s: &CheckContext) -> Outcome {
    let fake = FakeServer::start()?;
    let mut client = client_on_terminal(s, fake.port())?;
    let mut server_side = fake.accept(s.harness(), "S", &running(client.pid()))?;
    server_side.send("[127.0.0.1:1] goodbye\n")?;
    client.expect_chat_line("[127.0.0.1:1] goodbye")?;
    server_side.close();
    client.expect_chat_line("[SERVER] Connection closed.")?;
    client.expect_exit(0)
}

pub fn raw_bytes(s: &CheckContext) -> Outcome {
    let fake = FakeServer::start()?;
    let client = client_on_terminal(s, fake.port())?;
    let mut server_side = fake.accept(s.harness(), "S", &running(client.pid()))?;
    // No newline: a client that waits for one before printing fails here.
    server_side.send("no newline yet")?;
    client
        .screen
        .expect_bytes_somewhere(b"no newline yet", s.until())?;
    let odd: &[u8] = b" caf\xc3\xa9, a tab\there, a CR\r, a DEL\x7f, not UTF-8 \xff\xfe, end\n";
    server_side.send(odd)?;
    client.screen.expect_bytes_somewhere(odd, s.until())
}

pub fn one_thread(s: &CheckContext) -> Outcome {
    let chat = chat_in_loop(s)?;
    let pid = chat.client.pid();
    let threads = procfs::threads(pid).map_err(proc_error)?;
    if threads != 1 {
        return Err(Failure {
            summary: "the client runs more than one thread".into(),
            expected: Some("1 thread".into()),
            seen: Some(format!("{threads} threads")),
            ..Failure::default()
        });
    }
    let watched = procfs::watched_fds(pid).map_err(proc_error)?;
    let sockets = procfs::tcp_socket_fds(pid).map_err(proc_error)?;
    let epolls = procfs::epoll_fds(pid).map_err(proc_error)?;
    if epolls.is_empty() || !watched.contains(&0) || !sockets.iter().all(|fd| watched.contains(fd))
    {
        return Err(Failure {
            summary: "the client's epoll set does not watch both standard input and the socket"
                .into(),
            expected: Some("an epoll instance watching fd 0 and the TCP socket".into()),
            seen: Some(format!(
                "epoll instances {epolls:?}, watched {watched:?}, TCP sockets {sockets:?}"
            )),
            ..Failure::default()
        });
    }
    Ok(())
}

pub fn idle_cpu(s: &CheckContext) -> Outcome {
    let chat = chat_in_loop(s)?;
    s.step(format!(
        "measure for {IDLE_WINDOW:?}, while nothing happens, how long the client runs or waits to run"
    ));
    let used = procfs::busy_ms_while_idle(chat.client.pid(), IDLE_WINDOW).map_err(proc_error)?;
    if used > IDLE_CPU_MS {
        return Err(Failure {
            summary:
                "the idle client used CPU: it polls or spins instead of sleeping in epoll_wait"
                    .into(),
            expected: Some(format!("busy at most {IDLE_CPU_MS} ms of {IDLE_WINDOW:?}")),
            seen: Some(format!("busy {used} ms (running, or waiting for a CPU)")),
            ..Failure::default()
        });
    }
    Ok(())
}

pub fn refused(s: &CheckContext) -> Outcome {
    let closed = closed_port().map_err(|err| s.fail(format!("find a closed port: {err}")))?;
    let port = closed.port;
    let mut command = Command::new(client_exe(s)?);
    command.args(["127.0.0.1", &port.to_string()]);
    s.step(format!(
        "start the client towards port {port}, where nothing listens"
    ));
    let mut client = s.piped(command, "the client")?;
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

pub fn pipe(s: &CheckContext) -> Outcome {
    let server = s.reference_server()?;
    let mut a = s.peer(server.port)?;
    let mut command = Command::new(client_exe(s)?);
    command.args(["127.0.0.1", &server.port.to_string()]);
    s.step("start the client with pipes as its standard streams");
    let mut client = s.piped(command, "the client")?;
    let alive = running(client.process.pid());
    let tag = joined_tag(&a, &alive)?;
    // One write: all 500 lines reach the client in one read (a terminal
    // would hand them over one per read).
    let burst: String = (0..500).map(|i| format!("burst line {i:03}\n")).collect();
    s.step("write 500 lines to the client's stdin at once");
    client
        .write_stdin(burst.as_bytes(), s.until())
        .map_err(|err| s.fail(format!("writing to the client's stdin failed: {err}")))?;
    for i in 0..500 {
        a.expect_line_unless(format!("{tag} burst line {i:03}"), &alive)?;
    }
    a.send("got them\n")?;
    client
        .stdout
        .expect_chat_line(format!("{} got them", a.tag).as_bytes(), s.until())?;
    s.step("close the client's stdin");
    client.close_stdin();
    a.expect_line(format!("{tag} (disconnected)"))?;
    let status = client.wait_exit(s.until());
    expect_exit_status("the client", status, 0)
}

pub fn file_input(s: &CheckContext) -> Outcome {
    let server = s.reference_server()?;
    let a = s.peer(server.port)?;
    let input = regular_file(b"from a file\nits second line\n")
        .map_err(|err| s.fail(format!("could not make a file for standard input: {err}")))?;
    let mut command = Command::new(client_exe(s)?);
    command.args(["127.0.0.1", &server.port.to_string()]);
    s.step("start the client with a regular file of two lines as its standard input");
    let mut client = s.piped_with_input(command, "the client", Stdio::from(input))?;
    let alive = running(client.process.pid());
    let tag = joined_tag(&a, &alive)?;
    for line in ["from a file", "its second line"] {
        // No abort on exit here: the client may well be done already.
        a.expect_line(format!("{tag} {line}"))?;
    }
    a.expect_line(format!("{tag} (disconnected)"))?;
    let status = client.wait_exit(s.until());
    expect_exit_status("the client", status, 0)
}

/// A regular file (in memory) holding `bytes`, positioned at its start:
/// epoll refuses such a file with EPERM, as it would a file on disk.
fn regular_file(bytes: &[u8]) -> io::Result<File> {
    // SAFETY: the name is a NUL-terminated string that lives across the
    // call; memfd_create takes nothing else by pointer.
    let fd = unsafe { libc::memfd_create(c"grader-stdin".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.write_all(bytes)?;
    file.rewind()?;
    Ok(file)
}
