//! The client on a terminal, as a person runs it (protocol.md, "Client"):
//! typed lines go out, what arrives shows on the screen, Ctrl-D and `exit`
//! end it. The other client tests give it a pipe as standard input; here
//! `rexpect` starts it on a pseudo-terminal, and the tests run the client's
//! rules (`harness/src/rules/client.rs`) on it, as the grader's checks do
//! on a terminal of their own.
//!
//! A terminal is not a pipe: in canonical mode it hands over one line per
//! read, and Ctrl-D is not a byte but the end of input (or, after an
//! unfinished line, that line without its newline). The client's stdout
//! and stderr both go to the screen. rexpect turns the terminal's echo off;
//! the client's process turns its output processing off before it becomes
//! the client, so that the screen shows the bytes the client writes (`\n`,
//! not `\r\n`), as on the grader's terminal.
//!
//! The harness reads the screen (an [`Inbox`]) and types (a [`Feeder`]),
//! each with the test's deadline, as for a client on pipes: a client that
//! stops reading cannot block a test, and a wait ends as soon as what it
//! waits for shows.
//!
//! rexpect keeps the pid of the process it starts to itself. The tests need
//! it (to tell whether the client is still running, to stop it, and to show
//! how it ended, where a stub's `not yet implemented: TODO N` shows on the
//! screen), so the client's process hands it over on a socket just before
//! it becomes the client.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus};
use std::time::Instant;

use harness::process::{self, Feeder};
use harness::rules::client::{self as rules, ClientUnderTest, Rule, ServerSide};
use harness::show::show;
use harness::{Context, Failure, FakeServer, Inbox, Outcome};
use rexpect::process::{PtyProcess, Signal, WaitStatus};

use crate::failure::{self, DEADLINE, Failed, Test};
use crate::procs::client_exe;

/// Starts the client on a terminal towards a fake server, and runs `rule`
/// against it, in a test of `todos`.
fn on_a_terminal(todos: &'static str, rule: Rule) -> Result<(), Failed> {
    let t = Test::new(todos);
    let fake = FakeServer::start()?;
    let mut terminal = Terminal::start(&t, fake.port())?;
    let server = rules::accept(&t, &fake, &terminal)?;
    rule(&t, &mut terminal, &mut ServerSide::Fake(server))?;
    Ok(())
}

#[test]
fn a_line_typed_on_the_terminal_reaches_the_server() -> Result<(), Failed> {
    on_a_terminal(
        "TODOs 5 and 8 (standard input in the epoll set; on its event, sys::read_fd and send_complete_lines)",
        rules::send,
    )
}

#[test]
fn a_line_from_the_server_shows_on_the_screen() -> Result<(), Failed> {
    on_a_terminal(
        "TODOs 6-7 (epoll_wait, retried on EINTR; on the socket's event, relay_from_server, which writes and flushes stdout)",
        rules::receive,
    )
}

#[test]
fn ctrl_d_ends_the_client_with_status_0() -> Result<(), Failed> {
    on_a_terminal(
        "TODO 8 (0 bytes from standard input: return self.finish_input())",
        rules::eof,
    )
}

#[test]
fn ctrl_d_after_an_unfinished_line_sends_it_with_its_newline() -> Result<(), Failed> {
    on_a_terminal(
        "TODO 8 (keep an unfinished line in pending; 0 bytes from standard input: return self.finish_input())",
        rules::eof_after_unfinished_line,
    )
}

#[test]
fn typing_exit_ends_the_client_with_status_0() -> Result<(), Failed> {
    on_a_terminal(
        "TODO 8 (return what send_complete_lines returns: it stops at `exit`)",
        rules::exit,
    )
}

/// What Ctrl-D types: the terminal's end-of-file character (VEOF).
const CTRL_D: u8 = 4;

/// The client under test on a pseudo-terminal of its own.
struct Terminal<'c> {
    context: &'c Context,
    /// The client's process. When dropped, rexpect ends it if it still
    /// runs.
    process: PtyProcess,
    pid: u32,
    keyboard: Feeder,
    /// Whether what was typed so far ends with a newline: where Ctrl-D
    /// ends the input.
    at_line_start: bool,
    screen: Inbox,
    /// How it exited, once reaped: from then on its pid may be another
    /// process's.
    exit: Option<ExitStatus>,
}

impl<'c> Terminal<'c> {
    /// Starts `client 127.0.0.1 PORT` on a new terminal.
    fn start(c: &'c Context, port: u16) -> Result<Terminal<'c>, Failure> {
        let shown = format!("{} 127.0.0.1 {port}", client_exe());
        let fail = |err: &dyn std::fmt::Display| {
            Failure::new(format!(
                "could not start the client ({shown}) on a terminal: {err}"
            ))
        };
        let (mut pid_from_child, pid_to_parent) = UnixStream::pair().map_err(|e| fail(&e))?;
        let mut command = Command::new(client_exe());
        command.args(["127.0.0.1", &port.to_string()]);
        // SAFETY: the closure runs in the child between fork and exec, where
        // rexpect has made the terminal its standard streams. It calls
        // tcgetattr, tcsetattr, getpid and write (through `&UnixStream`'s
        // write_all), which are async-signal-safe and allocate nothing. The
        // socket is close-on-exec, so the client itself does not inherit
        // it.
        unsafe {
            command.pre_exec(move || {
                raw_output()?;
                (&pid_to_parent).write_all(&std::process::id().to_ne_bytes())
            });
        }
        c.step(format!("start the client on a terminal: {shown}"));
        // `command`, and with it this process's copy of `pid_to_parent`, is
        // dropped in there: the child's is the only one left.
        let mut process = PtyProcess::new(command).map_err(|e| fail(&e))?;
        process.set_kill_timeout(Some(DEADLINE.as_millis() as u64));
        let pid = child_pid(&mut pid_from_child).map_err(|e| fail(&e))?;
        let pty = process.get_file_handle().map_err(|e| fail(&e))?;
        let keyboard = Feeder::spawn(pty.try_clone().map_err(|e| fail(&e))?);
        let screen = Inbox::spawn("the client's terminal", pty);
        // The failure messages of the test show the screen from now on.
        failure::watch("the client", pid, screen.clone());
        Ok(Terminal {
            context: c,
            process,
            pid,
            keyboard,
            at_line_start: true,
            screen,
            exit: None,
        })
    }

    /// Reaps the client if it has exited, and records how it ended.
    fn reap(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = match self.process.status()? {
                WaitStatus::Exited(_, code) => Some(ExitStatus::from_raw((code & 0xff) << 8)),
                WaitStatus::Signaled(_, signal, _) => Some(ExitStatus::from_raw(signal as i32)),
                _ => None,
            };
            if let Some(status) = self.exit {
                failure::ended(self.pid, process::describe_status(status));
            }
        }
        self.exit
    }
}

impl ClientUnderTest for Terminal<'_> {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn input(&self) -> String {
        "the client's terminal".to_owned()
    }

    fn type_in(&mut self, bytes: &[u8]) -> Outcome {
        self.context
            .step(format!("type on the client's terminal: {}", show(bytes)));
        self.type_quietly(bytes)
    }

    fn type_quietly(&mut self, bytes: &[u8]) -> Outcome {
        self.keyboard
            .write(bytes, self.context.until())
            .map_err(|err| Failure::new(format!("typing on the client's terminal: {err}")))?;
        if let Some(&last) = bytes.last() {
            self.at_line_start = last == b'\n';
        }
        Ok(())
    }

    /// Ctrl-D at the start of a line is the end of input; after an
    /// unfinished line, the first one hands that line over.
    fn end_input(&mut self) -> Outcome {
        if self.at_line_start {
            self.context.step("press Ctrl-D on the client's terminal");
            self.type_quietly(&[CTRL_D])
        } else {
            self.context.step(
                "press Ctrl-D twice on the client's terminal (the first hands over the unfinished line)",
            );
            self.type_quietly(&[CTRL_D])?;
            self.type_quietly(&[CTRL_D])
        }
    }

    fn output(&self) -> &Inbox {
        &self.screen
    }

    fn wait_exit(&mut self, until: Instant) -> Option<ExitStatus> {
        if self.exit.is_none() {
            failure::wait_for_exit(self.pid, until.saturating_duration_since(Instant::now()));
        }
        self.reap()
    }
}

impl Drop for Terminal<'_> {
    /// When the test panics, prints how the client is doing and its screen,
    /// as `procs` does for its processes. Then kills the client if it still
    /// runs, and reaps it, so that rexpect, which ends it otherwise, finds
    /// it gone.
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(report) = failure::report_unreported(self.pid)
        {
            eprintln!("--- what the processes of the test were doing:\n{report}");
        }
        if self.exit.is_some() {
            return;
        }
        let _ = self.process.signal(Signal::SIGKILL);
        failure::wait_for_exit(self.pid, DEADLINE);
        // A client that was exiting already ends with its own status.
        match self.reap() {
            Some(status) if status.signal() != Some(libc::SIGKILL) => {}
            _ => failure::stopped(self.pid),
        }
    }
}

/// Turns the output processing of the terminal on standard input off
/// (OPOST), so that the screen shows `\n` as the client writes it, not
/// `\r\n`. Async-signal-safe: for the child between fork and exec.
fn raw_output() -> io::Result<()> {
    // SAFETY: an all-zero termios is a valid value for tcgetattr to fill.
    let mut settings: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `settings` is a writable termios; fd 0 is the terminal.
    if unsafe { libc::tcgetattr(0, &mut settings) } != 0 {
        return Err(io::Error::last_os_error());
    }
    settings.c_oflag &= !libc::OPOST;
    // SAFETY: `settings` is a valid termios obtained from tcgetattr.
    if unsafe { libc::tcsetattr(0, libc::TCSANOW, &settings) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads the pid that the client's process sends before it execs the
/// client.
fn child_pid(socket: &mut UnixStream) -> io::Result<u32> {
    let mut pid = [0; 4];
    socket.set_read_timeout(Some(DEADLINE))?;
    socket.read_exact(&mut pid).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("its process did not get as far as exec: {err}"),
        )
    })?;
    Ok(u32::from_ne_bytes(pid))
}
