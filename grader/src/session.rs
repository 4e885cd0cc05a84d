//! The context one check runs in: the executables under test, the deadline,
//! the steps taken so far, and every stream whose transcript a failure
//! should show. Peers, servers and clients started through a [`Session`]
//! log their steps in it and are stopped when the check ends.

use std::io::{self, ErrorKind, Write};
use std::mem;
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::model::Failure;
use crate::sandbox::{self, Audit, Contained, FileId, Limits};
use crate::stream::{Stream, show};

/// What a check returns: `Err` says what went wrong.
pub type Outcome = Result<(), Failure>;

/// What all checks of one grading run share.
#[derive(Debug, Clone)]
pub struct Config {
    /// The submission's server, if the server part is graded.
    pub server: Option<PathBuf>,
    /// The submission's client, if the client part is graded.
    pub client: Option<PathBuf>,
    /// The grader's own executable: `reference-server` and
    /// `reference-client` are subcommands of it.
    pub reference: PathBuf,
    /// The longest wait for any one expected thing.
    pub step: Duration,
    /// The longest a whole check may take.
    pub check_limit: Duration,
    /// Limits for the submission's processes.
    pub limits: Limits,
}

/// Prepares the environment of a submission's process. A Rust panic names
/// its file, line and TODO; a backtrace on top (if the grader's user set
/// RUST_BACKTRACE) would bury that in the transcript and cost a debug
/// binary a tenth of a second of CPU to print.
pub fn submission_env(command: &mut Command) {
    command.env("RUST_BACKTRACE", "0");
}

/// The executables built from the submission, by path, with the file
/// each path named when it was built. A process started from one of these
/// paths must run that very file: a submission whose server or client
/// execs something else (the reference built into the grader, a script of
/// the kit) fails the check.
static BUILT: Mutex<Vec<(PathBuf, FileId)>> = Mutex::new(Vec::new());

/// Records `exe` as built from the submission, as it is now.
pub fn expect_built(exe: &std::path::Path) -> io::Result<()> {
    let id = FileId::of(exe)?;
    lock(&BUILT).push((exe.to_path_buf(), id));
    Ok(())
}

/// The file `program` named when it was built, if it was built from the
/// submission.
fn built(program: &std::ffi::OsStr) -> Option<FileId> {
    lock(&BUILT)
        .iter()
        .find(|(path, _)| path.as_os_str() == program)
        .map(|(_, id)| *id)
}

/// Checks that `process`, started as `program`, runs the executable built
/// from the submission (if `program` is one), and has it checked again
/// when it is dropped.
pub(crate) fn audit_process(
    session: &Session,
    process: &mut Contained,
    program: &std::ffi::OsStr,
    name: &str,
) -> Outcome {
    let Some(expected) = built(program) else {
        return Ok(());
    };
    if let Err(instead) = sandbox::check_exe(process.pid(), expected, std::path::Path::new(program))
    {
        return Err(Failure {
            summary: format!(
                "{name} is not the executable built from the submission: it runs {instead}"
            ),
            expected: Some(format!(
                "{} to run",
                std::path::Path::new(program).display()
            )),
            seen: Some(format!("/proc/{}/exe is {instead}", process.pid())),
            ..Failure::default()
        });
    }
    process.audit_on_drop(Audit {
        expected,
        name: name.to_owned(),
        started_as: PathBuf::from(program),
        found: Arc::clone(&session.exe_mismatches),
    });
    Ok(())
}

/// How long `Session::finish` waits for streams to end.
const TRANSCRIPT_GRACE: Duration = Duration::from_secs(2);

/// The most transcripts a failure shows.
const MAX_TRANSCRIPTS: usize = 8;

/// Shared by the threads of one check (a sender thread, say), hence the
/// mutexes.
#[derive(Debug)]
pub struct Session {
    config: Arc<Config>,
    deadline: Instant,
    steps: Mutex<Vec<String>>,
    streams: Mutex<Vec<Stream>>,
    peers_named: AtomicUsize,
    /// Processes under test found running something else than the
    /// submission's executable when they were stopped.
    exe_mismatches: Arc<Mutex<Vec<String>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Session {
    pub fn new(config: Arc<Config>) -> Session {
        Session {
            deadline: Instant::now() + config.check_limit,
            config,
            steps: Mutex::new(Vec::new()),
            streams: Mutex::new(Vec::new()),
            peers_named: AtomicUsize::new(0),
            exe_mismatches: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A failure if some process under test ran, by the time it was
    /// stopped, something else than the executable built from the
    /// submission. Call it once the check's processes are gone.
    pub fn exe_mismatch(&self) -> Option<Failure> {
        let found = lock(&self.exe_mismatches);
        (!found.is_empty()).then(|| Failure {
            summary: "a process under test is not the executable built from the submission"
                .to_owned(),
            seen: Some(found.join("\n")),
            ..Failure::default()
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Records a step, as the report will list it.
    pub fn step(&self, text: impl Into<String>) {
        lock(&self.steps).push(text.into());
    }

    /// The deadline for the next wait: one step from now, but never past
    /// the check's own deadline.
    pub fn until(&self) -> Instant {
        (Instant::now() + self.config.step).min(self.deadline)
    }

    /// A failure with just a summary.
    pub fn fail(&self, summary: impl Into<String>) -> Failure {
        Failure::new(summary)
    }

    /// Completes a failure with the steps taken and the transcripts.
    ///
    /// Call it once the check's processes and peers are gone (dropped):
    /// their streams then end at once, and the transcripts are complete (a
    /// panic message written just before a process died included). A stream
    /// still open after TRANSCRIPT_GRACE (held by an escaped grandchild, say)
    /// is shown as it is.
    pub fn finish(&self, mut failure: Failure) -> Failure {
        failure.steps = mem::take(&mut *lock(&self.steps));
        let streams = lock(&self.streams);
        let until = Instant::now() + TRANSCRIPT_GRACE;
        for stream in streams.iter() {
            stream.wait_ended(until);
        }
        for stream in streams.iter().take(MAX_TRANSCRIPTS) {
            failure
                .transcripts
                .push((stream.name().to_owned(), stream.transcript()));
        }
        if streams.len() > MAX_TRANSCRIPTS {
            failure.transcripts.push((
                format!("{} more", streams.len() - MAX_TRANSCRIPTS),
                "(not shown)".to_owned(),
            ));
        }
        failure
    }

    /// Collects a stream and remembers it for the transcripts.
    pub fn watch(&self, name: impl Into<String>, reader: impl io::Read + Send + 'static) -> Stream {
        let stream = Stream::spawn(name, reader);
        lock(&self.streams).push(stream.clone());
        stream
    }

    /// The next free peer name: A, B, C, ..., Z, then P27, P28, ...
    fn next_peer_name(&self) -> String {
        let n = self.peers_named.fetch_add(1, Ordering::Relaxed);
        if n < 26 {
            char::from(b'A' + n as u8).to_string()
        } else {
            format!("P{}", n + 1)
        }
    }

    /// Starts the submission's server on port 0 and waits for its readiness
    /// line.
    pub fn server(&self) -> Result<Server, Failure> {
        self.server_with(self.config.limits)
    }

    /// [`Session::server`] with other limits (fewer descriptors, say).
    pub fn server_with(&self, limits: Limits) -> Result<Server, Failure> {
        let exe = self
            .config
            .server
            .clone()
            .ok_or_else(|| self.fail("no server to test"))?;
        let mut command = Command::new(&exe);
        command.arg("0");
        submission_env(&mut command);
        Server::start(self, command, "the server", limits)
    }

    /// Starts the reference server (built into the grader) on port 0.
    pub fn reference_server(&self) -> Result<Server, Failure> {
        let mut command = Command::new(&self.config.reference);
        command.args(["reference-server", "0"]);
        Server::start(self, command, "the reference server", Limits::SUBMISSION)
    }

    /// Connects a new raw TCP peer, named A, B, C ..., from 127.0.0.1.
    pub fn peer(&self, port: u16) -> Result<Peer<'_>, Failure> {
        self.peer_with(port, PeerOptions::default())
    }

    /// Connects a new raw TCP peer with the given options.
    pub fn peer_with(&self, port: u16, options: PeerOptions) -> Result<Peer<'_>, Failure> {
        self.peer_named(port, &self.next_peer_name(), options)
    }

    /// Connects a new raw TCP peer called `name`.
    pub fn peer_named(
        &self,
        port: u16,
        name: &str,
        options: PeerOptions,
    ) -> Result<Peer<'_>, Failure> {
        let name = name.to_owned();
        let stream = connect(port, options, self.until()).map_err(|err| {
            self.fail(format!(
                "{name} could not connect to port {port} from {}: {err}",
                options.from
            ))
        })?;
        let tag = format!(
            "[{}]",
            stream.local_addr().map_err(|e| self.fail(e.to_string()))?
        );
        if !options.quiet {
            self.step(format!("{name} connects, as {tag}"));
        }
        let mut peer = Peer {
            session: self,
            name,
            tag,
            stream,
            inbox: None,
            abort: false,
        };
        if options.reads {
            peer.start_reading()?;
        }
        Ok(peer)
    }

    /// Connects `count` peers, each known to be in the chat before the next
    /// connects, and drains what setting them up sent them: the checks
    /// start from clean inboxes.
    ///
    /// The barriers rely on broadcasting alone, so a server that forgets
    /// join notices, or also sends a line back to its sender, loses only the
    /// checks about that. Each newcomer says `hello`, and the earlier peers
    /// wait for it: the server is single-threaded and read that line after
    /// accepting the newcomer, so the newcomer is in the chat. Then one more
    /// peer, `sync`, says `ready`, and every peer drops whatever came before
    /// it (join notices, a wrong echo of its own hello). `sync` stays
    /// connected and silent for the rest of the check, unread, so that no
    /// notice about it reaches the others.
    pub fn peers(&self, port: u16, count: usize) -> Result<Peers<'_>, Failure> {
        self.set_up_peers(port, count)
            .map_err(|failure| failure.not_checked("server/broadcast"))
    }

    /// Like [`Session::peers`], for the check whose behaviour the set-up
    /// relies on (server/broadcast): a failure is that check's own.
    pub fn set_up_peers(&self, port: u16, count: usize) -> Result<Peers<'_>, Failure> {
        self.step(format!(
            "{count} peers connect, each saying \"hello\" once the earlier ones got the previous hello; \
             then one more peer, `sync`, says \"ready\" (and nothing else), and every peer drops what came before"
        ));
        let mut peers: Vec<Peer<'_>> = Vec::with_capacity(count);
        for _ in 0..count {
            let mut newcomer = self.peer(port)?;
            if !peers.is_empty() {
                newcomer.send_quietly(b"hello\n")?;
                for peer in &peers {
                    peer.expect_eventually(&format!("{} hello", newcomer.tag))?;
                }
            }
            peers.push(newcomer);
        }
        let mut sync = self.peer_named(port, "sync", PeerOptions::default())?;
        sync.send_quietly(b"ready\n")?;
        let ready = format!("{} ready", sync.tag);
        for peer in &peers {
            peer.expect_eventually(&ready)?;
        }
        sync.inbox().transcript_only();
        Ok(Peers { peers, _sync: sync })
    }

    /// Starts a program with pipes for its standard streams, contained.
    pub fn piped(&self, command: Command, name: &str) -> Result<Piped, Failure> {
        self.piped_with_input(command, name, Stdio::piped())
    }

    /// Like [`Session::piped`], with `input` as its standard input (a
    /// regular file, say); then nothing can be written to it.
    pub fn piped_with_input(
        &self,
        mut command: Command,
        name: &str,
        input: Stdio,
    ) -> Result<Piped, Failure> {
        submission_env(&mut command);
        command
            .stdin(input)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = Contained::spawn(&mut command, self.config.limits)
            .map_err(|err| self.fail(format!("could not start {name} ({command:?}): {err}")))?;
        audit_process(self, &mut process, command.get_program(), name)?;
        let child = process.child_mut();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout was piped");
        let stderr = child.stderr.take().expect("stderr was piped");
        Ok(Piped {
            input: stdin.map(Feeder::spawn),
            stdout: self.watch(format!("{name}'s stdout"), stdout),
            stderr: self.watch(format!("{name}'s stderr"), stderr),
            process,
        })
    }
}

/// The peers of a check, set up by [`Session::peers`]; indexes and slices
/// like a `Vec<Peer>`. The silent `sync` peer of the setup lives as long.
#[derive(Debug)]
pub struct Peers<'s> {
    peers: Vec<Peer<'s>>,
    _sync: Peer<'s>,
}

impl<'s> std::ops::Deref for Peers<'s> {
    type Target = Vec<Peer<'s>>;
    fn deref(&self) -> &Self::Target {
        &self.peers
    }
}

impl<'a, 's> IntoIterator for &'a Peers<'s> {
    type Item = &'a Peer<'s>;
    type IntoIter = std::slice::Iter<'a, Peer<'s>>;
    fn into_iter(self) -> Self::IntoIter {
        self.peers.iter()
    }
}

impl std::ops::DerefMut for Peers<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.peers
    }
}

/// How a peer's socket is set up.
#[derive(Debug, Clone, Copy)]
pub struct PeerOptions {
    /// The loopback address to connect from.
    pub from: Ipv4Addr,
    /// A small receive buffer makes a peer that does not read fill up fast.
    pub receive_buffer: Option<usize>,
    /// Whether the peer reads what arrives (it can start later).
    pub reads: bool,
    /// Whether its connecting is left out of the steps (for a crowd, which
    /// the check describes in one step of its own).
    pub quiet: bool,
}

impl Default for PeerOptions {
    fn default() -> Self {
        PeerOptions {
            from: Ipv4Addr::LOCALHOST,
            receive_buffer: None,
            reads: true,
            quiet: false,
        }
    }
}

/// A server process, its port known from its readiness line.
#[derive(Debug)]
pub struct Server {
    pub port: u16,
    pub process: Contained,
    pub stdout: Stream,
    pub stderr: Stream,
}

impl Server {
    fn start(
        session: &Session,
        mut command: Command,
        name: &str,
        limits: Limits,
    ) -> Result<Server, Failure> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let shown = format!("{command:?}").replace('"', "");
        let mut process = Contained::spawn(&mut command, limits)
            .map_err(|err| session.fail(format!("could not start {name} ({shown}): {err}")))?;
        let child = process.child_mut();
        let stdout = session.watch(
            format!("{name}'s stdout"),
            child.stdout.take().expect("piped"),
        );
        let stderr = session.watch(
            format!("{name}'s stderr"),
            child.stderr.take().expect("piped"),
        );
        stderr.transcript_only();
        session.step(format!("start {name}: {shown}"));
        let line = stdout.next_line(session.until()).map_err(|mut failure| {
            failure.summary = format!(
                "{name} did not print its readiness line `listening on 0.0.0.0:PORT` ({})",
                failure.summary
            );
            failure
        })?;
        let port = String::from_utf8_lossy(&line)
            .strip_prefix("listening on 0.0.0.0:")
            .and_then(|port| port.parse::<u16>().ok())
            .filter(|&port| port != 0)
            .ok_or_else(|| Failure {
                summary: format!("{name}'s first line is not its readiness line"),
                expected: Some("\"listening on 0.0.0.0:PORT\", PORT the port it listens on".into()),
                seen: Some(show(&line)),
                ..Failure::default()
            })?;
        session.step(format!("{name} says it listens on port {port}"));
        // Ready: it must be the submission's own executable, and still be
        // when the check ends.
        audit_process(session, &mut process, command.get_program(), name)?;
        // What it prints from now on is free-form logging.
        stdout.transcript_only();
        Ok(Server {
            port,
            process,
            stdout,
            stderr,
        })
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// A raw TCP peer: sends exactly the bytes given, checks what arrives.
#[derive(Debug)]
pub struct Peer<'s> {
    session: &'s Session,
    /// A, B, C, ...: how steps and messages name it.
    pub name: String,
    /// `[IP:PORT]`: how the server should name it (from getsockname).
    pub tag: String,
    stream: TcpStream,
    inbox: Option<Stream>,
    /// Set by `reset`: the connection must end with RST, not FIN.
    abort: bool,
}

impl<'s> Peer<'s> {
    /// Starts collecting what arrives, for a peer that did not read so far.
    pub fn start_reading(&mut self) -> Outcome {
        let reader = self
            .stream
            .try_clone()
            .map_err(|err| self.session.fail(format!("clone a socket: {err}")))?;
        self.inbox = Some(self.session.watch(self.name.clone(), reader));
        Ok(())
    }

    /// Sends `bytes` and records the step.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) -> Outcome {
        let bytes = bytes.as_ref();
        self.session
            .step(format!("{} sends {}", self.name, show(bytes)));
        self.send_quietly(bytes)
    }

    /// Sends `bytes` without recording a step (for bulk sends that a check
    /// describes in one step of its own).
    pub fn send_quietly(&mut self, bytes: &[u8]) -> Outcome {
        let left = self
            .session
            .until()
            .saturating_duration_since(Instant::now());
        let written = self
            .stream
            .set_write_timeout(Some(left.max(Duration::from_millis(1))))
            .and_then(|()| self.stream.write_all(bytes));
        written.map_err(|err| {
            let why = if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                "the server stopped reading it".to_owned()
            } else {
                err.to_string()
            };
            self.session
                .fail(format!("{} could not send: {why}", self.name))
        })
    }

    /// What arrived.
    pub fn inbox(&self) -> &Stream {
        self.inbox.as_ref().expect("a peer that reads")
    }

    /// Waits for the next line; returns it without its `\n`.
    pub fn next_line(&self) -> Result<Vec<u8>, Failure> {
        self.inbox().next_line(self.session.until())
    }

    /// Waits for the next line and checks it is `line`.
    pub fn expect_line(&self, line: impl AsRef<[u8]>) -> Outcome {
        self.inbox()
            .expect_line(line.as_ref(), self.session.until())
    }

    /// Like [`Peer::next_line`], giving up as soon as `abort` says so.
    pub fn next_line_unless(&self, abort: &dyn Fn() -> Option<String>) -> Result<Vec<u8>, Failure> {
        self.inbox().next_line_unless(self.session.until(), abort)
    }

    /// Like [`Peer::expect_line`], giving up as soon as `abort` says so.
    pub fn expect_line_unless(
        &self,
        line: impl AsRef<[u8]>,
        abort: &dyn Fn() -> Option<String>,
    ) -> Outcome {
        self.inbox()
            .expect_line_unless(line.as_ref(), self.session.until(), abort)
    }

    /// Waits for the next line and checks it is `[OTHER] text`.
    pub fn expect_from(&self, other: &Peer<'_>, text: &str) -> Outcome {
        self.expect_line(format!("{} {text}", other.tag))
    }

    /// Waits for `line`, whatever comes before it (for setting up, where
    /// nothing else is being checked).
    pub fn expect_eventually(&self, line: &str) -> Outcome {
        let until = self.session.until();
        while self.inbox().next_line(until)? != line.as_bytes() {}
        Ok(())
    }

    /// Waits for `line`, skipping join and leave notices on the way (when
    /// they are not what is being checked).
    pub fn expect_after_notices(&self, line: &str) -> Outcome {
        let until = self.session.until();
        loop {
            let got = self.inbox().next_line(until)?;
            if got == line.as_bytes() {
                return Ok(());
            }
            if !(got.ends_with(b"] (connected)") || got.ends_with(b"] (disconnected)")) {
                return Err(Failure {
                    summary: format!("{} received an unexpected line", self.name),
                    expected: Some(format!("the line {}", show(line.as_bytes()))),
                    seen: Some(format!("the line {}", show(&got))),
                    ..Failure::default()
                });
            }
        }
    }

    /// Waits for the next line and checks it says `other` connected.
    pub fn expect_join(&self, other: &Peer<'_>) -> Outcome {
        self.expect_from(other, "(connected)")
    }

    /// Waits for the server to close this connection (an end of stream or
    /// a reset), with nothing else arriving first.
    pub fn expect_closed(&self) -> Outcome {
        let rest = self.inbox().wait_end(self.session.until())?;
        if rest.is_empty() {
            Ok(())
        } else {
            Err(Failure {
                summary: format!("{} received more before the connection closed", self.name),
                expected: Some("the connection to close".into()),
                seen: Some(show(&rest)),
                ..Failure::default()
            })
        }
    }

    /// Closes the connection in the orderly way (FIN).
    pub fn close(self) {
        self.session
            .step(format!("{} closes its connection", self.name));
    }

    /// Closes the connection abruptly: SO_LINGER 0 makes close send RST.
    pub fn reset(mut self) {
        self.abort = true;
        self.session
            .step(format!("{} resets its connection (RST)", self.name));
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        set_option(self.stream.as_raw_fd(), libc::SO_LINGER, &linger);
    }
}

impl Drop for Peer<'_> {
    fn drop(&mut self) {
        // The inbox thread holds a clone of the socket, so dropping ours
        // alone would not close the connection. Shutting down the reading
        // side wakes that thread, which then drops its clone; shutting down
        // the writing side too sends FIN at once. A reset must not send FIN
        // first: then the last close sends RST.
        let how = if self.abort {
            Shutdown::Read
        } else {
            Shutdown::Both
        };
        let _ = self.stream.shutdown(how);
    }
}

/// A program whose standard streams are pipes.
#[derive(Debug)]
pub struct Piped {
    pub process: Contained,
    input: Option<Feeder>,
    pub stdout: Stream,
    pub stderr: Stream,
}

impl Piped {
    /// Writes to its standard input, waiting at most until `until`.
    pub fn write_stdin(&mut self, bytes: &[u8], until: Instant) -> io::Result<()> {
        match &self.input {
            Some(input) => input.write(bytes, until),
            None => Err(io::Error::other("standard input is closed")),
        }
    }

    /// Closes its standard input: the end of input.
    pub fn close_stdin(&mut self) {
        self.input = None;
    }

    /// Waits for it to exit.
    pub fn wait_exit(&mut self, until: Instant) -> Option<ExitStatus> {
        self.process.wait_exit(until)
    }
}

/// A writer on a thread of its own, so that writing to a program that does
/// not read (a full pipe or terminal buffer) never blocks a check beyond its
/// deadline.
#[derive(Debug)]
pub struct Feeder {
    chunks: mpsc::Sender<Vec<u8>>,
    done: mpsc::Receiver<io::Result<()>>,
}

impl Feeder {
    pub fn spawn(mut sink: impl Write + Send + 'static) -> Feeder {
        let (chunks, incoming) = mpsc::channel::<Vec<u8>>();
        let (report, done) = mpsc::channel();
        thread::spawn(move || {
            for chunk in incoming {
                let result = sink.write_all(&chunk).and_then(|()| sink.flush());
                if report.send(result).is_err() {
                    return;
                }
            }
        });
        Feeder { chunks, done }
    }

    /// Writes `bytes`; fails if that takes past `until`.
    pub fn write(&self, bytes: &[u8], until: Instant) -> io::Result<()> {
        self.chunks
            .send(bytes.to_vec())
            .map_err(|_| io::Error::other("the writer stopped"))?;
        let left = until.saturating_duration_since(Instant::now());
        match self.done.recv_timeout(left) {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                ErrorKind::TimedOut,
                "the program did not read its input in time",
            )),
        }
    }
}

/// Checks that a program exited with status `code`; `status` is what
/// waiting for it found (`None`: still running at the deadline).
pub fn expect_exit_status(name: &str, status: Option<ExitStatus>, code: i32) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let seen = match status {
        Some(status) if status.code() == Some(code) => return Ok(()),
        Some(status) => match (status.code(), status.signal()) {
            (Some(other), _) => format!("exit status {other}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            _ => status.to_string(),
        },
        None => "still running at the deadline".to_owned(),
    };
    Err(Failure {
        summary: format!("{name} did not exit with status {code}"),
        expected: Some(format!("exit status {code}")),
        seen: Some(seen),
        ..Failure::default()
    })
}

/// A listening socket playing the server, for client checks that need to
/// control the server's side of the connection exactly.
#[derive(Debug)]
pub struct FakeServer {
    listener: TcpListener,
}

impl FakeServer {
    pub fn start(session: &Session) -> Result<FakeServer, Failure> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|err| session.fail(format!("could not listen on 127.0.0.1: {err}")))?;
        Ok(FakeServer { listener })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Waits until the client connects, giving up early when `abort` says
    /// so; the connection is a peer named `name` (its tag is the fake
    /// server's side, which nobody checks).
    pub fn accept<'s>(
        &self,
        session: &'s Session,
        name: &str,
        abort: &dyn Fn() -> Option<String>,
    ) -> Result<Peer<'s>, Failure> {
        let listener = self
            .listener
            .try_clone()
            .map_err(|err| session.fail(format!("clone the listener: {err}")))?;
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            let _ = sender.send(listener.accept());
        });
        let until = session.until();
        let accepted = loop {
            let left = until.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(left.min(crate::stream::ABORT_CHECK)) {
                Ok(accepted) => break accepted,
                Err(_) if left.is_zero() => {
                    return Err(session.fail("the client did not connect to the server in time"));
                }
                Err(_) => {
                    if let Some(reason) = abort() {
                        return Err(session.fail(format!("the client did not connect: {reason}")));
                    }
                }
            }
        };
        let (stream, _) = accepted.map_err(|err| session.fail(format!("accept: {err}")))?;
        session.step(format!("the client connects; {name} is the server's side"));
        let tag = format!(
            "[{}]",
            stream
                .local_addr()
                .map_err(|e| session.fail(e.to_string()))?
        );
        let mut peer = Peer {
            session,
            name: name.to_owned(),
            tag,
            stream,
            inbox: None,
            abort: false,
        };
        peer.start_reading()?;
        Ok(peer)
    }
}

/// A port on which nothing listens, for as long as it lives: a socket is
/// bound to it but does not listen. Connecting to it is refused, and no one
/// else can take the port meanwhile (a port merely found free could be
/// handed at once to another test's server, or to the connection itself).
#[derive(Debug)]
pub struct ClosedPort {
    _socket: OwnedFd,
    pub port: u16,
}

pub fn closed_port() -> io::Result<ClosedPort> {
    // SAFETY: socket takes no pointers.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new socket that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let any_port = sockaddr(Ipv4Addr::LOCALHOST, 0);
    // SAFETY: `any_port` is a valid sockaddr_in of the size passed.
    if unsafe { libc::bind(fd, (&raw const any_port).cast(), SOCKADDR_IN_LEN) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut bound: libc::sockaddr_in = sockaddr(Ipv4Addr::LOCALHOST, 0);
    let mut len = SOCKADDR_IN_LEN;
    // SAFETY: `bound` and `len` are writable and describe a sockaddr_in.
    if unsafe { libc::getsockname(fd, (&raw mut bound).cast(), &mut len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ClosedPort {
        _socket: socket,
        port: u16::from_be(bound.sin_port),
    })
}

/// Creates a TCP socket, applies `options`, binds it to `options.from` and
/// connects it to 127.0.0.1:`port`, giving up at `until`. Done with libc,
/// because std can neither bind before connecting nor connect with a
/// deadline from a chosen address.
fn connect(port: u16, options: PeerOptions, until: Instant) -> io::Result<TcpStream> {
    // SAFETY: socket takes no pointers.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new socket that nothing else owns; the TcpStream now
    // closes it on every path.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    if let Some(size) = options.receive_buffer {
        set_option(fd, libc::SO_RCVBUF, &(size as libc::c_int));
    }
    let local = sockaddr(options.from, 0);
    // SAFETY: `local` is a valid sockaddr_in of the size passed.
    if unsafe { libc::bind(fd, (&raw const local).cast(), SOCKADDR_IN_LEN) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let remote = sockaddr(Ipv4Addr::LOCALHOST, port);
    // SAFETY: `remote` is a valid sockaddr_in of the size passed.
    if unsafe { libc::connect(fd, (&raw const remote).cast(), SOCKADDR_IN_LEN) } != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(err);
        }
        let left = until.saturating_duration_since(Instant::now());
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        let millis = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: `poll` is one valid pollfd.
        if unsafe { libc::poll(&mut poll, 1, millis) } == 0 {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                "the connection was not accepted in time",
            ));
        }
        if let Some(err) = stream.take_error()? {
            return Err(err);
        }
    }
    stream.set_nonblocking(false)?;
    Ok(stream)
}

const SOCKADDR_IN_LEN: libc::socklen_t = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;

fn sockaddr(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// Sets a SOL_SOCKET option; failures only make a check less strict, so they
/// are ignored.
fn set_option<T>(fd: RawFd, option: libc::c_int, value: &T) {
    // SAFETY: `value` points to a valid T of the size passed, read during
    // the call only.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
}
