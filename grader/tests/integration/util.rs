//! What the modules share, written once: where the kit is, the grader under
//! test, [`Run`] (a command that explains itself when it fails), the
//! students' crate generated once per run, scratch folders, and the lock
//! that keeps the tests that load the machine from overlapping.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// The grader under test, built by cargo for this binary.
pub const GRADER: &str = env!("CARGO_BIN_EXE_grader");

/// The kit's folder.
pub fn kit() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the grader is in the kit's folder")
}

/// A folder of a test's own under the kit's `target/`, kept from one run to
/// the next so that what is built in it is reused.
pub fn scratch(name: &str) -> PathBuf {
    kit().join("target").join(name)
}

/// The grader, as a command to complete.
pub fn grader() -> Command {
    Command::new(GRADER)
}

/// Reads a text file; a failure names it.
pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
}

/// What a command did, kept with the command line, so that an assertion
/// about it can show everything: the command, its status, how long it took,
/// what it printed.
#[derive(Debug)]
pub struct Run {
    command: String,
    pub output: Output,
    pub seconds: f64,
}

impl Run {
    /// Runs `command` to its end; panics, naming it, if it cannot start.
    pub fn new(command: &mut Command) -> Run {
        let shown = format!("{command:?}");
        let started = Instant::now();
        let output = command
            .output()
            .unwrap_or_else(|err| panic!("cannot run {shown}: {err}"));
        Run {
            command: shown,
            output,
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// Runs `command`, killed if it takes longer than `limit`.
    pub fn within(command: Command, limit: Duration) -> Run {
        let shown = format!("{command:?}");
        let started = Instant::now();
        let output = assert_cmd::Command::from_std(command)
            .timeout(limit)
            .output()
            .unwrap_or_else(|err| panic!("cannot run {shown}: {err}"));
        Run {
            command: shown,
            output,
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Everything about the run, for a failed assertion.
    pub fn explain(&self) -> String {
        format!(
            "{}\nstatus: {} after {:.1} s\n--- stdout\n{}\n--- stderr\n{}",
            self.command,
            self.output.status,
            self.seconds,
            self.stdout(),
            self.stderr()
        )
    }

    /// Asserts that it exited with `code`.
    #[track_caller]
    pub fn assert_code(self, code: i32) -> Run {
        assert_eq!(self.code(), Some(code), "{}", self.explain());
        self
    }

    /// Asserts that it exited with status 0.
    #[track_caller]
    pub fn assert_success(self) -> Run {
        self.assert_code(0)
    }

    /// What it printed, read as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|err| panic!("not one JSON value ({err}):\n{}", self.explain()))
    }
}

/// Tests that load the machine take turns: whole gradings (each runs
/// several checks at once, some tests several graders), and the floods of
/// `grader bench`, `grader soak` and the hostile submissions. In one test
/// binary two of them would otherwise run at once, where they used to run
/// one binary after another, and the checks' deadlines would measure the
/// other test's load instead of the submission. Quick tests run beside
/// them.
pub fn one_heavy_test_at_a_time() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    // A test that failed while holding it says so itself; the next may go on.
    HEAVY.lock().unwrap_or_else(|err| err.into_inner())
}

/// The skeleton generator, built once per run into the build folder this
/// binary came from (the same code; no second build folder).
pub fn skeleton_generator() -> &'static Path {
    static GENERATOR: OnceLock<PathBuf> = OnceLock::new();
    GENERATOR.get_or_init(|| {
        let bin_dir = Path::new(GRADER)
            .parent()
            .expect("the grader is in a folder");
        let target = bin_dir.parent().expect("target/debug/ is in target/");
        Run::new(
            Command::new(env!("CARGO"))
                .args(["build", "--quiet", "--package", "skeleton", "--target-dir"])
                .arg(target)
                .current_dir(kit()),
        )
        .assert_success();
        bin_dir.join("skeleton")
    })
}

/// The students' crate, generated from the current solution once per run,
/// and what the generator printed.
fn generated() -> &'static (PathBuf, String) {
    static SKELETON: OnceLock<(PathBuf, String)> = OnceLock::new();
    SKELETON.get_or_init(|| {
        let out = scratch("grader-tests").join("skeleton");
        let _ = fs::remove_dir_all(&out);
        let run = Run::new(
            Command::new(skeleton_generator())
                .arg("--out")
                .arg(&out)
                .current_dir(kit()),
        )
        .assert_success();
        (out, run.stdout())
    })
}

/// The students' crate, generated once per run. Shared by every test:
/// read it, or [`copy_dir`] it to change, build or grade it.
pub fn skeleton() -> &'static Path {
    &generated().0
}

/// What the generator printed when it made [`skeleton`].
pub fn skeleton_summary() -> &'static str {
    &generated().1
}

/// Copies the folder `from` into `to`, leaving out build folders
/// (`target/`).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|err| panic!("create {}: {err}", to.display()));
    for entry in fs::read_dir(from).unwrap_or_else(|err| panic!("list {}: {err}", from.display())) {
        let entry = entry.expect("a folder entry");
        if entry.file_name() == "target" {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target)
                .unwrap_or_else(|err| panic!("copy {}: {err}", entry.path().display()));
        }
    }
}

/// Sets the modification time of every file under `dir` to 2020: a
/// submission written before the last build in a shared build folder, which
/// cargo must not take for the one it built.
pub fn make_old(dir: &Path) {
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800);
    for entry in fs::read_dir(dir).expect("list a folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            make_old(&path);
        } else {
            fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_modified(old))
                .unwrap_or_else(|err| panic!("set the time of {}: {err}", path.display()));
        }
    }
}

/// The processes, of any user, whose command line holds `mark` (zombies
/// too: a process left unreaped is left behind), but this one: their ids
/// and command lines.
pub fn processes_marked(mark: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").expect("list /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(bytes) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&bytes).replace('\0', " ");
        if cmdline.contains(mark) && pid != std::process::id() {
            found.push((pid, cmdline));
        }
    }
    found
}

/// [`processes_marked`], as lines `PID: COMMAND LINE` for an assertion.
pub fn left_running(mark: &str) -> Vec<String> {
    processes_marked(mark)
        .into_iter()
        .map(|(pid, cmdline)| format!("{pid}: {cmdline}"))
        .collect()
}
