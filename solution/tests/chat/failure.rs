//! What a failing test says. Every step of the harness (a peer that waits
//! for a line, a rule of the protocol) returns a [`harness::Failure`]: what
//! was expected, what was seen. A test returns `Result<(), Failed>`, and `?`
//! turns that failure into a [`Failed`], which adds what the test knows
//! beyond the step: the steps taken and what each peer received, how each
//! process the test started is doing (running, or exited, and its stderr,
//! where a stub's `not yet implemented: TODO N` shows up), and the TODO
//! most likely at fault.
//!
//! `?` cannot pass arguments, so what it adds is kept per test thread
//! (libtest runs each test on a thread of its own): [`Test::new`] records
//! the test's [`Context`] and the TODOs it exercises, and `procs` registers
//! each process it starts with [`watch`].

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::ops::Deref;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use harness::{Context, Failure, Inbox};

/// How long any single expectation may take. A correct program answers in
/// well under a millisecond on loopback, so this leaves a margin of a
/// thousand and more for a loaded CI machine (the suite passes with every
/// core kept busy by other processes), while a broken program costs a few
/// seconds per failing test, not minutes. A passing test never waits it out:
/// each wait returns as soon as its bytes arrive.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// How long a whole test may take, all its waits together.
pub const TEST_LIMIT: Duration = Duration::from_secs(60);

/// How long a failure waits for a process to finish dying: long enough for
/// the kernel to finish an exit that has begun (microseconds), short enough
/// not to matter when the process is in fact alive.
const SETTLE: Duration = Duration::from_millis(500);

/// How many lines of a process's stderr a failure shows.
const SHOWN_LINES: usize = 8;

/// What one test runs in: the harness's [`Context`] (its deadlines, the
/// steps taken, what each peer received), which peers and the protocol's
/// rules take, and the TODOs the test exercises, which a failure names.
pub struct Test {
    context: Arc<Context>,
    _todos: Suspect,
}

impl Test {
    /// A test that exercises `todos` ("TODO 12 (admit: ...)").
    pub fn new(todos: &'static str) -> Test {
        let context = Arc::new(Context::new(DEADLINE, TEST_LIMIT));
        CONTEXT.with(|cell| *cell.borrow_mut() = Some(Arc::clone(&context)));
        WATCHED.with(|cell| cell.borrow_mut().clear());
        Test {
            context,
            _todos: suspect(todos),
        }
    }
}

impl Deref for Test {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.context
    }
}

impl Drop for Test {
    fn drop(&mut self) {
        CONTEXT.with(|cell| cell.borrow_mut().take());
    }
}

/// A failed test: the failure of the step that went wrong, and what the test
/// knew when it did. libtest prints it with `{:?}` (as `Error: ...`) once
/// the test has returned, its processes killed and its peers closed, so
/// [`Debug`](fmt::Debug) shows every transcript complete. (Boxed: a test's
/// `Result` stays small.)
pub struct Failed(Box<Report>);

struct Report {
    failure: Failure,
    context: Option<Arc<Context>>,
    processes: Vec<Snapshot>,
    suspect: Option<&'static str>,
    /// What `Debug` shows, made once: making it takes the context's steps.
    shown: OnceLock<String>,
}

/// A process of the test as it was when the test failed.
struct Snapshot {
    /// "the server (pid 1234)".
    what: String,
    /// "exited with exit status 101", "was still running".
    how: String,
    stderr: Inbox,
}

impl From<Failure> for Failed {
    fn from(failure: Failure) -> Failed {
        Failed(Box::new(Report {
            failure,
            context: CONTEXT.with(|cell| cell.borrow().clone()),
            processes: snapshots(true),
            suspect: current_suspect(),
            shown: OnceLock::new(),
        }))
    }
}

impl fmt::Debug for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = &self.0;
        let shown = report.shown.get_or_init(|| {
            let failure = match &report.context {
                Some(context) => context.finish(report.failure.clone()),
                None => report.failure.clone(),
            };
            format!("{failure}{}", describe(&report.processes, report.suspect))
        });
        f.write_str(shown)
    }
}

/// A process the test started.
struct Watched {
    /// "the server (pid 1234)": the pid tells apart two clients.
    what: String,
    pid: u32,
    stderr: Inbox,
    state: State,
    /// Whether a failure described it already, so that a test that panics
    /// as it unwinds does not describe it twice.
    reported: bool,
}

/// What the test knows of a process's end. A process that ended stays
/// listed until the test ends: a failure that comes after it (the server
/// that exited before its readiness line, say) describes it.
enum State {
    /// Not reaped: `waitid` tells whether it exited.
    Running,
    /// Reaped, after it exited this way ("exit status 101").
    Exited(String),
    /// Killed by the test as it ended, still running until then.
    Stopped,
}

thread_local! {
    static WATCHED: RefCell<Vec<Watched>> = const { RefCell::new(Vec::new()) };
    static SUSPECT: RefCell<Option<&'static str>> = const { RefCell::new(None) };
    static CONTEXT: RefCell<Option<Arc<Context>>> = const { RefCell::new(None) };
}

/// Names the TODOs that the rest of the test exercises, so that a failure
/// points at them ("Most likely at fault: ..."). Holds until the guard is
/// dropped, at the end of the test.
fn suspect(todos: &'static str) -> Suspect {
    Suspect {
        previous: SUSPECT.with(|cell| cell.replace(Some(todos))),
    }
}

struct Suspect {
    previous: Option<&'static str>,
}

impl Drop for Suspect {
    fn drop(&mut self) {
        SUSPECT.with(|cell| *cell.borrow_mut() = self.previous);
    }
}

/// Remembers a process that the test started, for failure messages.
pub fn watch(what: &str, pid: u32, stderr: Inbox) {
    WATCHED.with(|cell| {
        cell.borrow_mut().push(Watched {
            what: format!("{what} (pid {pid})"),
            pid,
            stderr,
            state: State::Running,
            reported: false,
        })
    });
}

/// Records how a watched process ended, when the test reaps it.
pub fn ended(pid: u32, how: String) {
    set_state(pid, State::Exited(how));
}

/// Records that the test killed a process that was still running.
pub fn stopped(pid: u32) {
    set_state(pid, State::Stopped);
}

fn set_state(pid: u32, state: State) {
    WATCHED.with(|cell| {
        if let Some(watched) = cell.borrow_mut().iter_mut().find(|w| w.pid == pid) {
            watched.state = state;
        }
    });
}

/// What follows a failure's own message, if process `pid` is watched and no
/// failure described it yet: for a test that failed by its own assertion,
/// so that how its processes are doing, and the TODO most likely at fault,
/// show up under that assertion.
pub fn report_unreported(pid: u32) -> Option<String> {
    let unreported = WATCHED.with(|cell| cell.borrow().iter().any(|w| w.pid == pid && !w.reported));
    unreported.then(|| describe(&snapshots(false), current_suspect()))
}

fn current_suspect() -> Option<&'static str> {
    SUSPECT.with(|cell| *cell.borrow())
}

/// How each watched process is doing now. With `settle`, a process that is
/// still running gets SETTLE to finish dying first: a failure often comes
/// from a sign that it is (a connection ended), and the kernel closes a
/// process's sockets and pipes before its exit is reported.
fn snapshots(settle: bool) -> Vec<Snapshot> {
    let until = Instant::now() + SETTLE;
    WATCHED.with(|cell| {
        let mut watched = cell.borrow_mut();
        watched
            .iter_mut()
            .map(|watched| {
                watched.reported = true;
                let how = match &watched.state {
                    State::Running => {
                        let mut how = harness::process::peek_exit(watched.pid);
                        let panicked = || watched.stderr.transcript().contains("panicked at ");
                        if how.is_none()
                            && (settle || panicked())
                            && wait_for_exit(
                                watched.pid,
                                until.saturating_duration_since(Instant::now()),
                            )
                        {
                            how = harness::process::peek_exit(watched.pid);
                        }
                        match how {
                            Some(how) => format!("exited with {how}"),
                            None => "was still running".to_owned(),
                        }
                    }
                    State::Exited(how) => format!("exited with {how}"),
                    State::Stopped => "was still running".to_owned(),
                };
                Snapshot {
                    what: watched.what.clone(),
                    how,
                    stderr: watched.stderr.clone(),
                }
            })
            .collect()
    })
}

/// The lines that follow a failure's own message: each process and the end
/// of its stderr, then the TODO most likely at fault.
fn describe(processes: &[Snapshot], suspect: Option<&str>) -> String {
    let mut out = String::new();
    let mut stubs = Vec::new();
    // A process that exited, or that the test killed as it returned, has
    // closed its stderr: give its last bytes a moment to be collected.
    let until = Instant::now() + SETTLE;
    for process in processes {
        process.stderr.wait_ended(until);
        let stderr = process.stderr.transcript();
        let _ = writeln!(out, "  {} {}; its stderr:", process.what, process.how);
        out.push_str(&excerpt(&stderr, SHOWN_LINES));
        if let Some(todo) = stub_reached(&stderr) {
            stubs.push(format!(
                "{todo}, not done yet: {} stopped at its `todo!(\"{todo}\")`",
                process.what
            ));
        }
    }
    match (stubs.is_empty(), suspect) {
        (false, _) => {
            let _ = writeln!(out, "  Most likely at fault: {}.", stubs.join("; "));
            if let Some(todos) = suspect {
                let _ = writeln!(out, "  This test needs: {todos}.");
            }
        }
        (true, Some(todos)) => {
            let _ = writeln!(out, "  Most likely at fault: {todos}.");
        }
        (true, None) => {}
    }
    out
}

/// At most `count` lines of a process's stderr (as the harness transcribes
/// it): around its last panic if it panicked (the message says which TODO
/// it stopped at, and may be followed by a long backtrace), else the last
/// lines.
fn excerpt(stderr: &str, count: usize) -> String {
    let all: Vec<&str> = stderr.lines().collect();
    let panicked = all.iter().rposition(|line| line.contains("panicked at "));
    let (from, to) = match panicked {
        Some(at) => {
            // The message goes on until the notes or the backtrace.
            let end = all[at + 1..]
                .iter()
                .position(|line| line.starts_with("note: ") || line.starts_with("stack backtrace:"))
                .map_or(all.len(), |len| at + 1 + len);
            let from = at.saturating_sub(2);
            (from, end.min(from + count))
        }
        None => (all.len().saturating_sub(count), all.len()),
    };
    let mut out = String::new();
    if from > 0 {
        let _ = writeln!(out, "    | ... {from} earlier lines");
    }
    for line in &all[from..to] {
        let _ = writeln!(out, "    | {line}");
    }
    if to < all.len() {
        let _ = writeln!(out, "    | ... {} later lines", all.len() - to);
    }
    out
}

/// `TODO N` if `stderr` says a stub panicked: `not yet implemented: TODO N`.
fn stub_reached(stderr: &str) -> Option<String> {
    let rest =
        &stderr[stderr.find("not yet implemented: TODO ")? + "not yet implemented: ".len()..];
    let digits = rest["TODO ".len()..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    Some(rest[.."TODO ".len() + digits].to_owned())
}

/// Waits until process `pid` exits, at most `timeout`; returns whether it
/// did. A pidfd becomes readable when the process exits, so this needs
/// neither sleeping nor reaping.
pub fn wait_for_exit(pid: u32, timeout: Duration) -> bool {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if raw < 0 {
        // Gone already (reaped), or no pidfd: nothing to wait for.
        return false;
    }
    // SAFETY: a non-negative result is a new descriptor that nothing else
    // owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
    let mut poll = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `poll` is one writable pollfd.
        match unsafe { libc::poll(&mut poll, 1, ms) } {
            ready if ready > 0 => return true,
            0 => return false,
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => return false,
        }
    }
}
