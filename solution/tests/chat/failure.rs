//! What a failing test says besides its own message: how each process it
//! started is doing (running, or exited, and the end of its stderr, where a
//! stub's `not yet implemented: TODO N` shows up), and the TODO most likely
//! at fault.
//!
//! Both are kept per test thread (libtest runs each test on a thread of its
//! own): `procs` registers the processes it starts, and a test names the
//! TODOs it exercises with [`suspect`].

use std::cell::RefCell;
use std::fmt::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::inbox::Inbox;

/// How long a failure waits for a process to finish dying, when the test saw
/// a sign of it (its connection ended): long enough for the kernel to finish
/// an exit that has begun (microseconds), short enough not to matter when
/// the process is in fact alive.
const SETTLE: Duration = Duration::from_millis(500);

/// A process the test started.
struct Watched {
    /// "the server (pid 1234)": the pid tells apart two clients.
    what: String,
    pid: u32,
    stderr: Inbox,
    /// How it ended, once `procs` reaped it (then `waitid` cannot tell).
    ended: Option<String>,
    /// Whether a failure message described it already, so that it is not
    /// described twice when the test unwinds.
    reported: bool,
}

thread_local! {
    static WATCHED: RefCell<Vec<Watched>> = const { RefCell::new(Vec::new()) };
    static SUSPECT: RefCell<Option<&'static str>> = const { RefCell::new(None) };
}

/// Names the TODOs that the rest of the test exercises, so that a failure
/// points at them ("Most likely at fault: ..."). Holds until the guard is
/// dropped, at the end of the test, or until a later `suspect` replaces it.
#[must_use = "the hint holds while the guard lives: `let _todo = suspect(...)`"]
pub fn suspect(todos: &'static str) -> Suspect {
    Suspect {
        previous: SUSPECT.with(|cell| cell.replace(Some(todos))),
    }
}

pub struct Suspect {
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
            ended: None,
            reported: false,
        })
    });
}

/// Records how a watched process ended, when `procs` reaps it.
pub fn ended(pid: u32, how: String) {
    WATCHED.with(|cell| {
        if let Some(watched) = cell.borrow_mut().iter_mut().find(|w| w.pid == pid) {
            watched.ended = Some(how);
        }
    });
}

/// Forgets a process (it is being killed and reaped); returns whether a
/// failure message already described it.
pub fn forget(pid: u32) -> bool {
    WATCHED.with(|cell| {
        let mut watched = cell.borrow_mut();
        match watched.iter().position(|w| w.pid == pid) {
            Some(index) => watched.remove(index).reported,
            None => false,
        }
    })
}

/// Panics with `message`, followed by what the processes of the test are
/// doing and the TODO most likely at fault.
#[track_caller]
pub fn fail(message: String) -> ! {
    fail_after(message, false)
}

/// Like [`fail`], for a failure that hints that a process died (a
/// connection or a pipe ended): first give a dying process a moment to
/// finish, so that its exit status and last words are in the message.
#[track_caller]
pub fn fail_after(message: String, something_ended: bool) -> ! {
    let context = context(something_ended);
    panic!("{message}\n{context}");
}

/// The lines that follow a failure's own message.
fn context(something_ended: bool) -> String {
    let mut out = String::new();
    let mut stubs = Vec::new();
    WATCHED.with(|cell| {
        for watched in cell.borrow_mut().iter_mut() {
            watched.reported = true;
            let how = state_of(watched, something_ended);
            let _ = writeln!(out, "  {} {how}; its stderr:", watched.what);
            out.push_str(&watched.stderr.excerpt(SHOWN_LINES));
            if let Some(todo) = stub_reached(&watched.stderr.everything()) {
                stubs.push(format!(
                    "{todo}, not done yet: {} stopped at its `todo!(\"{todo}\")`",
                    watched.what
                ));
            }
        }
    });
    let suspect = SUSPECT.with(|cell| *cell.borrow());
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

/// How many lines of a process's stderr a failure shows.
const SHOWN_LINES: usize = 8;

/// How a watched process is doing: "is still running", "exited with exit
/// status 101".
fn state_of(watched: &Watched, something_ended: bool) -> String {
    let mut how = watched.ended.clone().or_else(|| exit_status(watched.pid));
    let panicked = || {
        let stderr = watched.stderr.everything();
        stderr.windows(12).any(|w| w == b"panicked at ")
    };
    if how.is_none() && (something_ended || panicked()) {
        // Its end may be under way: a panic is printed, and the kernel
        // closes a process's sockets, before the exit is reported.
        if wait_for_exit(watched.pid, SETTLE) {
            how = exit_status(watched.pid);
        }
    }
    match how {
        Some(how) => {
            // It exited, so its stderr is closed: wait for the last bytes to
            // be collected, with a deadline in case a descendant holds it.
            watched.stderr.wait_for_end(SETTLE);
            format!("exited with {how}")
        }
        None => "is still running".to_owned(),
    }
}

/// `TODO N` if `stderr` says a stub panicked: `not yet implemented: TODO N`.
fn stub_reached(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let rest = &text[text.find("not yet implemented: TODO ")? + "not yet implemented: ".len()..];
    let digits = rest["TODO ".len()..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    Some(rest[.."TODO ".len() + digits].to_owned())
}

/// How process `pid` ended, if it has, without reaping it (`WNOWAIT`): the
/// test still owns it and reaps it later.
fn exit_status(pid: u32) -> Option<String> {
    // SAFETY: siginfo_t is plain data; all zeroes is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: `info` is a writable siginfo_t.
    let ret = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
    // SAFETY: waitid filled `info` (or left it zeroed: then si_pid is 0).
    if ret != 0 || unsafe { info.si_pid() } == 0 {
        return None;
    }
    // SAFETY: as above; for a child's exit, si_status is the status or the
    // signal.
    let status = unsafe { info.si_status() };
    Some(match info.si_code {
        libc::CLD_EXITED => format!("exit status {status}"),
        _ => format!("signal {status}"),
    })
}

/// Waits until process `pid` exits, at most `timeout`; returns whether it
/// did. A pidfd becomes readable when the process exits, so this needs
/// neither sleeping nor reaping.
pub fn wait_for_exit(pid: u32, timeout: Duration) -> bool {
    let Some(pidfd) = pidfd(pid) else {
        return false;
    };
    matches!(
        poll_until(&[pidfd.as_raw_fd()], Instant::now() + timeout),
        Some(0)
    )
}

/// A pidfd for `pid`; `None` if it is gone (reaped) already.
fn pidfd(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative result is a new descriptor that nothing else
    // owns.
    (raw >= 0).then(|| unsafe { OwnedFd::from_raw_fd(raw as RawFd) })
}

/// Waits until one of `fds` is readable, or the deadline; returns the index
/// of the first readable one.
fn poll_until(fds: &[RawFd], deadline: Instant) -> Option<usize> {
    let mut polls: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `polls` is a writable array of `polls.len()` pollfds.
        let ret = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, ms) };
        if ret > 0 {
            return polls.iter().position(|p| p.revents != 0);
        }
        let interrupted =
            ret < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted;
        if !interrupted && (ret < 0 || left.is_zero()) {
            return None;
        }
    }
}

/// What a wait for a descriptor ended with.
pub enum Woken {
    /// The descriptor is readable.
    Ready,
    /// A process of the test exited first; which one ("the client (pid
    /// 1234)").
    Exited(String),
    TimedOut,
}

/// Waits until `fd` is readable, the deadline passes, or a process of the
/// test exits (then waiting longer would be in vain: whatever it was to do,
/// it will not).
pub fn wait_readable(fd: RawFd, deadline: Instant) -> Woken {
    let mut watched: Vec<(String, OwnedFd)> = WATCHED.with(|cell| {
        cell.borrow()
            .iter()
            .filter(|w| w.ended.is_none())
            .filter_map(|w| Some((w.what.clone(), pidfd(w.pid)?)))
            .collect()
    });
    let mut fds = vec![fd];
    fds.extend(watched.iter().map(|(_, pidfd)| pidfd.as_raw_fd()));
    match poll_until(&fds, deadline) {
        Some(0) => Woken::Ready,
        Some(index) => Woken::Exited(watched.swap_remove(index - 1).0),
        None => Woken::TimedOut,
    }
}

/// The context of a failure, if process `pid` is watched and no failure
/// message described it yet: for a test that failed by its own assertion,
/// so that how its processes are doing, and the TODO most likely at fault,
/// show up under that assertion.
pub fn report_unreported(pid: u32) -> Option<String> {
    let unreported = WATCHED.with(|cell| cell.borrow().iter().any(|w| w.pid == pid && !w.reported));
    unreported.then(|| context(false))
}
