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
//!
//! When the grader runs as root with a grading user ([`user`]), every
//! process it starts runs as that user, in control groups where the machine
//! allows them ([`cgroup`]), except the grader's own executable (the
//! reference peers, a batch's graders), which is trusted. And a process
//! that should be the submission's own executable can be checked to be it
//! ([`FileId`], [`Audit`]).

pub mod cgroup;
pub mod user;

use std::collections::HashSet;
use std::ffi::{CString, OsStr};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::Instant;

use user::RunAs;

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
    CheckContextLeader,
}

/// The user the submission's processes run as, when the grader runs as root.
static RUN_AS: OnceLock<RunAs> = OnceLock::new();

/// From now on, every process started but the grader's own executable runs
/// as `run_as`'s user. Set once, before any process starts.
pub fn run_submissions_as(run_as: RunAs) -> io::Result<()> {
    RUN_AS
        .set(run_as)
        .map_err(|_| io::Error::other("the grading user is already set"))
}

/// The user the submission's processes run as, if not the grader's.
pub fn run_as() -> Option<&'static RunAs> {
    RUN_AS.get()
}

/// Whether `program` is the grader's own executable, whose processes (the
/// reference peers, the graders of a batch) run as the grader's user. The
/// grader starts itself by exactly one of these two paths.
fn is_grader(program: &OsStr) -> bool {
    static OWN: OnceLock<Option<PathBuf>> = OnceLock::new();
    let own = OWN.get_or_init(|| std::env::current_exe().ok());
    program == OsStr::new("/proc/self/exe") || own.as_deref().map(Path::as_os_str) == Some(program)
}

/// Applies the containment to `command`, to take effect in the child
/// between fork and exec. Fails when the process could not be put in its
/// control groups.
pub fn contain(command: &mut Command, limits: Limits, group: Group) -> io::Result<()> {
    let run_as = run_as().filter(|_| !is_grader(command.get_program()));
    let mut join: Vec<CString> = Vec::new();
    let mut become_user = None;
    if let Some(run_as) = run_as {
        run_as.prepare(command);
        join = run_as
            .cgroups
            .procs_files(limits.memory_bytes, limits.processes)?;
        become_user = Some((run_as.account.uid, run_as.account.gid));
    }
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes async-signal-safe calls (setpgid, setrlimit, sigemptyset,
    // sigprocmask, sigaction, open, write, close, setgroups, setgid,
    // setuid, prctl, getppid, close_range); it allocates nothing and takes
    // no lock (the paths it opens were made before the fork).
    unsafe {
        command.pre_exec(move || {
            if group == Group::Own && libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // Into the control groups while still root (their files are
            // root's), and before the descriptor limit, which the grader's
            // descriptors (closed only at exec) may already exceed.
            for procs in &join {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                let err = io::Error::last_os_error();
                libc::close(fd);
                if written != 1 {
                    return Err(err);
                }
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
            // Then the user, for good, groups included.
            if let Some((uid, gid)) = become_user {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                if libc::getuid() != uid || libc::geteuid() != uid || libc::getegid() != gid {
                    return Err(io::Error::from_raw_os_error(libc::EPERM));
                }
            }
            // After the change of user, which clears the parent-death signal.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // The grader may already be gone: then do not start at all.
            // (ESRCH, "no such process": an error that needs no allocation.)
            if libc::getppid() == 1 {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
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
    Ok(())
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
/// nothing the grader started outlives it. With a grading user, every
/// process of that user is killed too, and its control groups and this
/// run's folder are removed.
pub fn cleanup() {
    if let Some(run_as) = run_as() {
        run_as.kill_all();
    }
    kill_and_reap();
    if let Some(run_as) = run_as() {
        run_as.cgroups.remove();
        run_as.remove_work();
    }
}

/// Kills what the submission started so far and left running, between the
/// stages of a grading (after the build, say), so that nothing of it can
/// meddle with the next stage: every process of the grading user and of
/// its control groups, and the grader's
/// children it no longer tracks (which left their process group and were
/// handed to the grader as their subreaper). Without a grading user,
/// nothing: grading goes as it always did.
pub fn kill_strays() {
    if let Some(run_as) = run_as() {
        run_as.kill_all();
        kill_orphans();
    }
}

/// Kills the grader's children that are not a process it started and
/// still tracks: orphans handed to it as their subreaper. They are reaped
/// at [`cleanup`].
pub fn kill_orphans() {
    // Held while listing and killing, so that a process being started (and
    // not yet registered) is not taken for an orphan.
    let live = live();
    let tracked = live.as_ref();
    for pid in children() {
        if !tracked.is_some_and(|set| set.contains(&pid)) {
            // SAFETY: kill takes no pointers.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn kill_and_reap() {
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
    audit: Option<Audit>,
}

/// A file, by device and inode: what `/proc/PID/exe` of a process under
/// test is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    /// The file at `path` (a link is followed).
    pub fn of(path: &Path) -> io::Result<FileId> {
        let meta = fs::metadata(path)?;
        Ok(FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

/// Checks that process `pid`, started as `started_as`, runs the executable
/// `expected`. `Err` says what it runs instead.
///
/// A process that has exited (or is exiting: its memory, and with it its
/// executable, goes first) has no executable left to compare. Until it is
/// reaped, its name is still there: the name of the last program it
/// executed, which must then be that of `started_as` (a program quick
/// enough to exec something else and finish before the grader looks would
/// otherwise go unseen).
pub fn check_exe(pid: u32, expected: FileId, started_as: &Path) -> Result<(), String> {
    let link = PathBuf::from(format!("/proc/{pid}/exe"));
    match FileId::of(&link) {
        Ok(found) if found == expected => Ok(()),
        Ok(_) => Err(fs::read_link(&link).map_or_else(
            |err| format!("another executable (its path cannot be read: {err})"),
            |path| path.display().to_string(),
        )),
        Err(err) if err.kind() == io::ErrorKind::NotFound || harness::procfs::has_exited(pid) => {
            match fs::read_to_string(format!("/proc/{pid}/comm")) {
                Ok(comm) if comm.trim_end_matches('\n') != process_name(started_as) => Err(
                    format!("a program called {} (it has exited since)", comm.trim_end()),
                ),
                // The expected name, or reaped already: nothing to tell.
                _ => Ok(()),
            }
        }
        Err(err) => Err(format!("an executable that cannot be checked ({err})")),
    }
}

/// The name the kernel gives a process that executes `path`: its file
/// name, cut to 15 bytes.
fn process_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

/// What to check of a process when it is dropped: that it runs the
/// executable it was started as. Mismatches go to `found`, which the check
/// reads after its processes are gone.
#[derive(Debug, Clone)]
pub struct Audit {
    pub expected: FileId,
    /// How messages name the process ("the server").
    pub name: String,
    /// The executable it was started as, for messages.
    pub started_as: PathBuf,
    pub found: Arc<Mutex<Vec<String>>>,
}

impl Contained {
    /// Starts `command`, contained, in a process group of its own.
    pub fn spawn(command: &mut Command, limits: Limits) -> io::Result<Contained> {
        Contained::spawn_as(command, limits, Group::Own)
    }

    /// Starts `command`, contained, in a process group of its own or as a
    /// session leader (which the command must then make itself).
    pub fn spawn_as(command: &mut Command, limits: Limits, group: Group) -> io::Result<Contained> {
        contain(command, limits, group)?;
        // Registered under the lock it is started under: `kill_orphans`
        // never sees it unregistered.
        let mut live = live();
        let child = command.spawn()?;
        live.get_or_insert_with(HashSet::new)
            .insert(child.id() as i32);
        drop(live);
        Ok(Contained { child, audit: None })
    }

    /// Checks, when the process has exited (before it is reaped) or is
    /// dropped, that it ran `expected`, and records in `audit` what ran
    /// instead.
    pub fn audit_on_drop(&mut self, audit: Audit) {
        self.audit = Some(audit);
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
        harness::process::stop(self.child.id())
    }

    /// Lets a process stopped by `stop` go on.
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Its exit status, if it has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        reap(&mut self.child, &mut self.audit)
    }

    /// Waits until it exits or `until` passes.
    pub fn wait_exit(&mut self, until: Instant) -> Option<ExitStatus> {
        let Contained { child, audit } = self;
        wait_for_exit(child.id(), until, || reap(child, audit))
    }
}

/// Reaps `child` if it has exited, checking first what it last ran (a
/// reaped process leaves nothing to check).
fn reap(child: &mut Child, audit: &mut Option<Audit>) -> Option<ExitStatus> {
    if audit.is_some() && harness::procfs::has_exited(child.id()) {
        run_audit(child.id(), audit);
    }
    child.try_wait().ok().flatten()
}

/// Checks, once, that process `pid` ran what its audit expects; records a
/// mismatch.
fn run_audit(pid: u32, audit: &mut Option<Audit>) {
    if let Some(audit) = audit.take()
        && let Err(instead) = check_exe(pid, audit.expected, &audit.started_as)
    {
        audit
            .found
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!(
                "{} was started as {}, but it ran {instead}",
                audit.name,
                audit.started_as.display()
            ));
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        run_audit(self.child.id(), &mut self.audit);
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
