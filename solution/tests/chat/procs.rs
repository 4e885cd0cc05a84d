//! The server and client binaries as child processes: started on port 0,
//! waited for through the readiness line, stopped with a deadline, killed
//! when a test ends however it ends.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::inbox::{DEADLINE, Inbox, show};
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
    stderr: Inbox,
}

impl Server {
    /// Starts the server on port 0 and waits for its readiness line.
    pub fn start() -> Server {
        Server::start_with(Command::new(server_exe()).arg("0"))
    }

    /// Starts the server on port 0 with at most `limit` file descriptors.
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

    /// Starts the server and waits for its readiness line; panics with its
    /// stderr if the line is not `listening on 0.0.0.0:PORT`.
    pub fn start_with(command: &mut Command) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let stdout = Inbox::spawn("server stdout", child.stdout.take().expect("piped stdout"));
        let stderr = Inbox::spawn("server stderr", child.stderr.take().expect("piped stderr"));
        let mut server = Server {
            child,
            port: 0,
            stderr,
        };
        // If the server dies before this line, dropping `server` (as the
        // panic unwinds) shows its stderr.
        let line = String::from_utf8(stdout.next_line()).expect("a UTF-8 readiness line");
        server.port = line
            .strip_prefix("listening on 0.0.0.0:")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("not a readiness line: {line:?}"));
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
    pub fn peer(&self) -> Peer {
        Peer::connect(self.port)
    }

    pub fn peer_with(&self, options: Options) -> Peer {
        Peer::connect_with(self.port, options)
    }

    pub fn signal(&self, signal: libc::c_int) {
        send_signal(&self.child, signal);
    }

    /// Waits for the server to exit; panics if it does not in time.
    pub fn wait_exit(&mut self) -> ExitStatus {
        wait_exit(&mut self.child, "the server")
    }

    /// Whether the server is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        stop_and_report(&mut self.child, "server", &self.stderr);
    }
}

/// A running client, its stdin a pipe the test writes to (or a file).
pub struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    pub stdout: Inbox,
    pub stderr: Inbox,
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
        Client {
            stdout: Inbox::spawn("client stdout", child.stdout.take().expect("piped stdout")),
            stderr: Inbox::spawn("client stderr", child.stderr.take().expect("piped stderr")),
            stdin: child.stdin.take(),
            child,
        }
    }

    /// Writes `bytes` to the client's standard input.
    pub fn type_in(&mut self, bytes: impl AsRef<[u8]>) {
        self.stdin
            .as_mut()
            .expect("stdin is a pipe, still open")
            .write_all(bytes.as_ref())
            .expect("write to the client's stdin");
    }

    /// Closes the client's standard input: the end of input.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the client to exit; panics if it does not in time.
    pub fn wait_exit(&mut self) -> ExitStatus {
        wait_exit(&mut self.child, "the client")
    }

    /// Waits for the client to exit and checks it exited with status 0.
    #[track_caller]
    pub fn expect_success(&mut self) {
        let status = self.wait_exit();
        assert!(
            status.success(),
            "the client exited with {status}; its stderr: {}",
            show(&self.stderr.everything())
        );
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        stop_and_report(&mut self.child, "client", &self.stderr);
    }
}

/// Kills the process if it still runs. When the test is failing, prints how
/// the process ended and its stderr (a panic such as "not yet implemented:
/// TODO 14" shows up there): the test's output shows it under the failure.
fn stop_and_report(child: &mut Child, what: &str, stderr: &Inbox) {
    let ended = child.try_wait().ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    if std::thread::panicking() {
        let how = match ended {
            Some(status) => format!("had exited with {}", describe_status(status)),
            None => "was still running (killed now)".to_owned(),
        };
        eprintln!(
            "--- the {what} {how}; its stderr: {}",
            show(&stderr.everything())
        );
    }
}

fn send_signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill takes no pointers; the child is ours and not yet reaped.
    let ret = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(ret, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Waits, with the deadline, for `child` to exit. A pidfd becomes readable
/// when the process exits, so the wait needs neither sleeping nor a thread.
fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id(), 0) };
    assert!(raw >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!("{what} did not exit within {DEADLINE:?}");
        }
        let mut poll = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `poll` is one valid pollfd.
        unsafe { libc::poll(&mut poll, 1, left.as_millis().min(i32::MAX as u128) as i32) };
    }
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
