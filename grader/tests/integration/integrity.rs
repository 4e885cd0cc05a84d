//! Grades that mean what they say: a submission cannot grade itself.
//!
//! The attacks of `tests/hostile/integrity/` (see its README), each of which
//! once earned full marks without the work, must now earn at most 5 of 100
//! and leave nothing running.
//!
//! - `make test` runs what needs no root: a crate whose wrappers print the
//!   tests' `ok` lines and whose server and client exec the kit's correct
//!   Python fixtures gets nothing.
//! - `make test-integrity` (root; CI runs it) builds a fake Gradescope tree
//!   exactly as `lab-docs/instructors.md` says (the zip that
//!   `make-autograder-zip.sh` makes, unpacked as `source/`, `setup.sh`, then
//!   `run_autograder` for each submission), plays every attack in it and in
//!   `grader batch`, and prints a table of figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{self, Run};

fn attack_dir(name: &str) -> PathBuf {
    util::kit()
        .join("grader/tests/hostile/integrity")
        .join(name)
}

/// Runs `command`, which must succeed; a failure shows everything about it.
fn run(command: &mut Command) -> Output {
    Run::new(command).assert_success().output
}

/// A copy of the students' crate (generated once per run) in `out`.
fn skeleton_in(out: &Path) {
    let _ = fs::remove_dir_all(out);
    util::copy_dir(util::skeleton(), out);
}

/// The placeholders of the attack files, and what they become.
type Substitutions = Vec<(&'static str, String)>;

fn substitute(text: &str, substitutions: &Substitutions) -> String {
    substitutions
        .iter()
        .fold(text.to_owned(), |text, (from, to)| text.replace(from, to))
}

/// Copies `from` into `to` (files and folders), replacing the placeholders
/// in every file.
fn overlay(from: &Path, to: &Path, substitutions: &Substitutions) {
    fs::create_dir_all(to).expect("create a folder");
    for entry in fs::read_dir(from).expect("list a folder") {
        let entry = entry.expect("a folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            overlay(&entry.path(), &target, substitutions);
        } else {
            let text = fs::read_to_string(entry.path()).expect("read an attack file");
            fs::write(&target, substitute(&text, substitutions)).expect("write a file");
        }
    }
}

/// The skeleton's `w_epoll.rs` with every stub replaced by a call of the
/// forger of `fake-ok/forge.rs`.
fn forged_wrapper(skeleton: &Path) -> String {
    let text = fs::read_to_string(skeleton.join("src/w_epoll.rs")).expect("read w_epoll.rs");
    let mut forged = text.clone();
    for todo in 1..=3 {
        forged = forged.replace(&format!("todo!(\"TODO {todo}\")"), "forge()");
    }
    assert_ne!(
        forged, text,
        "the skeleton's wrapper stubs are todo!(\"TODO N\")"
    );
    forged + &fs::read_to_string(attack_dir("fake-ok/forge.rs")).expect("read forge.rs")
}

fn report(path: &Path) -> serde_json::Value {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("read the report {}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

fn score(report: &serde_json::Value) -> u64 {
    report["score"].as_u64().expect("a score")
}

#[test]
fn a_crate_that_forges_its_test_output_and_runs_the_kits_fixtures_gets_nothing() {
    let work = util::scratch("integrity-test");
    let crate_dir = work.join("forger");
    skeleton_in(&crate_dir);
    let substitutions = vec![(
        "@FIXTURES@",
        util::kit()
            .join("grader/tests/fixtures")
            .display()
            .to_string(),
    )];
    overlay(&attack_dir("exec-fixtures"), &crate_dir, &substitutions);
    fs::write(crate_dir.join("src/w_epoll.rs"), forged_wrapper(&crate_dir))
        .expect("write the forged wrapper");
    let out = work.join("forger.json");
    let _heavy = util::one_heavy_test_at_a_time();
    Run::new(
        util::grader()
            .arg("--dir")
            .arg(&crate_dir)
            .args(["--format", "json", "--out"])
            .arg(&out)
            .env("CARGO_TARGET_DIR", work.join("target")),
    )
    .assert_code(1);
    let report = report(&out);
    assert_eq!(score(&report), 0, "{report:#}");
    for test in report["tests"].as_array().expect("tests") {
        let name = test["name"].as_str().expect("a name");
        let text = test["output"].as_str().expect("an output");
        let why = if name.starts_with("wrapper/") {
            "the test says it passed, but it should call"
        } else {
            "is not the executable built from the submission"
        };
        assert!(text.contains(why), "{name} failed otherwise:\n{text}");
    }
}

#[test]
fn a_batch_survives_a_submission_that_kills_its_grader_and_leaves_a_daemon() {
    let work = util::scratch("integrity-test").join("batch");
    let subs = work.join("submissions");
    let _ = fs::remove_dir_all(&subs);
    let skeleton = util::skeleton();
    let mark = format!("chat-integrity-batch-{}", std::process::id());
    let killer = subs.join("a-killer");
    util::copy_dir(skeleton, &killer);
    let substitutions = vec![
        ("@MARK@", mark.clone()),
        ("@SUBMISSIONS@", subs.display().to_string()),
    ];
    overlay(&attack_dir("kill-own-grader"), &killer, &substitutions);
    let solution = subs.join("b-solution");
    util::copy_dir(skeleton, &solution);
    for file in ["w_epoll.rs", "client.rs", "server.rs"] {
        fs::copy(
            util::kit().join("solution/src").join(file),
            solution.join("src").join(file),
        )
        .expect("copy a solution file");
    }
    let reports = work.join("reports");
    let _heavy = util::one_heavy_test_at_a_time();
    let batch = Run::new(
        util::grader()
            .arg("batch")
            .arg(&subs)
            .arg("--reports")
            .arg(&reports)
            .args(["--jobs", "2"]),
    );
    let stderr = batch.stderr();
    let gradebook = fs::read_to_string(reports.join("gradebook.csv"))
        .unwrap_or_else(|err| panic!("no gradebook ({err}): {}", batch.explain()));
    let row = |name: &str| {
        gradebook
            .lines()
            .find(|line| line.starts_with(&format!("{name},")))
            .unwrap_or_else(|| panic!("no row {name}:\n{gradebook}"))
            .to_owned()
    };
    assert!(
        row("b-solution").starts_with("b-solution,100,100,"),
        "{gradebook}"
    );
    if stderr.contains("the submissions run as") {
        // As root with a grading user, the build cannot kill the grader.
        assert!(row("a-killer").starts_with("a-killer,0,"), "{gradebook}");
    } else {
        assert!(
            row("a-killer").contains("its grader was killed (signal 9)"),
            "{gradebook}"
        );
        assert_eq!(batch.code(), Some(2), "{}", batch.explain());
    }
    assert_eq!(
        util::left_running(&mark),
        Vec::<String>::new(),
        "left running"
    );
}

#[test]
fn a_grading_user_that_cannot_be_used_stops_the_grader_with_the_reason() {
    // As root, there is no such user; as anyone else, only root may switch.
    let run = Run::new(util::grader().args([
        "--dir",
        "no-such-crate",
        "--user",
        "no-such-user-of-the-kit",
    ]))
    .assert_code(2);
    let stderr = run.stderr();
    assert!(
        stderr.contains("--user no-such-user-of-the-kit"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// make test-integrity: the attacks in a fake Gradescope tree, as root.

/// Processes of the users `uids` now: how many, and their memory (KiB).
fn usage_of(uids: &[u32]) -> (usize, u64, Vec<String>) {
    let mut count = 0;
    let mut rss = 0;
    let mut seen = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return (0, 0, seen);
    };
    for entry in entries.flatten() {
        let Ok(status) = fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|value| value.parse::<u64>().ok())
        };
        if field("Uid:").is_some_and(|uid| uids.iter().any(|&u| u64::from(u) == uid)) {
            count += 1;
            rss += field("VmRSS:").unwrap_or(0);
            if seen.len() < 5 {
                let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
                seen.push(format!(
                    "{}: {}",
                    entry.file_name().to_string_lossy(),
                    String::from_utf8_lossy(&cmdline).replace('\0', " ")
                ));
            }
        }
    }
    (count, rss, seen)
}

/// Kills every process of user `uid` (never root's).
fn kill_user(uid: u32) {
    assert_ne!(uid, 0, "the grading user is not root");
    for entry in fs::read_dir("/proc").expect("list /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let owner = fs::read_to_string(entry.path().join("status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("Uid:"))?
                    .split_whitespace()
                    .next()?
                    .parse::<u32>()
                    .ok()
            });
        if owner == Some(uid) {
            // SAFETY: kill takes no pointers; the process is the user's.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The ids of the processes whose command line holds `mark`, of any user.
fn marked(mark: &str) -> Vec<u32> {
    util::processes_marked(mark)
        .into_iter()
        .map(|(pid, _)| pid)
        .collect()
}

/// Samples the grading user's processes while an attack is graded: the
/// most there were at once, and the most memory they held. A measurement
/// over time, not a way to wait for anything.
struct Monitor {
    stop: Arc<AtomicBool>,
    handle: thread::JoinHandle<(usize, u64)>,
}

impl Monitor {
    fn start(uids: Vec<u32>) -> Monitor {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = thread::spawn(move || {
            let mut peak = (0, 0);
            while !flag.load(Ordering::Relaxed) {
                let (count, rss, _) = usage_of(&uids);
                peak = (peak.0.max(count), peak.1.max(rss));
                thread::sleep(Duration::from_millis(100));
            }
            peak
        });
        Monitor { stop, handle }
    }

    fn finish(self) -> (usize, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("the monitor")
    }
}

fn id_of(user: &str) -> Option<u32> {
    let output = Command::new("id").args(["-u", user]).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().parse().ok())
        .flatten()
}

/// One row of the table.
#[derive(Debug, Default)]
struct Figures {
    score: Option<u64>,
    seconds: f64,
    peak_processes: usize,
    peak_memory_mib: u64,
    left: usize,
    notes: Vec<String>,
}

/// The fake tree and what an attack needs to know of it.
struct Tree {
    tmp: PathBuf,
    root: PathBuf,
    home: PathBuf,
    user: String,
    uid: u32,
    /// A second grading user, for the batch's second worker.
    second: (String, u32),
    mark: String,
    env: Vec<(&'static str, PathBuf)>,
}

impl Tree {
    fn substitutions(&self, extra: &[(&'static str, String)]) -> Substitutions {
        let mut all = vec![
            ("@ROOT@", self.root.display().to_string()),
            ("@ROOTHOME@", self.home.display().to_string()),
            ("@MARK@", self.mark.clone()),
            ("@TMP@", self.tmp.display().to_string()),
            (
                "@FIXTURES@",
                self.root
                    .join("source/grader/tests/fixtures")
                    .display()
                    .to_string(),
            ),
        ];
        all.extend(extra.iter().cloned());
        all
    }

    /// The shell of root as Gradescope runs it: this test's HOME (with a
    /// `~/.cargo/env` as rustup leaves it), cargo through the real rustup,
    /// and nothing of cargo's test environment.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        for key in [
            "CARGO",
            "CARGO_TARGET_DIR",
            "CARGO_MANIFEST_DIR",
            "RUSTFLAGS",
        ] {
            command.env_remove(key);
        }
        command
            .env("HOME", &self.home)
            .env("GRADER_USER", &self.user);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    fn uids(&self) -> Vec<u32> {
        vec![self.uid, self.second.1]
    }

    /// Kills what the grading users or an attack left, and says how much:
    /// kills, then looks again every few milliseconds until nothing is left
    /// (a process killed takes a moment to go, and one may fork meanwhile),
    /// for at most two seconds.
    fn sweep(&self) -> usize {
        let mut left = 0;
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let (count, _, seen) = usage_of(&self.uids());
            let marks = marked(&self.mark);
            if count == 0 && marks.is_empty() {
                break;
            }
            if left == 0 {
                eprintln!("left running: {seen:?} {marks:?}");
            }
            left = left.max(count + marks.len());
            if Instant::now() >= deadline {
                eprintln!("still running after the sweep: {seen:?} {marks:?}");
                break;
            }
            for uid in self.uids() {
                kill_user(uid);
            }
            for pid in marks {
                // SAFETY: kill takes no pointers; these are the attack's.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
            thread::sleep(Duration::from_millis(10));
        }
        // The memory attack's lock, in the user's /tmp.
        let _ = fs::remove_file(
            std::env::temp_dir().join(format!("chat-integrity-memory-{}", self.mark)),
        );
        left
    }

    /// Grades `submission` with run_autograder, as Gradescope would.
    fn grade(&self, submission: &Path, name: &str) -> Figures {
        let slot = self.root.join("submission");
        let _ = fs::remove_dir_all(&slot);
        let _ = fs::remove_dir_all(self.root.join("results"));
        run(Command::new("cp").arg("-a").arg(submission).arg(&slot));
        let script = self.root.join("run_autograder");
        let before = fs::read(&script).expect("read run_autograder");
        let monitor = Monitor::start(vec![self.uid]);
        let started = Instant::now();
        let output = self
            .command("bash")
            .arg(&script)
            .env("AUTOGRADER_ROOT", &self.root)
            .output()
            .expect("run run_autograder");
        let seconds = started.elapsed().as_secs_f64();
        let (peak_processes, peak_rss) = monitor.finish();
        let log = self.tmp.join(format!("{name}.log"));
        let _ = fs::write(
            &log,
            [&output.stdout[..], b"\n--- stderr\n", &output.stderr[..]].concat(),
        );
        let mut figures = Figures {
            seconds,
            peak_processes,
            peak_memory_mib: peak_rss / 1024,
            left: self.sweep(),
            ..Figures::default()
        };
        if !output.status.success() {
            figures
                .notes
                .push(format!("run_autograder ended with {}", output.status));
        }
        let results = self.root.join("results/results.json");
        match fs::read_to_string(&results)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        {
            Some(value) => {
                figures.score = value["score"].as_u64();
                if value["output"]
                    .as_str()
                    .is_some_and(|o| o.contains("forged"))
                {
                    figures.notes.push("the report is forged".into());
                }
            }
            None => figures.notes.push("no valid results.json".into()),
        }
        if fs::read(&script).ok().as_deref() != Some(&before[..]) {
            figures.notes.push("run_autograder was changed".into());
        }
        if self.home.join(".cargo/bin/cat").exists() {
            figures.notes.push("a cat is in root's ~/.cargo/bin".into());
        }
        figures
    }
}

fn table(rows: &[(String, Figures)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:>7} {:>8} {:>10} {:>11} {:>5}  notes",
        "submission", "score", "time s", "peak procs", "peak MiB", "left"
    );
    for (name, f) in rows {
        let _ = writeln!(
            out,
            "{:<24} {:>7} {:>8.1} {:>10} {:>11} {:>5}  {}",
            name,
            f.score.map_or("-".to_owned(), |s| format!("{s}/100")),
            f.seconds,
            f.peak_processes,
            f.peak_memory_mib,
            f.left,
            f.notes.join("; ")
        );
    }
    out
}

/// What `rustup` and cargo need once HOME is this test's.
fn toolchain_env() -> Vec<(&'static str, PathBuf)> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let from_env =
        |key: &str, default: PathBuf| std::env::var_os(key).map_or(default, PathBuf::from);
    vec![
        ("RUSTUP_HOME", from_env("RUSTUP_HOME", home.join(".rustup"))),
        ("CARGO_HOME", from_env("CARGO_HOME", home.join(".cargo"))),
    ]
}

#[test]
#[ignore = "needs root and makes a system user: make test-integrity"]
fn no_attack_on_the_grade_gets_more_than_5_points() {
    // SAFETY: geteuid takes nothing.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "run as root: make test-integrity");
    let user = std::env::var("INTEGRITY_USER").unwrap_or_else(|_| "chatgrader-it".into());
    let existed = id_of(&user).is_some();
    // The batch's second worker gets a user of its own, as the batch wants.
    let second = format!("{user}2");
    let second_existed = id_of(&second).is_some();
    if !second_existed {
        run(Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            &second,
        ]));
    }
    let tmp = std::env::temp_dir().join(format!("chat-integrity-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).expect("create the scratch folder");
    let result = std::panic::catch_unwind(|| play(&tmp, &user, &second));
    // Whatever happened: nothing of the run stays, not even the users.
    for (name, existed) in [(&user, existed), (&second, second_existed)] {
        if let Some(uid) = id_of(name) {
            kill_user(uid);
        }
        if !existed {
            let _ = Command::new("userdel").arg(name).status();
        }
    }
    // INTEGRITY_KEEP=1 keeps the tree and the logs, to read.
    if std::env::var_os("INTEGRITY_KEEP").is_none() {
        let _ = fs::remove_dir_all(&tmp);
    } else {
        eprintln!("kept {}", tmp.display());
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn play(tmp: &Path, user: &str, second: &str) {
    let started = Instant::now();
    let kit = util::kit();
    // Root's home for the run, with what rustup leaves in one: the old
    // run_autograder sourced ~/.cargo/env, which puts ~/.cargo/bin first.
    let home = tmp.join("roothome");
    fs::create_dir_all(home.join(".cargo/bin")).expect("create root's home");
    fs::write(
        home.join(".cargo/env"),
        "export PATH=\"$HOME/.cargo/bin:$PATH\"\n",
    )
    .expect("write ~/.cargo/env");
    fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).expect("chmod");

    // The autograder zip, unpacked where Gradescope unpacks it, with
    // run_autograder beside it.
    let root = tmp.join("autograder");
    fs::create_dir_all(&root).expect("create the fake tree");
    let zip = tmp.join("autograder.zip");
    run(Command::new("bash")
        .arg(kit.join("lab-docs/ci/gradescope/make-autograder-zip.sh"))
        .arg(&zip)
        .current_dir(kit));
    // -DD: every file is new, so that cargo rebuilds what changed in the
    // reused build folder of the kit.
    run(Command::new("unzip")
        .args(["-q", "-DD"])
        .arg(&zip)
        .arg("-d")
        .arg(root.join("source")));
    fs::copy(
        root.join("source/run_autograder"),
        root.join("run_autograder"),
    )
    .expect("put run_autograder in place");
    fs::set_permissions(
        root.join("run_autograder"),
        fs::Permissions::from_mode(0o755),
    )
    .expect("chmod run_autograder");

    let mut tree = Tree {
        tmp: tmp.to_path_buf(),
        root: root.clone(),
        home,
        user: user.to_owned(),
        uid: 0,
        second: (
            second.to_owned(),
            id_of(second).expect("the second grading user exists"),
        ),
        mark: format!("chat-integrity-mark-{}", std::process::id()),
        env: toolchain_env(),
    };
    let setup_started = Instant::now();
    run(tree
        .command("bash")
        .arg(root.join("source/setup.sh"))
        .env("AUTOGRADER_ROOT", &root)
        .env("KIT_TARGET_DIR", kit.join("target/integrity-kit")));
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    tree.uid = id_of(user).expect("setup.sh made the grading user");
    assert!(
        !root.join("source/solution").exists(),
        "setup.sh removes the reference solution"
    );

    // The submissions.
    let skeleton = root.join("source/target/gradescope/skeleton");
    let subs = tmp.join("submissions");
    let crate_with = |name: &str, attack: Option<&str>| -> PathBuf {
        let dir = subs.join(name);
        util::copy_dir(&skeleton, &dir);
        if let Some(attack) = attack {
            overlay(&attack_dir(attack), &dir, &tree.substitutions(&[]));
        }
        dir
    };
    let mut staged: Vec<(String, PathBuf)> = Vec::new();
    staged.push(("skeleton".into(), crate_with("skeleton", None)));
    let solution = crate_with("solution", None);
    for file in ["w_epoll.rs", "client.rs", "server.rs"] {
        fs::copy(
            kit.join("solution/src").join(file),
            solution.join("src").join(file),
        )
        .expect("copy a solution file");
    }
    staged.push(("solution".into(), solution.clone()));
    let include = subs.join("path-include");
    overlay(
        &attack_dir("path-include"),
        &include,
        &tree.substitutions(&[]),
    );
    staged.push(("path-include".into(), include));
    let links = subs.join("symlinks");
    fs::create_dir_all(&links).expect("create a folder");
    for file in ["w_epoll.rs", "client.rs", "server.rs"] {
        symlink(
            root.join("source/solution/src").join(file),
            links.join(file),
        )
        .expect("make a link");
    }
    staged.push(("symlinks".into(), links));
    for attack in [
        "exec-reference",
        "exec-fixtures",
        "report-daemon",
        "kill-grader",
        "rewrite-run-autograder",
        "cargo-bin-cat",
        "fork-bomb",
        "memory",
    ] {
        staged.push((attack.into(), crate_with(attack, Some(attack))));
    }
    let fake = crate_with("fake-ok", None);
    fs::write(fake.join("src/w_epoll.rs"), forged_wrapper(&fake)).expect("write");
    staged.push(("fake-ok".into(), fake));
    // The two that together once made 100/100.
    let both = crate_with("exec-reference+fake-ok", Some("exec-reference"));
    fs::write(both.join("src/w_epoll.rs"), forged_wrapper(&both)).expect("write");
    staged.push(("exec-reference+fake-ok".into(), both));

    let mut rows: Vec<(String, Figures)> = Vec::new();
    rows.push((
        "(setup.sh)".into(),
        Figures {
            seconds: setup_seconds,
            ..Figures::default()
        },
    ));
    for (name, dir) in &staged {
        eprintln!("grading {name} ...");
        let figures = tree.grade(dir, name);
        eprintln!(
            "  {:?} in {:.1} s; log: {}",
            figures.score,
            figures.seconds,
            tmp.join(format!("{name}.log")).display()
        );
        rows.push((name.clone(), figures));
    }
    rows.extend(play_batch(&tree, &subs, &solution));

    let text = table(&rows);
    println!(
        "\nAttacks on the grade, as user {user} (uid {}), in {:.0} s:\n\n{text}",
        tree.uid,
        started.elapsed().as_secs_f64()
    );
    let limits = fs::read_to_string(tmp.join("solution.log")).unwrap_or_default();
    if let Some(line) = limits.lines().find(|l| l.contains("limits:")) {
        println!("{}", line.trim());
    }

    let mut problems = Vec::new();
    for (name, figures) in rows.iter().filter(|(name, _)| !name.starts_with('(')) {
        let wanted = match name.as_str() {
            "solution" | "batch: solution" => 100..=100,
            "skeleton" | "batch: skeleton" => 0..=0,
            _ => 0..=5,
        };
        match figures.score {
            Some(score) if wanted.contains(&score) => {}
            other => problems.push(format!("{name}: score {other:?}, wanted {wanted:?}")),
        }
        if figures.left > 0 {
            problems.push(format!("{name}: {} processes left running", figures.left));
        }
        if !figures.notes.is_empty() {
            problems.push(format!("{name}: {}", figures.notes.join("; ")));
        }
        if figures.peak_processes > 1030 {
            problems.push(format!(
                "{name}: {} processes of the user at once, past the limit of 1024",
                figures.peak_processes
            ));
        }
    }
    let memory_cgroup = limits.contains("total memory (cgroup");
    if let Some((_, memory)) = rows.iter().find(|(name, _)| name == "memory")
        && memory_cgroup
        && memory.peak_memory_mib > 2200
    {
        problems.push(format!(
            "memory: {} MiB held at once, past the 2 GiB cgroup limit",
            memory.peak_memory_mib
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `grader batch` as root with the grading user, over a build script that
/// kills the batch, one that replaces the grader's executable, the
/// skeleton and the solution.
fn play_batch(tree: &Tree, subs: &Path, solution: &Path) -> Vec<(String, Figures)> {
    let batch = tree.tmp.join("batch");
    let folder = batch.join("submissions");
    let reports = batch.join(format!("reports-{}", tree.mark));
    let bin = batch.join("bin");
    fs::create_dir_all(&bin).expect("create a folder");
    let grader = bin.join("grader");
    fs::copy(tree.root.join("source/target/release/grader"), &grader).expect("copy the grader");
    let original = fs::read(&grader).expect("read the grader");
    let extra = [
        ("@GRADER@", grader.display().to_string()),
        ("@REPORTS@", reports.display().to_string()),
    ];
    for (name, attack) in [
        ("a-kill", Some("batch-kill")),
        ("b-replace", Some("batch-replace-grader")),
        ("c-skeleton", None),
    ] {
        let dir = folder.join(name);
        util::copy_dir(&subs.join("skeleton"), &dir);
        if let Some(attack) = attack {
            overlay(&attack_dir(attack), &dir, &tree.substitutions(&extra));
        }
    }
    util::copy_dir(solution, &folder.join("d-solution"));

    let monitor = Monitor::start(tree.uids());
    let started = Instant::now();
    let output = tree
        .command(&grader)
        .arg("batch")
        .arg(&folder)
        .arg("--reports")
        .arg(&reports)
        .args([
            "--jobs",
            "2",
            "--user",
            &tree.user,
            "--user",
            &tree.second.0,
        ])
        .env("CARGO", tree.root.join("toolchain/bin/cargo"))
        .env("CARGO_HOME", tree.root.join("cargo-home"))
        .output()
        .expect("run grader batch");
    let seconds = started.elapsed().as_secs_f64();
    let (peak_processes, peak_rss) = monitor.finish();
    let _ = fs::write(
        tree.tmp.join("batch.log"),
        [&output.stdout[..], b"\n--- stderr\n", &output.stderr[..]].concat(),
    );
    let left = tree.sweep();
    let mut notes = Vec::new();
    if !output.status.success() {
        notes.push(format!("grader batch ended with {}", output.status));
    }
    if fs::read(&grader).ok().as_deref() != Some(&original[..]) {
        notes.push("the grader's executable was replaced".into());
    }
    let gradebook = fs::read_to_string(reports.join("gradebook.csv")).unwrap_or_default();
    if gradebook.is_empty() {
        notes.push("no gradebook".into());
    }
    let scores: BTreeMap<String, Option<u64>> = gradebook
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split(',');
            Some((fields.next()?.to_owned(), fields.next()?.parse().ok()))
        })
        .collect();
    let mut rows = vec![(
        "(grader batch)".to_owned(),
        Figures {
            seconds,
            peak_processes,
            peak_memory_mib: peak_rss / 1024,
            left,
            notes,
            ..Figures::default()
        },
    )];
    for (name, shown) in [
        ("a-kill", "batch: kill"),
        ("b-replace", "batch: replace grader"),
        ("c-skeleton", "batch: skeleton"),
        ("d-solution", "batch: solution"),
    ] {
        rows.push((
            shown.to_owned(),
            Figures {
                score: scores.get(name).copied().flatten(),
                left,
                ..Figures::default()
            },
        ));
    }
    // The batch's own figures must hold too.
    if !rows[0].1.notes.is_empty() || rows[0].1.left > 0 {
        let notes = rows[0].1.notes.clone();
        rows[1].1.notes.extend(notes);
    }
    rows
}
