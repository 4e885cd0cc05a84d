//! The server and client binaries as child processes: started on port 0,
//! waited for through the readiness line, stopped with a deadline, killed
//! when a test ends however it ends.

use std::fs::File;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::failure;
use crate::inbox::{DEADLINE, Inbox};
use crate::peer::{Options, Peer};

/// The server under test: this crate's `server`, or the executable named by
/// `CHAT_SERVER_EXE` (to run these tests against another implementation of
/// the protocol, in any language).
pub fn server_exe() -> String {
    std::env::var("CHAT_SERVER_EXE").unwrap_or_else(|_| env!("CARGO_BIN_EXE_server").to_owned())
}

/// The client under test: this crate's `client`, or `CHAT_CLIENT_EXE`.
pub fn client_exe() -> String {
    std::env::var("CHAT_CLIENT_EXE").unwrap_or_else(|_| env!("CARGO_BIN_EXE_client").to_owned())
}

/// A running server.
pub struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts the server on port 0 and waits for its readiness line.
    #[track_caller]
    pub fn start() -> Server {
        Server::start_with(Command::new(server_exe()).arg("0"))
    }

    /// Starts the server on port 0 with at most `limit` file descriptors.
    #[track_caller]
    pub fn start_with_fd_limit(limit: u64) -> Server {
        let mut command = Command::new(server_exe());
        command.arg("0");
        // SAFETY: the closure runs in the child between fork and exec and
        // only calls setrlimit, which is async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                let rlimit = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        Server::start_with(&mut command)
    }

    /// Starts the server and waits for its readiness line; fails, showing
    /// its stderr, if the line is not `listening on 0.0.0.0:PORT`.
    #[track_caller]
    pub fn start_with(command: &mut Command) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let stdout = Inbox::spawn("server stdout", child.stdout.take().expect("piped stdout"));
        let stderr = Inbox::spawn("server stderr", child.stderr.take().expect("piped stderr"));
        // The failure messages of the test show its stderr from now on.
        failure::watch("the server", child.id(), stderr);
        let mut server = Server { child, port: 0 };
        let line = stdout.next_line_expecting("the readiness line \"listening on 0.0.0.0:PORT\"");
        server.port = std::str::from_utf8(&line)
            .ok()
            .and_then(|line| line.strip_prefix("listening on 0.0.0.0:"))
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| {
                failure::fail(format!(
                    "the server's first line is {}, not \"listening on 0.0.0.0:PORT\"",
                    crate::inbox::show(&line)
                ))
            });
        // Keep draining stdout, so that logging can never block the server.
        std::mem::forget(stdout);
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A raw TCP peer connected to the server.
    #[track_caller]
    pub fn peer(&self) -> Peer {
        Peer::connect(self.port)
    }

    #[track_caller]
    pub fn peer_with(&self, options: Options) -> Peer {
        Peer::connect_with(self.port, options)
    }

    pub fn signal(&self, signal: libc::c_int) {
        send_signal(&self.child, signal);
    }

    /// Waits for the server to exit; fails if it does not in time.
    #[track_caller]
    pub fn wait_exit(&mut self) -> ExitStatus {
        wait_exit(&mut self.child, "the server")
    }

    /// Whether the server is still running.
    pub fn is_running(&mut self) -> bool {
        reap(&mut self.child).is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        stop_and_report(&mut self.child);
    }
}

/// A running client, its stdin a pipe the test writes to (or a file).
pub struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    pub stdout: Inbox,
}

impl Client {
    /// Starts `client 127.0.0.1 PORT` with a pipe as standard input.
    pub fn start(port: u16) -> Client {
        Client::start_with_stdin(port, Stdio::piped())
    }

    /// Starts `client 127.0.0.1 PORT` with the given standard input.
    pub fn start_with_stdin(port: u16, stdin: impl Into<Stdio>) -> Client {
        let mut child = Command::new(client_exe())
            .args(["127.0.0.1", &port.to_string()])
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the client");
        let stderr = Inbox::spawn("client stderr", child.stderr.take().expect("piped stderr"));
        // The failure messages of the test show its stderr from now on.
        failure::watch("the client", child.id(), stderr);
        Client {
            stdout: Inbox::spawn("client stdout", child.stdout.take().expect("piped stdout")),
            stdin: child.stdin.take(),
            child,
        }
    }

    /// Writes `bytes` to the client's standard input.
    #[track_caller]
    pub fn type_in(&mut self, bytes: impl AsRef<[u8]>) {
        let stdin = self.stdin.as_mut().expect("stdin is a pipe, still open");
        if let Err(err) = stdin.write_all(bytes.as_ref()) {
            // EPIPE: the client exited, and nobody reads its input any more.
            failure::fail_after(format!("writing to the client's stdin: {err}"), true);
        }
    }

    /// Closes the client's standard input: the end of input.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the client to exit; fails if it does not in time.
    #[track_caller]
    pub fn wait_exit(&mut self) -> ExitStatus {
        wait_exit(&mut self.child, "the client")
    }

    /// Waits for the client to exit and checks it exited with status 0.
    #[track_caller]
    pub fn expect_success(&mut self) {
        let status = self.wait_exit();
        if !status.success() {
            failure::fail(format!(
                "the client exited with {}, not with status 0",
                describe_status(status)
            ));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        stop_and_report(&mut self.child);
    }
}

/// Kills the process if it still runs. When the test is failing and its
/// message did not describe the process yet (the test failed by its own
/// assertion), prints how the process is doing and the end of its stderr (a
/// panic such as "not yet implemented: TODO 14" shows up there): the
/// test's output shows it under the failure.
fn stop_and_report(child: &mut Child) {
    if std::thread::panicking() {
        if let Some(report) = failure::report_unreported(child.id()) {
            eprintln!("--- what the processes of the test were doing:\n{report}");
        }
    }
    failure::forget(child.id());
    let _ = child.kill();
    let _ = child.wait();
}

/// `try_wait`, which reaps the child if it exited: records how, for failure
/// messages (which cannot ask the kernel about a reaped child).
fn reap(child: &mut Child) -> Option<ExitStatus> {
    let status = child.try_wait().expect("try_wait")?;
    failure::ended(child.id(), describe_status(status));
    Some(status)
}

fn send_signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill takes no pointers; the child is ours and not yet reaped.
    let ret = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(ret, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Waits, with the deadline, for `child` to exit.
#[track_caller]
fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    if let Some(status) = reap(child) {
        return status;
    }
    failure::wait_for_exit(child.id(), DEADLINE);
    reap(child).unwrap_or_else(|| failure::fail(format!("{what} did not exit within {DEADLINE:?}")))
}

/// Describes how a process ended, for messages: "exit status 1" or "signal
/// 9".
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => format!("{status}"),
    }
}

/// A file with `contents`, to use as a client's standard input.
pub fn file_with(contents: &[u8]) -> File {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "chat-test-stdin-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = File::create(&path).expect("create a temporary file");
    file.write_all(contents).expect("write the temporary file");
    let file = File::open(&path).expect("reopen the temporary file");
    std::fs::remove_file(&path).expect("remove the temporary file");
    file
}

/// A short fixed window, for the tests that measure what a process does
/// while nothing happens (CPU used while idle). This is a measurement over
/// time, never a way to wait for an event.
pub const IDLE_WINDOW: Duration = Duration::from_millis(500);
