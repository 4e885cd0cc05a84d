//! The client on a terminal, as a person runs it (protocol.md, "Client"):
//! typed lines go out, what arrives shows on the screen, Ctrl-D and `exit`
//! end it. The other client tests give it a pipe as standard input; here it
//! gets a pseudo-terminal, with `rexpect`, which types and reads the screen.
//!
//! A terminal is not a pipe: in canonical mode it hands over one line per
//! read, Ctrl-D is not a byte but the end of input (or, after an unfinished
//! line, that line without its newline), and the client's stdout and stderr
//! both go to the screen, where `\n` shows as `\r\n`. rexpect turns the
//! terminal's echo off, so the screen shows only what the client writes.
//!
//! rexpect keeps the pid of the process it starts to itself. The failure
//! messages need it (to tell whether the client is still running, and to
//! show what its screen says, where a stub's `not yet implemented: TODO N`
//! shows up), so the client's process hands it over on a socket just before
//! it becomes the client.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;

use rexpect::process::{PtyProcess, Signal, WaitStatus};
use rexpect::session::{Options, StreamSession};

use crate::failure::{self, suspect};
use crate::inbox::{DEADLINE, Inbox, show};
use crate::peer::FakeServer;
use crate::procs::client_exe;

#[test]
fn a_line_typed_on_the_terminal_reaches_the_server() {
    let _todo = suspect(
        "TODOs 5 and 8 (standard input in the epoll set; on its event, sys::read_fd and send_complete_lines)",
    );
    let server = FakeServer::start();
    let mut terminal = Terminal::start(server.port());
    let connection = server.accept();
    terminal.type_line("hello from the keyboard");
    connection.expect_line("hello from the keyboard");
    terminal.type_line("");
    connection.expect_line("");
    terminal.type_line("and one more");
    connection.expect_line("and one more");
}

#[test]
fn a_line_from_the_server_shows_on_the_screen() {
    let _todo = suspect(
        "TODOs 6-7 (epoll_wait; on the socket's event, relay_from_server, which writes and flushes stdout)",
    );
    let server = FakeServer::start();
    let mut terminal = Terminal::start(server.port());
    let mut connection = server.accept();
    // Nothing is typed: a client blocked reading its keyboard would show
    // nothing.
    connection.send("[127.0.0.1:1234] hello from a peer\n");
    terminal.expect_on_screen("[127.0.0.1:1234] hello from a peer\r\n");
}

#[test]
fn ctrl_d_ends_the_client_with_status_0() {
    let _todo = suspect("TODO 8 (0 bytes from standard input: return self.finish_input())");
    let server = FakeServer::start();
    let mut terminal = Terminal::start(server.port());
    let connection = server.accept();
    terminal.type_line("last words");
    terminal.ctrl_d();
    connection.expect_line("last words");
    connection.inbox().expect_end();
    terminal.expect_success();
}

#[test]
fn ctrl_d_after_an_unfinished_line_sends_it_with_its_newline() {
    let _todo = suspect(
        "TODO 8 (keep an unfinished line in pending; 0 bytes from standard input: return self.finish_input())",
    );
    let server = FakeServer::start();
    let mut terminal = Terminal::start(server.port());
    let connection = server.accept();
    // The first Ctrl-D hands over "no newline" without a `\n`; the second,
    // at the start of a line, is the end of input.
    terminal.type_text("no newline");
    terminal.ctrl_d();
    terminal.ctrl_d();
    connection.expect_line("no newline");
    connection.inbox().expect_end();
    terminal.expect_success();
}

#[test]
fn typing_exit_ends_the_client_with_status_0() {
    let _todo = suspect("TODO 8 (return what send_complete_lines returns: it stops at `exit`)");
    let server = FakeServer::start();
    let mut terminal = Terminal::start(server.port());
    let connection = server.accept();
    terminal.type_line("before");
    terminal.type_line("exit");
    terminal.type_line("after");
    // `exit` is not sent, and neither is anything typed after it.
    connection.expect_line("before");
    connection.inbox().expect_end();
    terminal.expect_success();
}

/// The client under test on a pseudo-terminal of its own.
struct Terminal {
    /// rexpect's end of the terminal: it types, and reads the screen.
    session: StreamSession<File>,
    /// The client's process. When dropped, rexpect ends it if it still runs.
    process: PtyProcess,
    pid: u32,
    /// Whether the client was reaped: from then on its pid may be another
    /// process's.
    reaped: bool,
}

impl Terminal {
    /// Starts `client 127.0.0.1 PORT` on a new terminal.
    #[track_caller]
    fn start(port: u16) -> Terminal {
        let (mut pid_from_child, pid_to_parent) = UnixStream::pair().expect("a socket pair");
        let mut command = Command::new(client_exe());
        command.args(["127.0.0.1", &port.to_string()]);
        // SAFETY: the closure runs in the child between fork and exec. It
        // calls getpid and write (through `&UnixStream`'s write_all), which
        // are async-signal-safe and allocate nothing. The socket is
        // close-on-exec, so the client itself does not inherit it.
        unsafe {
            command.pre_exec(move || (&pid_to_parent).write_all(&std::process::id().to_ne_bytes()));
        }
        // `command`, and with it this process's copy of `pid_to_parent`, is
        // dropped in there: the child's is the only one left.
        let mut process = PtyProcess::new(command).expect("start the client on a terminal");
        let deadline_ms = DEADLINE.as_millis() as u64;
        process.set_kill_timeout(Some(deadline_ms));
        let pid = child_pid(&mut pid_from_child);

        let pty = process.get_file_handle().expect("the terminal");
        let (to_inbox, from_screen) = UnixStream::pair().expect("a socket pair");
        let screen = Screen {
            pty: pty.try_clone().expect("the terminal"),
            copy: Some(to_inbox),
        };
        // The failure messages of the test show the screen from now on.
        failure::watch(
            "the client",
            pid,
            Inbox::spawn("client terminal", from_screen),
        );
        let options = Options::new().timeout_ms(Some(deadline_ms));
        Terminal {
            session: StreamSession::new(screen, pty, options),
            process,
            pid,
            reaped: false,
        }
    }

    /// Types `line` and Enter.
    #[track_caller]
    fn type_line(&mut self, line: &str) {
        let typed = self.session.send_line(line).map(drop);
        self.check_typed(typed, line);
    }

    /// Types `text` without Enter.
    #[track_caller]
    fn type_text(&mut self, text: &str) {
        let typed = self.session.send(text).and_then(|_| self.session.flush());
        self.check_typed(typed, text);
    }

    /// Presses Ctrl-D.
    #[track_caller]
    fn ctrl_d(&mut self) {
        let typed = self.session.send_control('d');
        self.check_typed(typed, "Ctrl-D");
    }

    #[track_caller]
    fn check_typed(&self, typed: Result<(), rexpect::error::Error>, what: &str) {
        if let Err(err) = typed {
            failure::fail_after(
                format!("typing {what:?} on the client's terminal: {err}"),
                true,
            );
        }
    }

    /// Waits until `text` shows on the screen (after what an earlier call
    /// waited for).
    #[track_caller]
    fn expect_on_screen(&mut self, text: &str) {
        if let Err(err) = self.session.exp_string(text) {
            let ended = matches!(err, rexpect::error::Error::EOF { .. });
            failure::fail_after(
                format!(
                    "the client's terminal waited for {} on the screen: {err}",
                    show(text.as_bytes())
                ),
                ended,
            );
        }
    }

    /// Waits for the client to exit and checks it exited with status 0.
    #[track_caller]
    fn expect_success(&mut self) {
        if !failure::wait_for_exit(self.pid, DEADLINE) {
            failure::fail(format!("the client did not exit within {DEADLINE:?}"));
        }
        // It exited: this reaps it at once.
        let status = self.process.status();
        self.reaped = true;
        let how = match status {
            Some(WaitStatus::Exited(_, code)) => format!("exit status {code}"),
            Some(WaitStatus::Signaled(_, signal, _)) => format!("signal {}", signal as i32),
            other => format!("{other:?}"),
        };
        failure::ended(self.pid, how.clone());
        if !matches!(status, Some(WaitStatus::Exited(_, 0))) {
            failure::fail(format!("the client exited with {how}, not with status 0"));
        }
    }
}

impl Drop for Terminal {
    /// When the test is failing by its own assertion, prints how the client
    /// is doing and its screen, as `procs` does for its processes. Then
    /// kills the client if it still runs, and waits for its end, so that
    /// rexpect, which ends it otherwise, finds it gone.
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(report) = failure::report_unreported(self.pid) {
                eprintln!("--- what the processes of the test were doing:\n{report}");
            }
        }
        failure::forget(self.pid);
        if !self.reaped && self.process.signal(Signal::SIGKILL).is_ok() {
            failure::wait_for_exit(self.pid, DEADLINE);
        }
    }
}

/// Reads the pid that the client's process sends before it execs the
/// client.
#[track_caller]
fn child_pid(socket: &mut UnixStream) -> u32 {
    let mut pid = [0; 4];
    let read = socket
        .set_read_timeout(Some(DEADLINE))
        .and_then(|()| socket.read_exact(&mut pid));
    match read {
        Ok(()) => u32::from_ne_bytes(pid),
        Err(err) => failure::fail(format!(
            "the client's process did not get as far as starting {}: {err}",
            client_exe()
        )),
    }
}

/// The screen, as rexpect reads it, copied as it goes to an [`Inbox`], where
/// the failure messages read it.
struct Screen {
    pty: File,
    /// Closed at the end of the screen, which ends the inbox's stream too.
    copy: Option<UnixStream>,
}

impl Read for Screen {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = match self.pty.read(buf) {
            Ok(count) => count,
            // Every process closed the terminal's other side (the client
            // exited): the end of the screen. rexpect would read on and get
            // this error over and over.
            Err(err) if err.raw_os_error() == Some(libc::EIO) => 0,
            Err(err) => return Err(err),
        };
        if count == 0 {
            self.copy = None;
        } else if let Some(copy) = &mut self.copy {
            // The copy is for failure messages only: never fail the read.
            let _ = copy.write_all(&buf[..count]);
        }
        Ok(count)
    }
}
