//! The wrapper part: the grader's own copy of the wrapper tests (the ones
//! students get in `tests/w_epoll.rs`), built against the submission's crate;
//! each wrapper check then looks at the tests it covers.
//!
//! The grader's copy is used, not the submission's: editing the shipped
//! tests cannot change the grade. And what the tests print is not taken on
//! trust, since the submission's code runs in the same process and could
//! print `test ... ok` itself. The tests call the wrappers through a thin
//! layer the grader writes, which stops before and after each call and
//! waits; meanwhile the grader, from outside, reads the epoll instance's
//! interest list in `/proc/PID/fdinfo` and checks that the call did to it
//! exactly what `epoll_ctl` does, and returned what `epoll_ctl` returns
//! (`0`, or `-1` with the `errno` the kernel gives for that state). A test
//! passes when it exits with success, every call it makes (in the order
//! its source makes them) was seen and held up, and the process is the
//! test executable that was built. Forging that means making the very
//! `epoll_ctl` calls the wrappers should make.
//!
//! Each test runs in a process of its own, as the grading user when there
//! is one.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::model::Failure;
use crate::sandbox::{self, Contained, FileId, Limits};
use crate::tool::{self, run_tool};

/// The wrapper tests, as shipped with the solution.
pub const TESTS: &str = include_str!("../../../solution/tests/w_epoll.rs");

/// What one test did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    Passed,
    /// Failed, with what the test printed (its panic message).
    Failed(String),
}

/// Every test's outcome, by test name.
pub type Outcomes = HashMap<String, TestOutcome>;

/// How many tests run at once (each is a process of its own).
const AT_ONCE: usize = 4;

/// The longest one test may take: a failing one waits 5 s for an event
/// that never comes, once or twice.
const TEST_TIME: Duration = Duration::from_secs(30);

/// Builds the tests against the crate in `crate_dir` (into `target_dir`)
/// and runs them. An `Err` means they could not run at all: the crate does
/// not build, or the build did not finish by `until`.
pub fn run(crate_dir: &Path, target_dir: &Path, until: Instant) -> Result<Outcomes, Failure> {
    let harness = harness_dir(target_dir)?;
    write_harness(crate_dir, &harness).map_err(|err| {
        Failure::new(format!(
            "could not set up the wrapper tests in {}: {err}",
            harness.display()
        ))
    })?;
    let executable = build_harness(&harness, target_dir, until)?;
    let expected = FileId::of(&executable).map_err(|err| {
        Failure::new(format!(
            "could not read the wrapper tests' executable {}: {err}",
            executable.display()
        ))
    })?;
    let names = test_names();
    let outcomes = std::sync::Mutex::new(Outcomes::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    thread::scope(|scope| {
        for _ in 0..AT_ONCE.min(names.len()) {
            scope.spawn(|| {
                while let Some(name) =
                    names.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    let deadline = until.min(Instant::now() + TEST_TIME);
                    let outcome = run_one(&executable, expected, name, deadline);
                    outcomes
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert((*name).to_owned(), outcome);
                }
            });
        }
    });
    Ok(outcomes.into_inner().unwrap_or_else(|e| e.into_inner()))
}

/// Where the tests' crate is written. With a grading user, in this run's
/// folder, where root writes it before handing it over (never in the
/// user's build folder, where a link could send root's writes anywhere).
fn harness_dir(target_dir: &Path) -> Result<PathBuf, Failure> {
    match sandbox::run_as() {
        Some(run_as) => Ok(run_as.work.join("wrapper-tests")),
        None => Ok(target_dir.join("grader-wrapper-tests")),
    }
}

/// Builds the tests; returns the test executable.
fn build_harness(harness: &Path, target_dir: &Path, until: Instant) -> Result<PathBuf, Failure> {
    if let Some(run_as) = sandbox::run_as() {
        run_as.give(harness).map_err(|err| {
            Failure::new(format!(
                "could not hand the wrapper tests to the grading user: {err}"
            ))
        })?;
    }
    let mut command = Command::new(tool::cargo());
    command
        .args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(harness.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .args(["--test", "w_epoll"])
        .env("CARGO_TERM_COLOR", "never");
    if sandbox::run_as().is_some() {
        command.arg("--offline");
    }
    let output = run_tool(
        command,
        "cargo test (building the wrapper tests)",
        Limits::BUILD,
        until,
    )?;
    let not_built = |why: &str| Failure {
        summary: format!("the wrapper tests did not run: {why}"),
        seen: Some(tool::tail(&output.stderr, 60)),
        ..Failure::default()
    };
    if !output.status.success() {
        return Err(not_built("the crate does not build with them"));
    }
    let target = target_dir
        .canonicalize()
        .unwrap_or_else(|_| target_dir.to_path_buf());
    output
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact"
                && message["target"]["name"] == "w_epoll"
                && message["profile"]["test"] == true
        })
        .filter_map(|message| message["executable"].as_str().map(PathBuf::from))
        // Cargo's output can be forged by a build script: only a file in
        // the build folder counts.
        .find(|exe| exe.canonicalize().is_ok_and(|exe| exe.starts_with(&target)))
        .ok_or_else(|| not_built("cargo named no test executable in the build folder"))
}

/// The names of the tests, in the order of the file.
fn test_names() -> Vec<&'static str> {
    TESTS
        .split("#[test]\nfn ")
        .skip(1)
        .filter_map(|rest| rest.split('(').next())
        .collect()
}

/// A wrapper, as the layer reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Del,
    In,
    InOut,
}

impl Op {
    const ALL: [(Op, &'static str, &'static str); 4] = [
        (Op::Add, "add", "w_epoll_add_fd_in"),
        (Op::Del, "del", "w_epoll_del_fd"),
        (Op::In, "in", "w_epoll_update_fd_in"),
        (Op::InOut, "inout", "w_epoll_update_fd_inout"),
    ];

    fn from_word(word: &str) -> Option<Op> {
        Op::ALL
            .iter()
            .find(|(_, w, _)| *w == word)
            .map(|(op, _, _)| *op)
    }

    fn function(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(op, _, _)| *op == self)
            .map_or("?", |(_, _, function)| function)
    }
}

/// The wrapper calls the test `name` makes, in the order of its source.
fn expected_calls(name: &str) -> Vec<Op> {
    let Some(body) = TESTS
        .split("#[test]\nfn ")
        .skip(1)
        .find(|rest| rest.split('(').next() == Some(name))
    else {
        return Vec::new();
    };
    let mut calls = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find("w_epoll_") {
        let word: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = &rest[at + word.len()..];
        if after.starts_with('(')
            && let Some((op, _, _)) = Op::ALL.iter().find(|(_, _, f)| *f == word)
        {
            calls.push(*op);
        }
        rest = after;
    }
    calls
}

/// The start of each line the layer writes: unlikely in anything else.
const MARK: &str = "@@grader-wrapper-call";

/// One entry of an interest list: the watched descriptor, its events, its
/// data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Watched {
    fd: i32,
    events: u32,
    data: u64,
}

/// What a descriptor of the process under test is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Descriptor {
    Closed,
    /// An epoll instance, with its interest list, sorted by descriptor.
    Epoll(Vec<Watched>),
    Other,
}

/// What the grader saw of the two descriptors of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    epfd: Descriptor,
    fd_open: bool,
}

fn look(pid: u32, epfd: i32, fd: i32) -> io::Result<Seen> {
    let is_open = |fd: i32| fd >= 0 && fs::symlink_metadata(format!("/proc/{pid}/fd/{fd}")).is_ok();
    let epfd_kind = if !is_open(epfd) {
        Descriptor::Closed
    } else if fs::read_link(format!("/proc/{pid}/fd/{epfd}"))
        .is_ok_and(|target| target.as_os_str() == "anon_inode:[eventpoll]")
    {
        Descriptor::Epoll(interest_list(&fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{epfd}"
        ))?))
    } else {
        Descriptor::Other
    };
    Ok(Seen {
        epfd: epfd_kind,
        fd_open: is_open(fd),
    })
}

/// The `tfd:` lines of an epoll instance's fdinfo.
fn interest_list(fdinfo: &str) -> Vec<Watched> {
    let mut list: Vec<Watched> = fdinfo
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "tfd:").then_some(())?;
            let fd = words.next()?.parse().ok()?;
            (words.next()? == "events:").then_some(())?;
            let events = u32::from_str_radix(words.next()?, 16).ok()?;
            (words.next()? == "data:").then_some(())?;
            let data = u64::from_str_radix(words.next()?, 16).ok()?;
            Some(Watched { fd, events, data })
        })
        .collect();
    list.sort_by_key(|w| w.fd);
    list
}

const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;

/// What `epoll_ctl` does in state `before`, in the order the kernel checks:
/// the error it fails with, or the interest list it leaves.
fn kernel(op: Op, epfd: i32, fd: i32, before: &Seen) -> Result<Vec<Watched>, i32> {
    let Descriptor::Epoll(list) = &before.epfd else {
        return Err(if before.epfd == Descriptor::Closed || !before.fd_open {
            libc::EBADF
        } else {
            libc::EINVAL
        });
    };
    if !before.fd_open {
        return Err(libc::EBADF);
    }
    if fd == epfd {
        return Err(libc::EINVAL);
    }
    let present = list.iter().any(|w| w.fd == fd);
    let mut after: Vec<Watched> = list.iter().copied().filter(|w| w.fd != fd).collect();
    let entry = |events| Watched {
        fd,
        events,
        data: fd as u64,
    };
    match (op, present) {
        (Op::Add, true) => return Err(libc::EEXIST),
        (Op::Del | Op::In | Op::InOut, false) => return Err(libc::ENOENT),
        (Op::Add | Op::In, _) => after.push(entry(IN)),
        (Op::InOut, _) => after.push(entry(IN | OUT)),
        (Op::Del, _) => {}
    }
    after.sort_by_key(|w| w.fd);
    Ok(after)
}

/// Whether two interest lists agree on what the wrappers set: which
/// descriptors, watched for input and for output or not, with the
/// descriptor as data (`EPOLLERR`, `EPOLLHUP` and other flags aside).
fn same_interest(a: &[Watched], b: &[Watched]) -> bool {
    let key = |w: &Watched| (w.fd, w.events & (IN | OUT), w.data);
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| key(x) == key(y))
}

fn show_list(list: &[Watched]) -> String {
    if list.is_empty() {
        return "nothing".to_owned();
    }
    list.iter()
        .map(|w| {
            let mut events = Vec::new();
            if w.events & IN != 0 {
                events.push("EPOLLIN");
            }
            if w.events & OUT != 0 {
                events.push("EPOLLOUT");
            }
            if events.is_empty() {
                events.push("no event");
            }
            format!("fd {} for {} (data {})", w.fd, events.join(" and "), w.data)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn errno_name(errno: i32) -> String {
    match errno {
        libc::EBADF => "EBADF".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::EEXIST => "EEXIST".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EPERM => "EPERM".into(),
        other => format!("errno {other}"),
    }
}

/// Checks one call from what was seen before and after it and what the
/// wrapper returned; `Err` says what is wrong.
fn check_call(
    op: Op,
    (epfd, fd): (i32, i32),
    before: &Seen,
    after: &Seen,
    (ret, errno): (i32, i32),
) -> Result<(), String> {
    let call = format!("{}({epfd}, {fd})", op.function());
    let list = |seen: &Seen| match &seen.epfd {
        Descriptor::Epoll(list) => Some(list.clone()),
        _ => None,
    };
    match kernel(op, epfd, fd, before) {
        Ok(expected) => {
            let found = list(after).unwrap_or_default();
            if ret != 0 {
                return Err(format!(
                    "{call} returned {ret} (errno {}), but epoll_ctl succeeds here",
                    errno_name(errno)
                ));
            }
            if !same_interest(&expected, &found) {
                return Err(format!(
                    "{call} returned 0, but afterwards the epoll instance watches {}; expected {}",
                    show_list(&found),
                    show_list(&expected)
                ));
            }
        }
        Err(expected) => {
            if ret != -1 || errno != expected {
                return Err(format!(
                    "{call} returned {ret} (errno {}); epoll_ctl fails here with -1 and {}",
                    errno_name(errno),
                    errno_name(expected)
                ));
            }
            if let (Some(was), Some(is)) = (list(before), list(after))
                && !same_interest(&was, &is)
            {
                return Err(format!(
                    "{call} failed, as it should, but changed what the epoll instance watches: {} before, {} after",
                    show_list(&was),
                    show_list(&is)
                ));
            }
        }
    }
    Ok(())
}

/// A line of the layer: `before OP EPFD FD` or `after OP EPFD FD RET ERRNO`.
#[derive(Debug, PartialEq, Eq)]
enum Report {
    Before(Op, i32, i32),
    After(Op, i32, i32, i32, i32),
}

fn parse_report(line: &str) -> Option<Report> {
    let mut words = line.strip_prefix(MARK)?.split_whitespace();
    let kind = words.next()?;
    let op = Op::from_word(words.next()?)?;
    let mut number = || words.next()?.parse::<i32>().ok();
    let (epfd, fd) = (number()?, number()?);
    match kind {
        "before" => Some(Report::Before(op, epfd, fd)),
        "after" => Some(Report::After(op, epfd, fd, number()?, number()?)),
        _ => None,
    }
}

/// Runs test `name` in a process of its own and checks its calls from
/// outside.
fn run_one(executable: &Path, expected: FileId, name: &str, until: Instant) -> TestOutcome {
    let mut command = Command::new(executable);
    command
        .args(["--exact", name, "--test-threads=1"])
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut process = match Contained::spawn(&mut command, Limits::SUBMISSION) {
        Ok(process) => process,
        Err(err) => return TestOutcome::Failed(format!("could not start the test: {err}")),
    };
    let pid = process.pid();
    let child: &mut Child = process.child_mut();
    let (Some(mut go), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return TestOutcome::Failed("the test's standard streams were not set up".into());
    };
    let lines = read_lines(stdout);
    let errors = harness::Inbox::spawn(format!("{name}'s stderr"), stderr);
    let mut printed = String::new();
    let mut carried = String::new();
    let mut problems: Vec<String> = Vec::new();
    let mut calls: Vec<Op> = Vec::new();
    let mut pending: Option<(Op, i32, i32, Seen)> = None;
    let mut checked_exe = false;
    let ended = loop {
        let left = until.saturating_duration_since(Instant::now());
        let line = match lines.recv_timeout(left) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Disconnected) => break true,
            Err(mpsc::RecvTimeoutError::Timeout) => break false,
        };
        let Some((at, report)) = line
            .find(MARK)
            .and_then(|at| Some((at, parse_report(&line[at..])?)))
        else {
            if printed.len() < 64 * 1024 {
                printed.push_str(&carried);
                printed.push_str(&line);
                printed.push('\n');
            }
            carried.clear();
            continue;
        };
        // The layer's line came in the middle of libtest's `test NAME ... `
        // line: the rest of that line comes later.
        carried.push_str(&line[..at]);
        if !checked_exe {
            checked_exe = true;
            if let Err(instead) = sandbox::check_exe(pid, expected, executable) {
                problems.push(format!(
                    "the test process is not the test executable that was built: it runs {instead}"
                ));
            }
        }
        match report {
            Report::Before(op, epfd, fd) => match look(pid, epfd, fd) {
                Ok(seen) => pending = Some((op, epfd, fd, seen)),
                Err(err) => problems.push(format!("could not read the test's descriptors: {err}")),
            },
            Report::After(op, epfd, fd, ret, errno) => {
                match (pending.take(), look(pid, epfd, fd)) {
                    (Some((was_op, was_epfd, was_fd, before)), Ok(after))
                        if (was_op, was_epfd, was_fd) == (op, epfd, fd) =>
                    {
                        if let Err(problem) =
                            check_call(op, (epfd, fd), &before, &after, (ret, errno))
                        {
                            problems.push(problem);
                        }
                    }
                    (_, Err(err)) => {
                        problems.push(format!("could not read the test's descriptors: {err}"));
                    }
                    _ => problems.push(format!(
                        "{}({epfd}, {fd}) returned without having been called",
                        op.function()
                    )),
                }
                calls.push(op);
            }
        }
        // Go on: the layer waits for this byte after each line.
        if go.write_all(b"g").and_then(|()| go.flush()).is_err() {
            // It is gone; what it printed says why.
        }
    };
    drop(go);
    let status = process.wait_exit(until);
    let stderr_text = String::from_utf8_lossy(
        &errors
            .wait_end(Instant::now() + Duration::from_secs(1))
            .unwrap_or_default(),
    )
    .into_owned();
    drop(process);
    let passed_by_itself = status.is_some_and(|status| status.success());
    let wanted = expected_calls(name);
    if !ended || status.is_none() {
        problems.push(format!(
            "the test did not finish within {} s",
            TEST_TIME.as_secs()
        ));
    } else if passed_by_itself && calls != wanted {
        // It says it passed, but not by making the calls its source makes
        // (a test that failed stopped early, and says why itself).
        problems.push(format!(
            "the test says it passed, but it should call {}, and the grader saw {}",
            show_calls(&wanted),
            show_calls(&calls)
        ));
    }
    if passed_by_itself && problems.is_empty() {
        return TestOutcome::Passed;
    }
    let mut message = problems.join("\n");
    let own = match parse(&printed).remove(name) {
        Some(TestOutcome::Failed(text)) if !text.is_empty() => text,
        _ if !passed_by_itself => tool::tail(&format!("{printed}{stderr_text}"), 20),
        _ => String::new(),
    };
    if !own.is_empty() {
        if !message.is_empty() {
            message.push_str("\n\n");
        }
        message.push_str(&own);
    }
    TestOutcome::Failed(message)
}

fn show_calls(calls: &[Op]) -> String {
    if calls.is_empty() {
        return "no wrapper call".to_owned();
    }
    calls
        .iter()
        .map(|op| op.function())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The lines of `reader`, as they come, on a channel that closes at the end.
fn read_lines(reader: impl io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            // A line longer than this is cut: the layer's lines are short.
            match io::Read::take(&mut reader, 64 * 1024).read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    if sender.send(text.trim_end_matches('\n').to_owned()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    receiver
}

/// The layer between the tests and the submission's wrappers, in the
/// tests' crate: each call is announced on stdout before and after, and
/// waits for the grader's go on stdin.
const LAYER: &str = r#"//! Written by the grader: the wrappers the tests call, each announcing
//! itself before and after calling the submission's own, and waiting for
//! the grader's go after each announcement.

pub mod w_epoll {
    use std::io::{Read, Write};
    use std::os::raw::c_int;

    pub use chat::w_epoll::NO_EVENT;

    fn announce(line: String) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
        let mut go = [0u8; 1];
        if std::io::stdin().read_exact(&mut go).is_err() {
            // The grader is gone: nothing to test for.
            std::process::exit(3);
        }
    }

    fn call(op: &str, epfd: c_int, fd: c_int, wrapper: fn(c_int, c_int) -> c_int) -> c_int {
        announce(format!("@@MARK@@ before {op} {epfd} {fd}\n"));
        let ret = wrapper(epfd, fd);
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        announce(format!("@@MARK@@ after {op} {epfd} {fd} {ret} {errno}\n"));
        // SAFETY: __errno_location points to this thread's errno.
        unsafe { *libc::__errno_location() = errno };
        ret
    }

    pub fn w_epoll_add_fd_in(epfd: c_int, fd: c_int) -> c_int {
        call("add", epfd, fd, chat::w_epoll::w_epoll_add_fd_in)
    }

    pub fn w_epoll_del_fd(epfd: c_int, fd: c_int) -> c_int {
        call("del", epfd, fd, chat::w_epoll::w_epoll_del_fd)
    }

    pub fn w_epoll_update_fd_in(epfd: c_int, fd: c_int) -> c_int {
        call("in", epfd, fd, chat::w_epoll::w_epoll_update_fd_in)
    }

    pub fn w_epoll_update_fd_inout(epfd: c_int, fd: c_int) -> c_int {
        call("inout", epfd, fd, chat::w_epoll::w_epoll_update_fd_inout)
    }
}
"#;

/// The line of the tests that imports the wrappers, and what replaces it
/// so that they come from the layer.
const IMPORT: &str = "use chat::w_epoll::{";
const IMPORT_LAYER: &str = "use grader_wrapper_tests::w_epoll::{";

/// A tiny crate: the layer, and the grader's copy of the wrapper tests
/// calling it, depending on the submission's crate by path.
fn write_harness(crate_dir: &Path, harness: &Path) -> std::io::Result<()> {
    let crate_dir = crate_dir.canonicalize()?;
    if sandbox::run_as().is_some() {
        // A new folder (this run's), which root writes before handing it
        // over.
        fs::create_dir(harness)?;
    }
    fs::create_dir_all(harness.join("tests"))?;
    fs::create_dir_all(harness.join("src"))?;
    let manifest = format!(
        r#"# Written by the grader: its copy of the wrapper tests, run against
# the submission's crate.
[package]
name = "grader-wrapper-tests"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
chat = {{ path = {path} }}
libc = "0.2"

[workspace]
"#,
        path = toml_string(&crate_dir.to_string_lossy()),
    );
    fs::write(harness.join("Cargo.toml"), manifest)?;
    fs::write(harness.join("src/lib.rs"), LAYER.replace("@@MARK@@", MARK))?;
    fs::write(harness.join("tests/w_epoll.rs"), tests_through_layer())?;
    // The submission's lock file, if any, so that the same versions are used.
    let lock = crate_dir.join("Cargo.lock");
    if fs::symlink_metadata(&lock).is_ok_and(|meta| meta.is_file()) {
        fs::copy(lock, harness.join("Cargo.lock"))?;
    }
    Ok(())
}

/// The grader's copy of the tests, importing the wrappers from the layer.
fn tests_through_layer() -> String {
    TESTS.replacen(IMPORT, IMPORT_LAYER, 1)
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reads the outcomes from libtest's output: `test NAME ... ok` or
/// `... FAILED` lines, and the `---- NAME stdout ----` sections.
pub fn parse(output: &str) -> Outcomes {
    let mut outcomes = Outcomes::new();
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        if let Some(name) = rest.strip_suffix(" ... ok") {
            outcomes.insert(name.to_owned(), TestOutcome::Passed);
        } else if let Some(name) = rest.strip_suffix(" ... FAILED") {
            outcomes.insert(name.to_owned(), TestOutcome::Failed(String::new()));
        }
    }
    // The failure sections: from `---- NAME stdout ----` to the next
    // section or the `failures:` list.
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in output.lines().chain(std::iter::once("failures:")) {
        let header = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"));
        if (header.is_some() || line == "failures:")
            && let Some((name, text)) = current.take()
            && let Some(TestOutcome::Failed(message)) = outcomes.get_mut(&name)
        {
            *message = text.join("\n").trim().to_owned();
        }
        match header {
            Some(name) => current = Some((name.to_owned(), Vec::new())),
            None => {
                if let Some((_, text)) = current.as_mut() {
                    text.push(line);
                }
            }
        }
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_and_failure_messages_are_read_from_libtest_output() {
        let output = "\
running 3 tests
test add_works ... ok
test del_works ... FAILED
test update_works ... FAILED

failures:

---- del_works stdout ----

thread 'del_works' panicked at tests/w_epoll.rs:10:5:
not yet implemented: TODO 2

---- update_works stdout ----
assertion failed: left == right

failures:
    del_works
    update_works

test result: FAILED. 1 passed; 2 failed
";
        let outcomes = parse(output);
        assert_eq!(outcomes["add_works"], TestOutcome::Passed);
        assert_eq!(
            outcomes["del_works"],
            TestOutcome::Failed("thread 'del_works' panicked at tests/w_epoll.rs:10:5:\nnot yet implemented: TODO 2".into())
        );
        assert_eq!(
            outcomes["update_works"],
            TestOutcome::Failed("assertion failed: left == right".into())
        );
        assert_eq!(outcomes.len(), 3);
    }

    #[test]
    fn a_path_with_quotes_is_a_valid_toml_string() {
        assert_eq!(toml_string(r#"/a "b" \c"#), r#""/a \"b\" \\c""#);
    }

    #[test]
    fn the_tests_import_the_wrappers_from_the_layer_and_only_from_it() {
        assert_eq!(TESTS.matches(IMPORT).count(), 1, "one import to redirect");
        let through = tests_through_layer();
        assert!(!through.contains("chat::w_epoll::"), "{through}");
        for (_, _, function) in Op::ALL {
            assert!(LAYER.contains(&format!("pub fn {function}(")), "{function}");
        }
    }

    #[test]
    fn every_test_makes_wrapper_calls_read_from_its_source() {
        let names = test_names();
        assert_eq!(names.len(), 10, "{names:?}");
        for name in &names {
            assert!(!expected_calls(name).is_empty(), "{name} calls no wrapper");
        }
        assert_eq!(
            expected_calls("a_bad_epoll_fd_fails_with_ebadf"),
            [Op::Add, Op::Del, Op::InOut]
        );
        assert_eq!(
            expected_calls("update_in_still_reports_input"),
            [Op::Add, Op::InOut, Op::In]
        );
    }

    fn epoll(list: &[(i32, u32)]) -> Seen {
        Seen {
            epfd: Descriptor::Epoll(
                list.iter()
                    .map(|&(fd, events)| Watched {
                        fd,
                        events: events | (libc::EPOLLERR | libc::EPOLLHUP) as u32,
                        data: fd as u64,
                    })
                    .collect(),
            ),
            fd_open: true,
        }
    }

    #[test]
    fn a_call_is_held_to_what_epoll_ctl_does_in_that_state() {
        let empty = epoll(&[]);
        let watching = epoll(&[(4, IN)]);
        // A real add.
        assert_eq!(
            check_call(Op::Add, (3, 4), &empty, &watching, (0, 0)),
            Ok(())
        );
        // A stub that says 0 and did nothing.
        let err = check_call(Op::Add, (3, 4), &empty, &empty, (0, 0)).expect_err("caught");
        assert!(
            err.contains("watches nothing; expected fd 4 for EPOLLIN"),
            "{err}"
        );
        // Watching for output too is not "for input".
        let both = epoll(&[(4, IN | OUT)]);
        assert!(check_call(Op::Add, (3, 4), &empty, &both, (0, 0)).is_err());
        // The second add fails with EEXIST and changes nothing.
        assert_eq!(
            check_call(Op::Add, (3, 4), &watching, &watching, (-1, libc::EEXIST)),
            Ok(())
        );
        assert!(check_call(Op::Add, (3, 4), &watching, &watching, (-1, libc::ENOENT)).is_err());
        // Deleting what is not there: ENOENT.
        assert_eq!(
            check_call(Op::Del, (3, 4), &empty, &empty, (-1, libc::ENOENT)),
            Ok(())
        );
        assert!(check_call(Op::Del, (3, 4), &empty, &empty, (0, 0)).is_err());
        // Update to input and output, and back.
        assert_eq!(
            check_call(Op::InOut, (3, 4), &watching, &both, (0, 0)),
            Ok(())
        );
        assert_eq!(check_call(Op::In, (3, 4), &both, &watching, (0, 0)), Ok(()));
        assert!(check_call(Op::In, (3, 4), &both, &both, (0, 0)).is_err());
        // A closed epfd is EBADF; a socket as epfd is EINVAL.
        let closed = Seen {
            epfd: Descriptor::Closed,
            fd_open: true,
        };
        assert_eq!(
            check_call(Op::Add, (-1, 4), &closed, &closed, (-1, libc::EBADF)),
            Ok(())
        );
        let socket = Seen {
            epfd: Descriptor::Other,
            fd_open: true,
        };
        assert_eq!(
            check_call(Op::Add, (5, 4), &socket, &socket, (-1, libc::EINVAL)),
            Ok(())
        );
        assert!(check_call(Op::Add, (5, 4), &socket, &socket, (-1, libc::EBADF)).is_err());
    }

    #[test]
    fn the_layers_lines_are_read_and_anything_else_is_not() {
        assert_eq!(
            parse_report(&format!("{MARK} before add 3 4")),
            Some(Report::Before(Op::Add, 3, 4))
        );
        assert_eq!(
            parse_report(&format!("{MARK} after inout 3 4 -1 2")),
            Some(Report::After(Op::InOut, 3, 4, -1, 2))
        );
        assert_eq!(parse_report("test add_watches_for_input_only ... ok"), None);
        assert_eq!(parse_report(&format!("{MARK} after add 3")), None);
    }

    #[test]
    fn an_interest_list_is_read_from_fdinfo() {
        let fdinfo = "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\n\
                      tfd:        4 events:       1d data:                4  pos:0 ino:bc782 sdev:9\n";
        assert_eq!(
            interest_list(fdinfo),
            [Watched {
                fd: 4,
                events: 0x1d,
                data: 4
            }]
        );
    }
}
