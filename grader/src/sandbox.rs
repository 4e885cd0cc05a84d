//! Containment of the processes a submission runs as.
//!
//! Every submission process gets:
//! - its own process group, so that it and anything it forks is killed
//!   together (`kill(-pgid, SIGKILL)`);
//! - resource limits: CPU time, memory, open files, file size, processes
//!   (the last is ignored for root, so the process group and the grader's
//!   role as subreaper are what catch forks there);
//! - `PR_SET_PDEATHSIG`, so it dies if the grader's thread that started it
//!   dies;
//! - no descriptors inherited from the grader but its standard streams.
//!
//! Live process groups are registered, so that Ctrl-C (or SIGTERM) of the
//! grader kills them all before it exits, and [`cleanup`] reaps whatever is
//! left at the end.

use std::collections::HashSet;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::Instant;

/// Resource limits for one process.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub cpu_seconds: u64,
    pub memory_bytes: u64,
    pub open_files: u64,
    pub processes: u64,
    pub file_size_bytes: u64,
}

impl Limits {
    /// Enough for any correct submission, including the 50-client check and
    /// the slow consumer, and small enough to stop a runaway one.
    pub const SUBMISSION: Limits = Limits {
        cpu_seconds: 60,
        memory_bytes: 2 << 30,
        open_files: 1024,
        processes: 1024,
        file_size_bytes: 64 << 20,
    };

    /// For building and testing a submission with cargo: compilers need
    /// more time and memory than a chat program.
    pub const BUILD: Limits = Limits {
        cpu_seconds: 1200,
        memory_bytes: 8 << 30,
        open_files: 4096,
        processes: 4096,
        file_size_bytes: 4 << 30,
    };
}

/// Whether the process makes its own process group, or is about to become a
/// session leader by itself (a program on a pseudo-terminal calls `setsid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Own,
    SessionLeader,
}

/// Applies the containment to `command`, to take effect in the child
/// between fork and exec.
pub fn contain(command: &mut Command, limits: Limits, group: Group) {
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes async-signal-safe calls (setpgid, setrlimit, sigemptyset,
    // sigprocmask, sigaction, prctl, getppid, close_range); it allocates
    // nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            if group == Group::Own && libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            let set = |resource, value: u64| {
                let limit = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                libc::setrlimit(resource, &limit)
            };
            set(libc::RLIMIT_CPU, limits.cpu_seconds);
            set(libc::RLIMIT_AS, limits.memory_bytes);
            set(libc::RLIMIT_NOFILE, limits.open_files);
            set(libc::RLIMIT_NPROC, limits.processes);
            set(libc::RLIMIT_FSIZE, limits.file_size_bytes);
            set(libc::RLIMIT_CORE, 0);
            // No signal blocked, every signal at its default action: the
            // grader blocks SIGINT, SIGTERM and SIGHUP for its own handling,
            // and Rust ignores SIGPIPE; both would pass on through fork and
            // exec, and how a submission handles SIGTERM or SIGPIPE is
            // exactly what is graded.
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            // The standard signals; glibc keeps the first real-time ones
            // for itself and refuses to change them.
            for signal in 1..32 {
                if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(signal, &action, std::ptr::null_mut());
                }
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // The grader may already be gone: then do not start at all.
            if libc::getppid() == 1 {
                return Err(io::Error::other("the grader exited"));
            }
            // Inherited descriptors (a jobserver pipe, a test harness's
            // files) would skew the descriptor checks: close them at exec.
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            Ok(())
        });
    }
}

/// Set when SIGINT, SIGTERM or SIGHUP arrived: the grader is stopping.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether the grader was interrupted. Then the signal-handling thread ends
/// the process (with status 128 + the signal) once everything is stopped;
/// the main thread must not end it first with a normal status.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The process groups started and not yet killed.
static LIVE: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

fn live() -> MutexGuard<'static, Option<HashSet<i32>>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records a process group to kill if the grader is interrupted.
pub fn register(pgid: i32) {
    live().get_or_insert_with(HashSet::new).insert(pgid);
}

/// Kills a process group (everything in it) and forgets it.
pub fn kill_group(pgid: i32) {
    // SAFETY: kill takes no pointers; a negative pid names a process group.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    if let Some(set) = live().as_mut() {
        set.remove(&pgid);
    }
}

/// Prepares the grader itself: orphaned descendants of submissions become
/// its children (so [`cleanup`] can reap them), and SIGINT, SIGTERM and
/// SIGHUP kill every registered process group before the grader exits.
///
/// Call it first thing in `main`, before any thread starts: the signals are
/// blocked in every thread and handled by one that waits for them.
pub fn install() -> io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: an all-zero sigset_t is valid; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t we own.
    unsafe {
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, signal);
        }
    }
    // SAFETY: `set` is initialised; a null old-set pointer is allowed.
    let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    // Children get an empty signal mask from std's Command, whatever ours is.
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut signal = 0;
            // SAFETY: `set` is a valid, initialised set; `signal` is writable.
            unsafe { libc::sigwait(&set, &mut signal) };
            // Raised before anything is killed: a check that fails because its
            // processes were killed must not let the run end as if graded.
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("\ngrader: interrupted: stopping every process it started");
            cleanup();
            std::process::exit(128 + signal);
        })?;
    Ok(())
}

/// Kills every registered process group and reaps every remaining child:
/// nothing the grader started outlives it.
pub fn cleanup() {
    let groups: Vec<i32> = live()
        .as_ref()
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default();
    for pgid in groups {
        kill_group(pgid);
    }
    // Descendants that left their group (setsid) were reparented to us as
    // subreaper. Kill and reap every child until none is left (killing one
    // may hand us its own children).
    loop {
        let children = children();
        if children.is_empty() {
            return;
        }
        for pid in children {
            // SAFETY: kill and waitpid take no pointers but a null status,
            // which waitpid allows; the process was just sent SIGKILL, so the
            // wait is short.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// The processes whose parent is the grader.
fn children() -> Vec<i32> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let after_name = stat.get(stat.rfind(')')? + 2..)?;
                    Some(after_name.split_whitespace().nth(1)? == me)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// A contained child process, killed with its whole group when dropped.
#[derive(Debug)]
pub struct Contained {
    child: Child,
}

impl Contained {
    /// Starts `command`, contained, in a process group of its own.
    pub fn spawn(command: &mut Command, limits: Limits) -> io::Result<Contained> {
        Contained::spawn_as(command, limits, Group::Own)
    }

    /// Starts `command`, contained, in a process group of its own or as a
    /// session leader (which the command must then make itself).
    pub fn spawn_as(command: &mut Command, limits: Limits, group: Group) -> io::Result<Contained> {
        contain(command, limits, group);
        let child = command.spawn()?;
        register(child.id() as i32);
        Ok(Contained { child })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Sends `signal` to the process (not its group).
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill takes no pointers; the child is not reaped yet, so its
        // pid is still ours.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Stops the process (SIGSTOP) and returns once it is stopped, or has
    /// exited: then whatever peers send waits in its sockets, all of it
    /// ready at once when it goes on (`resume`).
    pub fn stop(&self) -> io::Result<()> {
        self.signal(libc::SIGSTOP);
        // SAFETY: siginfo_t is plain data, for which all zeros is valid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid siginfo_t that lives across the call.
        // WNOWAIT leaves the state to be collected later (the exit status
        // stays for `wait`); a process that cannot be stopped has exited,
        // which WEXITED reports, so the wait is bounded.
        let ret = unsafe {
            libc::waitid(
                libc::P_PID,
                self.child.id(),
                &mut info,
                libc::WSTOPPED | libc::WEXITED | libc::WNOWAIT,
            )
        };
        if ret == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Lets a process stopped by `stop` go on.
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Its exit status, if it has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits until it exits or `until` passes.
    pub fn wait_exit(&mut self, until: Instant) -> Option<ExitStatus> {
        wait_for_exit(self.child.id(), until, || {
            self.child.try_wait().ok().flatten()
        })
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        kill_group(self.child.id() as i32);
        let _ = self.child.wait();
    }
}

/// Waits, until `until`, for process `pid` to exit, asking `status` whether
/// it has. A pidfd becomes readable when the process exits, so the wait
/// needs no sleeping.
pub fn wait_for_exit<T>(
    pid: u32,
    until: Instant,
    mut status: impl FnMut() -> Option<T>,
) -> Option<T> {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    let result = loop {
        if let Some(found) = status() {
            break Some(found);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || pidfd < 0 {
            break status();
        }
        let mut poll = libc::pollfd {
            fd: pidfd,
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: `poll` is one valid pollfd.
        unsafe { libc::poll(&mut poll, 1, millis) };
    };
    if pidfd >= 0 {
        // SAFETY: we opened `pidfd` above and close it once.
        unsafe { libc::close(pidfd) };
    }
    result
}
