//! The server and client binaries as child processes: started on port 0,
//! waited for through the readiness line, killed when a test ends however
//! it ends. Each one's stderr goes to the failure messages (`failure`), its
//! other output to an [`Inbox`] that the test waits on.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Instant;

use harness::process::{self, Feeder};
use harness::rules::UnderTest;
use harness::rules::client::ClientUnderTest;
use harness::show::show;
use harness::{Context, Failure, Inbox, Outcome};

use crate::failure;

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

/// A running server: what the protocol's rules run against.
pub struct Server<'c> {
    context: &'c Context,
    child: Child,
    port: u16,
}

impl<'c> Server<'c> {
    /// Starts `server 0` and waits for its readiness line.
    pub fn start(c: &'c Context) -> Result<Server<'c>, Failure> {
        let mut command = Command::new(server_exe());
        command.arg("0");
        Server::start_with(c, command)
    }

    /// Starts `server 0` with at most `limit` open file descriptors.
    pub fn start_with_fd_limit(c: &'c Context, limit: u64) -> Result<Server<'c>, Failure> {
        let mut command = Command::new(server_exe());
        command.arg("0");
        c.step(format!("the server may open at most {limit} descriptors"));
        harness::process::limit_descriptors(&mut command, limit);
        Server::start_with(c, command)
    }

    /// Starts the server `command` describes and waits for its readiness
    /// line, `listening on 0.0.0.0:PORT`.
    pub fn start_with(c: &'c Context, mut command: Command) -> Result<Server<'c>, Failure> {
        let shown = format!("{command:?}").replace('"', "");
        c.step(format!("start the server: {shown}"));
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| Failure::new(format!("could not start {shown}: {err}")))?;
        let stdout = Inbox::spawn("the server's stdout", child.stdout.take().expect("piped"));
        watch_stderr("the server", &mut child);
        // From here on, dropping it kills it, whatever happens next.
        let mut server = Server {
            context: c,
            child,
            port: 0,
        };
        server.port = process::ready_port("the server", &stdout, c.until())?;
        c.step(format!(
            "the server says it listens on port {}",
            server.port
        ));
        // What it prints from now on is free-form logging: keep reading it,
        // so that the server never blocks on it, but keep none of it.
        stdout.transcript_only();
        Ok(server)
    }

    /// Sends `signal` to the server.
    pub fn signal(&self, signal: libc::c_int) {
        let name = match signal {
            libc::SIGINT => "SIGINT".to_owned(),
            libc::SIGTERM => "SIGTERM".to_owned(),
            _ => format!("signal {signal}"),
        };
        self.context.step(format!("send {name} to the server"));
        process::signal(self.child.id(), signal);
    }

    /// Waits for the server to exit and checks its exit status.
    pub fn expect_exit(&mut self, code: i32) -> Outcome {
        let status = wait_exit(&mut self.child, self.context.until());
        process::expect_exit_status("the server", status, code)
    }
}

impl UnderTest for Server<'_> {
    fn port(&self) -> u16 {
        self.port
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        stop_and_report(&mut self.child);
    }
}

/// A running client, its standard input a pipe the test writes to (or a
/// file), its standard output an inbox.
pub struct Client<'c> {
    context: &'c Context,
    child: Child,
    input: Option<Feeder>,
    stdout: Inbox,
}

impl<'c> Client<'c> {
    /// Starts `client 127.0.0.1 PORT` with a pipe as standard input.
    pub fn start(c: &'c Context, port: u16) -> Result<Client<'c>, Failure> {
        Client::start_with_stdin(c, port, Stdio::piped())
    }

    /// Starts `client 127.0.0.1 PORT` with the given standard input.
    pub fn start_with_stdin(
        c: &'c Context,
        port: u16,
        stdin: impl Into<Stdio>,
    ) -> Result<Client<'c>, Failure> {
        c.step(format!("start the client: client 127.0.0.1 {port}"));
        let mut child = Command::new(client_exe())
            .args(["127.0.0.1", &port.to_string()])
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| Failure::new(format!("could not start {}: {err}", client_exe())))?;
        watch_stderr("the client", &mut child);
        Ok(Client {
            context: c,
            stdout: c.watch("the client's stdout", child.stdout.take().expect("piped")),
            input: child.stdin.take().map(Feeder::spawn),
            child,
        })
    }

    /// Waits for the next chat line the client prints (one with a `[`: the
    /// protocol lets a client print notes and a prompt too) and checks it
    /// is `line`.
    pub fn expect_chat_line(&self, line: impl AsRef<[u8]>) -> Outcome {
        self.stdout
            .expect_chat_line(line.as_ref(), self.context.until())
    }

    /// Waits until the client has printed `bytes`, in one run, after what
    /// was waited for before.
    pub fn expect_printed(&self, bytes: &[u8]) -> Outcome {
        self.stdout
            .expect_bytes_somewhere(bytes, self.context.until())
    }

    /// Waits until the client's standard output ends, with nothing printed
    /// before the end.
    pub fn expect_stdout_end(&self) -> Outcome {
        let rest = self.stdout.wait_end(self.context.until())?;
        if rest.is_empty() {
            return Ok(());
        }
        Err(Failure {
            summary: "the client printed more before its standard output ended".into(),
            expected: Some("the end of its standard output".into()),
            seen: Some(show(&rest)),
            ..Failure::default()
        })
    }

    /// Waits for the client to exit and checks its exit status.
    pub fn expect_exit(&mut self, code: i32) -> Outcome {
        let status = wait_exit(&mut self.child, self.context.until());
        process::expect_exit_status("the client", status, code)
    }
}

/// The client's rules ([`harness::rules::client`]) write to its standard
/// input and read its standard output.
impl ClientUnderTest for Client<'_> {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn input(&self) -> String {
        "the client's stdin".to_owned()
    }

    fn type_in(&mut self, bytes: &[u8]) -> Outcome {
        self.context
            .step(format!("the client's stdin gets {}", show(bytes)));
        self.type_quietly(bytes)
    }

    fn type_quietly(&mut self, bytes: &[u8]) -> Outcome {
        let written = match &self.input {
            Some(input) => input.write(bytes, self.context.until()),
            None => Err(io::Error::other("it is closed")),
        };
        written.map_err(|err| Failure::new(format!("could not write to the client's stdin: {err}")))
    }

    /// Closes its standard input: the end of input.
    fn end_input(&mut self) -> Outcome {
        self.context
            .step("close the client's stdin (the end of input)");
        self.input = None;
        Ok(())
    }

    fn output(&self) -> &Inbox {
        &self.stdout
    }

    fn wait_exit(&mut self, until: Instant) -> Option<ExitStatus> {
        wait_exit(&mut self.child, until)
    }
}

impl Drop for Client<'_> {
    fn drop(&mut self) {
        stop_and_report(&mut self.child);
    }
}

/// Collects `child`'s stderr for the failure messages of the test.
fn watch_stderr(what: &str, child: &mut Child) {
    let stderr = Inbox::spawn(
        format!("{what}'s stderr"),
        child.stderr.take().expect("piped"),
    );
    // A log, not something to match: keep its beginning and its end only.
    stderr.transcript_only();
    failure::watch(what, child.id(), stderr);
}

/// Kills the process if it still runs, and records how it ended for a
/// failure that comes later in the test. When the test panics and its
/// message did not describe the process yet (the test failed by its own
/// assertion), prints how the process is doing and the end of its stderr:
/// the test's output shows it under the panic.
fn stop_and_report(child: &mut Child) {
    if std::thread::panicking()
        && let Some(report) = failure::report_unreported(child.id())
    {
        eprintln!("--- what the processes of the test were doing:\n{report}");
    }
    if !matches!(child.try_wait(), Ok(Some(_))) {
        let _ = child.kill();
    }
    // A process that was exiting already (its pipes close before its exit
    // can be reaped) ends with its own status, not with the kill.
    match child.wait() {
        Ok(status) if status.signal() != Some(libc::SIGKILL) => {
            failure::ended(child.id(), process::describe_status(status));
        }
        _ => failure::stopped(child.id()),
    }
}

/// Waits until `child` exits, at most until `until`; `None` if it still
/// runs then. Records how it ended for failure messages, which cannot ask
/// the kernel about a reaped child.
fn wait_exit(child: &mut Child, until: Instant) -> Option<ExitStatus> {
    let mut status = child.try_wait().ok().flatten();
    if status.is_none()
        && failure::wait_for_exit(child.id(), until.saturating_duration_since(Instant::now()))
    {
        status = child.try_wait().ok().flatten();
    }
    if let Some(status) = status {
        failure::ended(child.id(), process::describe_status(status));
    }
    status
}
